-- The audit projection, defined once: the audit_log row of one event.
--   <X>Created        insert  old: null          new: the new entity's fields
--   <X>Updated        update  old: previous      new: changes
--   <X>StatusChanged  update  old: {status}      new: {...changes, status}
--   <X>Deleted        delete  old: the entity    new: null
--   anything else     update  old: null          new: the event's data
-- created_at is the event's recorded_at at the API's millisecond precision.
--
-- The live path inserts it in the event's own transaction; rebuild and verify
-- run it over the whole log in one INSERT ... SELECT (the projection only
-- inserts, one row per event). SQL, set-returning and STABLE so the planner
-- inlines it into either query. It names no table: the read tables are
-- dropped and replaced by a rebuild, this function is not.
CREATE FUNCTION audit_log_row(e_event_id uuid, e_stream_type text, e_stream_id uuid,
                              e_event_type text, e_data jsonb, e_metadata jsonb,
                              e_position bigint, e_recorded_at timestamptz)
RETURNS TABLE (id uuid, account_id uuid, entity_type text, entity_id uuid, action text,
               actor_id uuid, old_value jsonb, new_value jsonb, event_type text,
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
       (e_metadata->>'actor_id')::uuid,
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
