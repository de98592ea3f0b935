-- Deleting a monitor (also `apply --prune`) keeps its incidents, closed as
-- "monitor deleted", so that the links in messages already sent still
-- open: the incident forgets the monitor and keeps its name in `subject`.
--
-- SQLite cannot change a foreign key or a CHECK constraint, so `incidents`
-- is rebuilt as before: what refers to it (the timeline, the notifications
-- and their claims) is saved first, because dropping the old table
-- cascades, and put back once the new table has the name.
CREATE TEMPORARY TABLE saved_incident_events AS SELECT * FROM incident_events;
CREATE TEMPORARY TABLE saved_notification_claims AS SELECT * FROM notification_claims;
CREATE TEMPORARY TABLE saved_notification_incidents AS
    SELECT id, incident_id FROM notifications WHERE incident_id IS NOT NULL;

CREATE TABLE incidents_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL
        CHECK (kind IN ('monitor_down', 'rum_silent', 'rum_performance', 'checkpoint_offline')),
    monitor_id      INTEGER REFERENCES monitors (id) ON DELETE SET NULL,
    site_id         INTEGER REFERENCES sites (id) ON DELETE CASCADE,
    checkpoint_id   INTEGER REFERENCES checkpoints (id) ON DELETE CASCADE,
    severity        TEXT    NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    cause           TEXT    NOT NULL,
    correlation     TEXT,
    held_by         INTEGER REFERENCES incidents (id) ON DELETE SET NULL,
    opened_at       INTEGER NOT NULL,
    closed_at       INTEGER,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    subject         TEXT,
    CHECK ((monitor_id IS NOT NULL) + (site_id IS NOT NULL) + (checkpoint_id IS NOT NULL) <= 1)
);
INSERT INTO incidents_rebuilt (id, kind, monitor_id, site_id, checkpoint_id, severity, cause, correlation,
        held_by, opened_at, closed_at, acknowledged_at, acknowledged_by)
    SELECT id, kind, monitor_id, site_id, checkpoint_id, severity, cause, correlation,
        held_by, opened_at, closed_at, acknowledged_at, acknowledged_by FROM incidents;
DROP TABLE incidents;
ALTER TABLE incidents_rebuilt RENAME TO incidents;
INSERT INTO incident_events SELECT * FROM saved_incident_events;
UPDATE notifications SET incident_id =
    (SELECT saved.incident_id FROM saved_notification_incidents saved WHERE saved.id = notifications.id)
    WHERE id IN (SELECT id FROM saved_notification_incidents);
INSERT INTO notification_claims SELECT * FROM saved_notification_claims
    WHERE claim_key NOT IN (SELECT claim_key FROM notification_claims);
DROP TABLE saved_incident_events;
DROP TABLE saved_notification_claims;
DROP TABLE saved_notification_incidents;
CREATE UNIQUE INDEX incidents_one_open_per_monitor ON incidents (monitor_id) WHERE closed_at IS NULL;
CREATE UNIQUE INDEX incidents_one_open_per_site_kind ON incidents (site_id, kind) WHERE closed_at IS NULL;
CREATE UNIQUE INDEX incidents_one_open_per_checkpoint ON incidents (checkpoint_id) WHERE closed_at IS NULL;
CREATE INDEX incidents_by_time ON incidents (opened_at);
CREATE INDEX incidents_by_close ON incidents (closed_at);
