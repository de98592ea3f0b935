//! Single sign-on: sign-ins under way through the OpenID provider, taken
//! once by its return.

use crate::backend::write;
use crate::{Result, Store};
use sightline_core::Timestamp;

/// A sign-in sent to the provider, waiting for its return.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingLogin {
    /// The PKCE verifier whose challenge went with the request.
    pub pkce_verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// Where the UI goes once signed in (a path of this server).
    pub return_to: String,
}

impl Store {
    /// Keeps a sign-in under way until `expires_at`, under the hash of its
    /// `state`.
    pub async fn begin_oidc_login(
        &self,
        state_hash: &str,
        login: &PendingLogin,
        expires_at: Timestamp,
    ) -> Result<()> {
        write!(self.backend, |pool| {
            sqlx::query(
                "INSERT INTO oidc_logins (state_hash, pkce_verifier, nonce, return_to, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(state_hash)
            .bind(&login.pkce_verifier)
            .bind(&login.nonce)
            .bind(&login.return_to)
            .bind(expires_at.as_millis())
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Takes the sign-in under way with this state hash: answered once,
    /// never again, and never once expired.
    pub async fn take_oidc_login(&self, state_hash: &str) -> Result<Option<PendingLogin>> {
        let now = self.now().as_millis();
        Ok(write!(self.backend, |pool| {
            sqlx::query_as(
                "DELETE FROM oidc_logins WHERE state_hash = $1 AND expires_at > $2 \
                 RETURNING pkce_verifier, nonce, return_to",
            )
            .bind(state_hash)
            .bind(now)
            .fetch_optional(pool)
            .await
        })?)
    }

    /// Forgets sign-ins that were never finished.
    pub async fn purge_expired_oidc_logins(&self) -> Result<u64> {
        let now = self.now().as_millis();
        Ok(write!(self.backend, |pool| {
            sqlx::query("DELETE FROM oidc_logins WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?)
    }
}
