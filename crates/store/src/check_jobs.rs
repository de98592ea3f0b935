//! The work queue between the scheduler and the checkpoints: due monitors
//! become jobs, checkpoints lease jobs and complete them with their results.
//!
//! Every step is a compare-and-set, so that several processes sharing one
//! PostgreSQL database run each due time once: a monitor's due time moves
//! only from the value the scheduler read, and a job is leased only while
//! its lease is free.

use crate::backend::{read, write};
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

const INSERT_JOB: &str = "INSERT INTO check_jobs (monitor_id, checkpoint_id, due_at, attempt, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (monitor_id, checkpoint_id, due_at, attempt) DO NOTHING";

pub(crate) const INSERT_RESULT: &str = "INSERT INTO check_results (monitor_id, checkpoint_id, due_at, attempt, started_at, duration_ms, outcome, \
     error_kind, error_message, status_code, dns_ms, connect_ms, tls_ms, first_byte_ms, download_ms, \
     response_bytes, detail, in_maintenance, recorded_at, downtime_ms, confirmed_error) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
     ON CONFLICT (monitor_id, checkpoint_id, due_at, attempt) DO NOTHING";

/// Binds a result to [`INSERT_RESULT`].
macro_rules! bind_result {
    ($result:expr, $now:expr) => {{
        let result: &NewCheckResult = $result;
        let report = &result.report;
        let timings = &report.timings;
        sqlx::query(INSERT_RESULT)
            .bind(result.monitor_id)
            .bind(result.checkpoint_id)
            .bind(result.due_at.as_millis())
            .bind(result.attempt)
            .bind(result.started_at.as_millis())
            .bind(report.duration_ms)
            .bind(report.outcome.as_str())
            .bind(report.problem.as_ref().map(|p| p.kind.as_str()))
            .bind(report.problem.as_ref().map(|p| p.message.clone()))
            .bind(report.status_code.map(i64::from))
            .bind(timings.dns_ms)
            .bind(timings.connect_ms)
            .bind(timings.tls_ms)
            .bind(timings.first_byte_ms)
            .bind(timings.download_ms)
            .bind(report.response_bytes)
            .bind((!report.detail.is_null()).then(|| report.detail.to_string()))
            .bind(result.in_maintenance)
            .bind($now)
            .bind(result.downtime_ms)
            .bind(result.confirmed_error)
    }};
}

impl Store {
    /// Enabled monitors due at `now` (or without a due time), oldest first.
    pub async fn due_monitors(&self, now: Timestamp, limit: i64) -> Result<Vec<DueMonitor>> {
        let columns = MONITOR_COLUMNS
            .split(", ")
            .map(|column| format!("m.{column}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns}, m.next_due_at FROM monitors m \
             WHERE m.enabled AND (m.next_due_at IS NULL OR m.next_due_at <= $1) \
             ORDER BY m.next_due_at LIMIT $2"
        );
        let rows: Vec<DueRow> = read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(now.as_millis())
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
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
            let mut moved = 0;
            for plan in plans {
                let done = match plan.expected {
                    Some(expected) => sqlx::query(
                        "UPDATE monitors SET next_due_at = $1 WHERE id = $2 AND enabled AND next_due_at = $3",
                    )
                    .bind(plan.next.as_millis())
                    .bind(plan.monitor_id)
                    .bind(expected.as_millis())
                    .execute(&mut *tx)
                    .await?,
                    None => sqlx::query(
                        "UPDATE monitors SET next_due_at = $1 WHERE id = $2 AND enabled AND next_due_at IS NULL",
                    )
                    .bind(plan.next.as_millis())
                    .bind(plan.monitor_id)
                    .execute(&mut *tx)
                    .await?,
                };
                if done.rows_affected() == 0 {
                    continue;
                }
                moved += 1;
                for job in &plan.jobs {
                    sqlx::query(INSERT_JOB)
                        .bind(job.monitor_id)
                        .bind(job.checkpoint_id)
                        .bind(job.due_at.as_millis())
                        .bind(job.attempt)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(moved)
        }
        .await)
        .map_err(StoreError::from)
    }

    /// Queues checks outside the schedule (a run asked for by hand).
    pub async fn enqueue_jobs(&self, jobs: &[NewJob]) -> Result<()> {
        let now = self.now().as_millis();
        write!(self.backend, |pool| async {
            let mut tx = pool.begin().await?;
            for job in jobs {
                sqlx::query(INSERT_JOB)
                    .bind(job.monitor_id)
                    .bind(job.checkpoint_id)
                    .bind(job.due_at.as_millis())
                    .bind(job.attempt)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        }
        .await)
        .map_err(|error| match &error {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::UnknownReference {
                    field: "monitor_id",
                    message: "the monitor or checkpoint does not exist".to_owned(),
                }
            }
            _ => StoreError::Database(error),
        })
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
        let won: Vec<bool> = write!(self.backend, |pool| async {
            let mut tx = pool.begin().await?;
            let mut won = Vec::with_capacity(candidates.len());
            for job in &candidates {
                let done = sqlx::query(
                    "UPDATE check_jobs SET leased_until = $1 \
                     WHERE id = $2 AND (leased_until IS NULL OR leased_until < $3)",
                )
                .bind(job.leased_until.as_millis())
                .bind(job.id)
                .bind(now.as_millis())
                .execute(&mut *tx)
                .await?;
                won.push(done.rows_affected() == 1);
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(won)
        }
        .await)?;
        Ok(candidates
            .into_iter()
            .zip(won)
            .filter_map(|(job, won)| won.then_some(job))
            .collect())
    }

    /// Stores results with what they change, in one transaction: each
    /// result (idempotent per monitor, checkpoint, due time and attempt),
    /// the job it completes, the follow-up jobs and the monitor's status.
    pub async fn complete_jobs(&self, completions: &[Completion]) -> Result<()> {
        if completions.is_empty() {
            return Ok(());
        }
        let now = self.now().as_millis();
        write!(self.backend, |pool| async {
            let mut tx = pool.begin().await?;
            for completion in completions {
                bind_result!(&completion.result, now)
                    .execute(&mut *tx)
                    .await?;
                if let Some(job_id) = completion.job_id {
                    sqlx::query("DELETE FROM check_jobs WHERE id = $1")
                        .bind(job_id)
                        .execute(&mut *tx)
                        .await?;
                }
                for job in &completion.follow_up {
                    sqlx::query(INSERT_JOB)
                        .bind(job.monitor_id)
                        .bind(job.checkpoint_id)
                        .bind(job.due_at.as_millis())
                        .bind(job.attempt)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(status) = &completion.status {
                    sqlx::query(
                        "UPDATE monitors SET status = $1, status_since = $2 WHERE id = $3 AND status <> $1",
                    )
                    .bind(status)
                    .bind(completion.result.started_at.as_millis())
                    .bind(completion.result.monitor_id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await
        }
        .await)
        .map_err(|error| match &error {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::UnknownReference {
                    field: "monitor_id",
                    message: "the monitor or checkpoint does not exist".to_owned(),
                }
            }
            _ => StoreError::Database(error),
        })
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
