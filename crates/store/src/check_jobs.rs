//! The work queue between the scheduler and the checkpoints: due monitors
//! become jobs, checkpoints lease jobs and complete them with their results.
//!
//! Every step is a compare-and-set, so that several processes sharing one
//! PostgreSQL database run each due time once: a monitor's due time moves
//! only from the value the scheduler read, and a job is leased only while
//! its lease is free.

use crate::backend::{read, write};
use crate::day_partitions::DayPartitioned;
use crate::monitors::{MONITOR_COLUMNS, MonitorRow};
use crate::{Monitor, NewCheckResult, Result, Store, StoreError};
use sightline_core::{MonitorSpec, Timestamp};
use std::time::Duration;

/// A monitor whose due time has come, or that has no due time yet (new,
/// changed or resumed).
#[derive(Debug, Clone)]
pub struct DueMonitor {
    /// The monitor.
    pub monitor: Monitor,
    /// Its due time; `None` when it has none yet.
    pub due_at: Option<Timestamp>,
}

/// A check to be run by one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// The monitor to check.
    pub monitor_id: i64,
    /// Where it runs.
    pub checkpoint_id: i64,
    /// The due time it answers.
    pub due_at: Timestamp,
    /// 0 for the scheduled run, 1 and up for confirmation re-runs.
    pub attempt: i64,
}

/// The scheduler's plan for one monitor: move its due time from `expected`
/// to `next` and queue `jobs`, or do nothing if another process moved it.
#[derive(Debug, Clone)]
pub struct SchedulePlan {
    /// The monitor.
    pub monitor_id: i64,
    /// The due time the scheduler read.
    pub expected: Option<Timestamp>,
    /// The following due time.
    pub next: Timestamp,
    /// The checks to queue (none when the due time was missed).
    pub jobs: Vec<NewJob>,
}

/// A job a checkpoint has leased.
#[derive(Debug, Clone)]
pub struct LeasedJob {
    /// The job's id, to complete it with.
    pub id: i64,
    /// The monitor's id.
    pub monitor_id: i64,
    /// What to check.
    pub spec: MonitorSpec,
    /// The due time it answers.
    pub due_at: Timestamp,
    /// 0 for the scheduled run, 1 and up for confirmations.
    pub attempt: i64,
    /// Until when the lease holds; after that, another checkpoint process
    /// may take the job.
    pub leased_until: Timestamp,
}

impl LeasedJob {
    /// The job as its lease proof covers it and a report names it.
    pub fn reported(&self) -> crate::ReportedJob {
        crate::ReportedJob {
            job_id: self.id,
            monitor_id: self.monitor_id,
            due_at: self.due_at,
            attempt: self.attempt,
        }
    }
}

/// A queued job no checkpoint holds, with the checkpoints its monitor
/// names: what may move when its checkpoint is offline.
#[derive(Debug, Clone)]
pub struct WaitingJob {
    /// The job's id.
    pub id: i64,
    /// The monitor.
    pub monitor_id: i64,
    /// The checkpoint it waits for.
    pub checkpoint_id: i64,
    /// The checkpoints the monitor names, in its order.
    pub checkpoints: Vec<String>,
}

/// A job's result with what it changes.
#[derive(Debug, Clone)]
pub struct Completion {
    /// The job done (`None` for a result that came without a job).
    pub job_id: Option<i64>,
    /// The result to store.
    pub result: NewCheckResult,
    /// Checks to queue because of it (a confirmation re-run).
    pub follow_up: Vec<NewJob>,
    /// The monitor's new status, if it changes.
    pub status: Option<String>,
}

/// How long a checkpoint holds a job beyond the check's own timeout.
pub const LEASE_SLACK: Duration = Duration::from_secs(30);

#[derive(sqlx::FromRow)]
struct DueRow {
    #[sqlx(flatten)]
    monitor: MonitorRow,
    next_due_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    monitor_id: i64,
    due_at: i64,
    attempt: i64,
    spec: String,
}

