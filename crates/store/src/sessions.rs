//! Login sessions: the server-side half of the session cookie.

use crate::backend::{read, write};
use crate::{Result, Store, User};
use sightline_core::Timestamp;
use std::time::Duration;

/// A logged-in browser. Only the hash of the cookie's secret is stored, so a
/// copy of the database does not log anybody in.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    /// Stable id.
    pub id: i64,
    /// Whose session it is.
    pub user_id: i64,
    /// When the user logged in.
    #[sqlx(try_from = "i64")]
    pub created_at: Timestamp,
    /// When the session was last used.
    #[sqlx(try_from = "i64")]
    pub last_seen_at: Timestamp,
    /// When it stops being accepted.
    #[sqlx(try_from = "i64")]
    pub expires_at: Timestamp,
}

/// Sessions are touched at most this often, so that reads stay reads.
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

impl Store {
    /// Starts a session for a user, valid for `lifetime`.
    pub async fn create_session(
        &self,
        user_id: i64,
        token_hash: &str,
        lifetime: Duration,
    ) -> Result<Session> {
        let now = self.now();
        write!(self.backend, |pool| {
            sqlx::query_as(
                "INSERT INTO sessions (user_id, token_hash, created_at, last_seen_at, expires_at) \
                 VALUES ($1, $2, $3, $3, $4) \
                 RETURNING id, user_id, created_at, last_seen_at, expires_at",
            )
            .bind(user_id)
            .bind(token_hash)
            .bind(now.as_millis())
            .bind(now.plus(lifetime).as_millis())
            .fetch_one(pool)
            .await
        })
        .map_err(Into::into)
    }

    /// The live session with this token hash and its user, if any. Sliding
    /// expiry: a session in use is extended to `lifetime` from now.
    pub async fn session_user(
        &self,
        token_hash: &str,
        lifetime: Duration,
    ) -> Result<Option<(Session, User)>> {
        let now = self.now();
        let found: Option<SessionUserRow> = read!(self.backend, |pool| {
            sqlx::query_as(
                "SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, \
                        u.email, u.role, u.created_at AS user_created_at, u.updated_at AS user_updated_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND s.expires_at > $2",
            )
            .bind(token_hash)
            .bind(now.as_millis())
            .fetch_optional(pool)
            .await
        })?;
        let Some(row) = found else { return Ok(None) };
        let (mut session, user) = row.split();
        if now.as_millis() - session.last_seen_at.as_millis() >= TOUCH_INTERVAL.as_millis() as i64 {
            let expires_at = now.plus(lifetime);
            write!(self.backend, |pool| {
                sqlx::query("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE id = $3")
                    .bind(now.as_millis())
                    .bind(expires_at.as_millis())
                    .bind(session.id)
                    .execute(pool)
                    .await
                    .map(|done| done.rows_affected())
            })?;
            session.last_seen_at = now;
            session.expires_at = expires_at;
        }
        Ok(Some((session, user)))
    }

    /// Ends a session (log out). Ending one that does not exist is not an error.
    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        write!(self.backend, |pool| {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_expired_sessions(&self) -> Result<u64> {
        let now = self.now().as_millis();
        Ok(write!(self.backend, |pool| {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?)
    }
}

#[derive(sqlx::FromRow)]
struct SessionUserRow {
    #[sqlx(flatten)]
    session: Session,
    email: String,
    #[sqlx(try_from = "String")]
    role: sightline_core::Role,
    user_created_at: i64,
    user_updated_at: i64,
}

impl SessionUserRow {
    fn split(self) -> (Session, User) {
        let user = User {
            id: self.session.user_id,
            email: self.email,
            role: self.role,
            created_at: self.user_created_at.into(),
            updated_at: self.user_updated_at.into(),
        };
        (self.session, user)
    }
}
