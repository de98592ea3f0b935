-- Raw RUM page views, enriched and stripped of anything personal (no IP
-- address, no query string unless the site keeps it). Kept for the raw
-- retention period; dashboards read rollups.
CREATE TABLE page_views (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id            BIGINT  NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    at                 BIGINT  NOT NULL,
    page               TEXT    NOT NULL,
    navigation_type    TEXT    NOT NULL,
    device             TEXT    NOT NULL,
    browser            TEXT    NOT NULL,
    browser_version    TEXT    NOT NULL,
    os                 TEXT    NOT NULL,
    os_version         TEXT    NOT NULL,
    country            TEXT    NOT NULL,
    lcp                DOUBLE PRECISION,
    fcp                DOUBLE PRECISION,
    cls                DOUBLE PRECISION,
    inp                DOUBLE PRECISION,
    ttfb               DOUBLE PRECISION,
    redirect           DOUBLE PRECISION,
    dns                DOUBLE PRECISION,
    connect            DOUBLE PRECISION,
    tls                DOUBLE PRECISION,
    download           DOUBLE PRECISION,
    dom_interactive    DOUBLE PRECISION,
    dom_content_loaded DOUBLE PRECISION,
    load               DOUBLE PRECISION,
    settle             DOUBLE PRECISION
);
CREATE INDEX page_views_by_site_time ON page_views (site_id, at);
