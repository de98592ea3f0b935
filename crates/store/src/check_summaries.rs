//! Hourly and daily summaries of check results, kept for years so that the
//! uptime and response time of any period answer from a few hundred rows,
//! while raw results expire.
//!
//! Results are rolled in id order behind one progress marker, each into the
//! hour and the day of its start, so that results reported late (a remote
//! checkpoint catching up) are still counted. Only results stored a while
//! ago are rolled: a transaction still open when the roll passes its id
//! cannot be passed over.

use crate::backend::{read, write};
use crate::day_partitions::DayPartitioned;
use crate::{Expired, Result, Store, StoreError};
use sightline_core::Timestamp;
use sightline_core::rum::QuantileSketch;
use std::collections::BTreeMap;

/// One hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// Summaries read or written per statement when rolling: eight bound
/// values each, well under both databases' limits.
const SUMMARIES_PER_STATEMENT: usize = crate::check_jobs::ROWS_PER_STATEMENT / 8;

/// What a set of results adds up to in counts: enough for uptime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct UptimeCounts {
    /// Scheduled checks (first attempts), outside maintenance.
    pub checks: i64,
    /// Failures a re-run confirmed.
    pub confirmed_errors: i64,
    /// Checks slower than their degraded threshold.
    pub degraded: i64,
    /// How long the monitor was down in the period (see [`crate::outages`]):
    /// from its outages, not from the results, so never more than the
    /// period.
    pub downtime_ms: i64,
}

impl UptimeCounts {
    /// The share of checks without a confirmed error, in percent; `None`
    /// without checks. The one definition of uptime every report uses.
    pub fn uptime_percent(&self) -> Option<f64> {
        (self.checks > 0).then(|| {
            let good = (self.checks - self.confirmed_errors).max(0);
            good as f64 * 100.0 / self.checks as f64
        })
    }

    /// What one result counts for: the rule every uptime report follows.
    /// Results in maintenance count for nothing; a scheduled check (the
    /// first attempt) counts once, and as degraded when it was; a confirmed
    /// error counts once. Downtime is not counted from results: it comes
    /// from the outages.
    pub(crate) fn of(row: &RollRow) -> UptimeCounts {
        if row.in_maintenance {
            return UptimeCounts::default();
        }
        let scheduled = row.attempt == 0;
        UptimeCounts {
            checks: i64::from(scheduled),
            confirmed_errors: i64::from(row.confirmed_error),
            degraded: i64::from(scheduled && row.outcome == "degraded"),
            downtime_ms: 0,
        }
    }

    /// Adds another set.
    pub fn add(&mut self, other: UptimeCounts) {
        self.checks += other.checks;
        self.confirmed_errors += other.confirmed_errors;
        self.degraded += other.degraded;
        self.downtime_ms += other.downtime_ms;
    }
}

/// What a set of results adds up to: the counts and the response times.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckTotals {
    /// Checks, confirmed errors, degraded checks and downtime.
    pub counts: UptimeCounts,
    /// Response times of the checks.
    pub response_ms: QuantileSketch,
}

impl CheckTotals {
    /// Adds another set.
    pub fn merge(&mut self, other: &CheckTotals) {
        self.counts.add(other.counts);
        self.response_ms.merge(&other.response_ms);
    }

