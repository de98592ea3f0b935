//! What can go wrong in the store, in words the callers can act on.

/// A store operation that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The write would break a uniqueness rule (a second user with one e-mail).
    #[error("{message}")]
    Conflict {
        /// The field whose value is taken.
        field: &'static str,
        /// What is taken, in words.
        message: String,
    },
    /// A reference names something that does not exist (a monitor's site).
    #[error("{message}")]
    UnknownReference {
        /// The field holding the reference.
        field: &'static str,
        /// What was not found, in words.
        message: String,
    },
    /// The write would break a rule of the data (removing the last admin).
    #[error("{0}")]
    Refused(String),
    /// The database URL is not one the store can use.
    #[error("unsupported database URL `{0}`: expected sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// A stored document no longer parses (written by a newer version?).
    #[error("stored {what} {id} is unreadable: {reason}")]
    Corrupt {
        /// The kind of record.
        what: &'static str,
        /// Its id.
        id: i64,
        /// Why it does not parse.
        reason: String,
    },
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A scan of the SQLite file outside the pools failed.
    #[error("database error: {0}")]
    SqliteScan(#[from] rusqlite::Error),
}

impl StoreError {
    /// Whether the database could not be reached (as opposed to refusing
    /// the operation): worth a 503 and a retry, not a bug report.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
            )
        )
    }

    /// Maps a unique-constraint violation to [`StoreError::Conflict`]; passes
    /// other errors through.
    pub(crate) fn conflict_on(
        field: &'static str,
        message: impl FnOnce() -> String,
    ) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |error| match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
                field,
                message: message(),
            },
            _ => StoreError::Database(error),
        }
    }
}
