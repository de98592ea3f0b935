-- Raw page views and raw check results in one partition per UTC day, so
-- that retention drops a day's table instead of deleting its rows one by
-- one (each deleted row is a dead tuple for vacuum to find: at ten million
-- page views a day that is ten million a day). Page views are partitioned
-- by the time they were received, check results by the time they were due
-- (part of their uniqueness, and what status checks look up).
--
-- Partitions are named `<table>_YYYYMMDD` and made by the store before the
-- first row of their day is written (see `day_partitions.rs`). A partitioned
-- table in PostgreSQL 15 cannot have an identity column, so ids come from a
-- sequence; its primary key must hold the partition key.

ALTER TABLE page_views RENAME TO page_views_unpartitioned;
ALTER INDEX page_views_pkey RENAME TO page_views_unpartitioned_pkey;
ALTER INDEX page_views_by_site_time RENAME TO page_views_unpartitioned_by_site_time;

CREATE SEQUENCE page_view_ids;
SELECT setval('page_view_ids', COALESCE((SELECT MAX(id) FROM page_views_unpartitioned), 0) + 1, false);

CREATE TABLE page_views (
    id                 BIGINT  NOT NULL DEFAULT nextval('page_view_ids'),
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
    settle             DOUBLE PRECISION,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
ALTER SEQUENCE page_view_ids OWNED BY page_views.id;
CREATE INDEX page_views_by_site_time ON page_views (site_id, at);

ALTER TABLE check_results RENAME TO check_results_unpartitioned;
ALTER INDEX check_results_pkey RENAME TO check_results_unpartitioned_pkey;
ALTER INDEX check_results_monitor_id_checkpoint_id_due_at_attempt_key
    RENAME TO check_results_unpartitioned_key;
ALTER INDEX check_results_by_monitor_time RENAME TO check_results_unpartitioned_by_monitor_time;

CREATE SEQUENCE check_result_ids;
SELECT setval('check_result_ids', COALESCE((SELECT MAX(id) FROM check_results_unpartitioned), 0) + 1, false);

CREATE TABLE check_results (
    id              BIGINT  NOT NULL DEFAULT nextval('check_result_ids'),
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
    recorded_at     BIGINT  NOT NULL DEFAULT 0,
    downtime_ms     BIGINT  NOT NULL DEFAULT 0,
    confirmed_error BOOLEAN NOT NULL DEFAULT FALSE,
    job_id          BIGINT,
    PRIMARY KEY (id, due_at),
    -- Ordered so that it also finds a monitor's results by due time, which
    -- a separate index did before: one index less to write per result.
    UNIQUE (monitor_id, due_at, checkpoint_id, attempt)
) PARTITION BY RANGE (due_at);
ALTER SEQUENCE check_result_ids OWNED BY check_results.id;
CREATE INDEX check_results_by_monitor_time ON check_results (monitor_id, started_at);

-- A partition for every day that holds rows, then the rows.
DO $$
DECLARE
    spec RECORD;
BEGIN
    FOR spec IN
        SELECT 'page_views' AS parent, day FROM (SELECT DISTINCT div(at, 86400000) AS day FROM page_views_unpartitioned) AS days
        UNION ALL
        SELECT 'check_results', day FROM (SELECT DISTINCT div(due_at, 86400000) AS day FROM check_results_unpartitioned) AS days
    LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%s) TO (%s)',
            spec.parent || '_' || to_char(to_timestamp(spec.day * 86400) AT TIME ZONE 'UTC', 'YYYYMMDD'),
            spec.parent,
            spec.day * 86400000,
            (spec.day + 1) * 86400000
        );
    END LOOP;
END
$$;

INSERT INTO page_views (id, site_id, at, page, navigation_type, device, browser, browser_version,
                        os, os_version, country, lcp, fcp, cls, inp, ttfb, redirect, dns, connect,
                        tls, download, dom_interactive, dom_content_loaded, load, settle)
SELECT id, site_id, at, page, navigation_type, device, browser, browser_version,
       os, os_version, country, lcp, fcp, cls, inp, ttfb, redirect, dns, connect,
       tls, download, dom_interactive, dom_content_loaded, load, settle
FROM page_views_unpartitioned;
DROP TABLE page_views_unpartitioned;

INSERT INTO check_results (id, monitor_id, checkpoint_id, due_at, attempt, started_at, duration_ms,
                           outcome, error_kind, error_message, status_code, dns_ms, connect_ms,
                           tls_ms, first_byte_ms, download_ms, response_bytes, detail,
                           in_maintenance, recorded_at, downtime_ms, confirmed_error, job_id)
SELECT id, monitor_id, checkpoint_id, due_at, attempt, started_at, duration_ms,
       outcome, error_kind, error_message, status_code, dns_ms, connect_ms,
       tls_ms, first_byte_ms, download_ms, response_bytes, detail,
       in_maintenance, recorded_at, downtime_ms, confirmed_error, job_id
FROM check_results_unpartitioned;
DROP TABLE check_results_unpartitioned;
