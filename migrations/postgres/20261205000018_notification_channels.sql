-- Channels are named by the alerting crate's registry, not by the schema.
-- `target` holds the settings of the target a notification goes to (a Slack
-- webhook, a PagerDuty routing key…), as the policy wrote them:
-- `{{secrets.NAME}}` stays unfilled until the message is sent, so no secret
-- is ever stored here.
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_channel_check;
ALTER TABLE notifications ADD COLUMN target TEXT;
