//! Check results: one row per check run, with its timing breakdown.

use crate::backend::{read, write};
use crate::{Result, Store, StoreError};
use sightline_core::Timestamp;
use sightline_core::monitor::{CheckOutcome, CheckReport, PhaseTimings, Problem, ProblemKind};

/// A result as a checkpoint reports it: the runner's report plus where and
/// when it ran.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCheckResult {
    /// The monitor checked.
    pub monitor_id: i64,
    /// Where it ran.
    pub checkpoint_id: i64,
    /// The due time this run answers; with `attempt`, makes a report idempotent.
    pub due_at: Timestamp,
    /// 0 for the scheduled run, 1 and up for confirmation re-runs.
    pub attempt: i64,
    /// When the check started.
    pub started_at: Timestamp,
    /// What the check found.
    pub report: CheckReport,
    /// Ran during a maintenance window: recorded, not counted.
    pub in_maintenance: bool,
    /// A failure that a re-run confirmed: it counts against uptime.
    pub confirmed_error: bool,
    /// What a confirmed error stood for before outages were kept (its share of the
    /// schedule period); 0 otherwise.
    pub downtime_ms: i64,
}

/// A stored result.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// Stable id.
    pub id: i64,
    /// What was reported.
    pub result: NewCheckResult,
}

#[derive(sqlx::FromRow)]
struct CheckResultRow {
    id: i64,
    monitor_id: i64,
    checkpoint_id: i64,
    due_at: i64,
    attempt: i64,
    started_at: i64,
    duration_ms: i64,
    outcome: String,
    error_kind: Option<String>,
    error_message: Option<String>,
    status_code: Option<i64>,
    dns_ms: Option<i64>,
    connect_ms: Option<i64>,
    tls_ms: Option<i64>,
    first_byte_ms: Option<i64>,
    download_ms: Option<i64>,
    response_bytes: Option<i64>,
    detail: Option<String>,
    in_maintenance: bool,
    confirmed_error: bool,
    downtime_ms: i64,
}

impl TryFrom<CheckResultRow> for CheckResult {
    type Error = StoreError;

    fn try_from(row: CheckResultRow) -> Result<Self> {
        let corrupt = |reason: String| StoreError::Corrupt {
            what: "check result",
            id: row.id,
            reason,
        };
        let outcome = CheckOutcome::from_name(&row.outcome)
            .ok_or_else(|| corrupt(format!("unknown outcome `{}`", row.outcome)))?;
        let problem = match (row.error_kind, row.error_message) {
            (Some(kind), message) => Some(Problem {
                kind: ProblemKind::from_name(&kind)
                    .ok_or_else(|| corrupt(format!("unknown problem kind `{kind}`")))?,
                message: message.unwrap_or_default(),
            }),
            (None, _) => None,
        };
        let detail = match row.detail {
            Some(text) => serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?,
            None => serde_json::Value::Null,
        };
        Ok(CheckResult {
            id: row.id,
            result: NewCheckResult {
                monitor_id: row.monitor_id,
                checkpoint_id: row.checkpoint_id,
                due_at: row.due_at.into(),
                attempt: row.attempt,
                started_at: row.started_at.into(),
                report: CheckReport {
                    outcome,
                    problem,
                    status_code: row.status_code.and_then(|code| u16::try_from(code).ok()),
                    timings: PhaseTimings {
                        dns_ms: row.dns_ms,
                        connect_ms: row.connect_ms,
                        tls_ms: row.tls_ms,
                        first_byte_ms: row.first_byte_ms,
                        download_ms: row.download_ms,
                    },
                    duration_ms: row.duration_ms,
                    response_bytes: row.response_bytes,
                    detail,
                    screenshots: Vec::new(),
                },
                in_maintenance: row.in_maintenance,
                confirmed_error: row.confirmed_error,
                downtime_ms: row.downtime_ms,
            },
        })
    }
}

/// One checkpoint's scheduled run of a due time, as agreement between
/// checkpoints is judged from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimeResult {
    /// The result's id.
    pub id: i64,
    /// Where it ran.
    pub checkpoint_id: i64,
    /// What it found.
    pub outcome: CheckOutcome,
    /// Ran during a maintenance window.
    pub in_maintenance: bool,
    /// When it started.
    pub started_at: Timestamp,
}

/// The verdict on one due time of a monitor whose checkpoints must agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimeVerdict {
    /// The monitor.
    pub monitor_id: i64,
    /// The due time judged.
    pub due_at: Timestamp,
    /// The failed results that now count as confirmed errors.
    pub confirmed: Vec<i64>,
    /// The downtime each of them stands for.
    pub downtime_ms: i64,
    /// The monitor's status after it, if the due time sets one.
    pub status: Option<&'static str>,
    /// When that status began (the latest result's start).
    pub since: Timestamp,
}

const RESULT_COLUMNS: &str = "id, monitor_id, checkpoint_id, due_at, attempt, started_at, duration_ms, outcome, \
     error_kind, error_message, status_code, dns_ms, connect_ms, tls_ms, first_byte_ms, download_ms, \
     response_bytes, detail, in_maintenance, confirmed_error, downtime_ms";

