-- Alert policies, stored as the user's validated document: escalation
-- levels with their recipients, reminders, recovery notices.
CREATE TABLE alert_policies (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    spec       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
