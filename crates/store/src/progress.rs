//! The progress markers of the rolls of raw page views (rollups of each
//! resolution, page view columns): how far each reaches per site, and the
//! compare-and-set that makes each bucket's roll happen exactly once across
//! processes.

use crate::backend::read;
use crate::{Result, Store};
use sightline_core::Timestamp;

/// Which roll a marker belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Marker {
    /// The rollups of one resolution (bucket length in milliseconds).
    Rollups { resolution_ms: i64 },
    /// The hourly page view columns.
    ViewColumns,
    /// The open hour's page view columns, a minute at a time.
    ViewSegments,
}

impl Marker {
    /// The marker's table and, for rollups, the resolution that keys it.
    fn table_and_key(self) -> (&'static str, Option<i64>) {
        match self {
            Marker::Rollups { resolution_ms } => ("rum_rollup_progress", Some(resolution_ms)),
            Marker::ViewColumns => ("rum_view_column_progress", None),
            Marker::ViewSegments => ("rum_view_segment_progress", None),
        }
    }

    /// `AND resolution = $n` for a keyed marker.
    fn key_condition(self, placeholder: usize) -> String {
        match self.table_and_key().1 {
            Some(_) => format!(" AND resolution = ${placeholder}"),
            None => String::new(),
        }
    }

    /// Moves the marker of `site_id` from `expected` (`None`: not set yet)
    /// to `until` inside the caller's transaction. `false` when it is no
    /// longer at `expected`: another process rolled the bucket first.
    pub(crate) async fn advance<DB>(
        self,
        tx: &mut sqlx::Transaction<'_, DB>,
        site_id: i64,
        expected: Option<Timestamp>,
        until: i64,
    ) -> std::result::Result<bool, sqlx::Error>
    where
        DB: sqlx::Database,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
        for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        DB::QueryResult: AffectedRows,
    {
        let (table, key) = self.table_and_key();
        let moved = match expected {
            None => {
                let (key_column, key_value) = match key {
                    Some(_) => (", resolution", ", $3"),
                    None => ("", ""),
                };
                let sql = format!(
                    "INSERT INTO {table} (site_id, rolled_until{key_column}) VALUES ($1, $2{key_value}) \
                     ON CONFLICT DO NOTHING"
                );
                let mut query = sqlx::query::<DB>(&sql).bind(site_id).bind(until);
                if let Some(key) = key {
                    query = query.bind(key);
                }
                query.execute(&mut **tx).await?.affected_rows()
            }
            Some(expected) => {
                let sql = format!(
                    "UPDATE {table} SET rolled_until = $1 \
                     WHERE site_id = $2 AND rolled_until = $3{}",
                    self.key_condition(4)
                );
                let mut query = sqlx::query::<DB>(&sql)
                    .bind(until)
                    .bind(site_id)
                    .bind(expected.as_millis());
                if let Some(key) = key {
                    query = query.bind(key);
                }
                query.execute(&mut **tx).await?.affected_rows()
            }
        };
        Ok(moved > 0)
    }
}

impl Store {
    /// How far a site's marker reaches; `None` before the first bucket.
    pub(crate) async fn progress(&self, site_id: i64, marker: Marker) -> Result<Option<Timestamp>> {
        let (table, key) = marker.table_and_key();
        let sql = format!(
            "SELECT rolled_until FROM {table} WHERE site_id = $1{}",
            marker.key_condition(2)
        );
        let until: Option<i64> = read!(self.backend, |pool| {
            let mut query = sqlx::query_scalar(&sql).bind(site_id);
            if let Some(key) = key {
                query = query.bind(key);
            }
            query.fetch_optional(pool).await
        })?;
        Ok(until.map(Timestamp::from_millis))
    }
}

/// How many rows a statement changed, on either backend (sqlx has no
/// common trait for it).
pub(crate) trait AffectedRows {
    /// The count.
    fn affected_rows(&self) -> u64;
}

impl AffectedRows for sqlx::sqlite::SqliteQueryResult {
    fn affected_rows(&self) -> u64 {
        self.rows_affected()
    }
}

impl AffectedRows for sqlx::postgres::PgQueryResult {
    fn affected_rows(&self) -> u64 {
        self.rows_affected()
    }
}
