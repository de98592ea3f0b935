-- Raw RUM page views, enriched and stripped of anything personal (no IP
-- address, no query string unless the site keeps it). Kept for the raw
-- retention period; dashboards read rollups.
CREATE TABLE page_views (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id            INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    at                 INTEGER NOT NULL,
    page               TEXT    NOT NULL,
    navigation_type    TEXT    NOT NULL,
    device             TEXT    NOT NULL,
    browser            TEXT    NOT NULL,
    browser_version    TEXT    NOT NULL,
    os                 TEXT    NOT NULL,
    os_version         TEXT    NOT NULL,
    country            TEXT    NOT NULL,
    lcp                REAL,
    fcp                REAL,
    cls                REAL,
    inp                REAL,
    ttfb               REAL,
    redirect           REAL,
    dns                REAL,
    connect            REAL,
    tls                REAL,
    download           REAL,
    dom_interactive    REAL,
    dom_content_loaded REAL,
    load               REAL,
    settle             REAL
);
CREATE INDEX page_views_by_site_time ON page_views (site_id, at);
