//! RUM rollups: aggregates of page views per site, bucket and key, with the
//! progress marker that says how far each resolution reaches.

use crate::backend::{read, write};
use crate::progress::Marker;
use crate::{Result, Store, StoreError};
use sightline_core::Timestamp;
use sightline_core::rum::{Aggregate, MetricSet};
use sqlx::Row;

/// One key's aggregate in a bucket, to write.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupCell {
    /// `''` for the site's totals, a dimension name, or two joined by `|`
    /// for a pair (`device|country`).
    pub dimension: String,
    /// The dimension's value (the first dimension's, for a pair).
    pub value: String,
    /// The second dimension's value for a pair; empty otherwise.
    pub second_value: String,
    /// The page views with that key in the bucket.
    pub aggregate: Aggregate,
}

/// A stored cell with its bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupRow {
    /// Start of the bucket.
    pub bucket_start: Timestamp,
    /// The key's value (the first, for a pair).
    pub value: String,
    /// The second value of a pair; empty otherwise.
    pub second_value: String,
    /// The aggregate.
    pub aggregate: Aggregate,
}

/// Which cells of one rollup dimension to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollupSelection<'a> {
    /// Every cell.
    All,
    /// Cells with this value (for a pair: whatever the second value).
    Value(&'a str),
    /// Pair cells with this second value.
    SecondValue(&'a str),
    /// The cell with both these values.
    Both(&'a str, &'a str),
}

/// One of a rollup cell's two values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollupSide {
    /// The value (the first dimension's, for a pair).
    First,
    /// The second dimension's value of a pair.
    Second,
}

impl RollupSide {
    fn column(self) -> &'static str {
        match self {
            RollupSide::First => "value",
            RollupSide::Second => "second_value",
        }
    }
}

/// Which rollup cells a read is about: a site's cells of one resolution and
/// key, with buckets starting in `[from, to)`, narrowed by `selection`.
#[derive(Debug, Clone, Copy)]
pub struct RollupQuery<'a> {
    /// The site.
    pub site_id: i64,
    /// Bucket length in milliseconds.
    pub resolution_ms: i64,
    /// The key, as in [`RollupCell::dimension`].
    pub dimension: &'a str,
    /// Which values.
    pub selection: RollupSelection<'a>,
    /// First bucket start, inclusive.
    pub from: Timestamp,
    /// Last bucket start, exclusive.
    pub to: Timestamp,
    /// The metrics whose sketches are read; the others are left out.
    pub metrics: MetricSet,
}

impl<'a> RollupQuery<'a> {
    /// The SQL condition after `WHERE`, with parameters from `$1`, and the
    /// selection's values to bind after the five fixed ones.
    fn condition(&self) -> (String, Vec<&str>) {
        // The literal `second_value <> ''` lets the planner use the partial index.
        let (selected, values) = match self.selection {
            RollupSelection::All => ("", vec![]),
            RollupSelection::Value(value) => (" AND value = $6", vec![value]),
            RollupSelection::SecondValue(second) => (
                " AND second_value = $6 AND second_value <> ''",
                vec![second],
            ),
            RollupSelection::Both(value, second) => {
                (" AND value = $6 AND second_value = $7", vec![value, second])
            }
        };
        (
            format!(
                "site_id = $1 AND resolution = $2 AND dimension = $3 \
                 AND bucket_start >= $4 AND bucket_start < $5{selected}"
            ),
            values,
        )
    }

    /// `sql` (whose condition is [`RollupQuery::condition`]'s, perhaps
    /// extended) with the five fixed parameters and then `values` bound.
    fn bound<'q, DB: sqlx::Database>(
        &self,
        sql: &'q str,
        values: &[&'q str],
    ) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
    where
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        'a: 'q,
    {
        let mut bound = sqlx::query(sql)
            .bind(self.site_id)
            .bind(self.resolution_ms)
            .bind(self.dimension)
            .bind(self.from.as_millis())
            .bind(self.to.as_millis());
        for value in values {
            bound = bound.bind(*value);
        }
        bound
    }
}

impl Store {
    /// How far a site's rollups of a resolution (bucket length in
    /// milliseconds) reach; `None` before the first bucket.
    pub async fn rollup_progress(
        &self,
        site_id: i64,
        resolution_ms: i64,
    ) -> Result<Option<Timestamp>> {
        self.progress(site_id, Marker::Rollups { resolution_ms })
            .await
    }

