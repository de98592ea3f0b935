-- Alert policies, stored as the user's validated document: escalation
-- levels with their recipients, reminders, recovery notices.
CREATE TABLE alert_policies (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    spec       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
