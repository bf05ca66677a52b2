-- The event log: the only source of truth. Every read table is a projection of it.

-- One row per stream (aggregate instance). `version` is the stream's last event
-- version; an append updates it conditionally, which takes the row lock that
-- serialises concurrent appends to the same stream.
CREATE TABLE streams (
    stream_id   uuid PRIMARY KEY,
    stream_type text NOT NULL,
    version     integer NOT NULL CHECK (version >= 0)
);

CREATE TABLE events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction. Readers only take rows whose tx_id is below the
    -- oldest running transaction (pg_snapshot_xmin), so an event that commits
    -- late can never be skipped; they order and checkpoint by (tx_id, position).
    tx_id           xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid NOT NULL UNIQUE,
    stream_id       uuid NOT NULL,
    stream_type     text NOT NULL,
    stream_version  integer NOT NULL CHECK (stream_version > 0),
    event_type      text NOT NULL,
    -- Version of the event's payload schema; old versions are upcast on read.
    schema_version  integer NOT NULL DEFAULT 1 CHECK (schema_version > 0),
    data            jsonb NOT NULL,
    metadata        jsonb NOT NULL,
    account_id      uuid,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_tx_position_idx ON events (tx_id, global_position);
CREATE INDEX events_account_position_idx ON events (account_id, global_position);

-- Append-only, enforced by the database for every role: UPDATE, DELETE and
-- TRUNCATE raise. ENABLE ALWAYS keeps the triggers firing even under
-- session_replication_role = replica, the usual way to skip triggers.
CREATE FUNCTION events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_no_update_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();
ALTER TABLE events ENABLE ALWAYS TRIGGER events_no_update_delete;
ALTER TABLE events ENABLE ALWAYS TRIGGER events_no_truncate;

REVOKE UPDATE, DELETE, TRUNCATE ON events FROM PUBLIC;

-- Where each projection (read table) has got to in the log, written in the same
-- transaction as the rows it covers.
CREATE TABLE projection_checkpoints (
    name        text PRIMARY KEY,
    tx_id       xid8 NOT NULL DEFAULT '0',
    position    bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
