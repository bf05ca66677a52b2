-- The audit log: a projection with one row per domain event, written in the
-- event's own transaction (rebuildable from the log like every read table).
CREATE TABLE audit_log (
    id              uuid PRIMARY KEY,          -- the event's id
    account_id      uuid,
    entity_type     text NOT NULL,             -- the stream type: job, invoice, ...
    entity_id       uuid NOT NULL,             -- the stream id
    action          text NOT NULL CHECK (action IN ('insert', 'update', 'delete')),
    actor_id        uuid,
    old_value       jsonb,                     -- the changed fields as they were
    new_value       jsonb,                     -- the changed fields as they became
    event_type      text NOT NULL,
    event_position  bigint NOT NULL UNIQUE,
    trace_id        text,
    created_at      timestamptz NOT NULL
);
CREATE INDEX audit_log_account_created_idx ON audit_log (account_id, created_at DESC);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_id, event_position);
CREATE INDEX audit_log_created_idx ON audit_log (created_at DESC);
