-- The timers a saga has scheduled, so that cancelling touches Quartz only for timers that exist:
-- every Quartz operation takes its lock inside the saga's transaction.
ALTER TABLE scheduler.box_sagas ADD COLUMN IF NOT EXISTS timers text[] NOT NULL DEFAULT '{}';
