-- The rollup indexes by value carry each cell's page-view count, so that a
-- breakdown ranks values from the index alone before it reads the sketches
-- of the top ones (`Store::rollup_counts`).
DROP INDEX rum_rollups_by_value;
DROP INDEX rum_rollups_by_second_value;

CREATE INDEX rum_rollups_by_value
    ON rum_rollups (site_id, resolution, dimension, value, bucket_start)
    INCLUDE (page_views, second_value);

CREATE INDEX rum_rollups_by_second_value
    ON rum_rollups (site_id, resolution, dimension, second_value, bucket_start)
    INCLUDE (page_views, value)
    WHERE second_value <> '';
