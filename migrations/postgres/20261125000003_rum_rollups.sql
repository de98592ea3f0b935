-- RUM rollups: per site, per bucket (an hour or a day), per key, an
-- aggregate (page views, a quantile sketch and rating counts per metric).
-- Keys: the site's totals (dimension ''), each single dimension, and the
-- page paired with each other dimension ('page|device', value 'PAGE|VALUE'),
-- so that a filter on the page meets any breakdown and the reverse.
CREATE TABLE rum_rollups (
    site_id      BIGINT  NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    resolution   BIGINT  NOT NULL,
    bucket_start BIGINT  NOT NULL,
    dimension    TEXT    NOT NULL,
    value        TEXT    NOT NULL,
    page_views   BIGINT  NOT NULL,
    aggregate    BYTEA   NOT NULL,
    PRIMARY KEY (site_id, resolution, dimension, bucket_start, value)
);

-- How far each site's rollups of each resolution reach: every page view
-- received before `rolled_until` is in them.
CREATE TABLE rum_rollup_progress (
    site_id      BIGINT  NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    resolution   BIGINT  NOT NULL,
    rolled_until BIGINT  NOT NULL,
    PRIMARY KEY (site_id, resolution)
);
