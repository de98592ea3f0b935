-- Public status pages: a named document each (its slug is its name), the
-- incidents people write on them with their updates, and the people who
-- follow a page by e-mail.
CREATE TABLE status_pages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    spec       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- An incident as the page's readers see it. `components` is a JSON list
-- of the component names it affects; `auto_key` marks one opened by the
-- server for a confirmed outage (component and alerting incident), so that
-- it is opened once.
CREATE TABLE status_incidents (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    page_id     BIGINT NOT NULL REFERENCES status_pages(id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    components  TEXT NOT NULL,
    auto_key    TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    resolved_at BIGINT,
    UNIQUE (page_id, auto_key)
);
CREATE INDEX status_incidents_by_page ON status_incidents (page_id, created_at);

-- Each update: its state (investigating, identified, monitoring, resolved)
-- and what it says.
CREATE TABLE status_incident_updates (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES status_incidents(id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    message     TEXT NOT NULL,
    author      TEXT,
    at          BIGINT NOT NULL
);
CREATE INDEX status_incident_updates_by_incident ON status_incident_updates (incident_id, at);

-- People following a page by e-mail: confirmed once they opened the link
-- sent to them (double opt-in). `token_hash` is the SHA-256 of the secret
-- in their confirm and unsubscribe links.
CREATE TABLE status_subscribers (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    page_id      BIGINT NOT NULL REFERENCES status_pages(id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    confirmed_at BIGINT,
    created_at   BIGINT NOT NULL,
    UNIQUE (page_id, email)
);
