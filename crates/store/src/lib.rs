//! Sightline's persistence: one [`Store`] whose methods speak the domain
//! (create a user, record a check result, lease due notifications) over
//! SQLite (the embedded default) or PostgreSQL, picked from the URL scheme.
//!
//! Both backends run the same SQL text: queries use `$1`-style placeholders,
//! which both understand, times are Unix milliseconds in 64-bit integers, and
//! JSON documents are text. The differences are isolated: connection setup,
//! pool shape and every SQL text that differs by dialect in `backend.rs`;
//! PostgreSQL's partitions by day of raw page views and check results in
//! `day_partitions.rs`; SQLite files read and written outside sqlx, where
//! its per-row cost dominates, in `sqlite_scans.rs` (used by `page_views.rs`,
//! `page_view_batches.rs` and `monitor_digests.rs`); and the two migration
//! folders, which a test holds to the same schema.
//!
//! SQLite runs in WAL mode with one writer connection (so writers never fight
//! over the lock) and a pool of readers. Every write is a transaction that is
//! committed before the method returns: a caller that got `Ok` may tell its
//! client the data is stored.
//!
//! This crate must never know about HTTP, JSON request shapes or the
//! scheduler's policy; SQL lives here and nowhere else.

mod audit_log;
mod backend;
mod backups;
mod check_jobs;
mod check_results;
mod check_series;
mod check_summaries;
mod checkpoints;
mod day_partitions;
mod error;
mod ignored_beacons;
mod incidents;
mod job_standings;
mod maintenance_windows;
mod monitor_digests;
mod monitors;
mod named_documents;
mod notifications;
mod oidc_logins;
mod outages;
mod page_view_batches;
mod page_views;
mod progress;
mod rollups;
mod screenshots;
mod server_keys;
mod sessions;
mod sites;
mod sqlite_scans;
mod status_pages;
mod stored_names;
mod table_sizes;
mod tokens;
mod users;
mod vault_secrets;
mod view_columns;

#[cfg(feature = "testing")]
pub mod testing;

pub use audit_log::{AuditEntry, AuditQuery, NewAuditEntry};
pub use backend::{BackendKind, Readiness};
pub use backups::{BackupError, Copied, back_up, restore};
pub use check_jobs::{
    Completion, DueMonitor, LEASE_SLACK, LeasedJob, NewJob, SchedulePlan, WaitingJob,
};
pub use check_results::{CheckResult, DueTimeResult, DueTimeVerdict, NewCheckResult};
pub use check_series::{MAX_BUCKETS, SeriesBucket};
pub use check_summaries::{CheckTotals, UptimeCounts};
pub use checkpoints::Checkpoint;
pub use day_partitions::Expired;
pub use error::StoreError;
pub use incidents::{Incident, IncidentEvent, IncidentKind, Severity};
pub use job_standings::{JobStanding, ReportedJob};
pub use maintenance_windows::MaintenanceWindow;
pub use named_documents::{NamedDocument, Stored};
pub use page_view_batches::PageViewBatches;
/// A stored alert policy.
pub type AlertPolicy = Stored<sightline_core::AlertPolicySpec>;
pub use monitor_digests::{MonitorDigest, RECENT_RESULTS, RecentResult};
pub use monitors::Monitor;
pub use notifications::{Claim, Enqueued, NewNotification, Notification, NotificationStatus};
pub use oidc_logins::PendingLogin;
pub use page_views::{Measured, MeasurementScan};
pub use rollups::{RollupCell, RollupQuery, RollupRow, RollupSelection, RollupSide};
pub use screenshots::StoredScreenshot;
pub use sessions::Session;
pub use sites::Site;
pub use status_pages::{
    MonitorDay, NewStatusIncident, OutageSpan, StatusIncident, StatusPage, StatusSubscriber,
    StatusUpdate,
};
pub use table_sizes::GrowingTable;
pub use tokens::{ApiToken, NewApiToken};
pub use users::{NewUser, PasswordChange, User};
pub use vault_secrets::SealedSecret;
pub use view_columns::{ColumnGrain, VIEW_SEGMENT_MS};

use sightline_core::{Clock, Timestamp};
use std::sync::Arc;

/// The wall clock, for production. Tests use [`sightline_core::ManualClock`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp::from_millis(millis)
    }
}

/// The handle every component uses to read and write Sightline's data.
/// Cheap to clone; all clones share the connection pools.
#[derive(Clone, Debug)]
pub struct Store {
    backend: backend::Backend,
    clock: Arc<dyn Clock>,
    /// The day partitions known to exist (PostgreSQL).
    partitions: Arc<day_partitions::KnownDays>,
}

/// Shorthand for results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl Store {
    /// Connects to `database_url` (`sqlite://PATH` or `postgres://…`), creating
    /// the SQLite file if it is missing. Does not run migrations: call
    /// [`Store::migrate`].
    pub async fn connect(database_url: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        let backend = backend::Backend::connect(database_url).await?;
        Ok(Self {
            backend,
            clock,
            partitions: Arc::default(),
        })
    }

    /// Which database this store runs on.
    pub fn kind(&self) -> BackendKind {
        self.backend.kind()
    }

    /// Applies every migration not yet applied.
    pub async fn migrate(&self) -> Result<()> {
        self.backend.migrate().await
    }

    /// Refreshes the statistics the query planner chooses indexes by. Without
    /// them SQLite reads a rollup value through the wrong index, scanning
    /// every value of the dimension. Cheap when nothing changed much; run at
    /// start and now and then.
    pub async fn optimize(&self) -> Result<()> {
        self.backend.optimize(self.now().as_millis()).await
    }

    /// Whether the database answers and its schema is current.
    pub async fn readiness(&self) -> Readiness {
        self.backend.readiness().await
    }

    /// Waits for in-flight work and closes every connection cleanly (SQLite
    /// checkpoints its write-ahead log).
    pub async fn close(&self) {
        self.backend.close().await;
    }

    /// The clock the store reads, for components that must agree with it.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The store's notion of now.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
