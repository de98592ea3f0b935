//! What an overview shows of every monitor at once: its last results and its
//! uptime over a few periods, for a thousand monitors in a handful of
//! queries.
//!
//! Every query walks the monitors and looks each one up through an index
//! (`check_results (monitor_id, started_at)`, the summaries' primary key), so
//! the cost grows with the number of monitors and the rows shown, never with
//! the history kept. Periods start on the hour: the summaries answer whole
//! hours and days, raw results the current hour and whatever has not been
//! rolled yet.

use crate::backend::read;
use crate::check_summaries::{
    DAY_MS, HOUR_MS, ROLL_COLUMNS, RollRow, UptimeCounts, ceil_to, floor_to,
};
use crate::{Result, Store};
use futures_util::future::try_join_all;
use sightline_core::Timestamp;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// How many of its latest results each digest carries.
pub const RECENT_RESULTS: usize = 30;

/// One of a monitor's latest results, as a sparkline or a status strip shows it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RecentResult {
    /// The result's id.
    pub id: i64,
    /// The monitor it belongs to.
    pub monitor_id: i64,
    /// When the check started, in Unix milliseconds.
    pub started_at: i64,
    /// How long it took.
    pub duration_ms: i64,
    /// `up`, `degraded` or `error`.
    pub outcome: String,
    /// 0 for a scheduled check, 1 and up for confirmation re-runs.
    pub attempt: i64,
    /// What went wrong, for errors.
    pub error_message: Option<String>,
}

/// One monitor's latest results and uptime.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorDigest {
    /// The monitor.
    pub monitor_id: i64,
    /// Its latest results (at most [`RECENT_RESULTS`]), oldest first.
    pub recent: Vec<RecentResult>,
    /// Its counts over each period asked for, in the same order.
    pub periods: Vec<UptimeCounts>,
}

#[derive(sqlx::FromRow)]
struct MonitorCounts {
    monitor_id: i64,
    #[sqlx(flatten)]
    counts: UptimeCounts,
}

/// The same counting rule as [`UptimeCounts::of`], summed by the database over
/// raw results; `store` tests hold the two to the same answers.
const RAW_SUMS: &str = "\
     CAST(COALESCE(SUM(CASE WHEN r.attempt = 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS checks, \
     CAST(COALESCE(SUM(CASE WHEN r.confirmed_error THEN 1 ELSE 0 END), 0) AS BIGINT) AS confirmed_errors, \
     CAST(COALESCE(SUM(CASE WHEN r.attempt = 0 AND r.outcome = 'degraded' THEN 1 ELSE 0 END), 0) AS BIGINT) AS degraded, \
     CAST(0 AS BIGINT) AS downtime_ms";

const SUMMARY_SUMS: &str = "\
     CAST(COALESCE(SUM(s.checks), 0) AS BIGINT) AS checks, \
     CAST(COALESCE(SUM(s.confirmed_errors), 0) AS BIGINT) AS confirmed_errors, \
     CAST(COALESCE(SUM(s.degraded), 0) AS BIGINT) AS degraded, \
     CAST(0 AS BIGINT) AS downtime_ms";

const RECENT_COLUMNS: &str =
    "r.id, r.monitor_id, r.started_at, r.duration_ms, r.outcome, r.attempt, r.error_message";

impl Store {
    /// Every monitor's latest results and its counts over each of
    /// `periods`, which end now and start on the hour (`24h` covers the 24
    /// whole hours before the current one and the current one so far).
    /// Monitors without results have empty digests.
    pub async fn monitor_digests(
        &self,
        now: Timestamp,
        periods: &[Duration],
    ) -> Result<Vec<MonitorDigest>> {
        let ids: Vec<i64> = read!(self.backend, |pool| {
            sqlx::query_scalar("SELECT id FROM monitors ORDER BY id")
                .fetch_all(pool)
                .await
        })?;
        let mut digests: BTreeMap<i64, MonitorDigest> = ids
            .into_iter()
            .map(|monitor_id| {
                let digest = MonitorDigest {
                    monitor_id,
                    recent: Vec::new(),
                    periods: vec![UptimeCounts::default(); periods.len()],
                };
                (monitor_id, digest)
            })
            .collect();
        // The latest results and the counts, side by side.
        let (rows, counted) = tokio::join!(
            self.recent_results(),
            self.add_period_counts(&mut digests, now, periods)
        );
        counted?;
        for row in rows? {
            if let Some(digest) = digests.get_mut(&row.monitor_id) {
                digest.recent.push(row);
            }
        }
        for digest in digests.values_mut() {
            let extra = digest.recent.len().saturating_sub(RECENT_RESULTS);
            digest.recent.drain(..extra);
        }
        Ok(digests.into_values().collect())
    }

