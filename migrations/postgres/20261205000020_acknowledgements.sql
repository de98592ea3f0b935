-- Someone on call says "I'm on it": the incident keeps who and when, which
-- stops its reminders and further escalation. Timeline lines (an
-- acknowledgement, a comment) keep who wrote them.
ALTER TABLE incidents ADD COLUMN acknowledged_at BIGINT;
ALTER TABLE incidents ADD COLUMN acknowledged_by TEXT;
ALTER TABLE incident_events ADD COLUMN author TEXT;
