CREATE SCHEMA IF NOT EXISTS api;

CREATE TABLE IF NOT EXISTS api.organizations (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    plan        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Only the SHA-256 of a key is stored; the key itself is shown once, when it is created.
CREATE TABLE IF NOT EXISTS api.api_keys (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES api.organizations (id),
    key_hash        bytea NOT NULL UNIQUE,
    permissions     text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);

-- The list projection of boxes, folded from their streams by the "api-boxes" log subscription.
CREATE TABLE IF NOT EXISTS api.boxes (
    box_id          uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    kind            text NOT NULL,
    status          text NOT NULL,
    created_at      timestamptz NOT NULL,
    version         bigint NOT NULL,
    view            jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS boxes_by_org ON api.boxes (organization_id, kind, created_at DESC, box_id DESC);
CREATE INDEX IF NOT EXISTS boxes_active_by_org ON api.boxes (organization_id) WHERE status NOT IN ('ended', 'failed');
