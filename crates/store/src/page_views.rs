//! Raw RUM page views: written in batches (one transaction for many), read
//! for the open tail of a query and for rollups, deleted after retention.

use crate::backend::{read, write};
use crate::day_partitions::DayPartitioned;
use crate::{Expired, Result, Store};
use sightline_core::Timestamp;
use sightline_core::rum::{Dimension, DimensionValues, Metric, MetricSet, MetricValues, PageView};
use sqlx::Row;

/// Rows per INSERT statement, largest first: a batch is cut greedily into
/// statements of these sizes, so that only five statement texts exist and
/// each is prepared once and then taken from the connection's statement
/// cache (a statement per batch size was parsed anew for nearly every
/// batch). 256 rows of 25 columns stay well under SQLite's limit of 32,766
/// bound values.
const ROWS_PER_STATEMENT: [usize; 5] = [256, 64, 16, 4, 1];

/// `rows` cut into runs of the sizes in [`ROWS_PER_STATEMENT`].
fn statement_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let size = ROWS_PER_STATEMENT
            .into_iter()
            .find(|size| *size <= rows.len())?;
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        Some(chunk)
    })
}

/// Every column of a page view, in the order inserts and reads use.
pub(crate) fn columns() -> String {
    let dimensions = Dimension::ALL.map(Dimension::name).join(", ");
    format!(
        "site_id, at, {dimensions}, {}",
        metric_columns(MetricSet::ALL)
    )
}

