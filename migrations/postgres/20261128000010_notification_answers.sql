-- What the receiving server answered to a delivered notification (the SMTP
-- reply, the webhook's HTTP status), shown by the test-notification action.
ALTER TABLE notifications ADD COLUMN delivery_answer TEXT;
