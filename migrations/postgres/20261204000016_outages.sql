-- A monitor's outages: from the first failure of a confirmed failing
-- streak to the next passing result (or its pause, or a maintenance
-- window). Downtime over any period is their overlap with it, so it never
-- exceeds the period, whatever the schedule, the checkpoints or the runs
-- asked for by hand. At most one outage of a monitor is open.
CREATE TABLE monitor_outages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    monitor_id BIGINT NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    started_at BIGINT NOT NULL,
    ended_at   BIGINT,
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX monitor_outages_by_monitor ON monitor_outages (monitor_id, started_at);
CREATE UNIQUE INDEX monitor_outages_one_open ON monitor_outages (monitor_id) WHERE ended_at IS NULL;

-- Monitors down now are in an outage since they went down.
INSERT INTO monitor_outages (monitor_id, started_at)
    SELECT id, COALESCE(status_since, updated_at) FROM monitors WHERE status = 'down' AND enabled;

-- What each confirmed error stood for before (a whole schedule period per
-- error, run-now results included) is no longer read: downtime comes from
-- the outages.
