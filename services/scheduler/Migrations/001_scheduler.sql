CREATE SCHEMA IF NOT EXISTS scheduler;
-- Quartz provisions its own tables (SchemaProvisioning.CreateIfMissing) but not the schema they live in.
CREATE SCHEMA IF NOT EXISTS quartz;

-- One row per box: the saga's state. Rows of finished boxes are kept, so a redelivered request for a
-- box that already ended finds it and does nothing.
CREATE TABLE IF NOT EXISTS scheduler.box_sagas (
    correlation_id  uuid PRIMARY KEY,
    current_state   text NOT NULL,
    version         integer NOT NULL,
    organization_id uuid NOT NULL,
    kind            text NOT NULL,
    spec            jsonb NOT NULL,
    slots           integer NOT NULL,
    dedicated       boolean NOT NULL DEFAULT false,
    worker_id       text,
    endpoint        text,
    end_reason      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS box_sagas_by_worker ON scheduler.box_sagas (worker_id) WHERE current_state IN ('Starting', 'Ready', 'Ending');

-- Workers as their heartbeats describe them.
CREATE TABLE IF NOT EXISTS scheduler.workers (
    worker_id  text PRIMARY KEY,
    address    text NOT NULL,
    region     text NOT NULL,
    kinds      text[] NOT NULL,
    capacity   integer NOT NULL,
    running    integer NOT NULL,
    last_seen  timestamptz NOT NULL,
    lost_at    timestamptz
);
