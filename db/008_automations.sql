-- Automations (API.md "Automations"): a read table like the others, and
-- actors that are no users.

-- 1. Actors that are no users. The worker acts as `system:worker`, fsmctl as
-- `operator:fsmctl`: audit_log.actor_id
-- holds a user's id or such a name, as the events' metadata.actor_id does.
-- audit_log_row (db/007) is the same but for that column's type.
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
       e_stream_id,
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
