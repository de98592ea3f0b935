//! The two databases and everything that differs between them: how to
//! connect, how pools are shaped, which migrations apply. Query code uses the
//! [`read!`] and [`write!`] macros, which run the same SQL on either backend.

use crate::{Result, StoreError};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The embedded default.
    Sqlite,
    /// A PostgreSQL server, shareable by several processes.
    Postgres,
}

impl BackendKind {
    /// The backend a database URL names, by its scheme; `None` for one the
    /// store cannot use.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(BackendKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(BackendKind::Postgres)
        } else {
            None
        }
    }
}

/// SQLite pools: one writer, so that writes queue in the process instead of
/// failing on the database lock, and several readers, which WAL lets run
/// beside it.
#[derive(Debug, Clone)]
pub(crate) struct SqlitePools {
    pub(crate) reader: SqlitePool,
    pub(crate) writer: SqlitePool,
    /// Connections to the database file for scans of many rows; `None`
    /// for a database in memory, which only the pools can reach.
    pub(crate) scans: Option<std::sync::Arc<crate::sqlite_scans::ScanConnections>>,
}

#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to a pool fit for reading.
macro_rules! read {
    ($backend:expr, |$pool:ident| $body:expr) => {
        match &$backend {
            $crate::backend::Backend::Sqlite(pools) => {
                let $pool = &pools.reader;
                $body
            }
            $crate::backend::Backend::Postgres(pool) => {
                let $pool = pool;
                $body
            }
        }
    };
}

/// Runs `$body` with `$pool` bound to a pool fit for writing.
macro_rules! write {
    ($backend:expr, |$pool:ident| $body:expr) => {
        match &$backend {
            $crate::backend::Backend::Sqlite(pools) => {
                let $pool = &pools.writer;
                $body
            }
            $crate::backend::Backend::Postgres(pool) => {
                let $pool = pool;
                $body
            }
        }
    };
}

pub(crate) use {read, write};

/// What `/readyz` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// The database answers and every migration is applied.
    Ready,
    /// The database answers but migrations are missing (or unknown ones applied).
    SchemaOutdated {
        /// Migrations this binary has that the database lacks.
        missing: Vec<i64>,
    },
    /// The database does not answer.
    Unreachable(String),
}

/// How long any connection to a SQLite file waits for another's write
/// before giving up: the pools', the scans' and the page-view batches'.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The latest migration this binary applies to a SQLite database: a backup
/// beyond it was made by a newer version.
pub(crate) fn latest_sqlite_migration() -> i64 {
    SQLITE_MIGRATIONS
        .iter()
        .map(|migration| migration.version)
        .max()
        .unwrap_or(0)
}

impl Backend {
    pub(crate) async fn connect(url: &str) -> Result<Self> {
        match BackendKind::of_url(url) {
            Some(BackendKind::Sqlite) => Self::connect_sqlite(url).await,
            Some(BackendKind::Postgres) => {
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await?;
                Ok(Backend::Postgres(pool))
            }
            None => Err(StoreError::UnsupportedUrl(url.to_owned())),
        }
    }