    /// Writes one bucket's cells and moves the progress marker from
    /// `expected` to the bucket's end, in one transaction. Returns `false`
    /// (and writes nothing) when the marker is no longer at `expected`:
    /// another process rolled the bucket first.
    pub async fn write_rollup_bucket(
        &self,
        site_id: i64,
        resolution_ms: i64,
        bucket_start: Timestamp,
        cells: &[RollupCell],
        expected: Option<Timestamp>,
    ) -> Result<bool> {
        let until = bucket_start.as_millis() + resolution_ms;
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let marker = Marker::Rollups { resolution_ms };
            if !marker.advance(&mut tx, site_id, expected, until).await? {
                return Ok(false);
            }
            // In key order: B-tree pages filled in order stay full, while
            // random order leaves them about half empty.
            let mut ordered: Vec<&RollupCell> = cells.iter().collect();
            ordered.sort_unstable_by(|a, b| {
                (&a.dimension, &a.value, &a.second_value).cmp(&(
                    &b.dimension,
                    &b.value,
                    &b.second_value,
                ))
            });
            for chunk in ordered.chunks(500) {
                let mut builder = sqlx::QueryBuilder::new(
                    "INSERT INTO rum_rollups (site_id, resolution, bucket_start, dimension, value, second_value, page_views, aggregate) ",
                );
                builder.push_values(chunk, |mut row, cell| {
                    row.push_bind(site_id)
                        .push_bind(resolution_ms)
                        .push_bind(bucket_start.as_millis())
                        .push_bind(cell.dimension.clone())
                        .push_bind(cell.value.clone())
                        .push_bind(cell.second_value.clone())
                        .push_bind(i64::try_from(cell.aggregate.page_views()).unwrap_or(i64::MAX))
                        .push_bind(stored_form(&cell.aggregate));
                });
                builder.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Deletes a site's cells of one resolution whose buckets start before
    /// `before`: cells that coarser ones have replaced. Returns how many.
    pub async fn delete_rollups_before(
        &self,
        site_id: i64,
        resolution_ms: i64,
        before: Timestamp,
    ) -> Result<u64> {
        Ok(write!(self.backend, |pool| {
            sqlx::query(
                "DELETE FROM rum_rollups WHERE site_id = $1 AND resolution = $2 AND bucket_start < $3",
            )
            .bind(site_id)
            .bind(resolution_ms)
            .bind(before.as_millis())
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?)
    }

    /// The cells a query selects; with `only`, just those whose value on
    /// that side is one of the given ones.
    pub async fn rollups(
        &self,
        query: &RollupQuery<'_>,
        only: Option<(RollupSide, &[String])>,
    ) -> Result<Vec<RollupRow>> {
        let (mut condition, mut values) = query.condition();
        if let Some((side, only)) = only {
            if only.is_empty() {
                return Ok(Vec::new());
            }
            let first = 6 + values.len();
            let placeholders: Vec<String> = (first..first + only.len())
                .map(|n| format!("${n}"))
                .collect();
            condition.push_str(&format!(
                " AND {} IN ({})",
                side.column(),
                placeholders.join(", ")
            ));
            values.extend(only.iter().map(String::as_str));
        }
        let sql = format!(
            "SELECT bucket_start, value, second_value, aggregate FROM rum_rollups WHERE {condition}"
        );
        let rows = read!(self.backend, |pool| {
            let rows = query.bound(&sql, &values).fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    Ok((
                        row.try_get::<i64, _>(0)?,
                        row.try_get::<String, _>(1)?,
                        row.try_get::<String, _>(2)?,
                        row.try_get::<Vec<u8>, _>(3)?,
                    ))
                })
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
        })?;
        let mut reader = StoredFormReader::new();
        rows.into_iter()
            .map(|(bucket_start, value, second_value, bytes)| {
                let aggregate =
                    reader
                        .read(&bytes, query.metrics)
                        .map_err(|e| StoreError::Corrupt {
                            what: "rollup",
                            id: bucket_start,
                            reason: e,
                        })?;
                Ok(RollupRow {
                    bucket_start: bucket_start.into(),
                    value,
                    second_value,
                    aggregate,
                })
            })
            .collect()
    }

    /// The page views of the cells a query selects, added up per value on
    /// one side, without reading their aggregates: enough to rank values
    /// before reading the aggregates of the top ones only.
    pub async fn rollup_counts(
        &self,
        query: &RollupQuery<'_>,
        side: RollupSide,
    ) -> Result<Vec<(String, u64)>> {
        let (condition, values) = query.condition();
        let column = side.column();
        let sql = format!(
            "SELECT {column}, CAST(SUM(page_views) AS BIGINT) FROM rum_rollups WHERE {condition} GROUP BY {column}"
        );
        let counts = read!(self.backend, |pool| {
            let rows = query.bound(&sql, &values).fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    let count = row.try_get::<i64, _>(1)?;
                    Ok((row.try_get(0)?, u64::try_from(count).unwrap_or(0)))
                })
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
        })?;
        Ok(counts)
    }
}

/// The first byte of a deflated aggregate; an aggregate's own form starts
/// with its format version, which is never this.
const DEFLATED: u8 = 0xdf;

