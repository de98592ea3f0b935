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
        let sql = crate::backend::table_bytes(self.backend.kind());
        let bytes: i64 = crate::backend::read!(self.backend, |pool| {
            sqlx::query_scalar(sql)
                .bind(table.name())
                .fetch_one(pool)
                .await
        })?;
        Ok(u64::try_from(bytes).unwrap_or(0))
    }
}
