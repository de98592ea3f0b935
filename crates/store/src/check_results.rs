//! Check results: one row per check run, with its timing breakdown.

use crate::backend::{read, write};
use crate::stored_names::stored_names;
use crate::{Result, Store, StoreError};
use sightline_core::Timestamp;

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Every condition held.
    Up,
    /// It worked, but slower than the degraded threshold.
    Degraded,
    /// A condition failed.
    Error,
}

stored_names!(CheckOutcome { Up = "up", Degraded = "degraded", Error = "error" });

/// Where the time of a network check went, in milliseconds. Phases a check
/// type does not have stay `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct PhaseTimings {
    /// Name resolution.
    pub dns_ms: Option<i64>,
    /// TCP connect.
    pub connect_ms: Option<i64>,
    /// TLS handshake.
    pub tls_ms: Option<i64>,
    /// Request sent until the first response byte.
    pub first_byte_ms: Option<i64>,
    /// First to last response byte.
    pub download_ms: Option<i64>,
}

/// A result as a checkpoint reports it.
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
    /// How long it took in total.
    pub duration_ms: i64,
    /// How it went.
    pub outcome: CheckOutcome,
    /// A stable machine name for the failure (`timeout`, `status`, `body`).
    pub error_kind: Option<String>,
    /// The failure in words.
    pub error_message: Option<String>,
    /// HTTP status, where there is one.
    pub status_code: Option<i64>,
    /// Timing breakdown.
    pub timings: PhaseTimings,
    /// Response size in bytes.
    pub response_bytes: Option<i64>,
    /// Type-specific detail (step results, certificate, waterfall) as JSON.
    pub detail: Option<serde_json::Value>,
    /// Ran during a maintenance window: recorded, not counted.
    pub in_maintenance: bool,
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
    #[sqlx(try_from = "String")]
    outcome: CheckOutcome,
    error_kind: Option<String>,
    error_message: Option<String>,
    status_code: Option<i64>,
    #[sqlx(flatten)]
    timings: PhaseTimings,
    response_bytes: Option<i64>,
    detail: Option<String>,
    in_maintenance: bool,
}

impl From<CheckResultRow> for CheckResult {
    fn from(row: CheckResultRow) -> Self {
        CheckResult {
            id: row.id,
            result: NewCheckResult {
                monitor_id: row.monitor_id,
                checkpoint_id: row.checkpoint_id,
                due_at: row.due_at.into(),
                attempt: row.attempt,
                started_at: row.started_at.into(),
                duration_ms: row.duration_ms,
                outcome: row.outcome,
                error_kind: row.error_kind,
                error_message: row.error_message,
                status_code: row.status_code,
                timings: row.timings,
                response_bytes: row.response_bytes,
                detail: row.detail.and_then(|text| serde_json::from_str(&text).ok()),
                in_maintenance: row.in_maintenance,
            },
        }
    }
}

const RESULT_COLUMNS: &str = "id, monitor_id, checkpoint_id, due_at, attempt, started_at, duration_ms, outcome, \
     error_kind, error_message, status_code, dns_ms, connect_ms, tls_ms, first_byte_ms, download_ms, \
     response_bytes, detail, in_maintenance";

impl Store {
    /// Records a result. Reporting the same (monitor, checkpoint, due time,
    /// attempt) again is a no-op that returns the stored result, so an agent
    /// may safely re-send what it is not sure arrived.
    pub async fn record_check_result(&self, result: &NewCheckResult) -> Result<CheckResult> {
        let sql = "INSERT INTO check_results (monitor_id, checkpoint_id, due_at, attempt, started_at, duration_ms, outcome, \
             error_kind, error_message, status_code, dns_ms, connect_ms, tls_ms, first_byte_ms, download_ms, \
             response_bytes, detail, in_maintenance) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (monitor_id, checkpoint_id, due_at, attempt) DO NOTHING";
        let timings = &result.timings;
        write!(self.backend, |pool| {
            sqlx::query(sql)
                .bind(result.monitor_id)
                .bind(result.checkpoint_id)
                .bind(result.due_at.as_millis())
                .bind(result.attempt)
                .bind(result.started_at.as_millis())
                .bind(result.duration_ms)
                .bind(result.outcome.as_str())
                .bind(&result.error_kind)
                .bind(&result.error_message)
                .bind(result.status_code)
                .bind(timings.dns_ms)
                .bind(timings.connect_ms)
                .bind(timings.tls_ms)
                .bind(timings.first_byte_ms)
                .bind(timings.download_ms)
                .bind(result.response_bytes)
                .bind(result.detail.as_ref().map(|detail| detail.to_string()))
                .bind(result.in_maintenance)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(|error| match &error {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::UnknownReference {
                    field: "monitor_id",
                    message: "the monitor or checkpoint does not exist".to_owned(),
                }
            }
            _ => StoreError::Database(error),
        })?;
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
        Ok(row.into())
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
        Ok(rows.into_iter().map(CheckResult::from).collect())
    }
}
