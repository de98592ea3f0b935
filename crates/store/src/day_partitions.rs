//! PostgreSQL keeps raw page views and raw check results in one partition
//! per UTC day, named `<table>_YYYYMMDD`, so that retention drops a day's
//! table (a few milliseconds, nothing left for vacuum) instead of deleting
//! its rows one by one.
//!
//! A row can only be written once the partition of its day exists, so the
//! store makes partitions before it writes, remembering the days it has
//! seen so that this costs a set lookup per batch. Making a partition locks
//! its parent table for a moment: the retention pass makes the next day's
//! ahead of time, so that writes at midnight do not wait for it.
//!
//! SQLite has no partitions; there retention deletes rows.

use crate::backend::Backend;
use crate::{Result, Store};
use chrono::NaiveDate;
use sqlx::PgPool;
use std::collections::HashSet;
use std::sync::Mutex;

/// What a retention pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    /// Rows deleted one by one (SQLite).
    pub rows: u64,
    /// Whole UTC days dropped (PostgreSQL): raw rows go a day at a time,
    /// once the day has wholly passed the cutoff.
    pub days: Vec<NaiveDate>,
}

impl Expired {
    /// Rows deleted one by one.
    pub(crate) fn deleted(rows: u64) -> Self {
        Expired {
            rows,
            days: Vec::new(),
        }
    }

    /// Whether nothing was removed.
    pub fn is_empty(&self) -> bool {
        self.rows == 0 && self.days.is_empty()
    }
}

/// Milliseconds in a day.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// A table kept in partitions by day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DayPartitioned {
    /// `page_views`, by the time each was received.
    PageViews,
    /// `check_results`, by the time each was due.
    CheckResults,
}

impl DayPartitioned {
    fn table(self) -> &'static str {
        match self {
            DayPartitioned::PageViews => "page_views",
            DayPartitioned::CheckResults => "check_results",
        }
    }

    /// The partition holding day `day` (days since the epoch).
    fn partition(self, day: i64) -> String {
        format!("{}_{}", self.table(), date_of(day).format("%Y%m%d"))
    }

    /// The day a partition of this table holds, from its name.
    fn day_of(self, partition: &str) -> Option<i64> {
        let suffix = partition.strip_prefix(self.table())?.strip_prefix('_')?;
        let date = NaiveDate::parse_from_str(suffix, "%Y%m%d").ok()?;
        Some(date.signed_duration_since(NaiveDate::default()).num_days())
    }
}

/// The UTC date of day `day` since the epoch.
pub(crate) fn date_of(day: i64) -> NaiveDate {
    NaiveDate::default()
        .checked_add_signed(chrono::TimeDelta::days(day))
        .unwrap_or_default()
}

/// When day `day` since the epoch starts, in Unix milliseconds (the
/// latest instant representable for days beyond it).
fn day_start(day: i64) -> i64 {
    day.saturating_mul(DAY_MS)
}

/// The day since the epoch that the instant `millis` falls on.
pub(crate) fn day_of_millis(millis: i64) -> i64 {
    millis.div_euclid(DAY_MS)
}

/// The partitions this process knows exist. Shared by every clone of a
/// store.
#[derive(Debug, Default)]
pub(crate) struct KnownDays(Mutex<HashSet<(DayPartitioned, i64)>>);

impl KnownDays {
    fn contains(&self, table: DayPartitioned, day: i64) -> bool {
        self.lock().contains(&(table, day))
    }

    fn insert(&self, table: DayPartitioned, day: i64) {
        self.lock().insert((table, day));
    }

    fn remove(&self, table: DayPartitioned, day: i64) {
        self.lock().remove(&(table, day));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<(DayPartitioned, i64)>> {
        // The set only caches what the database says; a panic elsewhere
        // while it was held leaves it valid.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Store {
    /// On PostgreSQL, makes the partitions that rows of `table` at these
    /// instants (Unix milliseconds) go to; on SQLite, nothing.
    pub(crate) async fn make_day_partitions(
        &self,
        table: DayPartitioned,
        instants: impl IntoIterator<Item = i64>,
    ) -> Result<()> {
        match &self.backend {
            Backend::Postgres(pool) => ensure(pool, &self.partitions, table, instants).await,
            Backend::Sqlite(_) => Ok(()),
        }
    }

    /// Retention on PostgreSQL: makes today's and tomorrow's partitions of
    /// `table` (so that the first write of a day does not wait for one),
    /// then drops those of the days that ended by `cutoff`. `None` on
    /// SQLite, where the caller deletes rows instead.
    pub(crate) async fn expire_day_partitions(
        &self,
        table: DayPartitioned,
        cutoff: i64,
        summarized_through: Option<i64>,
    ) -> Result<Option<Expired>> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(None);
        };
        let now = self.now().as_millis();
        ensure(
            pool,
            &self.partitions,
            table,
            [now, now.saturating_add(DAY_MS)],
        )
        .await?;
        let days = drop_ended_by(pool, &self.partitions, table, cutoff, summarized_through).await?;
        Ok(Some(Expired { rows: 0, days }))
    }
}

