//! Hours of page views stored column by column (encoded by
//! [`sightline_core::rum::ViewColumnsWriter`]), with the progress marker
//! that says how far they reach.

use crate::backend::{read, write};
use crate::progress::Marker;
use crate::{Result, Store, StoreError};
use sightline_core::Timestamp;
use sightline_core::rum::{HourColumns, SketchDecodeError, ViewColumn};
use sqlx::Row;

/// One hour, the span of a set of columns.
const HOUR_MS: i64 = 3_600_000;

impl Store {
    /// How far a site's page view columns reach; `None` before the first hour.
    pub async fn view_columns_progress(&self, site_id: i64) -> Result<Option<Timestamp>> {
        self.progress(site_id, Marker::ViewColumns).await
    }

    /// Writes the columns of the hour starting at `hour_start` and moves the
    /// progress marker from `expected` to the hour's end, in one
    /// transaction. Returns `false` (and writes nothing) when the marker is
    /// no longer at `expected`: another process wrote the hour first.
    pub async fn write_view_columns(
        &self,
        site_id: i64,
        hour_start: Timestamp,
        columns: &[(ViewColumn, Vec<u8>)],
        expected: Option<Timestamp>,
    ) -> Result<bool> {
        let until = hour_start.as_millis() + HOUR_MS;
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            if !Marker::ViewColumns
                .advance(&mut tx, site_id, expected, until)
                .await?
            {
                return Ok(false);
            }
            if !columns.is_empty() {
                let mut builder = sqlx::QueryBuilder::new(
                    "INSERT INTO rum_view_columns (site_id, hour_start, name, data) ",
                );
                builder.push_values(columns, |mut row, (column, data)| {
                    row.push_bind(site_id)
                        .push_bind(hour_start.as_millis())
                        .push_bind(column.name())
                        .push_bind(data.as_slice());
                });
                builder.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Folds `add` over the hours starting in `[from, to)` that hold page
    /// views, in time order, each with the `columns` asked for decoded; a
    /// column that does not decode, here or in `add`, is an error naming
    /// its hour.
    /// Streams the rows, so at most one hour's columns are held at a time.
    pub async fn fold_view_columns<T: Send>(
        &self,
        site_id: i64,
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
        let sql = format!(
            "SELECT hour_start, name, data FROM rum_view_columns \
             WHERE site_id = $1 AND hour_start >= $2 AND hour_start < $3 AND name IN ({}) \
             ORDER BY hour_start",
            names.join(", ")
        );
        let corrupt = |hour: i64, reason: String| StoreError::Corrupt {
            what: "page view columns of the hour starting at",
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

    /// Deletes the columns of hours that ended by `cutoff` (raw retention);
    /// returns how many hours' columns went.
    pub(crate) async fn delete_view_columns_before(&self, cutoff: Timestamp) -> Result<u64> {
        Ok(write!(self.backend, |pool| {
            sqlx::query(
                "DELETE FROM rum_view_columns WHERE site_id IN (SELECT id FROM sites) AND hour_start <= $1",
            )
            .bind(cutoff.as_millis() - HOUR_MS)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?)
    }
}
