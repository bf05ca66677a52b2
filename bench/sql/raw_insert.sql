-- One raw event per transaction (pgbench -f). The JSON is built server-side:
-- pgbench would read ':name' inside a literal as a variable.
INSERT INTO raw_events (event_id, stream_id, stream_type, stream_version, event_type, data, metadata, account_id)
VALUES (gen_random_uuid(), gen_random_uuid(), 'job', 1, 'JobUpdated',
        jsonb_build_object('title', 'Replace boiler valve', 'priority', 'normal'),
        jsonb_build_object('account_id', NULL, 'actor_id', NULL, 'trace_id', 'bench'),
        gen_random_uuid());