    /// Counts one result as [`UptimeCounts::of`] does, with the response
    /// time of a scheduled check.
    pub(crate) fn add(&mut self, row: &RollRow) {
        let counts = UptimeCounts::of(row);
        if counts.checks > 0 {
            self.response_ms.add(row.duration_ms as f64);
        }
        self.counts.add(counts);
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RollRow {
    pub(crate) id: i64,
    pub(crate) monitor_id: i64,
    pub(crate) started_at: i64,
    pub(crate) attempt: i64,
    pub(crate) outcome: String,
    pub(crate) duration_ms: i64,
    pub(crate) in_maintenance: bool,
    pub(crate) confirmed_error: bool,
    pub(crate) recorded_at: i64,
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    monitor_id: i64,
    bucket_start: i64,
    checks: i64,
    confirmed_errors: i64,
    degraded: i64,
    downtime_ms: i64,
    response_sketch: Vec<u8>,
}

impl SummaryRow {
    fn totals(&self) -> Result<CheckTotals> {
        let sketch =
            QuantileSketch::from_bytes(&self.response_sketch).map_err(|e| StoreError::Corrupt {
                what: "check summary",
                id: self.monitor_id,
                reason: format!("bucket {}: {e}", self.bucket_start),
            })?;
        Ok(CheckTotals {
            counts: UptimeCounts {
                checks: self.checks,
                confirmed_errors: self.confirmed_errors,
                degraded: self.degraded,
                downtime_ms: self.downtime_ms,
            },
            response_ms: sketch,
        })
    }
}

pub(crate) const ROLL_COLUMNS: &str = "id, monitor_id, started_at, attempt, outcome, duration_ms, in_maintenance, \
     confirmed_error, recorded_at";

impl Store {
    /// How far the summaries reach: every result with an id up to this is in them.
    pub async fn summarized_through(&self) -> Result<i64> {
        let marker: Option<i64> = read!(self.backend, |pool| {
            sqlx::query_scalar("SELECT rolled_id FROM check_summary_progress WHERE id = 1")
                .fetch_optional(pool)
                .await
        })?;
        Ok(marker.unwrap_or(0))
    }

    /// Rolls up to `limit` results stored before `recorded_before` into the
    /// summaries; returns how many it rolled (0 when another process rolled
    /// them first or there were none).
    pub async fn roll_check_summaries(
        &self,
        recorded_before: Timestamp,
        limit: i64,
    ) -> Result<usize> {
        let marker = self.summarized_through().await?;
        let sql =
            format!("SELECT {ROLL_COLUMNS} FROM check_results WHERE id > $1 ORDER BY id LIMIT $2");
        let rows: Vec<RollRow> = read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(marker)
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
        let settled = rows
            .iter()
            .position(|row| row.recorded_at >= recorded_before.as_millis())
            .unwrap_or(rows.len());
        let rows = &rows[..settled];
        let Some(last) = rows.last() else {
            return Ok(0);
        };
        // Per bucket (resolution and start), what each monitor's results
        // add to it: the results of a batch mostly share a few buckets.
        let mut buckets: BTreeMap<(i64, i64), BTreeMap<i64, CheckTotals>> = BTreeMap::new();
        for row in rows {
            for resolution in [HOUR_MS, DAY_MS] {
                let start = row.started_at.div_euclid(resolution) * resolution;
                buckets
                    .entry((resolution, start))
                    .or_default()
                    .entry(row.monitor_id)
                    .or_default()
                    .add(row);
            }
        }
        let until = last.id;
        let rolled = rows.len();
        let moved = write!(self.backend, |pool| {
            async {
            let mut tx = pool.begin().await?;
            let moved = if marker == 0 {
                sqlx::query(
                    "INSERT INTO check_summary_progress (id, rolled_id) VALUES (1, $1) ON CONFLICT DO NOTHING",
                )
                .bind(until)
                .execute(&mut *tx)
                .await?
            } else {
                sqlx::query("UPDATE check_summary_progress SET rolled_id = $1 WHERE id = 1 AND rolled_id = $2")
                    .bind(until)
                    .bind(marker)
                    .execute(&mut *tx)
                    .await?
            };
            if moved.rows_affected() == 0 {
                return Ok::<_, sqlx::Error>(false);
            }
            for ((resolution, start), adds) in &buckets {
                let adds: Vec<(&i64, &CheckTotals)> = adds.iter().collect();
                for chunk in adds.chunks(SUMMARIES_PER_STATEMENT) {
                    // What the bucket holds already, for each monitor of
                    // the chunk, read in one statement.
                    let mut select = sqlx::QueryBuilder::new(
                        "SELECT monitor_id, bucket_start, checks, confirmed_errors, degraded, \
                         downtime_ms, response_sketch FROM check_summaries WHERE resolution_ms = ",
                    );
                    select.push_bind(resolution);
                    select.push(" AND bucket_start = ");
                    select.push_bind(start);
                    select.push(" AND monitor_id IN (");
                    let mut ids = select.separated(", ");
                    for (monitor_id, _) in chunk {
                        ids.push_bind(**monitor_id);
                    }
                    select.push(")");
                    let existing: Vec<SummaryRow> =
                        select.build_query_as().fetch_all(&mut *tx).await?;
                    let existing: BTreeMap<i64, SummaryRow> = existing
                        .into_iter()
                        .map(|row| (row.monitor_id, row))
                        .collect();
                    let totals: Vec<(i64, CheckTotals)> = chunk
                        .iter()
                        .map(|(monitor_id, add)| {
                            let mut total = match existing.get(monitor_id) {
                                // A sketch that does not decode is replaced
                                // rather than stopping every later roll.
                                Some(row) => row.totals().unwrap_or_default(),
                                None => CheckTotals::default(),
                            };
                            total.merge(add);
                            (**monitor_id, total)
                        })
                        .collect();
                    let mut upsert = sqlx::QueryBuilder::new(
                        "INSERT INTO check_summaries (monitor_id, resolution_ms, bucket_start, \
                         checks, confirmed_errors, degraded, downtime_ms, response_sketch) ",
                    );
                    upsert.push_values(&totals, |mut row, (monitor_id, total)| {
                        row.push_bind(*monitor_id)
                            .push_bind(resolution)
                            .push_bind(start)
                            .push_bind(total.counts.checks)
                            .push_bind(total.counts.confirmed_errors)
                            .push_bind(total.counts.degraded)
                            .push_bind(total.counts.downtime_ms)
                            .push_bind(total.response_ms.to_bytes());
                    });
                    upsert.push(
                        " ON CONFLICT (monitor_id, resolution_ms, bucket_start) DO UPDATE SET \
                         checks = excluded.checks, confirmed_errors = excluded.confirmed_errors, \
                         degraded = excluded.degraded, downtime_ms = excluded.downtime_ms, \
                         response_sketch = excluded.response_sketch",
                    );
                    upsert.build().execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(true)
        }
        .await
        })?;
        Ok(if moved { rolled } else { 0 })
    }

    /// What a monitor's results in `[from, to)` add up to: whole days and
    /// hours from the summaries, the rest (and anything not rolled yet) from
    /// raw results.
    pub async fn check_totals(
        &self,
        monitor_id: i64,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<CheckTotals> {
        let (from, to) = (from.as_millis(), to.as_millis());
        let mut totals = CheckTotals::default();
        if to <= from {
            return Ok(totals);
        }
        let marker = self.summarized_through().await?;
        // Whole days, then whole hours on either side, then raw edges.
        let day_from = ceil_to(from, DAY_MS);
        let day_to = floor_to(to, DAY_MS);
        let (hour_spans, covered) = if day_from < day_to {
            (
                vec![
                    (ceil_to(from, HOUR_MS), day_from),
                    (day_to, floor_to(to, HOUR_MS)),
                ],
                vec![(day_from, day_to)],
            )
        } else {
            (
                vec![(ceil_to(from, HOUR_MS), floor_to(to, HOUR_MS))],
                vec![],
            )
        };
        let mut summarized = covered.clone();
        if day_from < day_to {
            self.add_summaries(&mut totals, monitor_id, DAY_MS, day_from, day_to)
                .await?;
        }
        for &(start, end) in &hour_spans {
            if start < end {
                self.add_summaries(&mut totals, monitor_id, HOUR_MS, start, end)
                    .await?;
                summarized.push((start, end));
            }
        }
        summarized.sort_unstable();
        // Raw results outside the summarized spans, and those inside them
        // not rolled yet.
        let mut cursor = from;
        for &(start, end) in &summarized {
            if cursor < start {
                self.add_raw(&mut totals, monitor_id, cursor, start, 0)
                    .await?;
            }
            self.add_raw(&mut totals, monitor_id, start, end, marker)
                .await?;
            cursor = end;
        }
        if cursor < to {
            self.add_raw(&mut totals, monitor_id, cursor, to, 0).await?;
        }
        totals.counts.downtime_ms = self
            .monitor_downtime(monitor_id, Timestamp::from(from), Timestamp::from(to))
            .await?;
        Ok(totals)
    }

    async fn add_summaries(
        &self,
        totals: &mut CheckTotals,
        monitor_id: i64,
        resolution: i64,
        from: i64,
        to: i64,
    ) -> Result<()> {
        for (_, bucket) in self
            .summary_buckets(monitor_id, resolution, from, to)
            .await?
        {
            totals.merge(&bucket);
        }
        Ok(())
    }

    /// A monitor's summaries of one resolution starting in `[from, to)`:
    /// each bucket's start and totals.
    pub(crate) async fn summary_buckets(
        &self,
        monitor_id: i64,
        resolution: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, CheckTotals)>> {
        let rows: Vec<SummaryRow> = read!(self.backend, |pool| {
            sqlx::query_as(
                "SELECT monitor_id, bucket_start, checks, confirmed_errors, degraded, \
                 downtime_ms, response_sketch FROM check_summaries \
                 WHERE monitor_id = $1 AND resolution_ms = $2 AND bucket_start >= $3 AND bucket_start < $4",
            )
            .bind(monitor_id)
            .bind(resolution)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await
        })?;
        rows.iter()
            .map(|row| Ok((row.bucket_start, row.totals()?)))
            .collect()
    }

    async fn add_raw(
        &self,
        totals: &mut CheckTotals,
        monitor_id: i64,
        from: i64,
        to: i64,
        after_id: i64,
    ) -> Result<()> {
        for row in &self.raw_rows(monitor_id, from, to, after_id).await? {
            totals.add(row);
        }
        Ok(())
    }

    /// A monitor's raw results that started in `[from, to)` with an id over
    /// `after_id` (0 for all; the summaries' marker for those not rolled yet).
    pub(crate) async fn raw_rows(
        &self,
        monitor_id: i64,
        from: i64,
        to: i64,
        after_id: i64,
    ) -> Result<Vec<RollRow>> {
        let sql = format!(
            "SELECT {ROLL_COLUMNS} FROM check_results \
             WHERE monitor_id = $1 AND started_at >= $2 AND started_at < $3 AND id > $4"
        );
        let rows = read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(monitor_id)
                .bind(from)
                .bind(to)
                .bind(after_id)
                .fetch_all(pool)
                .await
        })?;
        Ok(rows)
    }

    /// Removes raw results that started before `before` and are already in
    /// the summaries. On PostgreSQL results go a whole day at a time, once
    /// the UTC day they were due on has ended by `before` and all of it is
    /// summarized (see `day_partitions.rs`).
    pub async fn delete_check_results_before(&self, before: Timestamp) -> Result<Expired> {
        let marker = self.summarized_through().await?;
        if let Some(expired) = self
            .expire_day_partitions(
                DayPartitioned::CheckResults,
                before.as_millis(),
                Some(marker),
            )
            .await?
        {
            return Ok(expired);
        }
        let rows = write!(self.backend, |pool| {
            sqlx::query("DELETE FROM check_results WHERE started_at < $1 AND id <= $2")
                .bind(before.as_millis())
                .bind(marker)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(Expired::deleted(rows))
    }
}

pub(crate) fn floor_to(value: i64, step: i64) -> i64 {
    value.div_euclid(step) * step
}

pub(crate) fn ceil_to(value: i64, step: i64) -> i64 {
    -((-value).div_euclid(step) * step)
}
