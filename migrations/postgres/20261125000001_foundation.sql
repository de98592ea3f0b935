-- Foundation schema. Times are Unix milliseconds (UTC) in BIGINT columns so
-- that both backends store and compare them the same way. JSON documents
-- (monitor specs, result details) are TEXT.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE TABLE sessions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE checkpoints (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    created_at    BIGINT  NOT NULL,
    last_seen_at  BIGINT,
    agent_version TEXT
);

CREATE TABLE api_tokens (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL UNIQUE,
    token_prefix  TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'viewer')),
    checkpoint_id BIGINT  REFERENCES checkpoints (id) ON DELETE CASCADE,
    created_at    BIGINT  NOT NULL,
    last_used_at  BIGINT,
    expires_at    BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

CREATE TABLE sites (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    site_key          TEXT    NOT NULL UNIQUE,
    origins           TEXT    NOT NULL,
    keep_query_string BOOLEAN NOT NULL,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL
);

CREATE TABLE monitors (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    monitor_type TEXT    NOT NULL,
    enabled      BOOLEAN NOT NULL,
    spec         TEXT    NOT NULL,
    site_id      BIGINT  REFERENCES sites (id) ON DELETE SET NULL,
    status       TEXT    NOT NULL DEFAULT 'unknown',
    status_since BIGINT,
    next_due_at  BIGINT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
CREATE INDEX monitors_by_due ON monitors (enabled, next_due_at);

CREATE TABLE check_results (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    monitor_id      BIGINT  NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    checkpoint_id   BIGINT  NOT NULL REFERENCES checkpoints (id),
    due_at          BIGINT  NOT NULL,
    attempt         BIGINT  NOT NULL,
    started_at      BIGINT  NOT NULL,
    duration_ms     BIGINT  NOT NULL,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('up', 'degraded', 'error')),
    error_kind      TEXT,
    error_message   TEXT,
    status_code     BIGINT,
    dns_ms          BIGINT,
    connect_ms      BIGINT,
    tls_ms          BIGINT,
    first_byte_ms   BIGINT,
    download_ms     BIGINT,
    response_bytes  BIGINT,
    detail          TEXT,
    in_maintenance  BOOLEAN NOT NULL,
    UNIQUE (monitor_id, checkpoint_id, due_at, attempt)
);
CREATE INDEX check_results_by_monitor_time ON check_results (monitor_id, started_at);

CREATE TABLE incidents (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    monitor_id  BIGINT  NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    severity    TEXT    NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    cause       TEXT    NOT NULL,
    correlation TEXT,
    opened_at   BIGINT  NOT NULL,
    closed_at   BIGINT
);
CREATE UNIQUE INDEX incidents_one_open_per_monitor ON incidents (monitor_id) WHERE closed_at IS NULL;
CREATE INDEX incidents_by_time ON incidents (opened_at);

CREATE TABLE incident_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT  NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at          BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    message     TEXT    NOT NULL
);
CREATE INDEX incident_events_by_incident ON incident_events (incident_id, at);

CREATE TABLE notifications (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedupe_key       TEXT    NOT NULL UNIQUE,
    incident_id      BIGINT  REFERENCES incidents (id) ON DELETE SET NULL,
    channel          TEXT    NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient        TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'expired')),
    attempts         BIGINT  NOT NULL,
    last_error       TEXT,
    created_at       BIGINT  NOT NULL,
    next_attempt_at  BIGINT  NOT NULL,
    expires_at       BIGINT  NOT NULL,
    sent_at          BIGINT,
    lease_owner      TEXT,
    lease_expires_at BIGINT
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
