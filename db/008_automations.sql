-- Automations (API.md "Automations"): a read table like the others, actors
-- that are no users, and the runbook's hand-run UPDATE made an event.

-- 1. Actors that are no users. The worker acts as `system:worker`, fsmctl as
-- `operator:fsmctl`, the trigger below as `operator:sql`: audit_log.actor_id
-- holds a user's id or such a name, as the events' metadata.actor_id does.
-- audit_log_row (db/007) is the same but for that column's type and the
-- entity_id of reminders and follow-ups (fsm-worker's, db/009).
ALTER TABLE audit_log ALTER COLUMN actor_id TYPE text;
DROP FUNCTION audit_log_row(uuid, text, uuid, text, jsonb, jsonb, bigint, timestamptz);
CREATE FUNCTION audit_log_row(e_event_id uuid, e_stream_type text, e_stream_id uuid,
                              e_event_type text, e_data jsonb, e_metadata jsonb,
                              e_position bigint, e_recorded_at timestamptz)
RETURNS TABLE (id uuid, account_id uuid, entity_type text, entity_id uuid, action text,
               actor_id text, old_value jsonb, new_value jsonb, event_type text,
               event_position bigint, trace_id text, created_at timestamptz)
LANGUAGE sql STABLE AS $$
SELECT e_event_id,
       (e_metadata->>'account_id')::uuid,
       e_stream_type,
       -- Reminders and follow-ups (db/009) are streams of their own, ids
       -- derived from what they are about; their rows name the visit or
       -- invoice, which their events carry as data.entity_id.
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

-- 2. The read table (src/projections/tables.cc), with the runbook's columns.
CREATE TABLE automations (
    id                  uuid PRIMARY KEY,
    account_id          uuid NOT NULL,
    type                text NOT NULL CHECK (type IN ('visit_reminder', 'invoice_followup')),
    enabled             boolean NOT NULL,
    config              jsonb NOT NULL,
    next_run_at         timestamptz NOT NULL,
    last_run_at         timestamptz,
    version             integer NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    last_event_position bigint NOT NULL DEFAULT 0
);
-- The worker's question, across accounts: which enabled automations are due
-- (WHERE enabled AND next_run_at <= now() ORDER BY next_run_at).
CREATE INDEX automations_due_idx ON automations (next_run_at) WHERE enabled;
-- An account's list, next to run first (the API's default order).
CREATE INDEX automations_account_next_idx ON automations (account_id, next_run_at);

-- 3. Hand edits. The runbook resets a stuck automation with
--      UPDATE automations SET next_run_at = now() WHERE id = '...';
-- run in psql as the database owner. A read table edited by hand would be
-- reported by `fsmctl projections verify` and undone by the next rebuild, so
-- an UPDATE that changes next_run_at alone becomes what the API's
-- POST /automations/:id/run appends: an AutomationRunRequested event (actor
-- operator:sql) with its audit_log row, appended the way the event store
-- appends (the stream's lock, its version + 1, the events row with its tx_id
-- and position), and the row becomes what the projector writes for it. Any
-- other hand edit is refused with the way to do it instead.
--
-- Every other write to the table is the projector's, and is backed by the
-- log: the row's (id, version, last_event_position) name an event of the
-- stream, and a deleted row's stream has its AutomationDeleted. Rebuild and
-- verify write other tables (fsm_rebuild, pg_temp: no triggers); a rebuild
-- gives the swapped-in table the live table's triggers.

