-- Read tables for accounts, users, clients, properties, jobs and visits: all
-- projections of the event log (rebuildable), with the column names of API.md.
-- Every row carries `version`: the stream version of the last event applied to
-- it, which also makes re-applying an event harmless.

CREATE TABLE accounts (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL,          -- = id; every entity carries account_id
    name        text NOT NULL,
    version     integer NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE users (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL,
    email       text NOT NULL,
    full_name   text NOT NULL,
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'tech')),
    phone       text,
    version     integer NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
-- Email is unique per account, case-insensitively. The command that creates or
-- renames a user projects inline in its own transaction, so this index also
-- refuses the duplicate before its event commits.
CREATE UNIQUE INDEX users_account_email_key ON users (account_id, lower(email));
-- Login looks users up by email across accounts.
CREATE INDEX users_email_idx ON users (lower(email));

CREATE TABLE clients (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL,
    name        text NOT NULL,
    email       text,
    phone       text,
    notes       text,
    version     integer NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX clients_account_idx ON clients (account_id, created_at);

CREATE TABLE properties (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL,
    client_id   uuid NOT NULL,
    address     text NOT NULL,
    name        text,
    city        text,
    state       text,
    zip         text,
    notes       text,
    version     integer NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX properties_client_idx ON properties (account_id, client_id);

CREATE TABLE jobs (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL,
    client_id       uuid NOT NULL,
    property_id     uuid,
    title           text NOT NULL,
    description     text,
    priority        text NOT NULL,
    status          text NOT NULL,
    scheduled_start timestamptz,
    scheduled_end   timestamptz,
    version         integer NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX jobs_account_created_idx ON jobs (account_id, created_at DESC);
CREATE INDEX jobs_account_status_idx ON jobs (account_id, status);
CREATE INDEX jobs_client_idx ON jobs (client_id);
CREATE INDEX jobs_property_idx ON jobs (property_id);

CREATE TABLE visits (
    id               uuid PRIMARY KEY,
    account_id       uuid NOT NULL,
    job_id           uuid NOT NULL,
    assigned_user_id uuid,
    status           text NOT NULL,
    scheduled_start  timestamptz NOT NULL,
    scheduled_end    timestamptz NOT NULL,
    arrived_at       timestamptz,
    completed_at     timestamptz,
    tech_notes       text,
    version          integer NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX visits_account_start_idx ON visits (account_id, scheduled_start);
CREATE INDEX visits_job_idx ON visits (job_id);
CREATE INDEX visits_assignee_idx ON visits (assigned_user_id, scheduled_start);

-- Not projections: secrets and operational state stay out of the event log,
-- which owners and admins can read through /events.
CREATE TABLE credentials (
    user_id        uuid PRIMARY KEY,
    password_hash  text NOT NULL,     -- Argon2id, libsodium crypto_pwhash_str
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    token_hash  bytea PRIMARY KEY,    -- SHA-256 of the 256-bit token; the token is never stored
    user_id     uuid NOT NULL,
    account_id  uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE idempotency_keys (
    user_id         uuid NOT NULL,
    key             text NOT NULL,
    request_hash    bytea NOT NULL,   -- method, path and body
    state           text NOT NULL CHECK (state IN ('in_flight', 'done')),
    response_status integer,
    response_body   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