/// The start of a multi-row insert of results (`VALUES` follows).
const INSERT_RESULT_INTO: &str = "INSERT INTO check_results (monitor_id, checkpoint_id, due_at, attempt, started_at, duration_ms, outcome, \
     error_kind, error_message, status_code, dns_ms, connect_ms, tls_ms, first_byte_ms, download_ms, \
     response_bytes, detail, in_maintenance, recorded_at, downtime_ms, confirmed_error, job_id) ";

/// Rows per multi-row statement, well under both databases' limits on bound
/// parameters.
pub(crate) const ROWS_PER_STATEMENT: usize = 1000;

/// Inserts jobs within a transaction (a job already queued stays as it
/// is). A macro, so that it expands for each backend's transaction type.
macro_rules! insert_jobs {
    ($tx:expr, $jobs:expr, $now:expr) => {
        insert_jobs!($tx, $jobs, $now, false)
    };
    ($tx:expr, $jobs:expr, $now:expr, $on_demand:expr) => {
        for chunk in $jobs.chunks(ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO check_jobs (monitor_id, checkpoint_id, due_at, attempt, created_at, on_demand) ",
            );
            insert.push_values(chunk, |mut row, job: &&NewJob| {
                row.push_bind(job.monitor_id)
                    .push_bind(job.checkpoint_id)
                    .push_bind(job.due_at.as_millis())
                    .push_bind(job.attempt)
                    .push_bind($now)
                    .push_bind($on_demand);
            });
            insert.push(" ON CONFLICT (monitor_id, checkpoint_id, due_at, attempt) DO NOTHING");
            insert.build().execute(&mut *$tx).await?;
        }
    };
}

/// A foreign-key failure means a monitor (or checkpoint) is gone.
fn unknown_monitor(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::UnknownReference {
                field: "monitor_id",
                message: "the monitor or checkpoint does not exist".to_owned(),
            }
        }
        _ => StoreError::Database(error),
    }
}

