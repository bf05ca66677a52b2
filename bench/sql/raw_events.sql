-- The baseline table of the benchmarks: shaped like `events` (same columns
-- and indexes), with nothing on top (no streams table, no projections).
CREATE TABLE raw_events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id uuid NOT NULL UNIQUE,
    stream_id uuid NOT NULL,
    stream_type text NOT NULL,
    stream_version integer NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL DEFAULT 1,
    data jsonb NOT NULL,
    metadata jsonb NOT NULL,
    account_id uuid,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, stream_version));
CREATE INDEX ON raw_events (tx_id, global_position);
CREATE INDEX ON raw_events (account_id, global_position);
