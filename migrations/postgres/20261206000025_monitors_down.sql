-- The monitors that are down, found without reading every monitor: alerting
-- looks for them after every batch of results.
CREATE INDEX monitors_down ON monitors (id) WHERE status = 'down';
