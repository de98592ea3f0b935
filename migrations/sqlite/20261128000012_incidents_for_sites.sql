-- Incidents about a RUM site (its real-user traffic stopped, a Core Web
-- Vital is poor) beside those about a monitor; an incident held back
-- because the monitor it depends on is down; notifications that cover
-- several incidents; a site's own alert policy.
--
-- SQLite cannot drop NOT NULL from a column, so `incidents` is rebuilt.
-- Migrations run in a transaction, where foreign keys cannot be turned off:
-- dropping the old table cascades to the timeline and the notifications'
-- links, so both are saved first and put back once the new table has taken
-- over the name (which the other tables' references use).
CREATE TEMPORARY TABLE saved_incident_events AS SELECT * FROM incident_events;
CREATE TEMPORARY TABLE saved_notification_incidents AS
    SELECT id, incident_id FROM notifications WHERE incident_id IS NOT NULL;

CREATE TABLE incidents_rebuilt (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL CHECK (kind IN ('monitor_down', 'rum_silent', 'rum_performance')),
    monitor_id  INTEGER REFERENCES monitors (id) ON DELETE CASCADE,
    site_id     INTEGER REFERENCES sites (id) ON DELETE CASCADE,
    severity    TEXT    NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    cause       TEXT    NOT NULL,
    correlation TEXT,
    held_by     INTEGER REFERENCES incidents (id) ON DELETE SET NULL,
    opened_at   INTEGER NOT NULL,
    closed_at   INTEGER,
    CHECK ((monitor_id IS NULL) <> (site_id IS NULL))
);
INSERT INTO incidents_rebuilt (id, kind, monitor_id, severity, cause, correlation, opened_at, closed_at)
    SELECT id, 'monitor_down', monitor_id, severity, cause, correlation, opened_at, closed_at FROM incidents;
DROP TABLE incidents;
ALTER TABLE incidents_rebuilt RENAME TO incidents;
INSERT INTO incident_events SELECT * FROM saved_incident_events;
UPDATE notifications SET incident_id =
    (SELECT saved.incident_id FROM saved_notification_incidents saved WHERE saved.id = notifications.id)
    WHERE id IN (SELECT id FROM saved_notification_incidents);
DROP TABLE saved_incident_events;
DROP TABLE saved_notification_incidents;
CREATE UNIQUE INDEX incidents_one_open_per_monitor ON incidents (monitor_id) WHERE closed_at IS NULL;
CREATE UNIQUE INDEX incidents_one_open_per_site_kind ON incidents (site_id, kind) WHERE closed_at IS NULL;
CREATE INDEX incidents_by_time ON incidents (opened_at);

-- Which incident, level and recipient each notification speaks for
-- (`incident/{id}/{step}/{recipient}`): a message listing twenty incidents
-- claims twenty keys, and a key is claimed once, so no incident is told
-- twice to anyone, whichever process groups the message.
CREATE TABLE notification_claims (
    claim_key       TEXT    NOT NULL PRIMARY KEY,
    incident_id     INTEGER REFERENCES incidents (id) ON DELETE CASCADE,
    notification_id INTEGER NOT NULL REFERENCES notifications (id) ON DELETE CASCADE
);
CREATE INDEX notification_claims_by_incident ON notification_claims (incident_id);
INSERT INTO notification_claims (claim_key, incident_id, notification_id)
    SELECT dedupe_key, incident_id, id FROM notifications WHERE incident_id IS NOT NULL;

ALTER TABLE sites ADD COLUMN alert_policy TEXT;

