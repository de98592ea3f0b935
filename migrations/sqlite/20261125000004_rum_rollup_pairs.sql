-- RUM rollups, second form. Hourly buckets hold the site's totals
-- (dimension '') and each dimension on its own; daily buckets hold those
-- and every pair of two dimensions ('device|country', value 'mobile',
-- second_value 'DE'), so that any two filters, or a filter and a breakdown,
-- are answered from rollups. Either side of a pair can be looked up by
-- value. Aggregates are in format 2 (sketch bucket counts only).
--
-- An ordinary (rowid) table, not WITHOUT ROWID: aggregates run to a few
-- kilobytes, and rows of that size in a WITHOUT ROWID table spill onto
-- overflow pages that take twice the room.
--
-- Rollups are derived data: the old ones are dropped with their progress
-- markers, and the maintenance loop rebuilds them from the raw page views.
DROP TABLE rum_rollups;
DROP TABLE rum_rollup_progress;

CREATE TABLE rum_rollups (
    site_id      INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    resolution   INTEGER NOT NULL,
    dimension    TEXT    NOT NULL,
    bucket_start INTEGER NOT NULL,
    value        TEXT    NOT NULL,
    second_value TEXT    NOT NULL,
    page_views   INTEGER NOT NULL,
    aggregate    BLOB    NOT NULL,
    PRIMARY KEY (site_id, resolution, dimension, bucket_start, value, second_value)
);

-- One value of a dimension (or the first of a pair) over a period.
CREATE INDEX rum_rollups_by_value
    ON rum_rollups (site_id, resolution, dimension, value, bucket_start);

-- The second value of a pair over a period.
CREATE INDEX rum_rollups_by_second_value
    ON rum_rollups (site_id, resolution, dimension, second_value, bucket_start)
    WHERE second_value <> '';

-- How far each site's rollups of each resolution reach: every page view
-- received before `rolled_until` is in them.
CREATE TABLE rum_rollup_progress (
    site_id      INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    resolution   INTEGER NOT NULL,
    rolled_until INTEGER NOT NULL,
    PRIMARY KEY (site_id, resolution)
);
