//! Synthetic monitoring as it runs inside `sightline serve`: the scheduler,
//! the local checkpoint and the coordinator, started together and stopped
//! together.

use crate::checkpoint::LocalCheckpoint;
use crate::coordinator::Coordinator;
use crate::directory::CheckpointDirectory;
use crate::lease_proof::LeaseProofs;
use crate::probe::Prober;
use crate::scheduler::Scheduler;
use crate::vault::Vault;
use sightline_core::{Clock, Timestamp};
use sightline_store::{NewJob, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The name of the checkpoint every server process runs.
pub const LOCAL_CHECKPOINT: &str = "local";

/// How synthetic monitoring runs in this process.
#[derive(Debug, Clone)]
pub struct SyntheticConfig {
    /// Run the scheduler and the local checkpoint (off for processes that
    /// only serve the API).
    pub enabled: bool,
    /// Checks the local checkpoint runs at once at most.
    pub concurrency: usize,
    /// How long raw results are kept; summaries are kept for good.
    pub result_retention: Duration,
    /// How long screenshots of browser checks are kept (they are large);
    /// never longer than their results.
    pub screenshot_retention: Duration,
    /// A checkpoint silent this long is offline: its checks move to the
    /// other checkpoints of their monitors.
    pub offline_after: Duration,
    /// How long checks running when the process stops may take to finish
    /// (their results are stored); past it they are cut off.
    pub stop_grace: Duration,
    /// Told of every stored result (the server's metrics), if anything.
    pub tally: Option<Arc<dyn crate::coordinator::ResultTally>>,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            enabled: true,
            concurrency: 256,
            result_retention: Duration::from_secs(90 * 86_400),
            screenshot_retention: Duration::from_secs(30 * 86_400),
            offline_after: sightline_core::checkpoint::DEFAULT_OFFLINE_AFTER,
            stop_grace: Duration::from_secs(20),
            tally: None,
        }
    }
}

/// The running synthetic side of a server.
#[derive(Debug)]
pub struct Synthetic {
    store: Store,
    clock: Arc<dyn Clock>,
    checkpoints: Arc<CheckpointDirectory>,
    coordinator: Arc<Coordinator>,
    prober: Prober,
    vault: Option<Vault>,
    lease_proofs: LeaseProofs,
    wake: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
    /// Tells the local checkpoint the process is stopping.
    stopping: tokio::sync::watch::Sender<bool>,
    /// The local checkpoint, awaited when stopping so that the checks it
    /// runs are stored.
    checkpoint: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Synthetic {
    /// Starts the scheduler and the local checkpoint (when enabled).
    pub async fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        prober: Prober,
        vault: Option<Vault>,
        config: &SyntheticConfig,
    ) -> Result<Self, StoreError> {
        let checkpoints = Arc::new(CheckpointDirectory::new(config.offline_after));
        let wake = Arc::new(Notify::new());
        let coordinator = Arc::new(
            Coordinator::new(store.clone(), checkpoints.clone(), wake.clone())
                .with_tally(config.tally.clone()),
        );
        let local_id = checkpoints.id(&store, LOCAL_CHECKPOINT).await?;
        let lease_proofs = LeaseProofs::load(&store).await?;
        let mut tasks = Vec::new();
        let (stopping, stopping_seen) = tokio::sync::watch::channel(false);
        let mut checkpoint_task = None;
        if config.enabled {
            // Alive from the start: the scheduler's first look must not take
            // a checkpoint this process runs for one that went away (after
            // a long stop its last contact is old).
            store.touch_checkpoint(local_id, None).await?;
            let scheduler = Scheduler::new(
                store.clone(),
                clock.clone(),
                checkpoints.clone(),
                wake.clone(),
            );
            tasks.push(tokio::spawn(scheduler.run()));
            let checkpoint = LocalCheckpoint {
                store: store.clone(),
                prober: prober.clone(),
                coordinator: coordinator.clone(),
                clock: clock.clone(),
                checkpoint_id: local_id,
                name: LOCAL_CHECKPOINT.to_owned(),
                concurrency: config.concurrency,
                wake: wake.clone(),
                vault: vault.clone(),
                contact_every: (config.offline_after / 4)
                    .clamp(Duration::from_millis(250), Duration::from_secs(15)),
                stopping: stopping_seen,
                grace: config.stop_grace,
            };
            checkpoint_task = Some(tokio::spawn(checkpoint.run()));
        }
        tasks.push(tokio::spawn(keep_history(
            store.clone(),
            clock.clone(),
            Retention {
                results: config.result_retention,
                screenshots: config.screenshot_retention.min(config.result_retention),
            },
        )));
        Ok(Synthetic {
            store,
            clock,
            checkpoints,
            coordinator,
            prober,
            vault,
            lease_proofs,
            wake,
            tasks,
            stopping,
            checkpoint: std::sync::Mutex::new(checkpoint_task),
        })
    }

