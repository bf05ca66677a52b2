-- Clones the whole log made so far (the template: an account and whole
-- lifecycles made through the API) :copies times. Copy k is an account of its
-- own: every id in it has its version digit set to 8 (no id we make has it)
-- and the 4 hex digits before its last 8 replaced by k, so references inside
-- a copy stay consistent (a collision would be refused by the unique indexes,
-- not hidden).
\set ON_ERROR_STOP on
CREATE TEMP TABLE template AS SELECT * FROM events ORDER BY global_position;
CREATE FUNCTION pg_temp.remap(t text, k int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT regexp_replace(t, '([0-9a-f]{8}-[0-9a-f]{4}-)[0-9a-f]([0-9a-f]{3}-[0-9a-f]{4}-)[0-9a-f]{4}([0-9a-f]{8})',
                        '\18\2' || lpad(to_hex(k), 4, '0') || '\3', 'g')
$$;

INSERT INTO events (event_id, stream_id, stream_type, stream_version, event_type,
                    schema_version, data, metadata, account_id, recorded_at)
SELECT pg_temp.remap(t.event_id::text, k)::uuid, pg_temp.remap(t.stream_id::text, k)::uuid,
       t.stream_type, t.stream_version, t.event_type, t.schema_version,
       pg_temp.remap(t.data::text, k)::jsonb, pg_temp.remap(t.metadata::text, k)::jsonb,
       pg_temp.remap(t.account_id::text, k)::uuid, t.recorded_at + k * interval '1 second'
FROM generate_series(1, :copies) k, template t
ORDER BY k, t.global_position;

INSERT INTO streams (stream_id, stream_type, version)
SELECT pg_temp.remap(stream_id::text, k)::uuid, stream_type, version
FROM generate_series(1, :copies) k, streams;
