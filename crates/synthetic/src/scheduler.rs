//! The scheduler: turns due monitors into jobs for their checkpoints, a
//! little ahead of time so that checkpoints can start each check on the
//! dot. Every process may run one; the store's compare-and-set lets only
//! one of them queue each due time.

use crate::directory::{CheckpointDirectory, Presence};
use sightline_core::checkpoint;
use sightline_core::{Clock, Timestamp};
use sightline_store::{DueMonitor, NewJob, SchedulePlan, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How far ahead due times are queued.
pub const LOOKAHEAD: Duration = Duration::from_secs(1);
/// How often the scheduler looks for due monitors.
pub const TICK: Duration = Duration::from_millis(250);
/// Monitors planned per transaction.
const BATCH: i64 = 2000;

/// Plans due monitors into jobs, and moves checks away from checkpoints
/// that went offline.
#[derive(Debug)]
pub struct Scheduler {
    store: Store,
    clock: Arc<dyn Clock>,
    checkpoints: Arc<CheckpointDirectory>,
    wake: Arc<Notify>,
    /// When checks were last moved away from offline checkpoints.
    moved_at: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How often checks waiting for offline checkpoints are looked for.
const MOVE_EVERY: Duration = Duration::from_secs(1);

impl Scheduler {
    /// A scheduler over `store`; `wake` is told when jobs are queued.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        checkpoints: Arc<CheckpointDirectory>,
        wake: Arc<Notify>,
    ) -> Self {
        Scheduler {
            store,
            clock,
            checkpoints,
            wake,
            moved_at: std::sync::Mutex::new(None),
        }
    }

    /// Plans every monitor due within [`LOOKAHEAD`]; returns how many jobs
    /// it queued.
    pub async fn tick(&self) -> Result<usize, StoreError> {
        let presence = self.checkpoints.presence(&self.store).await?;
        let mut queued = self.move_from_offline(&presence).await?;
        loop {
            let now = self.clock.now();
            let due = self.store.due_monitors(now.plus(LOOKAHEAD), BATCH).await?;
            let found = due.len() as i64;
            let mut plans = Vec::with_capacity(due.len());
            for monitor in due {
                if let Some(plan) = self.plan(monitor, now, &presence).await? {
                    plans.push(plan);
                }
            }
            let jobs: usize = plans.iter().map(|plan| plan.jobs.len()).sum();
            self.store.schedule(&plans).await?;
            queued += jobs;
            if jobs > 0 {
                self.wake.notify_waiters();
            }
            if found < BATCH {
                return Ok(queued);
            }
        }
    }

    /// Moves the checks waiting for offline checkpoints to the next online
    /// checkpoint of their monitor (dropped when that one has the same check
    /// queued already); returns how many moved.
    async fn move_from_offline(&self, presence: &Presence) -> Result<usize, StoreError> {
        let offline = presence.offline_ids();
        if offline.is_empty() {
            return Ok(0);
        }
        if let Ok(mut moved_at) = self.moved_at.lock() {
            if moved_at.is_some_and(|at| at.elapsed() < MOVE_EVERY) {
                return Ok(0);
            }
            *moved_at = Some(std::time::Instant::now());
        }
        let mut moved = 0;
        for job in self.store.waiting_jobs(&offline, BATCH).await? {
            let Some(from) = presence.name_of(job.checkpoint_id) else {
                continue;
            };
            let Some(to) =
                checkpoint::next_online(&job.checkpoints, from, |name| presence.is_offline(name))
            else {
                continue;
            };
            let to_id = self.checkpoints.id(&self.store, to).await?;
            if self.store.move_job(job.id, to_id).await? {
                tracing::info!(
                    monitor = job.monitor_id,
                    from,
                    to,
                    "checkpoint offline: its check moved"
                );
                moved += 1;
            }
        }
        if moved > 0 {
            self.wake.notify_waiters();
        }
        Ok(moved)
    }

    async fn plan(
        &self,
        due: DueMonitor,
        now: Timestamp,
        presence: &Presence,
    ) -> Result<Option<SchedulePlan>, StoreError> {
        let monitor = &due.monitor;
        let Ok(schedule) = monitor.spec.schedule() else {
            // Validated when saved; a schedule that no longer parses stays
            // off the plan rather than stopping every other monitor.
            tracing::warn!(monitor = monitor.id, "monitor has an invalid schedule");
            return Ok(None);
        };
        let (run, next, due_at) = match due.due_at {
            // New, changed or resumed: the first run comes at its next slot,
            // or within the catch-up window when that slot is far off.
            None => (false, schedule.first_due(monitor.id, now), now),
            Some(due_at) => {
                let decision = schedule.on_due(monitor.id, due_at, now);
                (decision.run, decision.next, due_at)
            }
        };
        let mut jobs = Vec::new();
        if run {
            // Offline checkpoints are left out: their share moves to the
            // others, and a monitor whose checkpoints are all offline is not
            // checked until one is back.
            let running = checkpoint::running(&monitor.spec.settings.checkpoints, |name| {
                presence.is_offline(name)
            });
            for name in running {
                jobs.push(NewJob {
                    monitor_id: monitor.id,
                    checkpoint_id: self.checkpoints.id(&self.store, name).await?,
                    due_at,
                    attempt: 0,
                });
            }
        }
        Ok(Some(SchedulePlan {
            monitor_id: monitor.id,
            expected: due.due_at,
            next,
            jobs,
        }))
    }

    /// Plans forever, every [`TICK`].
    pub async fn run(self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = self.tick().await {
                tracing::warn!(%error, "scheduling due monitors");
            }
        }
    }
}
