//! Users: people who log in, with their role.

use crate::backend::{read, write};
use crate::{Result, Store, StoreError};
use sightline_core::{Email, Role, Timestamp};

/// A user as the rest of the product sees it (the password hash stays inside
/// the store unless asked for by [`Store::user_credentials`]).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    /// Stable id.
    pub id: i64,
    /// Login name.
    pub email: String,
    /// What the user may do.
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// When the user was created.
    #[sqlx(try_from = "i64")]
    pub created_at: Timestamp,
    /// When the user last changed.
    #[sqlx(try_from = "i64")]
    pub updated_at: Timestamp,
}

/// What it takes to create a user. The password is already hashed: hashing
/// is the caller's policy, storing is ours.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name.
    pub email: Email,
    /// An argon2 PHC string.
    pub password_hash: String,
    /// What the user may do.
    pub role: Role,
}

/// A user row with its password hash, for checking a login in one read.
#[derive(sqlx::FromRow)]
struct UserWithHash {
    #[sqlx(flatten)]
    user: User,
    password_hash: String,
}

const USER_COLUMNS: &str = "id, email, role, created_at, updated_at";

/// What else a password change ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordChange {
    /// The session (by the hash of its secret) that stays: the one the
    /// person changing their own password uses.
    pub keep_session: Option<String>,
    /// Revoke every API token of the user as well.
    pub revoke_tokens: bool,
}

impl Store {
    /// Creates a user; a second user with the same e-mail is a conflict.
    pub async fn create_user(&self, user: &NewUser) -> Result<User> {
        let now = self.now().as_millis();
        let sql = format!(
            "INSERT INTO users (email, password_hash, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING {USER_COLUMNS}"
        );
        write!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(user.email.as_str())
                .bind(&user.password_hash)
                .bind(user.role.as_str())
                .bind(now)
                .fetch_one(pool)
                .await
        })
        .map_err(StoreError::conflict_on("email", || {
            format!("a user with e-mail {} already exists", user.email)
        }))
    }

    /// Every user, by e-mail.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY email");
        Ok(read!(self.backend, |pool| sqlx::query_as(&sql)
            .fetch_all(pool)
            .await)?)
    }

    /// One user by id.
    pub async fn user(&self, id: i64) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        read!(self.backend, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?
        .ok_or(StoreError::NotFound("user"))
    }

    /// One user by e-mail.
    pub async fn user_by_email(&self, email: &Email) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(email.as_str())
                .fetch_optional(pool)
                .await
        })?
        .ok_or(StoreError::NotFound("user"))
    }

    /// A user and their password hash, for checking a login.
    pub async fn user_credentials(&self, email: &Email) -> Result<Option<(User, String)>> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1");
        let found: Option<UserWithHash> = read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(email.as_str())
                .fetch_optional(pool)
                .await
        })?;
        Ok(found.map(|row| (row.user, row.password_hash)))
    }

    /// How many users exist (zero means the first admin is still to be made).
    pub async fn count_users(&self) -> Result<i64> {
        Ok(read!(self.backend, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM users")
                .fetch_one(pool)
                .await
        })?)
    }

    /// Replaces a user's password hash and ends all their sessions, so that a
    /// changed password locks out whoever knew the old one.
    pub async fn set_password(&self, id: i64, password_hash: &str) -> Result<()> {
        self.change_password(id, password_hash, &PasswordChange::default())
            .await
    }

    /// Replaces a user's password hash and ends their sessions but the one
    /// `change` keeps, revoking their API tokens too if it says so; all in
    /// one transaction.
    pub async fn change_password(
        &self,
        id: i64,
        password_hash: &str,
        change: &PasswordChange,
    ) -> Result<()> {
        let now = self.now().as_millis();
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let updated =
                sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                    .bind(password_hash)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if updated == 0 {
                return Err(StoreError::NotFound("user"));
            }
            sqlx::query(
                "DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2",
            )
            .bind(id)
            .bind(change.keep_session.as_deref())
            .execute(&mut *tx)
            .await?;
            if change.revoke_tokens {
                sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Changes a user's role; refuses to demote the last admin.
    pub async fn set_role(&self, id: i64, role: Role) -> Result<User> {
        let now = self.now().as_millis();
        let sql = format!(
            "UPDATE users SET role = $1, updated_at = $2 WHERE id = $3 RETURNING {USER_COLUMNS}"
        );
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let user: Option<User> = sqlx::query_as(&sql)
                .bind(role.as_str())
                .bind(now)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let user = user.ok_or(StoreError::NotFound("user"))?;
            let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
                .fetch_one(&mut *tx)
                .await?;
            if admins == 0 {
                return Err(StoreError::Refused(
                    "the last admin must stay an admin".into(),
                ));
            }
            tx.commit().await?;
            Ok(user)
        })
    }

    /// Removes a user with their sessions and tokens; refuses to remove the
    /// last admin, which would lock everyone out of configuration.
    pub async fn delete_user(&self, id: i64) -> Result<()> {
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 0 {
                return Err(StoreError::NotFound("user"));
            }
            let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
                .fetch_one(&mut *tx)
                .await?;
            if admins == 0 {
                return Err(StoreError::Refused(
                    "the last admin cannot be removed".into(),
                ));
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The user the provider's `subject` (its issuer and `sub`) signed in
    /// as before.
    pub async fn user_by_oidc_subject(&self, subject: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE oidc_subject = $1");
        Ok(read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(subject)
                .fetch_optional(pool)
                .await
        })?)
    }

    /// Links a user to the provider's `subject`; a subject already linked
    /// to someone else is a conflict.
    pub async fn set_oidc_subject(&self, user_id: i64, subject: &str) -> Result<()> {
        let done = write!(self.backend, |pool| {
            sqlx::query("UPDATE users SET oidc_subject = $1 WHERE id = $2")
                .bind(subject)
                .bind(user_id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(StoreError::conflict_on("oidc_subject", || {
            "this identity is linked to another user".to_owned()
        }))?;
        if done == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }
}
