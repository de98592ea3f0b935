//! Backups of the embedded SQLite database, taken while the server runs,
//! and putting one back into an empty data directory.
//!
//! A backup is `VACUUM INTO` a file beside the target, which SQLite writes
//! from one read transaction: a consistent snapshot holding every write
//! committed before it began, while the server's writer goes on (in WAL
//! mode a reader never blocks the writer). SQLite does not sync that file,
//! so it is synced here and only then renamed to the name asked for: a
//! backup cut short by a crash or a full disk never looks like a whole one.
//! PostgreSQL has `pg_dump` and `pg_restore` for this, which the README
//! shows.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A backup or restore that did not happen, and why.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Backups here are of SQLite files; PostgreSQL has its own tools.
    #[error(
        "the database is PostgreSQL: back it up with `pg_dump --format=custom --file=FILE URL` \
         and restore it with `pg_restore --dbname=URL FILE` (see the README)"
    )]
    Postgres,
    /// The URL is neither SQLite nor PostgreSQL.
    #[error("unsupported database URL `{0}`: expected sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// The database to back up does not exist.
    #[error("there is no database at {0}")]
    NoDatabase(PathBuf),
    /// A file is in the way.
    #[error("{0} already exists; a backup never overwrites a file")]
    TargetExists(PathBuf),
    /// Restoring goes into an empty data directory only.
    #[error(
        "{0} already holds a database; restore into an empty data directory (or move it away first)"
    )]
    NotEmpty(PathBuf),
    /// The file to restore is not a whole Sightline database.
    #[error("{path} is not a Sightline backup: {reason}")]
    NotABackup {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The backup holds migrations this version does not know.
    #[error(
        "{path} was made by a newer Sightline (schema version {found}; this one knows up to {known})"
    )]
    Newer {
        /// The file.
        path: PathBuf,
        /// Its latest migration.
        found: i64,
        /// The latest this binary has.
        known: i64,
    },
    /// SQLite failed.
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file could not be read, written or renamed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// To which file.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// What a backup or restore copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The file written.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// The latest migration it holds.
    pub schema_version: i64,
    /// How long the copy took.
    pub took: Duration,
}

/// The SQLite file a database URL names.
fn sqlite_file(database_url: &str) -> Result<PathBuf, BackupError> {
    let unsupported = || BackupError::UnsupportedUrl(database_url.to_owned());
    match crate::BackendKind::of_url(database_url) {
        Some(crate::BackendKind::Postgres) => Err(BackupError::Postgres),
        Some(crate::BackendKind::Sqlite) => {
            let options =
                <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(database_url)
                    .map_err(|_| unsupported())?;
            Ok(options.get_filename().to_owned())
        }
        None => Err(unsupported()),
    }
}

