-- Idempotency keys become exactly-once across crashes and retries:
--  * `claim` names the one request currently allowed to act on the key; a
--    retry may take an abandoned claim over after a lease, and the original
--    request can then no longer commit (its command checks the claim).
--  * `committed` records, inside the command's own transaction, that the
--    command's events were stored; `done` adds the response to replay.
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_state_check;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_state_check
    CHECK (state IN ('in_flight', 'committed', 'done'));
ALTER TABLE idempotency_keys ADD COLUMN claim uuid NOT NULL;
ALTER TABLE idempotency_keys ADD COLUMN claimed_at timestamptz NOT NULL DEFAULT now();
