-- Beacons a site's pages sent that were not stored, counted by hour and
-- reason (robot, origin, rate_limit, malformed), so that the site's screen
-- can say why page views are missing.
CREATE TABLE ignored_beacons (
    site_id      INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    bucket_start INTEGER NOT NULL,
    reason       TEXT   NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (site_id, bucket_start, reason)
);
