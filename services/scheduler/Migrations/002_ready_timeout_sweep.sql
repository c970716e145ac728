-- The ready-timeout sweep looks for boxes still scheduling or starting past their timeout: few rows, read often.
CREATE INDEX IF NOT EXISTS box_sagas_not_ready ON scheduler.box_sagas (created_at) WHERE current_state IN ('Scheduling', 'Starting');
