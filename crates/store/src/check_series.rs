//! A monitor's checks over a period as a series of equal buckets, for
//! charts: counts, downtime and response-time quantiles per bucket, from
//! the hourly or daily summaries where a bucket is whole hours, and from
//! raw results where it is shorter or not rolled yet.

use crate::check_summaries::{CheckTotals, DAY_MS, HOUR_MS, floor_to};
use crate::{Result, Store, StoreError};
use sightline_core::Timestamp;

/// Most buckets one series may have: a chart is not wider than this many
/// pixels' worth of useful columns, and the answer stays small.
pub const MAX_BUCKETS: i64 = 2_000;

/// One bucket of a series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesBucket {
    /// Where it starts (Unix ms); it lasts the series' step.
    pub start: i64,
    /// What its results add up to; downtime from the outages.
    pub totals: CheckTotals,
}

impl Store {
    /// The monitor's checks in `[from, to)` in buckets of `step_ms` (from
    /// `from` rounded down to the step), oldest first, every bucket present
    /// even when empty. A step of a whole number of hours reads the
    /// summaries (daily ones for whole days), so that ninety days cost a
    /// few hundred rows; a shorter one reads the raw results.
    pub async fn check_series(
        &self,
        monitor_id: i64,
        from: Timestamp,
        to: Timestamp,
        step_ms: i64,
    ) -> Result<Vec<SeriesBucket>> {
        let step = step_ms.max(1);
        let first = floor_to(from.as_millis(), step);
        let to = to.as_millis();
        let count = (to - first + step - 1).div_euclid(step).max(0);
        if count > MAX_BUCKETS {
            return Err(StoreError::Refused(format!(
                "{count} buckets of {step} ms: at most {MAX_BUCKETS}"
            )));
        }
        let mut buckets: Vec<SeriesBucket> = (0..count)
            .map(|i| SeriesBucket {
                start: first + i * step,
                totals: CheckTotals::default(),
            })
            .collect();
        if buckets.is_empty() {
            return Ok(buckets);
        }
        let end = first + count * step;
        let index = |at: i64| usize::try_from((at - first).div_euclid(step)).ok();
        let resolution = if step % DAY_MS == 0 {
            Some(DAY_MS)
        } else if step % HOUR_MS == 0 {
            Some(HOUR_MS)
        } else {
            None
        };
        // Results already in the summaries are read from them; the rest raw.
        let raw_after = match resolution {
            Some(resolution) => {
                for (start, totals) in self
                    .summary_buckets(monitor_id, resolution, first, end)
                    .await?
                {
                    if let Some(bucket) = index(start).and_then(|i| buckets.get_mut(i)) {
                        bucket.totals.merge(&totals);
                    }
                }
                self.summarized_through().await?
            }
            None => 0,
        };
        for row in &self.raw_rows(monitor_id, first, end, raw_after).await? {
            if let Some(bucket) = index(row.started_at).and_then(|i| buckets.get_mut(i)) {
                bucket.totals.add(row);
            }
        }
        // Downtime comes from the outages, as for uptime, never from what
        // the summaries counted.
        let now = self.now().as_millis();
        let outages = self
            .outages_overlapping(Some(monitor_id), first, end.min(now))
            .await?;
        for bucket in &mut buckets {
            bucket.totals.counts.downtime_ms = outages
                .iter()
                .map(|outage| outage.down_ms(bucket.start, bucket.start + step, now))
                .sum();
        }
        Ok(buckets)
    }
}
