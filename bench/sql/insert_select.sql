-- The set-based baseline for bench/rebuild.sh: every event as one row of a
-- table like `jobs` (same columns, same indexes), in one INSERT … SELECT.
-- Prints the seconds it took.
\set ON_ERROR_STOP on
CREATE TABLE bench_jobs (LIKE jobs INCLUDING ALL);
SELECT clock_timestamp() AS t0 \gset
INSERT INTO bench_jobs (id, account_id, client_id, property_id, title, description, priority,
                        status, scheduled_start, scheduled_end, version, created_at,
                        updated_at, last_event_position)
SELECT e.event_id, e.account_id, coalesce((e.metadata->>'actor_id')::uuid, e.stream_id), e.stream_id,
       e.event_type, e.data->>'description', coalesce(e.data->>'priority', 'normal'),
       coalesce(e.data->>'status', e.data->>'to', 'draft'), e.recorded_at, e.recorded_at,
       e.stream_version, e.recorded_at, e.recorded_at, e.global_position
FROM events e;
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);
DROP TABLE bench_jobs;