    /// Queues a run of a monitor from each of its checkpoints now; returns
    /// the due time the results will carry. Refused
    /// ([`StoreError::Refused`]) while a run asked for before is queued or
    /// running still.
    pub async fn run_now(&self, monitor_id: i64) -> Result<Timestamp, StoreError> {
        let monitor = self.store.monitor(monitor_id).await?;
        let due_at = self.clock.now();
        let presence = self.checkpoints.presence(&self.store).await?;
        let mut jobs = Vec::new();
        let running =
            sightline_core::checkpoint::running(&monitor.spec.settings.checkpoints, |name| {
                presence.is_offline(name)
            });
        for name in running {
            jobs.push(NewJob {
                monitor_id,
                checkpoint_id: self.checkpoints.id(&self.store, name).await?,
                due_at,
                attempt: 0,
            });
        }
        self.store.enqueue_run(monitor_id, &jobs).await?;
        self.wake.notify_waiters();
        Ok(due_at)
    }

    /// Runs unsaved settings once from this process, with the vault
    /// secrets they use, so that a form can be tried before it is saved.
    /// Nothing is stored.
    pub async fn try_once(
        &self,
        spec: &sightline_core::MonitorSpec,
    ) -> Result<sightline_core::monitor::CheckReport, crate::VaultError> {
        let secrets = match &self.vault {
            Some(vault) if !crate::secret_names([spec]).is_empty() => {
                vault.secrets(&self.store).await?
            }
            _ => crate::Secrets::default(),
        };
        Ok(self.prober.run(spec, &secrets).await)
    }

    /// Told when checks are queued outside the schedule, so that the local
    /// checkpoint takes them at once (the alerting engine re-checks the rest
    /// of an outage when part of it recovers).
    pub fn queued_checks(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Stores results reported by a checkpoint.
    pub fn coordinator(&self) -> &Arc<Coordinator> {
        &self.coordinator
    }

    /// Runs checks for `sightline check` and the ping permission probe.
    pub fn prober(&self) -> &Prober {
        &self.prober
    }

    /// The vault, when a key is configured.
    pub fn vault(&self) -> Option<&Vault> {
        self.vault.as_ref()
    }

    /// The proofs handed out with leased jobs and checked in reports.
    pub fn lease_proofs(&self) -> &LeaseProofs {
        &self.lease_proofs
    }

    /// Checkpoint ids by name.
    pub fn checkpoints(&self) -> &Arc<CheckpointDirectory> {
        &self.checkpoints
    }

    /// Stops in order: the scheduler queues nothing more, the local
    /// checkpoint leases nothing more, its running checks finish (within
    /// [`SyntheticConfig::stop_grace`]) and their results are stored; then
    /// the rest stops. Checks not started, or cut off, keep their leases
    /// until they run out; then another process (or the next start) runs
    /// them.
    pub async fn shutdown(&self) {
        for task in &self.tasks {
            task.abort();
        }
        let _ = self.stopping.send(true);
        let checkpoint = self.checkpoint.lock().ok().and_then(|mut task| task.take());
        if let Some(task) = checkpoint
            && let Err(error) = task.await
            && !error.is_cancelled()
        {
            tracing::error!(%error, "the local checkpoint failed");
        }
    }

    /// Stops everything at once: checks cut short keep their leases until
    /// they run out. [`Synthetic::shutdown`] stops in order instead.
    pub fn stop(&self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Ok(mut checkpoint) = self.checkpoint.lock()
            && let Some(task) = checkpoint.take()
        {
            task.abort();
        }
    }
}

impl Drop for Synthetic {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How often results are summarized and expired.
const HISTORY_TICK: Duration = Duration::from_secs(60);
/// Results stored this recently are not rolled yet (a transaction that
/// took an id may not have committed).
const SETTLE: Duration = Duration::from_secs(60);
/// Checks no checkpoint has taken this long after their due time are dropped.
const STALE_JOB: Duration = Duration::from_secs(3600);
/// Results rolled per transaction.
const ROLL_BATCH: i64 = 20_000;

/// How long raw results and their screenshots are kept.
#[derive(Debug, Clone, Copy)]
struct Retention {
    results: Duration,
    screenshots: Duration,
}

/// Rolls results into summaries and removes raw results and screenshots
/// past retention.
async fn keep_history(store: Store, clock: Arc<dyn Clock>, retention: Retention) {
    let mut tick = tokio::time::interval(HISTORY_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            let settled = clock.now().minus(SETTLE);
            match store.roll_check_summaries(settled, ROLL_BATCH).await {
                Ok(rolled) if rolled as i64 == ROLL_BATCH => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "summarizing check results");
                    break;
                }
            }
        }
        match store.delete_stale_jobs(clock.now().minus(STALE_JOB)).await {
            Ok(0) => {}
            Ok(deleted) => tracing::warn!(
                deleted,
                "dropped checks no checkpoint took within an hour (is every checkpoint's agent running?)"
            ),
            Err(error) => tracing::warn!(%error, "dropping stale checks"),
        }
        match store
            .delete_check_results_before(clock.now().minus(retention.results))
            .await
        {
            Ok(expired) if expired.is_empty() => {}
            Ok(expired) => tracing::info!(
                rows = expired.rows,
                days = ?expired.days,
                "removed check results past retention"
            ),
            Err(error) => tracing::warn!(%error, "removing check results past retention"),
        }
        match store
            .delete_screenshots_before(clock.now().minus(retention.screenshots))
            .await
        {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "removed screenshots past retention"),
            Err(error) => tracing::warn!(%error, "removing screenshots past retention"),
        }
    }
}
