-- The event store: one row per event, one row per stream holding its current version.
CREATE SCHEMA IF NOT EXISTS event_store;

CREATE TABLE IF NOT EXISTS event_store.streams (
    stream_id  text PRIMARY KEY,
    version    bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS event_store.events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction's id. Readers order by (transaction_id, global_position) and only read
    -- below the oldest transaction still running, so a transaction that commits late can never be
    -- skipped (see ReadAllAsync).
    transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid NOT NULL UNIQUE,
    stream_id       text NOT NULL,
    version         bigint NOT NULL,
    type            text NOT NULL,
    data            jsonb NOT NULL,
    metadata        jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, version)
);

CREATE INDEX IF NOT EXISTS events_by_transaction ON event_store.events (transaction_id, global_position);

-- Where each reader of the whole log (the relay, projections) has got to.
CREATE TABLE IF NOT EXISTS event_store.checkpoints (
    name            text PRIMARY KEY,
    transaction_id  xid8 NOT NULL,
    global_position bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
