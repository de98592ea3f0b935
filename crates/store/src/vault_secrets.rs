//! Encrypted secrets: the store keeps only nonces and ciphertexts; the key
//! and the encryption live with the caller.

use crate::backend::{read, write};
use crate::{Result, Store, StoreError};
use sightline_core::Timestamp;

/// One encrypted secret.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SealedSecret {
    /// Its name, as checks refer to it (`{{secrets.NAME}}`).
    pub name: String,
    /// The nonce it was sealed with.
    pub nonce: Vec<u8>,
    /// The sealed value.
    pub ciphertext: Vec<u8>,
    /// When it was last set.
    #[sqlx(try_from = "i64")]
    pub updated_at: Timestamp,
}

impl Store {
    /// Stores a secret, replacing one of the same name.
    pub async fn put_secret(&self, name: &str, nonce: &[u8], ciphertext: &[u8]) -> Result<()> {
        let now = self.now().as_millis();
        write!(self.backend, |pool| {
            sqlx::query(
                "INSERT INTO vault_secrets (name, nonce, ciphertext, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (name) DO UPDATE SET nonce = excluded.nonce, \
                 ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(nonce)
            .bind(ciphertext)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    /// Every secret, sealed, by name.
    pub async fn sealed_secrets(&self) -> Result<Vec<SealedSecret>> {
        Ok(read!(self.backend, |pool| sqlx::query_as(
            "SELECT name, nonce, ciphertext, updated_at FROM vault_secrets ORDER BY name"
        )
        .fetch_all(pool)
        .await)?)
    }

    /// Removes a secret.
    pub async fn delete_secret(&self, name: &str) -> Result<()> {
        let deleted = write!(self.backend, |pool| {
            sqlx::query("DELETE FROM vault_secrets WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        if deleted == 0 {
            return Err(StoreError::NotFound("secret"));
        }
        Ok(())
    }
}
