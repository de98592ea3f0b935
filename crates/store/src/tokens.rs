//! API tokens: credentials for scripts and checkpoint agents.

use crate::backend::{read, write};
use crate::{Result, Store, StoreError, User};
use sightline_core::{Role, Timestamp};

/// A token as listed (never with its secret, which is shown once at creation
/// and stored only as a hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiToken {
    /// Stable id.
    pub id: i64,
    /// The user the token acts for.
    pub user_id: i64,
    /// What the token is for, in the owner's words.
    pub name: String,
    /// The first characters of the secret, to recognise a token in a list.
    pub token_prefix: String,
    /// What the token may do; never more than its user.
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// For agent tokens: the only checkpoint the token may lease and report for.
    pub checkpoint_id: Option<i64>,
    /// When it was created.
    #[sqlx(try_from = "i64")]
    pub created_at: Timestamp,
    /// When it was last used (updated at most once a minute).
    pub last_used_at: Option<i64>,
    /// When it stops working, if ever.
    pub expires_at: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// What it takes to create a token.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    /// The user the token acts for.
    pub user_id: i64,
    /// What it is for.
    pub name: String,
    /// SHA-256 of the secret, hex.
    pub token_hash: String,
    /// The first characters of the secret.
    pub token_prefix: String,
    /// What it may do.
    pub role: Role,
    /// Restrict the token to one checkpoint's agent protocol.
    pub checkpoint_id: Option<i64>,
    /// When it stops working.
    pub expires_at: Option<Timestamp>,
}

const TOKEN_COLUMNS: &str = "id, user_id, name, token_prefix, role, checkpoint_id, created_at, last_used_at, expires_at, revoked_at";

impl Store {
    /// Stores a new token. A token may not have more rights than its user.
    pub async fn create_token(&self, token: &NewApiToken) -> Result<ApiToken> {
        let user = self.user(token.user_id).await?;
        if token.role > user.role {
            return Err(StoreError::Refused(format!(
                "{} is {} and cannot own {} token",
                user.email,
                with_article(user.role),
                with_article(token.role)
            )));
        }
        let now = self.now().as_millis();
        let sql = format!(
            "INSERT INTO api_tokens (user_id, name, token_hash, token_prefix, role, checkpoint_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {TOKEN_COLUMNS}"
        );
        write!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(token.user_id)
                .bind(&token.name)
                .bind(&token.token_hash)
                .bind(&token.token_prefix)
                .bind(token.role.as_str())
                .bind(token.checkpoint_id)
                .bind(now)
                .bind(token.expires_at.map(Timestamp::as_millis))
                .fetch_one(pool)
                .await
        })
        .map_err(StoreError::conflict_on("token", || {
            "token already exists".to_owned()
        }))
    }

    /// The live token with this hash and its user. The token's role is capped
    /// by the user's current role.
    pub async fn token_user(&self, token_hash: &str) -> Result<Option<(ApiToken, User)>> {
        let now = self.now().as_millis();
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens \
             WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)"
        );
        let token: Option<ApiToken> = read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(token_hash)
                .bind(now)
                .fetch_optional(pool)
                .await
        })?;
        let Some(mut token) = token else {
            return Ok(None);
        };
        let user = self.user(token.user_id).await?;
        token.role = token.role.min(user.role);
        if token.last_used_at.is_none_or(|used| now - used >= 60_000) {
            write!(self.backend, |pool| {
                sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(token.id)
                    .execute(pool)
                    .await
                    .map(|done| done.rows_affected())
            })?;
            token.last_used_at = Some(now);
        }
        Ok(Some((token, user)))
    }

    /// Tokens of one user, or of everybody, newest first.
    pub async fn list_tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiToken>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE ($1 IS NULL OR user_id = $1) ORDER BY id DESC"
        );
        Ok(read!(self.backend, |pool| sqlx::query_as(&sql)
            .bind(user_id)
            .fetch_all(pool)
            .await)?)
    }

    /// One token by id.
    pub async fn token(&self, id: i64) -> Result<ApiToken> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1");
        read!(self.backend, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?
        .ok_or(StoreError::NotFound("token"))
    }

    /// Revokes a token for good. Revoking twice keeps the first time.
    pub async fn revoke_token(&self, id: i64) -> Result<ApiToken> {
        let now = self.now().as_millis();
        let updated = write!(self.backend, |pool| {
            sqlx::query("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound("token"));
        }
        self.token(id).await
    }
}

/// "an admin", "an editor", "a viewer".
fn with_article(role: Role) -> String {
    match role {
        Role::Viewer => "a viewer".to_owned(),
        other => format!("an {other}"),
    }
}
