-- The alerting engine looks at incidents that closed in the last minutes
-- on every pass (a recovery notice waits while the rest of its outage is
-- down): found by when they closed, not by reading them all.
CREATE INDEX incidents_by_close ON incidents (closed_at);
