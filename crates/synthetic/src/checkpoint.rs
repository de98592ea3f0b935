//! The local checkpoint: leases this process's share of due checks through
//! the same protocol remote agents use (lease, run, report), runs them with
//! bounded concurrency, starting each at its due time, and reports results
//! in batches.

use crate::coordinator::{Coordinator, JobReport};
use crate::probe::Prober;
use crate::scheduler::{LOOKAHEAD, TICK};
use crate::secrets::Secrets;
use crate::vault::Vault;
use sightline_core::{Clock, MonitorSpec};
use sightline_store::{LeasedJob, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinSet;

/// Results stored per transaction at most.
const REPORT_BATCH: usize = 512;
/// How long a batch of results gathers before it is stored.
const REPORT_LINGER: Duration = Duration::from_millis(200);

/// A checkpoint running in this process.
#[derive(Debug)]
pub struct LocalCheckpoint {
    /// Where results are stored.
    pub store: Store,
    /// Runs the checks.
    pub prober: Prober,
    /// Stores results with their consequences.
    pub coordinator: Arc<Coordinator>,
    /// Time, for due times and start times.
    pub clock: Arc<dyn Clock>,
    /// This checkpoint's id.
    pub checkpoint_id: i64,
    /// This checkpoint's name.
    pub name: String,
    /// Checks run at once at most.
    pub concurrency: usize,
    /// Told when jobs are queued.
    pub wake: Arc<Notify>,
    /// Opens secrets for checks that use them.
    pub vault: Option<Vault>,
    /// How often it records that it is alive (remote agents are recorded
    /// by their every lease): well within the offline threshold.
    pub contact_every: Duration,
    /// Turns true when the process stops: leasing ends, checks not started
    /// yet are left to their leases, running ones finish and are stored.
    pub stopping: watch::Receiver<bool>,
    /// How long running checks may take to finish once stopping.
    pub grace: Duration,
}

impl LocalCheckpoint {
    /// Leases, runs and reports until stopping; then lets the running
    /// checks finish (within the grace) and stores their results before it
    /// returns.
    pub async fn run(mut self) {
        let (results, received) = mpsc::unbounded_channel();
        let reporter = tokio::spawn(report(
            received,
            self.coordinator.clone(),
            self.checkpoint_id,
            self.name.clone(),
        ));
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let mut last_contact: Option<std::time::Instant> = None;
        let mut checks = JoinSet::new();
        loop {
            if *self.stopping.borrow() {
                break;
            }
            // Finished checks leave the set as they go.
            while checks.try_join_next().is_some() {}
            if last_contact.is_none_or(|at| at.elapsed() >= self.contact_every) {
                match self.store.touch_checkpoint(self.checkpoint_id, None).await {
                    Ok(()) => last_contact = Some(std::time::Instant::now()),
                    Err(error) => {
                        tracing::warn!(%error, "recording the local checkpoint's contact")
                    }
                }
            }
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let free = permits.available_permits();
            if free == 0 {
                // Wait for a running check to finish, still recording
                // contact meanwhile.
                tokio::select! {
                    _ = tokio::time::timeout(self.contact_every, permits.acquire()) => {}
                    changed = self.stopping.changed() => if changed.is_err() { break; },
                }
                continue;
            }
            let due_by = self.clock.now().plus(LOOKAHEAD);
            let jobs = match self
                .store
                .lease_jobs(self.checkpoint_id, due_by, free as i64)
                .await
            {
                Ok(jobs) => jobs,
                Err(error) => {
                    tracing::warn!(%error, "leasing checks");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if jobs.is_empty() {
                tokio::select! {
                    () = &mut woken => {}
                    () = tokio::time::sleep(TICK) => {}
                    changed = self.stopping.changed() => if changed.is_err() { break; },
                }
                continue;
            }
            let secrets = Arc::new(self.secrets_for(&jobs).await);
            for job in jobs {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let prober = self.prober.clone();
                let clock = self.clock.clone();
                let results = results.clone();
                let secrets = secrets.clone();
                let mut stopping = self.stopping.clone();
                checks.spawn(async move {
                    let wait = job.due_at.as_millis() - clock.now().as_millis();
                    if wait > 0 {
                        // Not started when the process stops: its lease
                        // runs out and it runs then, here or elsewhere.
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                            _ = stopping.wait_for(|stopping| *stopping) => return,
                        }
                    }
                    let started_at = clock.now();
                    let report = prober.run(&job.spec, &secrets).await;
                    let _ = results.send((
                        JobReport {
                            job_id: job.id,
                            monitor_id: job.monitor_id,
                            due_at: job.due_at,
                            attempt: job.attempt,
                            started_at,
                            report,
                            lease: String::new(),
                        },
                        job.spec,
                    ));
                    drop(permit);
                });
            }
            if reporter.is_finished() {
                return;
            }
        }
        // Stopping: the checks under way finish within the grace; those
        // still running then are cut off and run again when their leases
        // run out.
        let finished = tokio::time::timeout(self.grace, async {
            while checks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                cut_off = checks.len(),
                grace = ?self.grace,
                "checks still running when stopping; they run again once their leases run out"
            );
            checks.shutdown().await;
        }
        // The last results go in before the reporter ends.
        drop(results);
        if let Err(error) = reporter.await {
            tracing::error!(%error, "the checkpoint's reporter failed");
        }
    }

    /// The vault's secrets, when a leased check refers to any.
    async fn secrets_for(&self, jobs: &[LeasedJob]) -> Secrets {
        // Without a vault there is nothing to look for in the specs.
        let Some(vault) = &self.vault else {
            return Secrets::default();
        };
        if crate::secrets::secret_names(jobs.iter().map(|job| &job.spec)).is_empty() {
            return Secrets::default();
        }
        vault.secrets(&self.store).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "opening the vault");
            Secrets::default()
        })
    }
}

/// Stores finished checks in batches: a batch gathers for [`REPORT_LINGER`]
/// after its first result (or until it is full), so that checks spread
/// evenly over the minute cost a few transactions a second, not one each.
/// Nobody waits for these writes; a result still gathering when the process
/// dies is lost with its job's lease, and the job runs again when the lease
/// runs out.
async fn report(
    mut received: mpsc::UnboundedReceiver<(JobReport, MonitorSpec)>,
    coordinator: Arc<Coordinator>,
    checkpoint_id: i64,
    name: String,
) {
    let mut batch = Vec::with_capacity(REPORT_BATCH);
    loop {
        if received.recv_many(&mut batch, REPORT_BATCH).await == 0 {
            return;
        }
        let gathering = tokio::time::sleep(REPORT_LINGER);
        tokio::pin!(gathering);
        while batch.len() < REPORT_BATCH {
            let room = REPORT_BATCH - batch.len();
            tokio::select! {
                () = &mut gathering => break,
                more = received.recv_many(&mut batch, room) => {
                    if more == 0 {
                        break;
                    }
                }
            }
        }
        let mut attempts = 0;
        while let Err(error) = coordinator.record(checkpoint_id, &name, &batch).await {
            attempts += 1;
            tracing::warn!(%error, attempts, "storing check results");
            if attempts >= 5 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200 * attempts)).await;
        }
        batch.clear();
    }
}
