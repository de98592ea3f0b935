-- Drill-downs into one page with other filters now read the hourly page
-- view columns; raw page views are read only for partial hours, through
-- the (site, time) index. The page index no longer earns what it costs
-- every write.
DROP INDEX page_views_by_site_page_time;