fn metric_columns(metrics: MetricSet) -> String {
    metrics
        .iter()
        .map(Metric::name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Stores page views in one transaction: all of them or, on error, none.
    pub async fn insert_page_views(&self, page_views: &[PageView]) -> Result<()> {
        if page_views.is_empty() {
            return Ok(());
        }
        self.make_day_partitions(
            DayPartitioned::PageViews,
            page_views.iter().map(|view| view.at.as_millis()),
        )
        .await?;
        let insert = format!("INSERT INTO page_views ({}) ", columns());
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            for chunk in statement_chunks(page_views) {
                let mut builder = sqlx::QueryBuilder::new(&insert);
                builder.push_values(chunk, |mut row, view| {
                    row.push_bind(view.site_id).push_bind(view.at.as_millis());
                    for dimension in Dimension::ALL {
                        row.push_bind(view.dimensions.get(dimension));
                    }
                    for metric in Metric::ALL {
                        row.push_bind(view.metrics.get(metric));
                    }
                });
                builder.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// A site's page views received in `[from, to)`, oldest first, at most `limit`.
    pub async fn page_views(
        &self,
        site_id: i64,
        from: Timestamp,
        to: Timestamp,
        limit: i64,
    ) -> Result<Vec<PageView>> {
        let sql = format!(
            "SELECT {} FROM page_views WHERE site_id = $1 AND at >= $2 AND at < $3 ORDER BY at, id LIMIT $4",
            columns()
        );
        read!(self.backend, |pool| {
            let rows = sqlx::query(&sql)
                .bind(site_id)
                .bind(from.as_millis())
                .bind(to.as_millis())
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(page_view_from)
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
                .map_err(Into::into)
        })
    }

    /// Folds `add` over a site's page views received in `[from, to)`,
    /// oldest first, as they are read: rolling up an hour or a day of a busy
    /// site never holds its page views in memory all at once (a day of ten
    /// million is gigabytes as [`PageView`]s).
    /// On a SQLite file the scan runs on a connection of its own, on a
    /// blocking thread (see [`crate::sqlite_scans`]).
    pub async fn fold_page_views<T: Send + 'static>(
        &self,
        site_id: i64,
        from: Timestamp,
        to: Timestamp,
        mut folded: T,
        mut add: impl FnMut(&mut T, PageView) + Send + 'static,
    ) -> Result<T> {
        use futures_util::TryStreamExt;
        let sql = format!(
            "SELECT {} FROM page_views WHERE site_id = $1 AND at >= $2 AND at < $3 ORDER BY at, id",
            columns()
        );
        if let crate::backend::Backend::Sqlite(pools) = &self.backend
            && let Some(scans) = &pools.scans
        {
            let (from, to) = (from.as_millis(), to.as_millis());
            let scanned = scans.scan(move |connection| {
                let mut statement = connection.prepare_cached(&sql)?;
                let mut rows = statement.query((site_id, from, to))?;
                while let Some(row) = rows.next()? {
                    add(&mut folded, sqlite_page_view(row)?);
                }
                Ok(folded)
            });
            return Ok(scanned.await?);
        }
        read!(self.backend, |pool| {
            let mut rows = sqlx::query(&sql)
                .bind(site_id)
                .bind(from.as_millis())
                .bind(to.as_millis())
                .fetch(pool);
            while let Some(row) = rows.try_next().await? {
                add(&mut folded, page_view_from(&row)?);
            }
        });
        Ok(folded)
    }

    /// How many page views a site received in `[from, to)`.
    pub async fn count_page_views(
        &self,
        site_id: i64,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<i64> {
        Ok(read!(self.backend, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM page_views WHERE site_id = $1 AND at >= $2 AND at < $3",
            )
            .bind(site_id)
            .bind(from.as_millis())
            .bind(to.as_millis())
            .fetch_one(pool)
            .await
        })?)
    }

    /// When the first page view of a site at or after `since` arrived.
    pub async fn first_page_view_since(
        &self,
        site_id: i64,
        since: Timestamp,
    ) -> Result<Option<Timestamp>> {
        let first: Option<i64> = read!(self.backend, |pool| {
            sqlx::query_scalar("SELECT MIN(at) FROM page_views WHERE site_id = $1 AND at >= $2")
                .bind(site_id)
                .bind(since.as_millis())
                .fetch_one(pool)
                .await
        })?;
        Ok(first.map(Timestamp::from))
    }

    /// Raw retention: removes page views received before `cutoff`, and the
    /// columns of hours that ended by then. On PostgreSQL page views go a
    /// whole day at a time, once their UTC day has ended by the cutoff (see
    /// `day_partitions.rs`).
    pub async fn delete_page_views_before(&self, cutoff: Timestamp) -> Result<Expired> {
        self.delete_view_columns_before(cutoff).await?;
        if let Some(expired) = self
            .expire_day_partitions(DayPartitioned::PageViews, cutoff.as_millis(), None)
            .await?
        {
            return Ok(expired);
        }
        let rows = write!(self.backend, |pool| {
            // Through the (site, time) index, one site at a time: a bare
            // `at < $1` reads the whole table, and this runs every 30 s.
            sqlx::query(
                "DELETE FROM page_views WHERE site_id IN (SELECT id FROM sites) AND at < $1",
            )
            .bind(cutoff.as_millis())
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(Expired::deleted(rows))
    }

    /// When a site's oldest stored page view was received.
    pub async fn earliest_page_view(&self, site_id: i64) -> Result<Option<Timestamp>> {
        let at: Option<i64> = read!(self.backend, |pool| {
            sqlx::query_scalar("SELECT MIN(at) FROM page_views WHERE site_id = $1")
                .bind(site_id)
                .fetch_one(pool)
                .await
        })?;
        Ok(at.map(Timestamp::from_millis))
    }

    /// Folds `add` over what queries need of every page view in `[from,
    /// to)` whose dimensions have the given values: when it was received,
    /// its value of `group` (empty without one) and its measurements. Reads
    /// only those columns and streams them (a month of raw page views can be
    /// millions of rows).
    /// On a SQLite file the scan runs on a connection of its own, on a
    /// blocking thread (see [`crate::sqlite_scans`]).
    pub async fn fold_measurements<T: Send + 'static>(
        &self,
        site_id: i64,
        scan: &MeasurementScan<'_>,
        mut folded: T,
        mut add: impl FnMut(&mut T, Measured) + Send + 'static,
    ) -> Result<T> {
        use futures_util::TryStreamExt;
        let MeasurementScan {
            from,
            to,
            filters,
            group,
            metrics: wanted,
        } = *scan;
        // Dimension and metric names are fixed identifiers, never user text; values are bound.
        let conditions: String = filters
            .iter()
            .enumerate()
            .map(|(index, (dimension, _))| format!(" AND {} = ${}", dimension.name(), index + 4))
            .collect();
        let group_column = group.map_or("''", Dimension::name);
        // A question may want no measurements at all (page views counted).
        let columns: Vec<&str> = ["at", group_column]
            .into_iter()
            .chain(wanted.iter().map(Metric::name))
            .collect();
        let sql = format!(
            "SELECT {} FROM page_views \
             WHERE site_id = $1 AND at >= $2 AND at < $3{conditions}",
            columns.join(", ")
        );
        if let crate::backend::Backend::Sqlite(pools) = &self.backend
            && let Some(scans) = &pools.scans
        {
            let values: Vec<String> = filters.iter().map(|(_, value)| value.clone()).collect();
            let scanned = scans.scan(move |connection| {
                let bounds = (site_id, from, to);
                scan_page_views(connection, &sql, bounds, &values, wanted, |view| {
                    add(&mut folded, view);
                })?;
                Ok(folded)
            });
            return Ok(scanned.await?);
        }
        read!(self.backend, |pool| {
            let mut query = sqlx::query(&sql)
                .bind(site_id)
                .bind(from.as_millis())
                .bind(to.as_millis());
            for (_, value) in filters {
                query = query.bind(value);
            }
            let mut rows = query.fetch(pool);
            while let Some(row) = rows.try_next().await? {
                let view = Measured {
                    at: row.try_get::<i64, _>(0)?.into(),
                    group: row.try_get(1)?,
                    metrics: metrics_from(&row, 2, wanted)?,
                };
                add(&mut folded, view);
            }
        });
        Ok(folded)
    }
}

/// A page view from a row of [`columns`], read by position: a lookup by
/// name per column per row costs more than the decoding.
fn page_view_from<R: Row>(row: &R) -> std::result::Result<PageView, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut dimensions = DimensionValues::default();
    for (offset, dimension) in Dimension::ALL.into_iter().enumerate() {
        dimensions.set(dimension, row.try_get::<String, _>(2 + offset)?);
    }
    Ok(PageView {
        site_id: row.try_get(0)?,
        at: row.try_get::<i64, _>(1)?.into(),
        dimensions,
        metrics: metrics_from(row, 2 + Dimension::ALL.len(), MetricSet::ALL)?,
    })
}

/// [`page_view_from`] for a `rusqlite` row.
fn sqlite_page_view(row: &rusqlite::Row<'_>) -> rusqlite::Result<PageView> {
    let mut dimensions = DimensionValues::default();
    for (offset, dimension) in Dimension::ALL.into_iter().enumerate() {
        dimensions.set(dimension, row.get::<_, String>(2 + offset)?);
    }
    let first_metric = 2 + Dimension::ALL.len();
    let mut metrics = MetricValues::default();
    for (offset, metric) in MetricSet::ALL.iter().enumerate() {
        metrics.set(metric, row.get::<_, Option<f64>>(first_metric + offset)?);
    }
    Ok(PageView {
        site_id: row.get(0)?,
        at: row.get::<_, i64>(1)?.into(),
        dimensions,
        metrics,
    })
}

/// The columns of `metrics` in a row (in the order of
/// [`metric_columns`]) from position `first` on, read by position: a
/// lookup by name per column per row costs more than the decoding.
fn metrics_from<R: Row>(
    row: &R,
    first: usize,
    metrics_read: MetricSet,
) -> std::result::Result<MetricValues, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut metrics = MetricValues::default();
    for (offset, metric) in metrics_read.iter().enumerate() {
        metrics.set(metric, row.try_get::<Option<f64>, _>(first + offset)?);
    }
    Ok(metrics)
}

