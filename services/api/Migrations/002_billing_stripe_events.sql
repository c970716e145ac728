-- Stripe webhook events the API acted on (POST /v1/billing/stripe/webhook, services/api/Billing/StripeWebhook.cs): one row
-- per event id, so that a redelivered event changes nothing, and a checkout that completed earlier but is delivered later
-- than another one does not undo the newer plan.
CREATE TABLE IF NOT EXISTS api.stripe_events (
    event_id        text PRIMARY KEY,
    type            text NOT NULL,
    organization_id uuid,
    plan            text,
    created_at      timestamptz NOT NULL,  -- Stripe's "created" of the event
    outcome         text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS stripe_events_plan_set ON api.stripe_events (organization_id, created_at) WHERE outcome = 'plan_set';
