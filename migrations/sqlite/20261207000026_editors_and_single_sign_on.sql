-- Editors: a third role between viewers and admins, for users and tokens.
-- SQLite keeps a CHECK in its table, so `users` is built anew, and with it
-- the two tables that refer to it (dropping `users` while they did would
-- delete their rows through ON DELETE CASCADE; renaming a table carries
-- the references along).
--
-- Single sign-on: `oidc_subject` is who the OpenID provider says the user
-- is (its issuer and `sub`, the one claim that never changes), set at the
-- first login through it. An account made that way has no password: its
-- `password_hash` is empty, which no password matches.
CREATE TABLE users_v2 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    oidc_subject  TEXT    UNIQUE
);
INSERT INTO users_v2 (id, email, password_hash, role, created_at, updated_at)
    SELECT id, email, password_hash, role, created_at, updated_at FROM users;

CREATE TABLE sessions_v2 (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users_v2 (id) ON DELETE CASCADE,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
INSERT INTO sessions_v2 SELECT id, user_id, token_hash, created_at, last_seen_at, expires_at FROM sessions;

CREATE TABLE api_tokens_v2 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users_v2 (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL UNIQUE,
    token_prefix  TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    checkpoint_id INTEGER REFERENCES checkpoints (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    expires_at    INTEGER,
    revoked_at    INTEGER
);
INSERT INTO api_tokens_v2 SELECT id, user_id, name, token_hash, token_prefix, role, checkpoint_id,
        created_at, last_used_at, expires_at, revoked_at
    FROM api_tokens;

DROP TABLE sessions;
DROP TABLE api_tokens;
DROP TABLE users;
ALTER TABLE users_v2 RENAME TO users;
ALTER TABLE sessions_v2 RENAME TO sessions;
ALTER TABLE api_tokens_v2 RENAME TO api_tokens;
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
