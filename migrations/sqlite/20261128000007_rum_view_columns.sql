-- Each hour of raw page views, column by column: per dimension a
-- dictionary of values and a code per page view, per metric a code per page
-- view holding its sketch bucket and rating (see the core crate's
-- view_columns module). Questions no rollup is keyed by read the few
-- columns they name instead of every wide raw row of the period. Kept for
-- the raw retention, like the page views they copy.
CREATE TABLE rum_view_columns (
    site_id    INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    hour_start INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    PRIMARY KEY (site_id, hour_start, name)
);

-- How far each site's columns reach: every page view received before
-- `rolled_until` is in them. Rolled on their own, from the raw page views
-- still kept, so hours rolled before the columns existed get them too.
CREATE TABLE rum_view_column_progress (
    site_id      INTEGER NOT NULL PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    rolled_until INTEGER NOT NULL
);