/// Makes sure the partitions for the days of `instants` (Unix
/// milliseconds) exist.
async fn ensure(
    pool: &PgPool,
    known: &KnownDays,
    table: DayPartitioned,
    instants: impl IntoIterator<Item = i64>,
) -> Result<()> {
    let mut days: Vec<i64> = instants.into_iter().map(day_of_millis).collect();
    days.sort_unstable();
    days.dedup();
    for day in days {
        if known.contains(table, day) {
            continue;
        }
        create(pool, table, day).await?;
        known.insert(table, day);
    }
    Ok(())
}

/// Creates the partition of `day` unless it exists. Another process may
/// create it at the same moment: losing that race is success.
async fn create(pool: &PgPool, table: DayPartitioned, day: i64) -> Result<()> {
    let name = table.partition(day);
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS \"{name}\" PARTITION OF {} FOR VALUES FROM ({}) TO ({})",
        table.table(),
        day_start(day),
        day_start(day + 1)
    );
    let made = async {
        let mut tx = pool.begin().await?;
        // It waits for the parent's lock behind running queries, and every
        // query that comes after waits behind it: give up rather than stall.
        sqlx::query("SET LOCAL lock_timeout = '10s'")
            .execute(&mut *tx)
            .await?;
        sqlx::query(&sql).execute(&mut *tx).await?;
        tx.commit().await
    }
    .await;
    match made {
        Ok(()) => Ok(()),
        Err(error) if exists(pool, &name).await? => {
            tracing::debug!(%error, partition = name, "partition made by another process");
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}

async fn exists(pool: &PgPool, name: &str) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT to_regclass(quote_ident($1)) IS NOT NULL")
            .bind(name)
            .fetch_one(pool)
            .await?,
    )
}

/// The partitions whose planner statistics need refreshing at `now`
/// (Unix milliseconds): those that still take rows (yesterday's for late
/// ones, today's, later ones) and those never analyzed (made by a bulk load
/// or the partitioning migration), of every partitioned table, quoted for
/// SQL.
pub(crate) async fn needing_statistics(pool: &PgPool, now: i64) -> Result<Vec<String>> {
    let since = day_of_millis(now) - 1;
    let mut names = Vec::new();
    for table in [DayPartitioned::PageViews, DayPartitioned::CheckResults] {
        names.extend(
            partitions(pool, table)
                .await?
                .into_iter()
                .filter(|partition| !partition.analyzed || partition.day >= since)
                .map(|partition| format!("\"{}\"", table.partition(partition.day))),
        );
    }
    Ok(names)
}

/// One day's partition as the catalog has it.
struct Partition {
    day: i64,
    /// Whether its planner statistics were ever gathered.
    analyzed: bool,
}

/// The partitions of `table`, oldest first.
async fn partitions(pool: &PgPool, table: DayPartitioned) -> Result<Vec<Partition>> {
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT c.relname::TEXT, \
         COALESCE(s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL, FALSE) \
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid \
         WHERE i.inhparent = $1::regclass",
    )
    .bind(table.table())
    .fetch_all(pool)
    .await?;
    let mut partitions: Vec<Partition> = rows
        .into_iter()
        .filter_map(|(name, analyzed)| table.day_of(&name).map(|day| Partition { day, analyzed }))
        .collect();
    partitions.sort_unstable_by_key(|partition| partition.day);
    Ok(partitions)
}

/// Drops the partitions of `table` whose whole day ended by `cutoff`
/// (Unix milliseconds), oldest first; with `summarized_through`, only
/// those whose every id is at most that (rows not summarized yet stay).
/// Returns the dates dropped.
async fn drop_ended_by(
    pool: &PgPool,
    known: &KnownDays,
    table: DayPartitioned,
    cutoff: i64,
    summarized_through: Option<i64>,
) -> Result<Vec<NaiveDate>> {
    let mut dropped = Vec::new();
    for Partition { day, .. } in partitions(pool, table).await? {
        if day_start(day + 1) > cutoff {
            break;
        }
        let name = table.partition(day);
        if let Some(marker) = summarized_through {
            let last: i64 =
                sqlx::query_scalar(&format!("SELECT COALESCE(MAX(id), 0) FROM \"{name}\""))
                    .fetch_one(pool)
                    .await?;
            if last > marker {
                break;
            }
        }
        let mut tx = pool.begin().await?;
        // Dropping takes the parent's lock too; retention comes back soon.
        sqlx::query("SET LOCAL lock_timeout = '2s'")
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!("DROP TABLE \"{name}\""))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        known.remove(table, day);
        dropped.push(date_of(day));
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_named_by_their_utc_date_and_read_back() {
        let day = day_of_millis(1_796_515_200_000 + 5); // 2026-12-06T00:00:00.005Z
        assert_eq!(
            DayPartitioned::PageViews.partition(day),
            "page_views_20261206"
        );
        assert_eq!(
            DayPartitioned::CheckResults.day_of("check_results_20261206"),
            Some(day)
        );
        assert_eq!(DayPartitioned::PageViews.day_of("page_views_1"), None);
        assert_eq!(
            DayPartitioned::PageViews.day_of("check_results_20261206"),
            None
        );
        assert_eq!(day_of_millis(1_796_515_200_000 - 1), day - 1);
        assert_eq!(date_of(0).to_string(), "1970-01-01");
    }
}
