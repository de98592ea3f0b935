//! The server's side of reporting: a checkpoint's finished checks become
//! stored results with their consequences (confirmation re-runs, confirmed
//! errors, status), whichever checkpoint ran them.

use crate::confirmation::{Ran, agreement, consequence};
use crate::directory::CheckpointDirectory;
use crate::related::RelatedChecks;
use serde::{Deserialize, Serialize};
use sightline_core::checkpoint;
use sightline_core::monitor::CheckReport;
use sightline_core::{MaintenanceWindowSpec, MonitorSpec, Timestamp};
use sightline_store::{Completion, NewCheckResult, NewJob, Store, StoreError};
use std::sync::Arc;
use tokio::sync::Notify;

/// A finished check, as a checkpoint reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobReport {
    /// The leased job it completes.
    pub job_id: i64,
    /// The monitor checked.
    pub monitor_id: i64,
    /// The due time it answers (Unix milliseconds).
    #[schema(value_type = i64)]
    pub due_at: Timestamp,
    /// 0 for the scheduled run, 1 and up for confirmations.
    pub attempt: i64,
    /// When the check started (Unix milliseconds).
    #[schema(value_type = i64)]
    pub started_at: Timestamp,
    /// What it found.
    pub report: CheckReport,
    /// The proof of the lease, as the lease handed it out with the job: a
    /// report without the proof of a lease of this checkpoint is refused.
    /// Empty for the local checkpoint, which reports in-process.
    #[serde(default)]
    pub lease: String,
}

impl JobReport {
    /// The job as the report names it: what its lease proof must cover.
    pub fn job(&self) -> sightline_store::ReportedJob {
        sightline_store::ReportedJob {
            job_id: self.job_id,
            monitor_id: self.monitor_id,
            due_at: self.due_at,
            attempt: self.attempt,
        }
    }
}

/// Told of every result once it is stored, whichever checkpoint ran it:
/// what the server's metrics count check durations with.
pub trait ResultTally: Send + Sync + std::fmt::Debug {
    /// Monitor `monitor_id`'s check found `report`.
    fn stored(&self, monitor_id: i64, report: &CheckReport);
}

/// Turns reports into stored results.
#[derive(Debug)]
pub struct Coordinator {
    store: Store,
    checkpoints: Arc<CheckpointDirectory>,
    wake: Arc<Notify>,
    stored: Arc<Notify>,
    related: RelatedChecks,
    tally: Option<Arc<dyn ResultTally>>,
}

impl Coordinator {
    /// A coordinator storing into `store`; `wake` is told when confirmation
    /// jobs are queued, so a local checkpoint takes them at once.
    pub fn new(store: Store, checkpoints: Arc<CheckpointDirectory>, wake: Arc<Notify>) -> Self {
        Coordinator {
            store,
            checkpoints,
            wake,
            stored: Arc::new(Notify::new()),
            related: RelatedChecks::default(),
            tally: None,
        }
    }

    /// Tells `tally` of every result stored from now on.
    pub fn with_tally(mut self, tally: Option<Arc<dyn ResultTally>>) -> Self {
        self.tally = tally;
        self
    }

    /// Told after every batch of results is stored, so that alerting looks
    /// at the statuses they changed at once.
    pub fn stored(&self) -> Arc<Notify> {
        self.stored.clone()
    }

    /// Stores the reports of checkpoint `checkpoint_id` (named `checkpoint`),
    /// each with the spec of its monitor. A report for a monitor deleted
    /// meanwhile is dropped; the others are stored.
    pub async fn record(
        &self,
        checkpoint_id: i64,
        checkpoint: &str,
        reports: &[(JobReport, MonitorSpec)],
    ) -> Result<(), StoreError> {
        if reports.is_empty() {
            return Ok(());
        }
        let windows: Vec<MaintenanceWindowSpec> = self
            .store
            .list_maintenance_windows()
            .await?
            .into_iter()
            .map(|window| window.spec)
            .collect();
        let presence = self.checkpoints.presence(&self.store).await?;
        let offline = |name: &str| presence.is_offline(name);
        let mut completions = Vec::with_capacity(reports.len());
        let mut confirmations = false;
        let mut first_failures = Vec::new();
        let mut judge_together: Vec<(i64, Timestamp, &MonitorSpec)> = Vec::new();
        for (job, spec) in reports {
            let settings = &spec.settings;
            let in_maintenance = windows.iter().any(|window| {
                window.applies_to(&settings.name, &settings.tags) && window.covers(job.started_at)
            });
            let ran = Ran {
                monitor_id: job.monitor_id,
                spec,
                checkpoint,
                due_at: job.due_at,
                attempt: job.attempt,
                outcome: job.report.outcome,
            };
            let effect = consequence(&ran, in_maintenance, offline);
            if effect.judged_together
                && !judge_together
                    .iter()
                    .any(|(id, due, _)| (*id, *due) == (job.monitor_id, job.due_at))
            {
                judge_together.push((job.monitor_id, job.due_at, spec));
            }
            let mut follow_up = Vec::new();
            if let Some(name) = &effect.confirm_from {
                follow_up.push(NewJob {
                    monitor_id: job.monitor_id,
                    checkpoint_id: self.checkpoints.id(&self.store, name).await?,
                    due_at: job.due_at,
                    attempt: job.attempt + 1,
                });
                confirmations = true;
                if job.attempt == 0 {
                    first_failures.push(job.monitor_id);
                }
            }
            completions.push(Completion {
                job_id: Some(job.job_id),
                result: NewCheckResult {
                    monitor_id: job.monitor_id,
                    checkpoint_id,
                    due_at: job.due_at,
                    attempt: job.attempt,
                    started_at: job.started_at,
                    report: job.report.clone(),
                    in_maintenance,
                    confirmed_error: effect.confirmed_error,
                    downtime_ms: effect.downtime.as_millis() as i64,
                },
                follow_up,
                status: effect.status.map(str::to_owned),
            });
        }
        match self.store.complete_jobs(&completions).await {
            Err(StoreError::UnknownReference { .. }) => {
                // One monitor was deleted while its check ran: store the
                // rest one by one.
                for completion in completions {
                    match self.store.complete_jobs(&[completion]).await {
                        Ok(()) | Err(StoreError::UnknownReference { .. }) => {}
                        Err(error) => return Err(error),
                    }
                }
            }
            other => other?,
        }
        if let Some(tally) = &self.tally {
            for (job, _) in reports {
                tally.stored(job.monitor_id, &job.report);
            }
        }
        // Judged after the results are stored: whichever process stores the
        // last result of a due time sees all of them.
        for (monitor_id, due_at, spec) in judge_together {
            let results = self.store.due_time_results(monitor_id, due_at).await?;
            let running = checkpoint::running(&spec.settings.checkpoints, offline).len();
            let verdict = agreement(monitor_id, spec, due_at, &results, running);
            self.store.settle_due_time(&verdict).await?;
        }
        if !first_failures.is_empty() {
            let now = self.store.now();
            match (self.related)
                .queue(&self.store, &self.checkpoints, &first_failures, now)
                .await
            {
                Ok(0) => {}
                Ok(count) => {
                    tracing::info!(count, "checking the relatives of failing monitors now")
                }
                Err(error) => tracing::warn!(%error, "could not queue checks of related monitors"),
            }
        }
        if confirmations {
            self.wake.notify_waiters();
        }
        self.stored.notify_waiters();
        Ok(())
    }
}
