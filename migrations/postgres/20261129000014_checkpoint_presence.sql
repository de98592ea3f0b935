-- A checkpoint that stops making contact is an incident of its own
-- (`checkpoint_offline`, about a checkpoint rather than a monitor or a
-- site); results are found by due time, where checkpoints that must agree
-- are judged together.
ALTER TABLE incidents DROP CONSTRAINT incidents_kind_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_kind_check
    CHECK (kind IN ('monitor_down', 'rum_silent', 'rum_performance', 'checkpoint_offline'));
ALTER TABLE incidents ADD COLUMN checkpoint_id BIGINT REFERENCES checkpoints (id) ON DELETE CASCADE;
ALTER TABLE incidents DROP CONSTRAINT incidents_about_one_thing;
ALTER TABLE incidents ADD CONSTRAINT incidents_about_one_thing CHECK (
    (monitor_id IS NOT NULL)::int + (site_id IS NOT NULL)::int + (checkpoint_id IS NOT NULL)::int = 1
);
CREATE UNIQUE INDEX incidents_one_open_per_checkpoint ON incidents (checkpoint_id) WHERE closed_at IS NULL;

CREATE INDEX check_results_by_monitor_due ON check_results (monitor_id, due_at);
