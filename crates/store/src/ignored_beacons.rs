//! Beacons of a site that were not stored, counted by hour and reason, so
//! that someone testing with a headless browser or from the wrong origin
//! sees why their page views are missing.

use crate::backend::{read, write};
use crate::{Result, Store};
use sightline_core::Timestamp;
use std::collections::BTreeMap;

/// One hour in milliseconds: the counts' resolution.
const HOUR_MS: i64 = 3_600_000;

impl Store {
    /// Adds `counts` (site id, reason, how many) to the hour of `at`.
    pub async fn add_ignored_beacons(
        &self,
        at: Timestamp,
        counts: &[(i64, &str, i64)],
    ) -> Result<()> {
        if counts.is_empty() {
            return Ok(());
        }
        let bucket = at.as_millis().div_euclid(HOUR_MS) * HOUR_MS;
        write!(self.backend, |pool| {
            async {
                let mut tx = pool.begin().await?;
                for (site_id, reason, count) in counts {
                    // A site deleted meanwhile has nothing to count.
                    sqlx::query(
                        "INSERT INTO ignored_beacons (site_id, bucket_start, reason, count) \
                         SELECT id, $2, $3, $4 FROM sites WHERE id = $1 \
                         ON CONFLICT (site_id, bucket_start, reason) \
                         DO UPDATE SET count = ignored_beacons.count + excluded.count",
                    )
                    .bind(site_id)
                    .bind(bucket)
                    .bind(*reason)
                    .bind(count)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await
            }
            .await
        })?;
        Ok(())
    }

    /// How many of a site's beacons were ignored in the hours that
    /// `[from, to)` touches, by reason.
    pub async fn ignored_beacons(
        &self,
        site_id: i64,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<BTreeMap<String, i64>> {
        let start = from.as_millis().div_euclid(HOUR_MS) * HOUR_MS;
        let rows: Vec<(String, i64)> = read!(self.backend, |pool| {
            sqlx::query_as(
                "SELECT reason, CAST(SUM(count) AS BIGINT) FROM ignored_beacons \
                 WHERE site_id = $1 AND bucket_start >= $2 AND bucket_start < $3 GROUP BY reason",
            )
            .bind(site_id)
            .bind(start)
            .bind(to.as_millis())
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().collect())
    }
}
