-- Foundation schema. Times are Unix milliseconds (UTC) in INTEGER columns so
-- that both backends store and compare them the same way. JSON documents
-- (monitor specs, result details) are TEXT.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE checkpoints (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER,
    agent_version TEXT
);

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL UNIQUE,
    token_prefix  TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'viewer')),
    checkpoint_id INTEGER REFERENCES checkpoints (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    expires_at    INTEGER,
    revoked_at    INTEGER
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

CREATE TABLE sites (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT    NOT NULL UNIQUE,
    site_key          TEXT    NOT NULL UNIQUE,
    origins           TEXT    NOT NULL,
    keep_query_string BOOLEAN NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE monitors (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    monitor_type TEXT    NOT NULL,
    enabled      BOOLEAN NOT NULL,
    spec         TEXT    NOT NULL,
    site_id      INTEGER REFERENCES sites (id) ON DELETE SET NULL,
    status       TEXT    NOT NULL DEFAULT 'unknown',
    status_since INTEGER,
    next_due_at  INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX monitors_by_due ON monitors (enabled, next_due_at);

CREATE TABLE check_results (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id      INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    checkpoint_id   INTEGER NOT NULL REFERENCES checkpoints (id),
    due_at          INTEGER NOT NULL,
    attempt         INTEGER NOT NULL,
    started_at      INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('up', 'degraded', 'error')),
    error_kind      TEXT,
    error_message   TEXT,
    status_code     INTEGER,
    dns_ms          INTEGER,
    connect_ms      INTEGER,
    tls_ms          INTEGER,
    first_byte_ms   INTEGER,
    download_ms     INTEGER,
    response_bytes  INTEGER,
    detail          TEXT,
    in_maintenance  BOOLEAN NOT NULL,
    UNIQUE (monitor_id, checkpoint_id, due_at, attempt)
);
CREATE INDEX check_results_by_monitor_time ON check_results (monitor_id, started_at);

CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id  INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    severity    TEXT    NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    cause       TEXT    NOT NULL,
    correlation TEXT,
    opened_at   INTEGER NOT NULL,
    closed_at   INTEGER
);
CREATE UNIQUE INDEX incidents_one_open_per_monitor ON incidents (monitor_id) WHERE closed_at IS NULL;
CREATE INDEX incidents_by_time ON incidents (opened_at);

CREATE TABLE incident_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    message     TEXT    NOT NULL
);
CREATE INDEX incident_events_by_incident ON incident_events (incident_id, at);

CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key       TEXT    NOT NULL UNIQUE,
    incident_id      INTEGER REFERENCES incidents (id) ON DELETE SET NULL,
    channel          TEXT    NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient        TEXT    NOT NULL,
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
    lease_expires_at INTEGER
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
