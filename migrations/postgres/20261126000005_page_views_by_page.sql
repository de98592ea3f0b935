-- Raw page views by page: a drill-down into one page with any other filters
-- (a combination no rollup is keyed by) reads that page's rows, not the
-- whole period's.
CREATE INDEX page_views_by_site_page_time ON page_views (site_id, page, at);
