-- The billing service's own data: one row per box it meters (what it is metered at and where its metering has
-- got to) and the usage records, one per metered piece of a box's running time. Nothing outside this service
-- reads these tables.
CREATE SCHEMA IF NOT EXISTS billing;

CREATE TABLE billing.boxes (
    box_id          uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    kind            text NOT NULL,
    weight          text,
    size            text,
    -- Fixed when the box is first seen, like the piece length: a configuration change applies to boxes requested
    -- afterwards, so that one box's records never mix two rates or two ways of cutting its time.
    vcpus           numeric NOT NULL,
    interval_ms     bigint NOT NULL CHECK (interval_ms > 0),
    -- The version of the box's stream the row was last computed from: a writer that read an older stream changes
    -- nothing (BoxMeter.ApplyAsync).
    version         bigint NOT NULL DEFAULT 0,
    -- True while the box has an open running interval: the closer writes its pieces as they become due.
    running         boolean NOT NULL DEFAULT false,
    -- The start of the open interval and how many of its pieces are written (the closer writes from there).
    open_since      timestamptz,
    written_pieces  bigint NOT NULL DEFAULT 0,
    -- When the open interval's next piece becomes due (its end plus Billing:Grace).
    next_due_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX boxes_due ON billing.boxes (next_due_at) WHERE running;
CREATE INDEX boxes_running_by_organization ON billing.boxes (organization_id) WHERE running;

CREATE TABLE billing.usage_records (
    -- Derived from (box, interval start, piece index): the same piece always has the same id, so however often it
    -- is computed (redeliveries, two billing processes, the closer) it is inserted once (ON CONFLICT DO NOTHING).
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    box_id          uuid NOT NULL,
    kind            text NOT NULL,
    weight          text,
    size            text,
    start_at        timestamptz NOT NULL,
    end_at          timestamptz NOT NULL,
    -- end_at - start_at in whole milliseconds (the times are whole milliseconds).
    duration_ms     bigint NOT NULL CHECK (duration_ms > 0),
    vcpus           numeric NOT NULL,
    -- vcpus x duration_ms: vCPU-milliseconds, exact for whole vCPU rates (rounded to the millisecond otherwise).
    vcpu_ms         bigint NOT NULL,
    -- The feed's order, copied from the event store: seq is handed out at insert, not at commit, so a reader of
    -- "seq > checkpoint" would skip a record whose transaction commits after a later one's. The feed orders by
    -- (transaction_id, seq) and reads only below the oldest running transaction (UsageFeed.ReadAsync).
    transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    written_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX usage_records_feed ON billing.usage_records (transaction_id, seq);
CREATE INDEX usage_records_feed_by_organization ON billing.usage_records (organization_id, transaction_id, seq);
-- Usage for a period: records ending after its start (a record is at most one piece long).
CREATE INDEX usage_records_by_organization_end ON billing.usage_records (organization_id, end_at);
CREATE INDEX usage_records_by_box ON billing.usage_records (box_id, end_at);
