//! Screenshots of browser checks, stored with the result they belong to
//! (the same key) and served one at a time.

use crate::backend::{read, write};
use crate::{Result, Store};
use sightline_core::Timestamp;

/// A stored screenshot.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredScreenshot {
    /// What it shows.
    pub label: String,
    /// The transaction step it was taken at, from 1.
    pub step: Option<i64>,
    /// When its check started (Unix ms).
    pub taken_at: i64,
    /// The PNG image.
    pub png: Vec<u8>,
}

/// Adds the screenshots of the completions being stored to the open
/// transaction `$tx` (a macro, like the rest of the SQL shared by both
/// backends); a result reported again keeps the screenshots it was first
/// stored with.
macro_rules! insert_screenshots {
    ($tx:expr, $completions:expr) => {
        for completion in $completions {
            let result = &completion.result;
            for (index, screenshot) in result.report.screenshots.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO screenshots (monitor_id, checkpoint_id, due_at, attempt, number, \
                     taken_at, label, step, png) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (monitor_id, checkpoint_id, due_at, attempt, number) DO NOTHING",
                )
                .bind(result.monitor_id)
                .bind(result.checkpoint_id)
                .bind(result.due_at.as_millis())
                .bind(result.attempt)
                .bind(index as i64 + 1)
                .bind(result.started_at.as_millis())
                .bind(screenshot.label.as_str())
                .bind(screenshot.step.map(i64::from))
                .bind(screenshot.png.as_slice())
                .execute(&mut *$tx)
                .await?;
            }
        }
    };
}

pub(crate) use insert_screenshots;

impl Store {
    /// Screenshot `number` (from 1) of monitor `monitor_id`'s result
    /// `result_id`; `None` when there is none (never taken, or past
    /// retention).
    pub async fn screenshot(
        &self,
        monitor_id: i64,
        result_id: i64,
        number: i64,
    ) -> Result<Option<StoredScreenshot>> {
        Ok(read!(self.backend, |pool| {
            sqlx::query_as(
                "SELECT s.label, s.step, s.taken_at, s.png FROM screenshots s \
                 JOIN check_results r ON r.monitor_id = s.monitor_id \
                 AND r.checkpoint_id = s.checkpoint_id AND r.due_at = s.due_at \
                 AND r.attempt = s.attempt \
                 WHERE r.id = $1 AND r.monitor_id = $2 AND s.number = $3",
            )
            .bind(result_id)
            .bind(monitor_id)
            .bind(number)
            .fetch_optional(pool)
            .await
        })?)
    }

    /// Removes screenshots taken before `before`; returns how many.
    pub async fn delete_screenshots_before(&self, before: Timestamp) -> Result<u64> {
        Ok(write!(self.backend, |pool| {
            sqlx::query("DELETE FROM screenshots WHERE taken_at < $1")
                .bind(before.as_millis())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?)
    }
}
