//! Raw RUM page views: written in batches (one transaction for many), read
//! for the open tail of a query and for rollups, deleted after retention.

use crate::backend::{read, write};
use crate::{Result, Store};
use sightline_core::Timestamp;
use sightline_core::rum::{Dimension, DimensionValues, Metric, MetricValues, PageView};
use sqlx::Row;

/// Rows per INSERT statement: 25 columns each keeps a statement well under
/// SQLite's limit of 32,766 bound values.
const ROWS_PER_STATEMENT: usize = 500;

fn columns() -> String {
    let dimensions = Dimension::ALL.map(Dimension::name).join(", ");
    format!("site_id, at, {dimensions}, {}", metric_columns())
}

fn metric_columns() -> String {
    Metric::ALL.map(Metric::name).join(", ")
}

impl Store {
    /// Stores page views in one transaction: all of them or, on error, none.
    pub async fn insert_page_views(&self, page_views: &[PageView]) -> Result<()> {
        if page_views.is_empty() {
            return Ok(());
        }
        let insert = format!("INSERT INTO page_views ({}) ", columns());
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            for chunk in page_views.chunks(ROWS_PER_STATEMENT) {
                let mut builder = sqlx::QueryBuilder::new(&insert);
                builder.push_values(chunk, |mut row, view| {
                    row.push_bind(view.site_id).push_bind(view.at.as_millis());
                    for dimension in Dimension::ALL {
                        row.push_bind(view.dimensions.get(dimension).to_owned());
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
                .map(|row| {
                    // By position (the order of `columns()`): a lookup by name per
                    // column per row costs more than the decoding.
                    let mut dimensions = DimensionValues::default();
                    for (offset, dimension) in Dimension::ALL.into_iter().enumerate() {
                        dimensions.set(dimension, row.try_get::<String, _>(2 + offset)?);
                    }
                    let first_metric = 2 + Dimension::ALL.len();
                    let mut metrics = MetricValues::default();
                    for (offset, metric) in Metric::ALL.into_iter().enumerate() {
                        metrics.set(
                            metric,
                            row.try_get::<Option<f64>, _>(first_metric + offset)?,
                        );
                    }
                    Ok(PageView {
                        site_id: row.try_get(0)?,
                        at: row.try_get::<i64, _>(1)?.into(),
                        dimensions,
                        metrics,
                    })
                })
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
                .map_err(Into::into)
        })
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

    /// Deletes page views received before `cutoff` (raw retention); returns how many.
    pub async fn delete_page_views_before(&self, cutoff: Timestamp) -> Result<u64> {
        Ok(write!(self.backend, |pool| {
            // Through the (site, time) index, one site at a time: a bare
            // `at < $1` reads the whole table, and this runs every 30 s.
            sqlx::query(
                "DELETE FROM page_views WHERE site_id IN (SELECT id FROM sites) AND at < $1",
            )
            .bind(cutoff.as_millis())
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?)
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

    /// What queries need of the page views in `[from, to)` whose dimensions
    /// have the given values: when each was received, its value of `group`
    /// (empty without one) and its measurements. Reads only those columns.
    pub async fn matching_measurements(
        &self,
        site_id: i64,
        from: Timestamp,
        to: Timestamp,
        filters: &[(Dimension, String)],
        group: Option<Dimension>,
    ) -> Result<Vec<Measured>> {
        // Dimension and metric names are fixed identifiers, never user text; values are bound.
        let conditions: String = filters
            .iter()
            .enumerate()
            .map(|(index, (dimension, _))| format!(" AND {} = ${}", dimension.name(), index + 4))
            .collect();
        let group_column = group.map_or("''", Dimension::name);
        let metrics = metric_columns();
        let sql = format!(
            "SELECT at, {group_column}, {metrics} FROM page_views \
             WHERE site_id = $1 AND at >= $2 AND at < $3{conditions}"
        );
        Ok(read!(self.backend, |pool| {
            let mut query = sqlx::query(&sql)
                .bind(site_id)
                .bind(from.as_millis())
                .bind(to.as_millis());
            for (_, value) in filters {
                query = query.bind(value);
            }
            let rows = query.fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    let mut metrics = MetricValues::default();
                    for (offset, metric) in Metric::ALL.into_iter().enumerate() {
                        metrics.set(metric, row.try_get::<Option<f64>, _>(2 + offset)?);
                    }
                    Ok(Measured {
                        at: row.try_get::<i64, _>(0)?.into(),
                        group: row.try_get(1)?,
                        metrics,
                    })
                })
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
        })?)
    }
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
