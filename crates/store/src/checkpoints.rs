//! Checkpoints: the places checks run from (`local`, remote agents).

use crate::backend::{read, write};
use crate::{Result, Store, StoreError};
use sightline_core::Timestamp;

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Checkpoint {
    /// Stable id.
    pub id: i64,
    /// Its name, as monitors refer to it.
    pub name: String,
    /// When it was first seen.
    #[sqlx(try_from = "i64")]
    pub created_at: Timestamp,
    /// When it last leased work or reported, if ever.
    pub last_seen_at: Option<i64>,
    /// The version the agent reported.
    pub agent_version: Option<String>,
}

impl Checkpoint {
    /// When it was last heard from: its last lease or report, or its
    /// creation when it never made contact.
    pub fn last_contact(&self) -> Timestamp {
        self.last_seen_at.map_or(self.created_at, Timestamp::from)
    }

    /// Whether it is offline at `now`: silent for longer than `offline_after`
    /// (core's rule, from its last contact).
    pub fn is_offline(&self, now: Timestamp, offline_after: std::time::Duration) -> bool {
        sightline_core::checkpoint::is_offline(self.last_contact(), now, offline_after)
    }
}

const CHECKPOINT_COLUMNS: &str = "id, name, created_at, last_seen_at, agent_version";

impl Store {
    /// The checkpoint with this name, created if it does not exist yet.
    pub async fn ensure_checkpoint(&self, name: &str) -> Result<Checkpoint> {
        let now = self.now().as_millis();
        write!(self.backend, |pool| {
            sqlx::query("INSERT INTO checkpoints (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(now)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        self.checkpoint_by_name(name).await
    }

    /// One checkpoint by name.
    pub async fn checkpoint_by_name(&self, name: &str) -> Result<Checkpoint> {
        let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE name = $1");
        read!(self.backend, |pool| sqlx::query_as(&sql)
            .bind(name)
            .fetch_optional(pool)
            .await)?
        .ok_or(StoreError::NotFound("checkpoint"))
    }

    /// Every checkpoint, by name.
    pub async fn list_checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY name");
        Ok(read!(self.backend, |pool| sqlx::query_as(&sql)
            .fetch_all(pool)
            .await)?)
    }

    /// Records that a checkpoint made contact now.
    pub async fn touch_checkpoint(&self, id: i64, agent_version: Option<&str>) -> Result<()> {
        let now = self.now().as_millis();
        let updated = write!(self.backend, |pool| {
            sqlx::query(
                "UPDATE checkpoints SET last_seen_at = $1, agent_version = COALESCE($2, agent_version) WHERE id = $3",
            )
            .bind(now)
            .bind(agent_version)
            .bind(id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound("checkpoint"));
        }
        Ok(())
    }
}
