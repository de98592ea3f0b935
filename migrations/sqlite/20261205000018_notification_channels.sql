-- Channels are named by the alerting crate's registry, not by the schema:
-- the CHECK that listed `email` and `webhook` goes (SQLite keeps CHECKs in
-- the table, so the table is built anew). `target` holds the settings of
-- the target a notification goes to (a Slack webhook, a PagerDuty routing
-- key…), as the policy wrote them: `{{secrets.NAME}}` stays unfilled until
-- the message is sent, so no secret is ever stored here.
--
-- The claims are built anew beside it: dropping `notifications` while they
-- referred to it would delete them through ON DELETE CASCADE.
CREATE TABLE notifications_v2 (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key       TEXT    NOT NULL UNIQUE,
    incident_id      INTEGER REFERENCES incidents (id) ON DELETE SET NULL,
    channel          TEXT    NOT NULL,
    recipient        TEXT    NOT NULL,
    target           TEXT,
    subject          TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'expired')),
    attempts         INTEGER NOT NULL,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    delivery_answer  TEXT
);
INSERT INTO notifications_v2 (id, dedupe_key, incident_id, channel, recipient, subject, payload, status,
        attempts, last_error, created_at, next_attempt_at, expires_at, sent_at, lease_owner,
        lease_expires_at, delivery_answer)
    SELECT id, dedupe_key, incident_id, channel, recipient, subject, payload, status,
        attempts, last_error, created_at, next_attempt_at, expires_at, sent_at, lease_owner,
        lease_expires_at, delivery_answer
    FROM notifications;

CREATE TABLE notification_claims_v2 (
    claim_key       TEXT    NOT NULL PRIMARY KEY,
    incident_id     INTEGER REFERENCES incidents (id) ON DELETE CASCADE,
    notification_id INTEGER NOT NULL REFERENCES notifications_v2 (id) ON DELETE CASCADE
);
INSERT INTO notification_claims_v2 SELECT claim_key, incident_id, notification_id FROM notification_claims;

DROP TABLE notification_claims;
DROP TABLE notifications;
-- Renaming updates the claims' reference to the new name.
ALTER TABLE notifications_v2 RENAME TO notifications;
ALTER TABLE notification_claims_v2 RENAME TO notification_claims;
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notification_claims_by_incident ON notification_claims (incident_id);