    async fn connect_sqlite(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit survives power loss, not only a crash of the process.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            // A file cannot go away under an open connection: a ping before
            // each use would only be a round trip to its worker thread.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            // Rows reach the caller through a channel from each connection's
            // worker thread; the default of 50 makes a scan of a million rows
            // switch threads tens of thousands of times.
            .connect_with(options.clone().read_only(true).row_buffer_size(4096))
            .await?;
        let scans = Some(options.get_filename().to_owned())
            .filter(|file| file.is_file())
            .map(|file| std::sync::Arc::new(crate::sqlite_scans::ScanConnections::new(file)));
        Ok(Backend::Sqlite(SqlitePools {
            reader,
            writer,
            scans,
        }))
    }

    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    fn migrator(&self) -> &'static Migrator {
        match self {
            Backend::Sqlite(_) => &SQLITE_MIGRATIONS,
            Backend::Postgres(_) => &POSTGRES_MIGRATIONS,
        }
    }

    pub(crate) async fn migrate(&self) -> Result<()> {
        match self {
            Backend::Sqlite(pools) => SQLITE_MIGRATIONS.run(&pools.writer).await?,
            Backend::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    pub(crate) async fn readiness(&self) -> Readiness {
        let applied: std::result::Result<Vec<i64>, sqlx::Error> = read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
            )
            .fetch_all(pool)
            .await
        });
        match applied {
            Ok(applied) => {
                let missing: Vec<i64> = self
                    .migrator()
                    .iter()
                    .map(|migration| migration.version)
                    .filter(|version| !applied.contains(version))
                    .collect();
                if missing.is_empty() {
                    Readiness::Ready
                } else {
                    Readiness::SchemaOutdated { missing }
                }
            }
            Err(sqlx::Error::Database(error)) if error.message().contains("_sqlx_migrations") => {
                Readiness::SchemaOutdated {
                    missing: self.migrator().iter().map(|m| m.version).collect(),
                }
            }
            Err(error) => Readiness::Unreachable(error.to_string()),
        }
    }

    /// `now` (Unix milliseconds) picks which day partitions are analyzed.
    pub(crate) async fn optimize(&self, now: i64) -> Result<()> {
        match self {
            Backend::Sqlite(pools) => {
                // Statistics from a bounded sample of each index (about a
                // thousand rows), so that this stays cheap on any size of
                // database.
                let mut connection = pools.writer.acquire().await?;
                sqlx::query("PRAGMA analysis_limit = 1000")
                    .execute(&mut *connection)
                    .await?;
                sqlx::query("ANALYZE").execute(&mut *connection).await?;
            }
            Backend::Postgres(pool) => {
                // Autovacuum would do this, but it may be off, and it comes
                // late after a bulk load: without statistics the planner
                // took a month of page views for a hundred rows and read
                // them through lossy bitmaps, and ranked rollups through
                // the wrong index (measured: 2.0 s against 1.0 s, 280 ms
                // against 59 ms). Without them too, the overview of a
                // thousand monitors scanned every check result for the few
                // not rolled yet, and its per-monitor walks cost enough to
                // be compiled by JIT first (230 ms against 75 ms). ANALYZE
                // samples a bounded number of rows, so it stays cheap on
                // any size of table.
                // Of the tables partitioned by day, only the days that still
                // change and those never analyzed: analyzing the partitioned
                // table itself samples and then analyzes every partition, a
                // read of nearly every raw page view each hour.
                let mut tables = vec![
                    "rum_rollups".to_owned(),
                    "rum_rollup_progress".to_owned(),
                    "monitors".to_owned(),
                    "check_summaries".to_owned(),
                    "check_summary_progress".to_owned(),
                ];
                tables.extend(crate::day_partitions::needing_statistics(pool, now).await?);
                sqlx::query(&format!("ANALYZE {}", tables.join(", ")))
                    .execute(pool)
                    .await?;
                // Breakdowns rank rollup cells from an index alone, which
                // reads the table too for rows not yet marked visible to all
                // (PostgreSQL's autovacuum may be off, or behind a bulk
                // roll), and minute cells are deleted hourly. Vacuum marks
                // pages and reclaims rows; after the first time it visits
                // only the pages changed since.
                sqlx::query("VACUUM rum_rollups").execute(pool).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn close(&self) {
        match self {
            Backend::Sqlite(pools) => {
                pools.reader.close().await;
                if let Some(scans) = &pools.scans {
                    scans.close();
                }
                // Everything in the WAL goes into the database file, so
                // that the file alone is complete (a copy, a backup).
                if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&pools.writer)
                    .await
                {
                    tracing::warn!(%error, "folding the WAL into the database file");
                }
                pools.writer.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

// SQL text that differs by dialect. Everything else runs the same text on
// both backends; what differs in kind rather than text lives in
// `day_partitions.rs` (PostgreSQL's partitions by day) and
// `sqlite_scans.rs` (reading and writing a SQLite file outside sqlx).

/// `sums` over each monitor's rows of `table` (aliased as the sums expect)
/// that meet `condition`, one row per monitor.
///
/// Each monitor's rows are found through its own index range, so the cost
/// follows the monitors and their rows in the period, never the history
/// kept. Left to themselves, both planners may rather scan the whole
/// table (a hash join in PostgreSQL, a scan of `r` in SQLite once
/// `ANALYZE` has run), so the walk is spelled out: `CROSS JOIN` fixes
/// SQLite's join order with `monitors` outside, and PostgreSQL does the
/// same with `LATERAL`, which SQLite lacks.
pub(crate) fn per_monitor(kind: BackendKind, sums: &str, table: &str, condition: &str) -> String {
    match kind {
        BackendKind::Sqlite => format!(
            "SELECT m.id AS monitor_id, {sums} FROM monitors m CROSS JOIN {table} \
             WHERE {condition} GROUP BY m.id"
        ),
        BackendKind::Postgres => format!(
            "SELECT m.id AS monitor_id, t.* FROM monitors m CROSS JOIN LATERAL \
             (SELECT {sums} FROM {table} WHERE {condition}) t"
        ),
    }
}

/// Each monitor's latest `$1` results (`columns` of `check_results r`),
/// walked as [`per_monitor`] explains (SQLite takes those from the `$1`-th
/// latest start on, and ties at that start may add a few, which the caller
/// trims).
pub(crate) fn recent_per_monitor(kind: BackendKind, columns: &str) -> String {
    match kind {
        BackendKind::Sqlite => format!(
            "SELECT {columns} FROM monitors m CROSS JOIN check_results r \
             WHERE r.monitor_id = m.id AND r.started_at >= COALESCE((SELECT x.started_at \
             FROM check_results x WHERE x.monitor_id = m.id \
             ORDER BY x.started_at DESC LIMIT 1 OFFSET $1 - 1), 0) \
             ORDER BY r.monitor_id, r.started_at, r.id"
        ),
        BackendKind::Postgres => format!(
            "SELECT r.* FROM monitors m CROSS JOIN LATERAL \
             (SELECT {columns} FROM check_results r WHERE r.monitor_id = m.id \
             ORDER BY r.started_at DESC, r.id DESC LIMIT $1) r \
             ORDER BY r.monitor_id, r.started_at, r.id"
        ),
    }
}

/// Bytes `$1` (a table's name) takes on disk with its indexes: SQLite's
/// `dbstat`, PostgreSQL's relation sizes with a partitioned table's
/// partitions added (its own size is nothing).
pub(crate) fn table_bytes(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Sqlite => {
            "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat \
             WHERE name IN (SELECT name FROM sqlite_master WHERE tbl_name = $1)"
        }
        BackendKind::Postgres => {
            "SELECT (pg_total_relation_size($1::regclass) + COALESCE((\
             SELECT SUM(pg_total_relation_size(relid)) FROM pg_partition_tree($1::regclass) \
             WHERE relid <> $1::regclass), 0))::BIGINT"
        }
    }
}
