-- Deadlines checked by the deadline sweep (BoxDeadlineSweepJob) instead of one Quartz job per box and timer:
-- when a ready box reaches its max duration, and when an ending box's worker has had long enough to confirm.
ALTER TABLE scheduler.box_sagas ADD COLUMN IF NOT EXISTS expires_at timestamptz;
ALTER TABLE scheduler.box_sagas ADD COLUMN IF NOT EXISTS ending_since timestamptz;
CREATE INDEX IF NOT EXISTS box_sagas_expiring ON scheduler.box_sagas (expires_at) WHERE current_state = 'Ready';
CREATE INDEX IF NOT EXISTS box_sagas_ending ON scheduler.box_sagas (ending_since) WHERE current_state = 'Ending';
