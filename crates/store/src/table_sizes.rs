//! How much room the tables that grow with traffic take on disk.

use crate::{Result, Store};

/// The tables that grow with traffic, whose size can be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrowingTable {
    /// Raw page views.
    PageViews,
    /// Hourly and daily rollups.
    Rollups,
    /// Hours of page views, column by column.
    ViewColumns,
    /// Raw check results.
    CheckResults,
}

impl GrowingTable {
    fn name(self) -> &'static str {
        match self {
            GrowingTable::PageViews => "page_views",
            GrowingTable::Rollups => "rum_rollups",
            GrowingTable::ViewColumns => "rum_view_columns",
            GrowingTable::CheckResults => "check_results",
        }
    }
}

impl Store {
    /// Bytes a table takes on disk with its indexes: how the storage of
    /// rollups compares with that of the raw page views they summarise, and
    /// what a stored row costs.
    pub async fn table_bytes(&self, table: GrowingTable) -> Result<u64> {
        let bytes: i64 = match &self.backend {
            crate::backend::Backend::Sqlite(pools) => {
                sqlx::query_scalar(
                    "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat \
                     WHERE name IN (SELECT name FROM sqlite_master WHERE tbl_name = $1)",
                )
                .bind(table.name())
                .fetch_one(&pools.reader)
                .await?
            }
            crate::backend::Backend::Postgres(pool) => {
                // A partitioned table's own size is nothing: its partitions'
                // are added (a table that is not partitioned has none).
                sqlx::query_scalar(
                    "SELECT (pg_total_relation_size($1::regclass) + COALESCE((\
                     SELECT SUM(pg_total_relation_size(relid)) FROM pg_partition_tree($1::regclass) \
                     WHERE relid <> $1::regclass), 0))::BIGINT",
                )
                .bind(table.name())
                .fetch_one(pool)
                .await?
            }
        };
        Ok(u64::try_from(bytes).unwrap_or(0))
    }
}
