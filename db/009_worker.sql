-- fsm-worker: reminders and follow-ups, its heartbeat, and what wakes it.

-- A name-based uuid, as src/domain/notification.cc derives it: version 8 over
-- the first 16 bytes of SHA-256(name). The worker's queries leave out what the
-- log already holds by looking up the derived stream id (streams' key).
CREATE FUNCTION fsm_derived_uuid(name text) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT encode(set_byte(set_byte(h, 6, (get_byte(h, 6) & 15) | 128),
                       8, (get_byte(h, 8) & 63) | 128), 'hex')::uuid
FROM (SELECT substring(sha256(convert_to(name, 'UTF8')) FROM 1 FOR 16) AS h) d
$$;

-- One row per worker process, written after each pass (src/events/heartbeat.h).
-- Not a projection: operational state, which no rebuild touches.
CREATE TABLE worker_heartbeats (
    instance      text PRIMARY KEY,
    poll_ms       integer NOT NULL CHECK (poll_ms > 0),
    started_at    timestamptz NOT NULL,
    last_pass_at  timestamptz NOT NULL,
    last_pass     jsonb NOT NULL
);

-- What a pass looks for, without reading every open invoice or visit.
CREATE INDEX invoices_open_due_idx ON invoices (due_date)
    WHERE status IN ('sent', 'partial', 'overdue');
CREATE INDEX estimates_sent_expiry_idx ON estimates (expires_at) WHERE status = 'sent';

-- Wakes a waiting worker (LISTEN fsm_automations) when an automation is
-- created or made due: by the API, `fsmctl automations run-now` or the
-- runbook's hand-run UPDATE. Delivered on commit; the worker's poll covers
-- a worker that was not listening. (Its own run record moves next_run_at an
-- hour ahead, which wakes nobody.) A rebuild carries the table's triggers
-- over to the new table (src/projections/rebuild.cc).
CREATE FUNCTION automations_wake_worker() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.enabled AND NEW.next_run_at <= now() THEN
        PERFORM pg_notify('fsm_automations', NEW.id::text);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER automations_wake_worker
    AFTER INSERT OR UPDATE ON automations
    FOR EACH ROW EXECUTE FUNCTION automations_wake_worker();
