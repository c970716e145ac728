-- Idempotency-Key on the creates (services/api/Idempotency): one row per organisation and key, holding the first
-- request's fingerprint (SHA-256 of method, route, query and body) and, once it has finished, its answer, which a
-- retry gets back verbatim. A 'pending' row is a request still running (or one whose API process died: taken over
-- after a minute). Rows older than 24 hours are ignored, may be overwritten, and are deleted now and then.
CREATE TABLE IF NOT EXISTS api.idempotency_keys (
    organization_id uuid NOT NULL,
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    reservation     uuid NOT NULL,         -- the request that holds (or held) the key; a takeover gives it a new one
    state           text NOT NULL CHECK (state IN ('pending', 'done')),
    created_at      timestamptz NOT NULL,  -- when the holding request reserved the key (the API's clock)
    status_code     integer,
    content_type    text,
    body            bytea,
    PRIMARY KEY (organization_id, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON api.idempotency_keys (created_at);
