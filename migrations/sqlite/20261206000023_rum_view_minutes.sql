-- The open hour's page views, column by column as in rum_view_columns, a
-- minute at a time: written every few seconds once a minute has settled,
-- so that questions about the last hour read a few bytes per page view
-- instead of every raw row of it. The hour's whole columns replace its
-- minutes when the hour is rolled.
CREATE TABLE rum_view_segments (
    site_id       INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    segment_start INTEGER NOT NULL,
    name          TEXT    NOT NULL,
    data          BLOB    NOT NULL,
    PRIMARY KEY (site_id, segment_start, name)
);

-- How far each site's minutes reach: every page view received before
-- `rolled_until` and after the hour columns' end is in them.
CREATE TABLE rum_view_segment_progress (
    site_id      INTEGER NOT NULL PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    rolled_until INTEGER NOT NULL
);

-- Hours' columns now hold each page view's minute, so that buckets shorter
-- than an hour are answered from them. Those written before are rewritten
-- from the raw page views they copy (kept as long as they are): until then
-- questions read the raw page views.
DELETE FROM rum_view_columns;
DELETE FROM rum_view_column_progress;
