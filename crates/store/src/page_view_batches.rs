//! The page-view writer's way into the database: one batch of page views
//! per transaction, as fast as the backend allows.
//!
//! On a SQLite file the batch is written on a `rusqlite` connection of its
//! own, on the calling thread, with one prepared statement bound row by
//! row. Through sqlx every statement of a batch (the `BEGIN`, each insert,
//! the `COMMIT`) is a round trip to the connection's worker thread and
//! back: measured under load, the writer spent most of each commit waiting
//! for those hand-offs and beacons waited behind it. The writer pool's one
//! connection is held while the batch is written, so that page views and
//! every other write of the process still take turns, in order, rather
//! than meeting in SQLite's busy handler.

use crate::backend::Backend;
use crate::page_views::columns;
use crate::{Result, Store};
use sightline_core::rum::{Dimension, Metric, PageView};
use std::path::PathBuf;

/// Writes batches of page views; see the module documentation. Made by
/// [`Store::page_view_batches`].
#[derive(Debug)]
pub struct PageViewBatches {
    store: Store,
    sqlite: Option<SqliteBatches>,
}

/// The SQLite file's own connection for batches, opened when first needed.
#[derive(Debug)]
struct SqliteBatches {
    file: PathBuf,
    writer: sqlx::SqlitePool,
    /// The one-row INSERT of every column.
    insert: String,
    connection: Option<rusqlite::Connection>,
}

impl Store {
    /// A writer of page-view batches for one task. On a SQLite file it
    /// works on the calling thread: give it a thread of its own, as the
    /// RUM collector's writer does.
    pub fn page_view_batches(&self) -> PageViewBatches {
        let sqlite = match &self.backend {
            Backend::Sqlite(pools) => pools.scans.as_ref().map(|scans| SqliteBatches {
                file: scans.file().to_owned(),
                writer: pools.writer.clone(),
                insert: insert_statement(),
                connection: None,
            }),
            Backend::Postgres(_) => None,
        };
        PageViewBatches {
            store: self.clone(),
            sqlite,
        }
    }
}

impl PageViewBatches {
    /// Stores page views in one transaction: all of them or, on error, none.
    pub async fn insert(&mut self, page_views: &[PageView]) -> Result<()> {
        let Some(sqlite) = &mut self.sqlite else {
            return self.store.insert_page_views(page_views).await;
        };
        if page_views.is_empty() {
            return Ok(());
        }
        // The process's turn to write: the writer pool's one connection.
        let _turn = sqlite.writer.acquire().await?;
        let inserted = sqlite.insert(page_views);
        if inserted.is_err() {
            // Opened afresh for the next batch, whatever state this one left.
            sqlite.connection = None;
        }
        Ok(inserted?)
    }
}

impl SqliteBatches {
    fn insert(&mut self, page_views: &[PageView]) -> rusqlite::Result<()> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            closed @ None => closed.insert(open(&self.file)?),
        };
        let transaction = rusqlite::Transaction::new_unchecked(
            connection,
            rusqlite::TransactionBehavior::Immediate,
        )?;
        {
            let mut statement = transaction.prepare_cached(&self.insert)?;
            for view in page_views {
                statement.raw_bind_parameter(1, view.site_id)?;
                statement.raw_bind_parameter(2, view.at.as_millis())?;
                let mut index = 3;
                for dimension in Dimension::ALL {
                    statement.raw_bind_parameter(index, view.dimensions.get(dimension))?;
                    index += 1;
                }
                for metric in Metric::ALL {
                    statement.raw_bind_parameter(index, view.metrics.get(metric))?;
                    index += 1;
                }
                statement.raw_execute()?;
            }
        }
        transaction.commit()
    }
}

/// A read-write connection to the file, set as the pools' connections are:
/// a commit survives power loss, foreign keys hold.
fn open(file: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let connection = rusqlite::Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(crate::backend::SQLITE_BUSY_TIMEOUT)?;
    connection.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    Ok(connection)
}

/// The one-row INSERT of every column, in the order of [`columns`].
fn insert_statement() -> String {
    let count = 2 + Dimension::ALL.len() + Metric::ALL.len();
    let placeholders: Vec<String> = (1..=count).map(|n| format!("?{n}")).collect();
    format!(
        "INSERT INTO page_views ({}) VALUES ({})",
        columns(),
        placeholders.join(", ")
    )
}
