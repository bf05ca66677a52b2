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

-- Reminders and follow-ups are streams of their own (their ids derived from
-- what they are about); their audit rows name the visit or invoice, which
-- their events carry as data.entity_id, so the operator's query by entity
-- finds them. Otherwise as in 008.
CREATE OR REPLACE FUNCTION audit_log_row(e_event_id uuid, e_stream_type text, e_stream_id uuid,
                              e_event_type text, e_data jsonb, e_metadata jsonb,
                              e_position bigint, e_recorded_at timestamptz)
RETURNS TABLE (id uuid, account_id uuid, entity_type text, entity_id uuid, action text,
               actor_id text, old_value jsonb, new_value jsonb, event_type text,
               event_position bigint, trace_id text, created_at timestamptz)
LANGUAGE sql STABLE AS $$
SELECT e_event_id,
       (e_metadata->>'account_id')::uuid,
       e_stream_type,
       CASE WHEN e_stream_type IN ('visit_reminder', 'invoice_followup')
            THEN (e_data->>'entity_id')::uuid ELSE e_stream_id END,
       CASE WHEN e_event_type LIKE '%Created' THEN 'insert'
            WHEN e_event_type LIKE '%Updated' OR e_event_type LIKE '%StatusChanged' THEN 'update'
            WHEN e_event_type LIKE '%Deleted' THEN 'delete'
            ELSE 'update' END,
       e_metadata->>'actor_id',
       CASE WHEN e_event_type LIKE '%Created' THEN NULL
            WHEN e_event_type LIKE '%Updated' THEN coalesce(e_data->'previous', '{}')
            WHEN e_event_type LIKE '%StatusChanged'
              THEN jsonb_build_object('status', e_data->'from')
            WHEN e_event_type LIKE '%Deleted' THEN coalesce(e_data->'previous', '{}')
            ELSE NULL END,
       CASE WHEN e_event_type LIKE '%Created' THEN e_data
            WHEN e_event_type LIKE '%Updated' THEN coalesce(e_data->'changes', '{}')
            WHEN e_event_type LIKE '%StatusChanged'
              THEN coalesce(e_data->'changes', '{}') || jsonb_build_object('status', e_data->'to')
            WHEN e_event_type LIKE '%Deleted' THEN NULL
            ELSE e_data END,
       e_event_type,
       e_position,
       e_metadata->>'trace_id',
       date_trunc('milliseconds', e_recorded_at)
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
