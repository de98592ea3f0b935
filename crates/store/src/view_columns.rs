//! Hours of page views stored column by column (encoded by
//! [`sightline_core::rum::ViewColumnsWriter`]), and the open hour's a
//! minute at a time, each with the progress marker that says how far they
//! reach.

use crate::backend::{read, write};
use crate::progress::Marker;
use crate::{Result, Store, StoreError};
use sightline_core::Timestamp;
use sightline_core::rum::{HourColumns, SketchDecodeError, ViewColumn};
use sqlx::Row;

/// One hour, the span of a set of columns.
const HOUR_MS: i64 = 3_600_000;

/// One minute, the span of a segment: the open hour's columns are written
/// a minute at a time until the hour's whole columns replace them.
pub const VIEW_SEGMENT_MS: i64 = 60_000;

/// How page view columns are cut in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnGrain {
    /// Whole hours, written once the hour has settled.
    Hour,
    /// Minutes of the hours not written whole yet.
    Minute,
}

impl ColumnGrain {
    /// How long one set of columns spans.
    pub const fn span_ms(self) -> i64 {
        match self {
            ColumnGrain::Hour => HOUR_MS,
            ColumnGrain::Minute => VIEW_SEGMENT_MS,
        }
    }

    /// The table and its start column.
    fn table(self) -> (&'static str, &'static str) {
        match self {
            ColumnGrain::Hour => ("rum_view_columns", "hour_start"),
            ColumnGrain::Minute => ("rum_view_segments", "segment_start"),
        }
    }

    fn marker(self) -> Marker {
        match self {
            ColumnGrain::Hour => Marker::ViewColumns,
            ColumnGrain::Minute => Marker::ViewSegments,
        }
    }
}

impl Store {
    /// How far a site's page view columns reach; `None` before the first hour.
    pub async fn view_columns_progress(&self, site_id: i64) -> Result<Option<Timestamp>> {
        self.progress(site_id, Marker::ViewColumns).await
    }

    /// How far a site's minute segments reach; `None` before the first.
    pub async fn view_segments_progress(&self, site_id: i64) -> Result<Option<Timestamp>> {
        self.progress(site_id, Marker::ViewSegments).await
    }

    /// Writes the columns of the span of `grain` starting at `start` and
    /// moves that grain's progress marker from `expected` to the span's
    /// end, in one transaction. The columns of a whole hour replace the
    /// minute segments of the hour. Returns `false` (and writes nothing)
    /// when the marker is no longer at `expected`: another process wrote
    /// the span first.
    pub async fn write_view_columns(
        &self,
        site_id: i64,
        grain: ColumnGrain,
        start: Timestamp,
        columns: &[(ViewColumn, Vec<u8>)],
        expected: Option<Timestamp>,
    ) -> Result<bool> {
        let until = start.as_millis() + grain.span_ms();
        let (table, start_column) = grain.table();
        let insert = format!("INSERT INTO {table} (site_id, {start_column}, name, data) ");
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            if !grain
                .marker()
                .advance(&mut tx, site_id, expected, until)
                .await?
            {
                return Ok(false);
            }
            if grain == ColumnGrain::Hour {
                sqlx::query(
                    "DELETE FROM rum_view_segments WHERE site_id = $1 AND segment_start < $2",
                )
                .bind(site_id)
                .bind(until)
                .execute(&mut *tx)
                .await?;
            }
            if !columns.is_empty() {
                let mut builder = sqlx::QueryBuilder::new(&insert);
                builder.push_values(columns, |mut row, (column, data)| {
                    row.push_bind(site_id)
                        .push_bind(start.as_millis())
                        .push_bind(column.name())
                        .push_bind(data.as_slice());
                });
                builder.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Folds `add` over the spans of `grain` starting in `[from, to)` that
    /// hold page views, in time order, each with the `columns` asked for
    /// decoded; a column that does not decode, here or in `add`, is an
    /// error naming its span.
    /// Streams the rows, so at most one span's columns are held at a time.
    pub async fn fold_view_columns<T: Send>(
        &self,
        site_id: i64,
        grain: ColumnGrain,
        (from, to): (Timestamp, Timestamp),
        columns: &[ViewColumn],
        mut folded: T,
        mut add: impl FnMut(
            &mut T,
            Timestamp,
            &HourColumns,
        ) -> std::result::Result<(), SketchDecodeError>
        + Send,
    ) -> Result<T> {
        use futures_util::TryStreamExt;
        if columns.is_empty() {
            return Ok(folded);
        }
        // Column names are fixed identifiers, never user text.
        let names: Vec<String> = columns
            .iter()
            .map(|column| format!("'{}'", column.name()))
            .collect();
        let (table, start_column) = grain.table();
        let sql = format!(
            "SELECT {start_column}, name, data FROM {table} \
             WHERE site_id = $1 AND {start_column} >= $2 AND {start_column} < $3 AND name IN ({}) \
             ORDER BY {start_column}",
            names.join(", ")
        );
        let corrupt = |hour: i64, reason: String| StoreError::Corrupt {
            what: match grain {
                ColumnGrain::Hour => "page view columns of the hour starting at",
                ColumnGrain::Minute => "page view columns of the minute starting at",
            },
            id: hour,
            reason,
        };
        read!(self.backend, |pool| {
            let mut rows = sqlx::query(&sql)
                .bind(site_id)
                .bind(from.as_millis())
                .bind(to.as_millis())
                .fetch(pool);
            let mut hour: Option<(i64, HourColumns)> = None;
            while let Some(row) = rows.try_next().await? {
                let start: i64 = row.try_get(0)?;
                let name: &str = row.try_get(1)?;
                let data: &[u8] = row.try_get(2)?;
                if hour.as_ref().is_none_or(|(current, _)| *current != start) {
                    if let Some((done, columns)) = hour.take() {
                        add(&mut folded, done.into(), &columns)
                            .map_err(|e| corrupt(done, e.to_string()))?;
                    }
                    hour = Some((start, HourColumns::default()));
                }
                let column = ViewColumn::from_name(name)
                    .ok_or_else(|| corrupt(start, format!("unknown column `{name}`")))?;
                if let Some((_, columns)) = &mut hour {
                    columns
                        .add(column, data)
                        .map_err(|e| corrupt(start, e.to_string()))?;
                }
            }
            if let Some((done, columns)) = hour {
                add(&mut folded, done.into(), &columns)
                    .map_err(|e| corrupt(done, e.to_string()))?;
            }
            Ok::<_, StoreError>(folded)
        })
    }

    /// Deletes the columns of hours and minutes that ended by `cutoff` (raw
    /// retention); returns how many rows went.
    pub(crate) async fn delete_view_columns_before(&self, cutoff: Timestamp) -> Result<u64> {
        let mut deleted = 0;
        for grain in [ColumnGrain::Hour, ColumnGrain::Minute] {
            let (table, start_column) = grain.table();
            let sql = format!(
                "DELETE FROM {table} WHERE site_id IN (SELECT id FROM sites) AND {start_column} <= $1"
            );
            deleted += write!(self.backend, |pool| {
                sqlx::query(&sql)
                    .bind(cutoff.as_millis() - grain.span_ms())
                    .execute(pool)
                    .await
                    .map(|done| done.rows_affected())
            })?;
        }
        Ok(deleted)
    }
}
