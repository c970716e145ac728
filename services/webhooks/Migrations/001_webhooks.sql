-- The webhooks service's own data: the endpoints organisations register, one delivery per (endpoint, event),
-- and every attempt made at it. Nothing outside this service reads these tables.
CREATE SCHEMA IF NOT EXISTS webhooks;

CREATE TABLE webhooks.endpoints (
    id                          uuid PRIMARY KEY,
    organization_id             uuid NOT NULL,
    url                         text NOT NULL,
    event_types                 text[] NOT NULL,
    -- Kept as they are, not hashed: an HMAC key has to be known to sign with it (unlike an API key, which only
    -- has to be recognised). The secret is shown to the organisation once, on create or rotation, and is never
    -- read back out by any route; it lives only in this schema.
    secret                      text NOT NULL,
    -- After a rotation the old secret keeps signing beside the new one until previous_secret_expires_at.
    previous_secret             text,
    previous_secret_expires_at  timestamptz,
    created_at                  timestamptz NOT NULL,
    deleted_at                  timestamptz,
    disabled_at                 timestamptz,
    disabled_reason             text,
    -- The first failed attempt since the last successful one; cleared by a success.
    failing_since               timestamptz
);
CREATE INDEX endpoints_by_organization ON webhooks.endpoints (organization_id, created_at) WHERE deleted_at IS NULL;

CREATE TABLE webhooks.deliveries (
    -- Also the webhook-id header: the same on every attempt of this delivery, replays included.
    id                  uuid PRIMARY KEY,
    endpoint_id         uuid NOT NULL REFERENCES webhooks.endpoints (id),
    -- The stored event's id (the bus message id), or a fresh id for a webhook.test event.
    event_id            uuid NOT NULL,
    type                text NOT NULL,
    -- json, not jsonb: json keeps the text exactly as written, and these are the very bytes that are signed
    -- and sent on every attempt (jsonb would reorder keys and respace the body).
    payload             json NOT NULL,
    status              text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- Attempts made so far; the next one is attempt_count + 1.
    attempt_count       int NOT NULL DEFAULT 0,
    -- attempt_count when the current retry sequence began (0, or the count at the last replay): the schedule
    -- step of the next attempt is attempt_count - schedule_start.
    schedule_start      int NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz,
    -- A claim's lease: while it is in the future one process is sending this delivery and no other takes it.
    locked_until        timestamptz,
    created_at          timestamptz NOT NULL,
    -- One delivery sequence per event per endpoint, however often the bus delivers the event and however many
    -- webhooks processes consume it.
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX deliveries_due ON webhooks.deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_log ON webhooks.deliveries (endpoint_id, created_at DESC, id DESC);

CREATE TABLE webhooks.attempts (
    delivery_id     uuid NOT NULL REFERENCES webhooks.deliveries (id),
    attempt         int NOT NULL,
    started_at      timestamptz NOT NULL,
    duration_ms     int NOT NULL,
    status_code     int,
    error           text,
    -- When the delivery was scheduled to be tried again after this attempt (null: it succeeded or gave up).
    next_attempt_at timestamptz,
    PRIMARY KEY (delivery_id, attempt)
);