impl Store {
    /// Records a result. Reporting the same (monitor, checkpoint, due time,
    /// attempt) again is a no-op that returns the stored result, so an agent
    /// may safely re-send what it is not sure arrived.
    pub async fn record_check_result(&self, result: &NewCheckResult) -> Result<CheckResult> {
        self.complete_jobs(&[crate::Completion {
            job_id: None,
            result: result.clone(),
            follow_up: Vec::new(),
            status: None,
        }])
        .await?;
        let sql = format!(
            "SELECT {RESULT_COLUMNS} FROM check_results \
             WHERE monitor_id = $1 AND checkpoint_id = $2 AND due_at = $3 AND attempt = $4"
        );
        let row: CheckResultRow = write!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(result.monitor_id)
                .bind(result.checkpoint_id)
                .bind(result.due_at.as_millis())
                .bind(result.attempt)
                .fetch_one(pool)
                .await
        })?;
        row.try_into()
    }

    /// The scheduled runs (attempt 0) of one due time of a monitor, from
    /// every checkpoint that reported it.
    pub async fn due_time_results(
        &self,
        monitor_id: i64,
        due_at: Timestamp,
    ) -> Result<Vec<DueTimeResult>> {
        let rows: Vec<(i64, i64, String, bool, i64)> = read!(self.backend, |pool| {
            sqlx::query_as(
                "SELECT id, checkpoint_id, outcome, in_maintenance, started_at FROM check_results \
                 WHERE monitor_id = $1 AND due_at = $2 AND attempt = 0 ORDER BY id",
            )
            .bind(monitor_id)
            .bind(due_at.as_millis())
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(|(id, checkpoint_id, outcome, in_maintenance, started_at)| {
                Ok(DueTimeResult {
                    id,
                    checkpoint_id,
                    outcome: CheckOutcome::from_name(&outcome).ok_or_else(|| {
                        StoreError::Corrupt {
                            what: "check result",
                            id,
                            reason: format!("unknown outcome `{outcome}`"),
                        }
                    })?,
                    in_maintenance,
                    started_at: started_at.into(),
                })
            })
            .collect()
    }

    /// Stores a verdict on a due time in one transaction: its confirmed
    /// errors with their downtime, and the monitor's status unless a later
    /// due time has been reported already (results an agent kept through an
    /// outage arrive late and must not undo newer ones). Judging the same
    /// due time again writes the same values.
    pub async fn settle_due_time(&self, verdict: &DueTimeVerdict) -> Result<()> {
        let now = self.now().as_millis();
        write!(self.backend, |pool| {
            async {
            let mut tx = pool.begin().await?;
            if !verdict.confirmed.is_empty() {
                let mut update = sqlx::QueryBuilder::new(
                    "UPDATE check_results SET confirmed_error = TRUE, downtime_ms = ",
                );
                update.push_bind(verdict.downtime_ms);
                update.push(" WHERE id IN (");
                let mut ids = update.separated(", ");
                for id in &verdict.confirmed {
                    ids.push_bind(*id);
                }
                update.push(")");
                update.build().execute(&mut *tx).await?;
            }
            if let Some(status) = verdict.status {
                sqlx::query(
                    "UPDATE monitors SET status = $1, status_since = $2 WHERE id = $3 AND status <> $1 \
                     AND NOT EXISTS (SELECT 1 FROM check_results later WHERE later.monitor_id = $3 \
                     AND later.due_at > $4 AND later.attempt = 0)",
                )
                .bind(status)
                .bind(verdict.since.as_millis())
                .bind(verdict.monitor_id)
                .bind(verdict.due_at.as_millis())
                .execute(&mut *tx)
                .await?;
            }
            crate::outages::sync_outages!(tx, [verdict.monitor_id], now);
            tx.commit().await
        }
        .await
        })?;
        Ok(())
    }

    /// Result `id` of monitor `monitor_id`.
    pub async fn check_result(&self, monitor_id: i64, id: i64) -> Result<CheckResult> {
        let sql =
            format!("SELECT {RESULT_COLUMNS} FROM check_results WHERE id = $1 AND monitor_id = $2");
        let row: Option<CheckResultRow> = read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(id)
                .bind(monitor_id)
                .fetch_optional(pool)
                .await
        })?;
        row.ok_or(StoreError::NotFound("check result"))?.try_into()
    }

    /// A monitor's results that started in `[from, to)`, newest first, at most `limit`.
    pub async fn check_results(
        &self,
        monitor_id: i64,
        from: Timestamp,
        to: Timestamp,
        limit: i64,
    ) -> Result<Vec<CheckResult>> {
        let sql = format!(
            "SELECT {RESULT_COLUMNS} FROM check_results \
             WHERE monitor_id = $1 AND started_at >= $2 AND started_at < $3 \
             ORDER BY started_at DESC, id DESC LIMIT $4"
        );
        let rows: Vec<CheckResultRow> = read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(monitor_id)
                .bind(from.as_millis())
                .bind(to.as_millis())
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(CheckResult::try_from).collect()
    }
}