/// Runs a page-view query of [`Store::fold_measurements`] on `connection`
/// and hands each row to `each` as it is read.
fn scan_page_views(
    connection: &rusqlite::Connection,
    sql: &str,
    (site_id, from, to): (i64, Timestamp, Timestamp),
    values: &[String],
    metrics_read: MetricSet,
    mut each: impl FnMut(Measured),
) -> rusqlite::Result<()> {
    let mut statement = connection.prepare_cached(sql)?;
    let (from, to) = (from.as_millis(), to.as_millis());
    let mut parameters: Vec<&dyn rusqlite::ToSql> = vec![&site_id, &from, &to];
    parameters.extend(values.iter().map(|value| value as &dyn rusqlite::ToSql));
    let mut rows = statement.query(parameters.as_slice())?;
    while let Some(row) = rows.next()? {
        let mut metrics = MetricValues::default();
        for (offset, metric) in metrics_read.iter().enumerate() {
            metrics.set(metric, row.get::<_, Option<f64>>(2 + offset)?);
        }
        each(Measured {
            at: row.get::<_, i64>(0)?.into(),
            group: row.get(1)?,
            metrics,
        });
    }
    Ok(())
}

/// Which raw page views a fold reads, and which of their columns.
#[derive(Debug, Clone, Copy)]
pub struct MeasurementScan<'a> {
    /// Received at or after.
    pub from: Timestamp,
    /// Received before.
    pub to: Timestamp,
    /// Each dimension must have this value.
    pub filters: &'a [(Dimension, String)],
    /// The dimension whose value each page view is read with, if any.
    pub group: Option<Dimension>,
    /// The measurements read; the others are left absent.
    pub metrics: MetricSet,
}

/// A page view as queries need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// When it was received.
    pub at: Timestamp,
    /// Its value of the grouping dimension, empty without one.
    pub group: String,
    /// Its measurements.
    pub metrics: MetricValues,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_cut_into_the_prepared_statement_sizes_in_order() {
        for rows in [0_usize, 1, 3, 4, 17, 255, 256, 257, 1000] {
            let batch: Vec<usize> = (0..rows).collect();
            let chunks: Vec<&[usize]> = statement_chunks(&batch).collect();
            assert!(
                chunks
                    .iter()
                    .all(|chunk| ROWS_PER_STATEMENT.contains(&chunk.len())),
                "{rows}"
            );
            assert_eq!(chunks.concat(), batch, "{rows}");
        }
        let sizes: Vec<usize> = statement_chunks(&[0; 1000]).map(<[_]>::len).collect();
        assert_eq!(sizes, [256, 256, 256, 64, 64, 64, 16, 16, 4, 4]);
    }
}