/// Copies the live SQLite database at `database_url` into `target`, which
/// must not exist; the server may keep serving and writing meanwhile.
pub fn back_up(database_url: &str, target: &Path) -> Result<Copied, BackupError> {
    let started = Instant::now();
    let source = sqlite_file(database_url)?;
    if !source.is_file() {
        return Err(BackupError::NoDatabase(source));
    }
    if target.exists() {
        return Err(BackupError::TargetExists(target.to_owned()));
    }
    if let Some(directory) = target.parent().filter(|d| !d.as_os_str().is_empty())
        && !directory.is_dir()
    {
        return Err(BackupError::Io {
            what: "cannot write a backup into",
            path: directory.to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    let partial = partial_path(target);
    remove_if_present(&partial)?;
    let connection = crate::sqlite_scans::open_read_only(&source)?;
    let copied = connection.execute("VACUUM INTO ?1", [partial.to_string_lossy()]);
    drop(connection);
    if let Err(error) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(error.into());
    }
    let schema_version = verified(&partial)?;
    publish(&partial, target)?;
    Ok(Copied {
        bytes: size(target)?,
        path: target.to_owned(),
        schema_version,
        took: started.elapsed(),
    })
}

/// Puts the backup `backup` in place as the SQLite database at
/// `database_url`, which must not exist yet. The backup is checked whole
/// first; a newer schema than this binary knows is refused (an older one is
/// brought up to date when the server starts).
pub fn restore(backup: &Path, database_url: &str) -> Result<Copied, BackupError> {
    let started = Instant::now();
    let target = sqlite_file(database_url)?;
    for taken in [
        target.clone(),
        with_suffix(&target, "-wal"),
        with_suffix(&target, "-journal"),
    ] {
        if taken.exists() {
            return Err(BackupError::NotEmpty(taken));
        }
    }
    if !backup.is_file() {
        return Err(BackupError::NotABackup {
            path: backup.to_owned(),
            reason: "no such file".into(),
        });
    }
    let schema_version = verified(backup)?;
    if let Some(directory) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(directory).map_err(|source| BackupError::Io {
            what: "cannot create the data directory",
            path: directory.to_owned(),
            source,
        })?;
    }
    let partial = partial_path(&target);
    remove_if_present(&partial)?;
    std::fs::copy(backup, &partial).map_err(|source| BackupError::Io {
        what: "cannot copy the backup to",
        path: partial.clone(),
        source,
    })?;
    publish(&partial, &target)?;
    Ok(Copied {
        bytes: size(&target)?,
        path: target,
        schema_version,
        took: started.elapsed(),
    })
}

/// Checks that `file` is a whole SQLite database with Sightline's schema
/// this binary can run, and returns its latest migration.
fn verified(file: &Path) -> Result<i64, BackupError> {
    let not_a_backup = |reason: String| BackupError::NotABackup {
        path: file.to_owned(),
        reason,
    };
    let connection = crate::sqlite_scans::open_read_only(file)?;
    let integrity: String = connection
        .query_row("PRAGMA integrity_check(1)", [], |row| row.get(0))
        .map_err(|error| not_a_backup(error.to_string()))?;
    if integrity != "ok" {
        return Err(not_a_backup(format!("integrity check: {integrity}")));
    }
    let found: i64 = connection
        .query_row(
            "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
            [],
            |row| row.get::<_, Option<i64>>(0),
        )
        .map_err(|_| not_a_backup("it has no Sightline schema".into()))?
        .ok_or_else(|| not_a_backup("no migration was applied to it".into()))?;
    let known = crate::backend::latest_sqlite_migration();
    if found > known {
        return Err(BackupError::Newer {
            path: file.to_owned(),
            found,
            known,
        });
    }
    Ok(found)
}

/// Syncs `partial` and renames it to `target`, then syncs the directory so
/// that the rename survives a power loss too.
fn publish(partial: &Path, target: &Path) -> Result<(), BackupError> {
    let io = |what: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Io { what, path, source }
    };
    std::fs::File::open(partial)
        .and_then(|file| file.sync_all())
        .map_err(io("cannot sync", partial))?;
    if target.exists() {
        let _ = std::fs::remove_file(partial);
        return Err(BackupError::TargetExists(target.to_owned()));
    }
    std::fs::rename(partial, target).map_err(io("cannot rename to", target))?;
    if let Some(directory) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Directories can be opened and synced on Unix; elsewhere the
        // rename is as durable as the platform makes it.
        if let Ok(directory) = std::fs::File::open(directory) {
            let _ = directory.sync_all();
        }
    }
    Ok(())
}

fn partial_path(target: &Path) -> PathBuf {
    with_suffix(target, ".partial")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_if_present(path: &Path) -> Result<(), BackupError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BackupError::Io {
            what: "cannot remove the unfinished",
            path: path.to_owned(),
            source,
        }),
    }
}

fn size(path: &Path) -> Result<u64, BackupError> {
    std::fs::metadata(path)
        .map(|metadata| metadata.len())
        .map_err(|source| BackupError::Io {
            what: "cannot read",
            path: path.to_owned(),
            source,
        })
}