    /// Every monitor's latest results, oldest first per monitor. On a
    /// SQLite file the tens of thousands of rows are read on a scan
    /// connection (see [`crate::sqlite_scans`]), at a fraction of sqlx's cost.
    async fn recent_results(&self) -> Result<Vec<RecentResult>> {
        let sql = crate::backend::recent_per_monitor(self.backend.kind(), RECENT_COLUMNS);
        let count = RECENT_RESULTS as i64;
        if let crate::backend::Backend::Sqlite(pools) = &self.backend
            && let Some(scans) = &pools.scans
        {
            let scanned = scans.scan(move |connection| {
                let mut statement = connection.prepare_cached(&sql)?;
                let rows = statement.query_map([count], |row| {
                    Ok(RecentResult {
                        id: row.get(0)?,
                        monitor_id: row.get(1)?,
                        started_at: row.get(2)?,
                        duration_ms: row.get(3)?,
                        outcome: row.get(4)?,
                        attempt: row.get(5)?,
                        error_message: row.get(6)?,
                    })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            });
            return Ok(scanned.await?);
        }
        Ok(read!(self.backend, |pool| {
            sqlx::query_as(&sql).bind(count).fetch_all(pool).await
        })?)
    }

    async fn add_period_counts(
        &self,
        digests: &mut BTreeMap<i64, MonitorDigest>,
        now: Timestamp,
        periods: &[Duration],
    ) -> Result<()> {
        let current_hour = floor_to(now.as_millis(), HOUR_MS);
        let starts: Vec<i64> = periods
            .iter()
            .map(|period| current_hour - floor_to(period.as_millis() as i64, HOUR_MS))
            .collect();
        // The summary spans each period needs; periods share some, and each
        // distinct span is one query.
        let mut spans: HashMap<(i64, i64, i64), Vec<usize>> = HashMap::new();
        for (index, &from) in starts.iter().enumerate() {
            for span in summary_spans(from, current_hour) {
                spans.entry(span).or_default().push(index);
            }
        }
        let kind = self.backend.kind();
        let summaries = crate::backend::per_monitor(
            kind,
            SUMMARY_SUMS,
            "check_summaries s",
            "s.monitor_id = m.id AND s.resolution_ms = $1 AND s.bucket_start >= $2 AND s.bucket_start < $3",
        );
        let spans: Vec<((i64, i64, i64), Vec<usize>)> = spans.into_iter().collect();
        let summary_counts = try_join_all(spans.iter().map(|&((resolution, from, to), _)| {
            let sql = &summaries;
            async move {
                read!(self.backend, |pool| {
                    sqlx::query_as::<_, MonitorCounts>(sql)
                        .bind(resolution)
                        .bind(from)
                        .bind(to)
                        .fetch_all(pool)
                        .await
                })
            }
        }));
        // The current hour, which no summary answers yet.
        let raw = crate::backend::per_monitor(
            kind,
            RAW_SUMS,
            "check_results r",
            "r.monitor_id = m.id AND r.started_at >= $1 AND NOT r.in_maintenance",
        );
        let current_counts = async {
            read!(self.backend, |pool| {
                sqlx::query_as::<_, MonitorCounts>(&raw)
                    .bind(current_hour)
                    .fetch_all(pool)
                    .await
            })
        };
        // Earlier results the summaries do not hold yet: only those stored
        // in the last minutes, found by id. The unary `+` keeps the planners
        // off the `(monitor_id, started_at)` index, which SQLite would
        // otherwise skip-scan over the whole period (tens of milliseconds
        // at a thousand monitors) instead of reading the few ids past the
        // marker.
        let earliest = starts.iter().copied().min().unwrap_or(current_hour);
        let unrolled_sql = format!(
            "SELECT {ROLL_COLUMNS} FROM check_results \
             WHERE id > $1 AND +started_at >= $2 AND +started_at < $3"
        );
        let unrolled = async {
            let marker = self.summarized_through().await?;
            let rows: Vec<RollRow> = read!(self.backend, |pool| {
                sqlx::query_as(&unrolled_sql)
                    .bind(marker)
                    .bind(earliest)
                    .bind(current_hour)
                    .fetch_all(pool)
                    .await
            })?;
            Ok::<_, crate::StoreError>(rows)
        };
        // Downtime from the outages (see [`crate::outages`]): those of the
        // longest period, read once, measured against each.
        let now_ms = now.as_millis();
        let outages = self.outages_overlapping(None, earliest, now_ms);
        // Side by side: each is an index walk of a few milliseconds.
        let (summary_rows, current_rows, rows, outages) =
            tokio::join!(summary_counts, current_counts, unrolled, outages);
        for outage in outages? {
            if let Some(digest) = digests.get_mut(&outage.monitor_id) {
                for (index, &from) in starts.iter().enumerate() {
                    digest.periods[index].downtime_ms += outage.down_ms(from, now_ms, now_ms);
                }
            }
        }
        for (rows, (_, users)) in summary_rows?.into_iter().zip(&spans) {
            add_counts(digests, rows, users);
        }
        let every_period: Vec<usize> = (0..periods.len()).collect();
        add_counts(digests, current_rows?, &every_period);
        let rows = rows?;
        for row in &rows {
            let Some(digest) = digests.get_mut(&row.monitor_id) else {
                continue;
            };
            let counts = UptimeCounts::of(row);
            for (index, &from) in starts.iter().enumerate() {
                if row.started_at >= from {
                    digest.periods[index].add(counts);
                }
            }
        }
        Ok(())
    }
}

/// The summary spans `(resolution, from, to)` that cover `[from, to)`, both
/// on the hour: whole days, and hours on either side of them.
fn summary_spans(from: i64, to: i64) -> Vec<(i64, i64, i64)> {
    let day_from = ceil_to(from, DAY_MS);
    let day_to = floor_to(to, DAY_MS);
    let spans = if day_from < day_to {
        vec![
            (DAY_MS, day_from, day_to),
            (HOUR_MS, from, day_from),
            (HOUR_MS, day_to, to),
        ]
    } else {
        vec![(HOUR_MS, from, to)]
    };
    spans
        .into_iter()
        .filter(|&(_, start, end)| start < end)
        .collect()
}

fn add_counts(
    digests: &mut BTreeMap<i64, MonitorDigest>,
    rows: Vec<MonitorCounts>,
    periods: &[usize],
) {
    for row in rows {
        if let Some(digest) = digests.get_mut(&row.monitor_id) {
            for &index in periods {
                digest.periods[index].add(row.counts);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_a_period_once_with_whole_days_in_the_middle() {
        let to = 10 * DAY_MS + 5 * HOUR_MS;
        let from = to - 3 * DAY_MS;
        let spans = summary_spans(from, to);
        assert_eq!(
            spans,
            vec![
                (DAY_MS, 8 * DAY_MS, 10 * DAY_MS),
                (HOUR_MS, from, 8 * DAY_MS),
                (HOUR_MS, 10 * DAY_MS, to),
            ]
        );
        let covered: i64 = spans.iter().map(|(_, start, end)| end - start).sum();
        assert_eq!(covered, to - from);
    }

    #[test]
    fn a_period_shorter_than_a_day_is_hours_only() {
        let to = 10 * DAY_MS + 5 * HOUR_MS;
        assert_eq!(
            summary_spans(to - 24 * HOUR_MS, to),
            vec![(HOUR_MS, to - 24 * HOUR_MS, to)]
        );
        assert_eq!(
            summary_spans(10 * DAY_MS - DAY_MS, 10 * DAY_MS),
            vec![(DAY_MS, 9 * DAY_MS, 10 * DAY_MS)]
        );
    }
}
