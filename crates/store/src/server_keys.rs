//! Keys the server keeps for itself in the database, so that every process
//! sharing it signs and checks with the same one (the proofs of leased jobs).

use crate::backend::{read, write};
use crate::{Result, Store, StoreError};

impl Store {
    /// The key stored under `name`; `candidate` becomes it when there is
    /// none yet. Whichever process stores first wins, and every process
    /// reads back the same key.
    pub async fn server_key(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        let now = self.now().as_millis();
        write!(self.backend, |pool| {
            sqlx::query(
                "INSERT INTO server_keys (name, secret, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(candidate)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        read!(self.backend, |pool| sqlx::query_scalar(
            "SELECT secret FROM server_keys WHERE name = $1"
        )
        .bind(name)
        .fetch_optional(pool)
        .await)?
        .ok_or(StoreError::NotFound("server key"))
    }
}
