//! Scans of many rows of a SQLite file on read-only `rusqlite` connections
//! of their own, run on blocking threads. sqlx hands each row from its
//! connection's worker thread through a channel, copying every value, which
//! costs several times what SQLite spends reading the row; for a month of
//! raw page views that is most of a query's time.

use std::path::PathBuf;
use std::sync::Mutex;

/// Connections kept open between scans: one per core is as many as
/// parallel scans use.
const IDLE_KEPT: usize = 8;

/// The read-only connections to one SQLite file that scans run on, opened
/// when first needed and kept for the next scan.
#[derive(Debug)]
pub(crate) struct ScanConnections {
    file: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
    /// Set when the store closes: connections are no longer kept, so that
    /// the last one to close lets SQLite fold the WAL into the file.
    closed: std::sync::atomic::AtomicBool,
}

impl ScanConnections {
    pub(crate) fn new(file: PathBuf) -> Self {
        ScanConnections {
            file,
            idle: Mutex::new(Vec::new()),
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The database file.
    pub(crate) fn file(&self) -> &std::path::Path {
        &self.file
    }

    /// Closes the kept connections; later scans close theirs when done.
    pub(crate) fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.lock().clear();
    }

    /// Runs `scan` on a connection of its own, then keeps the connection.
    pub(crate) fn with_connection<T>(
        &self,
        scan: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let idle = self.lock().pop();
        let connection = match idle {
            Some(connection) => connection,
            None => self.open()?,
        };
        let scanned = scan(&connection);
        let mut idle = self.lock();
        if idle.len() < IDLE_KEPT && !self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            idle.push(connection);
        }
        scanned
    }

    /// Runs `scan` on a connection of its own on a blocking thread, so that
    /// reading many rows does not hold up the async workers. A panic in the
    /// scan goes on in the caller (a scan is never cancelled).
    pub(crate) async fn scan<T: Send + 'static>(
        self: &std::sync::Arc<Self>,
        scan: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> rusqlite::Result<T> {
        let scans = std::sync::Arc::clone(self);
        match tokio::task::spawn_blocking(move || scans.with_connection(scan)).await {
            Ok(scanned) => scanned,
            Err(failed) => std::panic::resume_unwind(failed.into_panic()),
        }
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        open_read_only(&self.file)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<rusqlite::Connection>> {
        // A panic while holding the lock leaves the list itself intact.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A read-only connection to a SQLite file that waits for a writer as the
/// pools do: what scans and backups read through.
pub(crate) fn open_read_only(file: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let connection = rusqlite::Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(crate::backend::SQLITE_BUSY_TIMEOUT)?;
    Ok(connection)
}