impl Store {
    /// Enabled monitors without a due time (new, changed or resumed), then
    /// those due at `now`, oldest first; at most `limit`.
    ///
    /// Two range reads of the due index, so that a pass reads the monitors
    /// it returns and not every enabled one: in one query the `IS NULL`
    /// alternative is a filter, and the scan walks past every monitor not
    /// yet due to reach the ones without a due time.
    pub async fn due_monitors(&self, now: Timestamp, limit: i64) -> Result<Vec<DueMonitor>> {
        let columns = MONITOR_COLUMNS
            .split(", ")
            .map(|column| format!("m.{column}"))
            .collect::<Vec<_>>()
            .join(", ");
        let unscheduled = format!(
            "SELECT {columns}, m.next_due_at FROM monitors m \
             WHERE m.enabled = TRUE AND m.next_due_at IS NULL ORDER BY m.id LIMIT $1"
        );
        let due = format!(
            "SELECT {columns}, m.next_due_at FROM monitors m \
             WHERE m.enabled = TRUE AND m.next_due_at <= $1 ORDER BY m.next_due_at LIMIT $2"
        );
        let mut rows: Vec<DueRow> = read!(self.backend, |pool| {
            sqlx::query_as(&unscheduled)
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
        let left = limit - rows.len() as i64;
        if left > 0 {
            let scheduled: Vec<DueRow> = read!(self.backend, |pool| {
                sqlx::query_as(&due)
                    .bind(now.as_millis())
                    .bind(left)
                    .fetch_all(pool)
                    .await
            })?;
            rows.extend(scheduled);
        }
        rows.into_iter()
            .map(|row| {
                Ok(DueMonitor {
                    monitor: row.monitor.try_into()?,
                    due_at: row.next_due_at.map(Timestamp::from),
                })
            })
            .collect()
    }

    /// Applies the scheduler's plans in one transaction; returns how many
    /// monitors it moved (the others were moved by another process).
    pub async fn schedule(&self, plans: &[SchedulePlan]) -> Result<usize> {
        if plans.is_empty() {
            return Ok(0);
        }
        let now = self.now().as_millis();
        write!(self.backend, |pool| async {
            let mut tx = pool.begin().await?;
            let mut moved = Vec::with_capacity(plans.len());
            for chunk in plans.chunks(ROWS_PER_STATEMENT) {
                // One compare-and-set for the whole chunk: each monitor moves
                // only from the due time this scheduler read.
                let mut update =
                    sqlx::QueryBuilder::new("UPDATE monitors SET next_due_at = v.column3 FROM (");
                update.push_values(chunk, |mut row, plan| {
                    row.push_bind(plan.monitor_id)
                        .push_bind(plan.expected.map(Timestamp::as_millis))
                        .push_bind(plan.next.as_millis());
                });
                update.push(
                    ") AS v WHERE monitors.id = v.column1 AND monitors.enabled \
                     AND monitors.next_due_at IS NOT DISTINCT FROM v.column2 RETURNING monitors.id",
                );
                let ids: Vec<i64> = update.build_query_scalar().fetch_all(&mut *tx).await?;
                moved.extend(ids);
            }
            let moved: std::collections::HashSet<i64> = moved.into_iter().collect();
            let jobs: Vec<&NewJob> = plans
                .iter()
                .filter(|plan| moved.contains(&plan.monitor_id))
                .flat_map(|plan| &plan.jobs)
                .collect();
            insert_jobs!(tx, jobs, now);
            tx.commit().await?;
            Ok::<_, sqlx::Error>(moved.len())
        }
        .await)
        .map_err(StoreError::from)
    }

    /// Queues a run of one monitor asked for now, unless a run asked for
    /// before is queued or running still: then [`StoreError::Refused`]
    /// names the checkpoint it waits for. Scheduled runs and confirmations
    /// do not count. Two asks at once queue one run (the monitor's row is
    /// locked on PostgreSQL; SQLite has one writer).
    pub async fn enqueue_run(&self, monitor_id: i64, jobs: &[NewJob]) -> Result<()> {
        let now = self.now().as_millis();
        let jobs: Vec<&NewJob> = jobs.iter().collect();
        let busy: Option<String> = write!(self.backend, |pool| async {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE monitors SET next_due_at = next_due_at WHERE id = $1")
                .bind(monitor_id)
                .execute(&mut *tx)
                .await?;
            let busy: Option<String> = sqlx::query_scalar(
                "SELECT c.name FROM check_jobs j JOIN checkpoints c ON c.id = j.checkpoint_id \
                 WHERE j.monitor_id = $1 AND j.on_demand ORDER BY j.due_at LIMIT 1",
            )
            .bind(monitor_id)
            .fetch_optional(&mut *tx)
            .await?;
            if busy.is_none() {
                insert_jobs!(tx, jobs, now, true);
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(busy)
        }
        .await)
        .map_err(unknown_monitor)?;
        match busy {
            Some(checkpoint) => Err(StoreError::Refused(format!(
                "a run of this monitor asked for before is queued or running still (on checkpoint \
                 `{checkpoint}`); its result will show when it is done"
            ))),
            None => Ok(()),
        }
    }

    /// Queues checks outside the schedule (the relatives of a failing
    /// monitor, checked at once); a job already queued stays as it is.
    pub async fn enqueue_jobs(&self, jobs: &[NewJob]) -> Result<()> {
        let now = self.now().as_millis();
        let jobs: Vec<&NewJob> = jobs.iter().collect();
        write!(self.backend, |pool| async {
            let mut tx = pool.begin().await?;
            insert_jobs!(tx, jobs, now);
            tx.commit().await
        }
        .await)
        .map_err(unknown_monitor)
    }

    /// Leases up to `limit` free jobs of a checkpoint due by `due_by`, each
    /// until its due time plus its monitor's timeout plus [`LEASE_SLACK`].
    pub async fn lease_jobs(
        &self,
        checkpoint_id: i64,
        due_by: Timestamp,
        limit: i64,
    ) -> Result<Vec<LeasedJob>> {
        let now = self.now();
        let rows: Vec<JobRow> = read!(self.backend, |pool| {
            sqlx::query_as(
                "SELECT j.id, j.monitor_id, j.due_at, j.attempt, m.spec FROM check_jobs j \
                 JOIN monitors m ON m.id = j.monitor_id \
                 WHERE j.checkpoint_id = $1 AND j.due_at <= $2 \
                 AND (j.leased_until IS NULL OR j.leased_until < $3) \
                 ORDER BY j.due_at LIMIT $4",
            )
            .bind(checkpoint_id)
            .bind(due_by.as_millis())
            .bind(now.as_millis())
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut candidates = Vec::with_capacity(rows.len());
        for row in rows {
            let spec = serde_json::from_str(&row.spec)
                .map_err(|e| e.to_string())
                .and_then(|document| MonitorSpec::from_json(document).map_err(|e| e.to_string()))
                .map_err(|reason| StoreError::Corrupt {
                    what: "monitor",
                    id: row.monitor_id,
                    reason,
                })?;
            let due_at = Timestamp::from(row.due_at);
            let leased_until = now.max(due_at).plus(spec.timeout() + LEASE_SLACK);
            candidates.push(LeasedJob {
                id: row.id,
                monitor_id: row.monitor_id,
                spec,
                due_at: row.due_at.into(),
                attempt: row.attempt,
                leased_until,
            });
        }
        // One compare-and-set for the batch, holding every job as long as
        // the longest of them needs.
        let leased_until = candidates
            .iter()
            .map(|job| job.leased_until)
            .max()
            .unwrap_or(now);
        let won: Vec<i64> = write!(self.backend, |pool| async {
            let mut update = sqlx::QueryBuilder::new("UPDATE check_jobs SET leased_until = ");
            update.push_bind(leased_until.as_millis());
            update.push(" WHERE (leased_until IS NULL OR leased_until < ");
            update.push_bind(now.as_millis());
            update.push(") AND id IN (");
            let mut ids = update.separated(", ");
            for job in &candidates {
                ids.push_bind(job.id);
            }
            update.push(") RETURNING id");
            update.build_query_scalar().fetch_all(pool).await
        }
        .await)?;
        let won: std::collections::HashSet<i64> = won.into_iter().collect();
        Ok(candidates
            .into_iter()
            .filter(|job| won.contains(&job.id))
            .map(|job| LeasedJob {
                leased_until,
                ..job
            })
            .collect())
    }

    /// Stores results with what they change, in one transaction: each
    /// result (idempotent per monitor, checkpoint, due time and attempt),
    /// the job it completes, the follow-up jobs and the monitors' statuses
    /// (each monitor takes the status of its last result in the batch,
    /// unless a later due time of it is stored already).
    pub async fn complete_jobs(&self, completions: &[Completion]) -> Result<()> {
        if completions.is_empty() {
            return Ok(());
        }
        let now = self.now().as_millis();
        let done: Vec<i64> = completions.iter().filter_map(|c| c.job_id).collect();
        let follow_up: Vec<&NewJob> = completions.iter().flat_map(|c| &c.follow_up).collect();
        // Per monitor, the status of its latest due time in the batch (the
        // last of them when several answer it).
        let mut statuses: Vec<(i64, &str, i64, i64)> = Vec::new();
        for completion in completions {
            let Some(status) = &completion.status else {
                continue;
            };
            let result = &completion.result;
            let entry = (
                result.monitor_id,
                status.as_str(),
                result.started_at.as_millis(),
                result.due_at.as_millis(),
            );
            match statuses
                .iter_mut()
                .find(|(id, ..)| *id == result.monitor_id)
            {
                Some(known) if known.3 <= entry.3 => *known = entry,
                Some(_) => {}
                None => statuses.push(entry),
            }
        }
        self.make_day_partitions(
            DayPartitioned::CheckResults,
            completions.iter().map(|c| c.result.due_at.as_millis()),
        )
        .await?;
        write!(self.backend, |pool| async {
            let mut tx = pool.begin().await?;
            for chunk in completions.chunks(ROWS_PER_STATEMENT / 8) {
                let mut insert = sqlx::QueryBuilder::new(INSERT_RESULT_INTO);
                insert.push_values(chunk, |mut row, completion| {
                    let result = &completion.result;
                    let report = &result.report;
                    let timings = &report.timings;
                    row.push_bind(result.monitor_id)
                        .push_bind(result.checkpoint_id)
                        .push_bind(result.due_at.as_millis())
                        .push_bind(result.attempt)
                        .push_bind(result.started_at.as_millis())
                        .push_bind(report.duration_ms)
                        .push_bind(report.outcome.as_str())
                        .push_bind(report.problem.as_ref().map(|p| p.kind.as_str()))
                        .push_bind(report.problem.as_ref().map(|p| p.message.clone()))
                        .push_bind(report.status_code.map(i64::from))
                        .push_bind(timings.dns_ms)
                        .push_bind(timings.connect_ms)
                        .push_bind(timings.tls_ms)
                        .push_bind(timings.first_byte_ms)
                        .push_bind(timings.download_ms)
                        .push_bind(report.response_bytes)
                        .push_bind((!report.detail.is_null()).then(|| report.detail.to_string()))
                        .push_bind(result.in_maintenance)
                        .push_bind(now)
                        .push_bind(result.downtime_ms)
                        .push_bind(result.confirmed_error)
                        .push_bind(completion.job_id);
                });
                insert.push(" ON CONFLICT (monitor_id, checkpoint_id, due_at, attempt) DO NOTHING");
                insert.build().execute(&mut *tx).await?;
            }
            for chunk in done.chunks(ROWS_PER_STATEMENT) {
                let mut delete = sqlx::QueryBuilder::new("DELETE FROM check_jobs WHERE id IN (");
                let mut ids = delete.separated(", ");
                for id in chunk {
                    ids.push_bind(*id);
                }
                delete.push(")");
                delete.build().execute(&mut *tx).await?;
            }
            crate::screenshots::insert_screenshots!(tx, completions);
            insert_jobs!(tx, follow_up, now);
            for chunk in statuses.chunks(ROWS_PER_STATEMENT) {
                let mut update = sqlx::QueryBuilder::new(
                    "UPDATE monitors SET status = v.column2, status_since = v.column3 FROM (",
                );
                update.push_values(chunk, |mut row, (id, status, since, due_at)| {
                    row.push_bind(*id)
                        .push_bind(*status)
                        .push_bind(*since)
                        .push_bind(*due_at);
                });
                // A result of an older due time than one that set a status
                // already (an agent's results kept through an outage) sets
                // none; a later failure still waiting for its confirmation
                // does not count. A scalar subquery, looked up per monitor
                // in the unique index: as `NOT EXISTS` PostgreSQL may plan
                // it as an anti-join that reads the whole day's results
                // for every batch.
                update.push(
                    ") AS v WHERE monitors.id = v.column1 AND monitors.status <> v.column2 \
                     AND (SELECT 1 FROM check_results later \
                     WHERE later.monitor_id = v.column1 AND later.due_at > v.column4 \
                     AND (later.outcome <> 'error' OR later.attempt > 0) LIMIT 1) IS NULL",
                );
                update.build().execute(&mut *tx).await?;
            }
            let touched: Vec<i64> = statuses.iter().map(|(id, ..)| *id).collect();
            crate::outages::sync_outages!(tx, touched, now);
            tx.commit().await
        }
        .await)
        .map_err(unknown_monitor)
    }

    /// Removes jobs due before `before` that no checkpoint holds: those of
    /// a checkpoint no agent runs would otherwise pile up for ever. Returns
    /// how many.
    pub async fn delete_stale_jobs(&self, before: Timestamp) -> Result<u64> {
        let now = self.now().as_millis();
        Ok(write!(self.backend, |pool| {
            sqlx::query(
                "DELETE FROM check_jobs WHERE due_at < $1 \
                 AND (leased_until IS NULL OR leased_until < $2)",
            )
            .bind(before.as_millis())
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?)
    }

    /// Jobs queued for these checkpoints that no lease holds (never leased,
    /// or their lease ran out), oldest first.
    pub async fn waiting_jobs(
        &self,
        checkpoint_ids: &[i64],
        limit: i64,
    ) -> Result<Vec<WaitingJob>> {
        if checkpoint_ids.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now().as_millis();
        let rows: Vec<(i64, i64, i64, String)> = read!(self.backend, |pool| {
            let mut select = sqlx::QueryBuilder::new(
                "SELECT j.id, j.monitor_id, j.checkpoint_id, m.spec FROM check_jobs j \
                 JOIN monitors m ON m.id = j.monitor_id WHERE (j.leased_until IS NULL OR j.leased_until < ",
            );
            select.push_bind(now);
            select.push(") AND j.checkpoint_id IN (");
            let mut ids = select.separated(", ");
            for id in checkpoint_ids {
                ids.push_bind(*id);
            }
            select.push(") ORDER BY j.due_at LIMIT ");
            select.push_bind(limit);
            select.build_query_as().fetch_all(pool).await
        })?;
        rows.into_iter()
            .map(|(id, monitor_id, checkpoint_id, spec)| {
                let spec = serde_json::from_str(&spec)
                    .map_err(|e| e.to_string())
                    .and_then(|document| {
                        MonitorSpec::from_json(document).map_err(|e| e.to_string())
                    })
                    .map_err(|reason| StoreError::Corrupt {
                        what: "monitor",
                        id: monitor_id,
                        reason,
                    })?;
                Ok(WaitingJob {
                    id,
                    monitor_id,
                    checkpoint_id,
                    checkpoints: spec.settings.checkpoints,
                })
            })
            .collect()
    }

    /// Moves a job no lease holds to another checkpoint; when that one has
    /// the same check queued already, the job is dropped instead (its due
    /// time is covered). Returns whether the job was moved or dropped; not
    /// when a checkpoint leased it meanwhile.
    pub async fn move_job(&self, job_id: i64, to_checkpoint_id: i64) -> Result<bool> {
        let now = self.now().as_millis();
        write!(self.backend, |pool| async {
            let mut tx = pool.begin().await?;
            let covered = sqlx::query(
                "DELETE FROM check_jobs WHERE id = $1 AND (leased_until IS NULL OR leased_until < $2) \
                 AND EXISTS (SELECT 1 FROM check_jobs other WHERE other.checkpoint_id = $3 \
                 AND other.monitor_id = check_jobs.monitor_id AND other.due_at = check_jobs.due_at \
                 AND other.attempt = check_jobs.attempt)",
            )
            .bind(job_id)
            .bind(now)
            .bind(to_checkpoint_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let moved = if covered > 0 {
                covered
            } else {
                sqlx::query(
                    "UPDATE check_jobs SET checkpoint_id = $1, leased_until = NULL \
                     WHERE id = $2 AND (leased_until IS NULL OR leased_until < $3)",
                )
                .bind(to_checkpoint_id)
                .bind(job_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
            };
            tx.commit().await?;
            Ok::<_, sqlx::Error>(moved > 0)
        }
        .await)
        .map_err(StoreError::from)
    }

    /// The jobs queued for a monitor, for tests and the UI's "pending" view.
    pub async fn pending_jobs(&self, monitor_id: i64) -> Result<Vec<NewJob>> {
        let rows: Vec<(i64, i64, i64, i64)> = read!(self.backend, |pool| {
            sqlx::query_as(
                "SELECT monitor_id, checkpoint_id, due_at, attempt FROM check_jobs \
                 WHERE monitor_id = $1 ORDER BY due_at, attempt, checkpoint_id",
            )
            .bind(monitor_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(monitor_id, checkpoint_id, due_at, attempt)| NewJob {
                monitor_id,
                checkpoint_id,
                due_at: due_at.into(),
                attempt,
            })
            .collect())
    }
}

impl Store {
    /// The monitors with a check queued or running: a scheduled run due
    /// within the lookahead, a confirmation re-run, or a run asked for.
    pub async fn monitors_with_jobs(&self) -> Result<Vec<i64>> {
        Ok(read!(self.backend, |pool| {
            sqlx::query_scalar("SELECT DISTINCT monitor_id FROM check_jobs")
                .fetch_all(pool)
                .await
        })?)
    }
}
