-- Incidents about a RUM site (its real-user traffic stopped, a Core Web
-- Vital is poor) beside those about a monitor; an incident held back
-- because the monitor it depends on is down; notifications that cover
-- several incidents; a site's own alert policy.
ALTER TABLE incidents ALTER COLUMN monitor_id DROP NOT NULL;
ALTER TABLE incidents ADD COLUMN kind TEXT NOT NULL DEFAULT 'monitor_down'
    CHECK (kind IN ('monitor_down', 'rum_silent', 'rum_performance'));
ALTER TABLE incidents ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE incidents ADD COLUMN site_id BIGINT REFERENCES sites (id) ON DELETE CASCADE;
ALTER TABLE incidents ADD COLUMN held_by BIGINT REFERENCES incidents (id) ON DELETE SET NULL;
ALTER TABLE incidents ADD CONSTRAINT incidents_about_one_thing CHECK ((monitor_id IS NULL) <> (site_id IS NULL));
CREATE UNIQUE INDEX incidents_one_open_per_site_kind ON incidents (site_id, kind) WHERE closed_at IS NULL;

-- Which incident, level and recipient each notification speaks for
-- (`incident/{id}/{step}/{recipient}`): a message listing twenty incidents
-- claims twenty keys, and a key is claimed once, so no incident is told
-- twice to anyone, whichever process groups the message.
CREATE TABLE notification_claims (
    claim_key       TEXT   NOT NULL PRIMARY KEY,
    incident_id     BIGINT REFERENCES incidents (id) ON DELETE CASCADE,
    notification_id BIGINT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE
);
CREATE INDEX notification_claims_by_incident ON notification_claims (incident_id);
INSERT INTO notification_claims (claim_key, incident_id, notification_id)
    SELECT dedupe_key, incident_id, id FROM notifications WHERE incident_id IS NOT NULL;

ALTER TABLE sites ADD COLUMN alert_policy TEXT;
