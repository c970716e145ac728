CREATE SCHEMA IF NOT EXISTS artifacts;

-- One row per stored artifact, inserted in the same transaction that appends ArtifactCreated to the box's
-- stream, so the record and the event exist together or not at all. The bytes live in the blob store under
-- blob_key; the row is written only after they are in place, so a row always has its blob.
CREATE TABLE IF NOT EXISTS artifacts.artifacts (
    artifact_id     uuid PRIMARY KEY,
    box_id          uuid NOT NULL,
    organization_id uuid NOT NULL,
    kind            text NOT NULL,
    content_type    text NOT NULL,
    size_bytes      bigint NOT NULL CHECK (size_bytes >= 0),
    sha256          text NOT NULL,   -- lowercase hex of the bytes
    blob_key        text NOT NULL,   -- where the IBlobStore keeps the bytes; never leaves this service
    created_at      timestamptz NOT NULL
);

-- GET /internal/artifacts?boxId= lists a box's artifacts oldest first.
CREATE INDEX IF NOT EXISTS artifacts_by_box ON artifacts.artifacts (box_id, created_at, artifact_id);
