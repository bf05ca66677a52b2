-- Estimates, invoices, their line items and payments: projections of the
-- log, column names as in API.md. Money is integer cents; quantities are
-- exact decimals with two places.

CREATE TABLE estimates (
    id                  uuid PRIMARY KEY,
    account_id          uuid NOT NULL,
    client_id           uuid NOT NULL,
    job_id              uuid,
    property_id         uuid,
    status              text NOT NULL,
    subtotal_cents      integer NOT NULL,
    tax_rate_bps        integer NOT NULL,
    tax_cents           integer NOT NULL,
    total_cents         integer NOT NULL,
    notes               text,
    internal_notes      text,
    expires_at          timestamptz,
    sent_at             timestamptz,
    invoice_id          uuid,             -- set once, by the conversion
    version             integer NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    last_event_position bigint NOT NULL DEFAULT 0
);
CREATE INDEX estimates_account_created_idx ON estimates (account_id, created_at DESC);
CREATE INDEX estimates_client_idx ON estimates (client_id);

CREATE TABLE estimate_line_items (
    id               uuid PRIMARY KEY,
    estimate_id      uuid NOT NULL,
    account_id       uuid NOT NULL,
    description      text NOT NULL,
    quantity         numeric(12, 2) NOT NULL,
    unit_price_cents integer NOT NULL,
    total_cents      integer NOT NULL,
    sort_order       integer NOT NULL
);
CREATE INDEX estimate_line_items_estimate_idx ON estimate_line_items (estimate_id, sort_order);

CREATE TABLE invoices (
    id                  uuid PRIMARY KEY,
    account_id          uuid NOT NULL,
    invoice_number      text NOT NULL,
    client_id           uuid NOT NULL,
    job_id              uuid,
    property_id         uuid,
    estimate_id         uuid,
    status              text NOT NULL,
    subtotal_cents      integer NOT NULL,
    tax_rate_bps        integer NOT NULL,
    tax_cents           integer NOT NULL,
    total_cents         integer NOT NULL,
    paid_cents          integer NOT NULL,
    notes               text,
    due_date            timestamptz,
    sent_at             timestamptz,
    paid_at             timestamptz,
    version             integer NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    last_event_position bigint NOT NULL DEFAULT 0
);
-- Backstops of what the commands guarantee: numbers are unique per account,
-- and an estimate converts into one invoice at most.
CREATE UNIQUE INDEX invoices_account_number_key ON invoices (account_id, invoice_number);
CREATE UNIQUE INDEX invoices_estimate_key ON invoices (estimate_id) WHERE estimate_id IS NOT NULL;
CREATE INDEX invoices_account_created_idx ON invoices (account_id, created_at DESC);
CREATE INDEX invoices_client_idx ON invoices (client_id);
CREATE INDEX invoices_job_idx ON invoices (job_id);

CREATE TABLE invoice_line_items (
    id                     uuid PRIMARY KEY,
    invoice_id             uuid NOT NULL,
    account_id             uuid NOT NULL,
    estimate_line_item_id  uuid,
    description            text NOT NULL,
    quantity               numeric(12, 2) NOT NULL,
    unit_price_cents       integer NOT NULL,
    total_cents            integer NOT NULL,
    sort_order             integer NOT NULL
);
CREATE INDEX invoice_line_items_invoice_idx ON invoice_line_items (invoice_id, sort_order);

CREATE TABLE payments (
    id                  uuid PRIMARY KEY,
    account_id          uuid NOT NULL,
    invoice_id          uuid NOT NULL,
    amount_cents        integer NOT NULL CHECK (amount_cents > 0),
    method              text NOT NULL,
    received_at         timestamptz NOT NULL,
    notes               text,
    created_at          timestamptz NOT NULL,
    last_event_position bigint NOT NULL DEFAULT 0
);
CREATE INDEX payments_invoice_idx ON payments (invoice_id, received_at);
