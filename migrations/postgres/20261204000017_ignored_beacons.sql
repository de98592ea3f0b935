-- Beacons a site's pages sent that were not stored, counted by hour and
-- reason (robot, origin, rate_limit, malformed), so that the site's screen
-- can say why page views are missing.
CREATE TABLE ignored_beacons (
    site_id      BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    bucket_start BIGINT NOT NULL,
    reason       TEXT   NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (site_id, bucket_start, reason)
);