/// Aggregates smaller than this are stored as they are: deflate would not
/// win enough to pay for itself.
const DEFLATE_FROM: usize = 48;

/// An aggregate as stored: its compact form, deflated unless tiny. Even
/// the aggregate of one page view shrinks by a third (its metrics' framing
/// repeats), and the bucket counts of large ones by about half.
fn stored_form(aggregate: &Aggregate) -> Vec<u8> {
    use std::io::Write;
    let bytes = aggregate.to_bytes();
    if bytes.len() < DEFLATE_FROM {
        return bytes;
    }
    let mut encoder =
        flate2::write::DeflateEncoder::new(vec![DEFLATED], flate2::Compression::fast());
    match encoder.write_all(&bytes).and_then(|()| encoder.finish()) {
        Ok(deflated) if deflated.len() < bytes.len() => deflated,
        _ => bytes,
    }
}

/// Reads what [`stored_form`] wrote, one aggregate after another with one
/// inflater: its state is tens of kilobytes, too much to set up per cell
/// when a query reads thousands.
struct StoredFormReader {
    inflater: flate2::Decompress,
    inflated: Vec<u8>,
}

impl StoredFormReader {
    fn new() -> Self {
        StoredFormReader {
            inflater: flate2::Decompress::new(false),
            inflated: Vec::new(),
        }
    }

    /// The aggregate in a stored form, with the sketches of `metrics` only.
    fn read(&mut self, bytes: &[u8], metrics: MetricSet) -> std::result::Result<Aggregate, String> {
        let Some((&DEFLATED, deflated)) = bytes.split_first() else {
            return Aggregate::from_bytes_with(bytes, metrics).map_err(|e| e.to_string());
        };
        self.inflater.reset(false);
        self.inflated.clear();
        loop {
            if self.inflated.len() == self.inflated.capacity() {
                self.inflated
                    .reserve(deflated.len().max(self.inflated.len()) * 2);
            }
            let progress = (self.inflater.total_in(), self.inflater.total_out());
            let consumed = usize::try_from(progress.0).unwrap_or(usize::MAX);
            let status = self
                .inflater
                .decompress_vec(
                    deflated.get(consumed..).unwrap_or_default(),
                    &mut self.inflated,
                    flate2::FlushDecompress::None,
                )
                .map_err(|e| format!("does not inflate: {e}"))?;
            if status == flate2::Status::StreamEnd {
                break;
            }
            if (self.inflater.total_in(), self.inflater.total_out()) == progress {
                return Err("does not inflate: the stream is cut short".to_owned());
            }
        }
        Aggregate::from_bytes_with(&self.inflated, metrics).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_core::rum::{Metric, MetricValues};

    fn aggregate_of(views: u32) -> Aggregate {
        let mut aggregate = Aggregate::default();
        for index in 0..views {
            let mut metrics = MetricValues::default();
            for (offset, metric) in Metric::ALL.into_iter().enumerate() {
                let value = 100.0 + f64::from((index * 7919 + offset as u32 * 31) % 5000);
                metrics.set(metric, Some(value));
            }
            aggregate.add(&metrics);
        }
        aggregate
    }

    #[test]
    fn large_aggregates_are_deflated_and_read_back() {
        let large = aggregate_of(2_000);
        let stored = stored_form(&large);
        assert_eq!(stored[0], DEFLATED);
        assert!(stored.len() < large.to_bytes().len());
        let mut reader = StoredFormReader::new();
        assert_eq!(reader.read(&stored, MetricSet::ALL).unwrap(), large);

        let mut small = Aggregate::default();
        let mut metrics = MetricValues::default();
        metrics.set(Metric::Lcp, Some(1834.0));
        small.add(&metrics);
        assert_eq!(stored_form(&small), small.to_bytes());
        assert_eq!(
            reader.read(&stored_form(&small), MetricSet::ALL).unwrap(),
            small
        );
        // One reader after another, and after failures.
        assert!(reader.read(&[DEFLATED, 1, 2, 3], MetricSet::ALL).is_err());
        assert!(
            reader
                .read(&stored[..stored.len() / 2], MetricSet::ALL)
                .is_err()
        );
        assert!(reader.read(&[], MetricSet::ALL).is_err());
        assert_eq!(reader.read(&stored, MetricSet::ALL).unwrap(), large);
        // Reading some metrics leaves the others out and keeps the count.
        let lcp = reader.read(&stored, MetricSet::of(&[Metric::Lcp])).unwrap();
        assert_eq!(lcp.page_views(), large.page_views());
        assert_eq!(lcp.sketch(Metric::Lcp), large.sketch(Metric::Lcp));
        assert_eq!(lcp.sketch(Metric::Fcp), None);
    }
}