CREATE FUNCTION automations_refusal(what text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
SELECT 'automations is a projection of the event log: ' || what || ' is refused (a rebuild '
       'would undo it). Make an automation due with `fsmctl automations run-now ID` or '
       'POST /api/v1/automations/ID/run; change or delete it with PATCH or DELETE '
       '/api/v1/automations/ID. The one hand edit accepted is UPDATE automations SET '
       'next_run_at = ... WHERE id = ..., recorded as an event by operator:sql.'
$$;

CREATE FUNCTION automations_hand_run() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    due timestamptz := date_trunc('milliseconds', NEW.next_run_at);
    command_id uuid := gen_random_uuid();
    new_version integer;
    e record;
BEGIN
    -- A new version is the projector's write; automations_backed_by_log checks it.
    IF NEW.version IS DISTINCT FROM OLD.version
       OR NEW.last_event_position IS DISTINCT FROM OLD.last_event_position THEN
        RETURN NEW;
    END IF;
    IF to_jsonb(NEW) - 'next_run_at' IS DISTINCT FROM to_jsonb(OLD) - 'next_run_at' THEN
        RAISE EXCEPTION '%', automations_refusal('an UPDATE of any column but next_run_at')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF due IS NULL THEN
        RAISE EXCEPTION 'next_run_at must not be null' USING ERRCODE = 'not_null_violation';
    END IF;
    IF due = OLD.next_run_at THEN
        RETURN OLD;  -- nothing changes, nothing to record
    END IF;
    -- Commands lock the stream first and this row next; this statement holds
    -- the row already, so waiting for the stream could deadlock with one.
    BEGIN
        PERFORM 1 FROM streams WHERE stream_id = OLD.id FOR UPDATE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
        RAISE EXCEPTION 'automation % is being changed by a command right now: run the UPDATE again',
            OLD.id USING ERRCODE = 'lock_not_available';
    END;
    UPDATE streams SET version = version + 1
     WHERE stream_id = OLD.id AND version = OLD.version
    RETURNING version INTO new_version;
    IF new_version IS NULL THEN
        RAISE EXCEPTION 'automation %: the row (version %) is behind its event log; run `fsmctl projections verify`',
            OLD.id, OLD.version;
    END IF;
    -- The columns and defaults of PgEventStore's append (tx_id, position,
    -- recorded_at come from the table), the metadata of a command's.
    INSERT INTO events (event_id, stream_id, stream_type, stream_version, event_type,
                        schema_version, data, metadata, account_id)
    VALUES (gen_random_uuid(), OLD.id, 'automation', new_version, 'AutomationRunRequested', 1,
            jsonb_build_object(
                'changes', jsonb_build_object('next_run_at',
                    to_char(due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
                'previous', jsonb_build_object('next_run_at',
                    to_char(OLD.next_run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))),
            jsonb_build_object('account_id', OLD.account_id, 'actor_id', 'operator:sql',
                               'trace_id', NULL, 'causation_id', command_id,
                               'correlation_id', command_id, 'db_user', session_user),
            OLD.account_id)
    RETURNING * INTO e;
    INSERT INTO audit_log (id, account_id, entity_type, entity_id, action, actor_id, old_value,
                           new_value, event_type, event_position, trace_id, created_at)
    SELECT ar.id, ar.account_id, ar.entity_type, ar.entity_id, ar.action, ar.actor_id,
           ar.old_value, ar.new_value, ar.event_type, ar.event_position, ar.trace_id,
           ar.created_at
      FROM audit_log_row(e.event_id, e.stream_type, e.stream_id, e.event_type, e.data,
                         e.metadata, e.global_position, e.recorded_at) ar;
    -- What the projector writes for the event.
    NEW.next_run_at := due;
    NEW.version := new_version;
    NEW.updated_at := date_trunc('milliseconds', e.recorded_at);
    NEW.last_event_position := e.global_position;
    RETURN NEW;
END;
$$;

-- AFTER: the events the same statement wrote (a one-statement creation) are
-- visible by then.
CREATE FUNCTION automations_backed_by_log() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM events e
                        WHERE e.stream_id = OLD.id AND e.stream_version > OLD.version
                          AND e.event_type = 'AutomationDeleted') THEN
            RAISE EXCEPTION '%', automations_refusal('a DELETE')
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM events e
                       WHERE e.global_position = NEW.last_event_position
                         AND e.stream_id = NEW.id AND e.stream_version = NEW.version) THEN
        RAISE EXCEPTION '%', automations_refusal('an ' || TG_OP || ' that no event explains')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION automations_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', automations_refusal('TRUNCATE') USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER automations_hand_run
    BEFORE UPDATE ON automations
    FOR EACH ROW EXECUTE FUNCTION automations_hand_run();
CREATE TRIGGER automations_backed_by_log
    AFTER INSERT OR UPDATE OR DELETE ON automations
    FOR EACH ROW EXECUTE FUNCTION automations_backed_by_log();
CREATE TRIGGER automations_no_truncate
    BEFORE TRUNCATE ON automations
    FOR EACH STATEMENT EXECUTE FUNCTION automations_refuse_truncate();
-- Like the log's own triggers: session_replication_role = replica does not
-- skip them.
ALTER TABLE automations ENABLE ALWAYS TRIGGER automations_hand_run;
ALTER TABLE automations ENABLE ALWAYS TRIGGER automations_backed_by_log;
ALTER TABLE automations ENABLE ALWAYS TRIGGER automations_no_truncate;
