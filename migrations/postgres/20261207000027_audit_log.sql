-- Who changed what: one row per change to the configuration (monitors,
-- sites, alert policies, maintenance windows, status pages, users, tokens,
-- the names of secrets), made through the API, the UI or the command line.
-- Rows outlive the user who made them (no reference to `users`: the
-- e-mail in `actor` says who it was). `before_json` and `after_json` are the
-- object as the API showed it, JSON, never a secret's value; retention
-- deletes rows by `at`.
CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT  NOT NULL,
    actor_id    BIGINT,
    actor       TEXT    NOT NULL,
    credential  TEXT    NOT NULL,
    address     TEXT,
    action      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    object_id   TEXT,
    object_name TEXT,
    before_json TEXT,
    after_json  TEXT
);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_object ON audit_log (kind, object_id);
