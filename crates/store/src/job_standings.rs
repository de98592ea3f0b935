//! Where a job a checkpoint reports on stands now: still queued, already
//! stored from this checkpoint, being run or already run by another one,
//! or gone without having run anywhere. The server takes a report only of
//! a job it may still complete, so that a result cannot be stored for a job
//! another checkpoint ran.

use crate::backend::read;
use crate::{Result, Store};
use sightline_core::Timestamp;
use std::collections::HashMap;

/// A job as a checkpoint reports it (what its lease proof covers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportedJob {
    /// The job's id.
    pub job_id: i64,
    /// The monitor checked.
    pub monitor_id: i64,
    /// The due time it answers.
    pub due_at: Timestamp,
    /// 0 for the scheduled run, 1 and up for confirmations.
    pub attempt: i64,
}

/// What may become of a report of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStanding {
    /// Still queued, for this checkpoint, or moved to another that has not
    /// taken it: the report completes it.
    Open,
    /// Gone from the queue without a result from anywhere (dropped as
    /// stale, or covered by another checkpoint's own run of the due time):
    /// a late report of an expired lease, still taken.
    Unclaimed,
    /// This checkpoint's result is stored already: a report sent again.
    AlreadyStored,
    /// Moved to another checkpoint, which holds it now.
    RunningElsewhere {
        /// That checkpoint's name.
        checkpoint: String,
    },
    /// Run and stored by another checkpoint.
    CompletedElsewhere {
        /// That checkpoint's name.
        checkpoint: String,
    },
}

#[derive(sqlx::FromRow)]
struct QueuedJob {
    id: i64,
    checkpoint: String,
    mine: bool,
    leased_until: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct StoredResult {
    checkpoint: String,
    mine: bool,
    job_id: Option<i64>,
}

impl Store {
    /// Where each of `jobs`, reported by checkpoint `checkpoint_id`, stands
    /// (in the same order).
    pub async fn job_standings(
        &self,
        checkpoint_id: i64,
        jobs: &[ReportedJob],
    ) -> Result<Vec<JobStanding>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now().as_millis();
        let queued: Vec<QueuedJob> = read!(self.backend, |pool| {
            let mut select =
                sqlx::QueryBuilder::new("SELECT j.id, c.name AS checkpoint, j.checkpoint_id = ");
            select.push_bind(checkpoint_id);
            select.push(
                " AS mine, j.leased_until FROM check_jobs j \
                 JOIN checkpoints c ON c.id = j.checkpoint_id WHERE j.id IN (",
            );
            let mut ids = select.separated(", ");
            for job in jobs {
                ids.push_bind(job.job_id);
            }
            select.push(")");
            select.build_query_as().fetch_all(pool).await
        })?;
        let queued: HashMap<i64, QueuedJob> = queued.into_iter().map(|job| (job.id, job)).collect();
        let mut standings = Vec::with_capacity(jobs.len());
        for job in jobs {
            let standing = match queued.get(&job.job_id) {
                Some(queued) if queued.mine => JobStanding::Open,
                Some(queued) if queued.leased_until.is_some_and(|until| until >= now) => {
                    JobStanding::RunningElsewhere {
                        checkpoint: queued.checkpoint.clone(),
                    }
                }
                Some(_) => JobStanding::Open,
                None => self.settled_standing(checkpoint_id, job).await?,
            };
            standings.push(standing);
        }
        Ok(standings)
    }

    /// The standing of a reported job that is no longer queued, from the
    /// results of its due time and attempt.
    async fn settled_standing(&self, checkpoint_id: i64, job: &ReportedJob) -> Result<JobStanding> {
        let stored: Vec<StoredResult> = read!(self.backend, |pool| {
            sqlx::query_as(
                "SELECT c.name AS checkpoint, r.checkpoint_id = $1 AS mine, r.job_id \
                 FROM check_results r JOIN checkpoints c ON c.id = r.checkpoint_id \
                 WHERE r.monitor_id = $2 AND r.due_at = $3 AND r.attempt = $4",
            )
            .bind(checkpoint_id)
            .bind(job.monitor_id)
            .bind(job.due_at.as_millis())
            .bind(job.attempt)
            .fetch_all(pool)
            .await
        })?;
        if stored.iter().any(|result| result.mine) {
            return Ok(JobStanding::AlreadyStored);
        }
        Ok(
            match stored
                .into_iter()
                .find(|result| result.job_id == Some(job.job_id))
            {
                Some(result) => JobStanding::CompletedElsewhere {
                    checkpoint: result.checkpoint,
                },
                None => JobStanding::Unclaimed,
            },
        )
    }
}
