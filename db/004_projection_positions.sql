-- Every read-table row records the log position of the last event applied to
-- it (written by the projector in the same transaction as the row), so a row
-- can be traced to its event and replays can be compared row by row. Rows
-- that existed before this column get 0 until the next rebuild.
ALTER TABLE accounts   ADD COLUMN last_event_position bigint NOT NULL DEFAULT 0;
ALTER TABLE users      ADD COLUMN last_event_position bigint NOT NULL DEFAULT 0;
ALTER TABLE clients    ADD COLUMN last_event_position bigint NOT NULL DEFAULT 0;
ALTER TABLE properties ADD COLUMN last_event_position bigint NOT NULL DEFAULT 0;
ALTER TABLE jobs       ADD COLUMN last_event_position bigint NOT NULL DEFAULT 0;
ALTER TABLE visits     ADD COLUMN last_event_position bigint NOT NULL DEFAULT 0;
