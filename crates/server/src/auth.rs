//! Who is asking: passwords, session cookies, API tokens, and the extractors
//! that turn a request into a [`Principal`] (or a 401/403) before a handler
//! runs.

use crate::error::ApiError;
use crate::state::AppState;
use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use sightline_core::Role;
use sightline_store::User;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "sightline_session";

/// The prefix of every API token, so that a leaked token is recognisable
/// (and findable by secret scanners).
pub const TOKEN_PREFIX: &str = "slt_";

/// Hashes a password with argon2id and a random salt (PHC string format).
/// Deliberately slow; call from a blocking thread.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))
}

/// Checks a password against a stored hash. A malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Hashes a password on a blocking thread, away from the request workers.
pub async fn hash_password_blocking(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing task: {e}")))?
}

/// Checks a password on a blocking thread, away from the request workers.
pub async fn verify_password_blocking(password: String, hash: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(format!("password check task: {e}")))
}

/// A new random secret: 32 bytes from the OS, URL-safe base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new site key. Site keys are public (they are in every page) but
/// unguessable, so nobody can send beacons for a site they cannot see.
pub fn new_site_key() -> String {
    new_secret()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect()
}

/// What is stored for a secret: its SHA-256, hex. Secrets are random and
/// long, so a fast hash is enough; a database leak reveals no usable secret.
pub fn secret_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Makes a new API token: the secret to show once, and what the store keeps
/// of it (its hash and a recognisable prefix).
pub fn mint_token(
    user_id: i64,
    name: &str,
    role: Role,
    checkpoint_id: Option<i64>,
    expires_at: Option<sightline_core::Timestamp>,
) -> (String, sightline_store::NewApiToken) {
    let secret = format!("{TOKEN_PREFIX}{}", new_secret());
    let token = sightline_store::NewApiToken {
        user_id,
        name: name.to_owned(),
        token_hash: secret_hash(&secret),
        token_prefix: secret.chars().take(TOKEN_PREFIX.len() + 6).collect(),
        role,
        checkpoint_id,
        expires_at,
    };
    (secret, token)
}

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The session cookie of a logged-in browser.
    Session,
    /// An API token (`Authorization: Bearer …`), by id.
    Token(i64),
}

/// The authenticated user behind a request, with the role in force for it
/// (a token may carry less than its user).
#[derive(Debug, Clone)]
pub struct Principal {
    /// Who.
    pub user: User,
    /// What they may do through this credential.
    pub role: Role,
    /// How they proved it.
    pub credential: Credential,
    /// For an agent token: the one checkpoint it acts for.
    pub checkpoint_id: Option<i64>,
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        // Role checks happen once, in the gate in front of `/api/v1`
        // (`routes::require_auth`); this only establishes who is asking.
        let principal = authenticate(parts, state).await?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

/// The credentials of an `Authorization: Bearer …` header; the scheme's
/// name is case-insensitive (RFC 7235). `None` when there is no such header
/// or it uses another scheme.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
        .filter(|credentials| !credentials.is_empty())
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    if parts.headers.contains_key(header::AUTHORIZATION) {
        let token = bearer_token(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        let (token, user) = state
            .store
            .token_user(&secret_hash(token))
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        return Ok(Principal {
            user,
            role: token.role,
            credential: Credential::Token(token.id),
            checkpoint_id: token.checkpoint_id,
        });
    }
    let secret = session_cookie(&parts.headers).ok_or(ApiError::Unauthenticated)?;
    let (_, user) = state
        .store
        .session_user(&secret_hash(&secret), state.config.session_lifetime)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    Ok(Principal {
        role: user.role,
        user,
        credential: Credential::Session,
        checkpoint_id: None,
    })
}

/// The session secret from the request's cookies, if there is one.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    cookie_values(headers, SESSION_COOKIE).next()
}

/// The values of the request's cookies named `name`, in order.
pub fn cookie_values<'a>(
    headers: &'a axum::http::HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = String> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(move |cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

/// The `Set-Cookie` value that starts a session: HttpOnly (no script can read
/// it), SameSite=Lax (no cross-site writes), Secure unless configured off for
/// plain-HTTP deployments.
pub fn session_set_cookie(secret: &str, max_age: std::time::Duration, secure: bool) -> String {
    cookie::Cookie::build((SESSION_COOKIE, secret.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .build()
        .to_string()
}

/// The `Set-Cookie` value that ends a session.
pub fn session_clear_cookie(secure: bool) -> String {
    cookie::Cookie::build((SESSION_COOKIE, ""))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(secret_hash(&a).len(), 64);
        assert_eq!(secret_hash(&a), secret_hash(&a));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let with = |value: &str| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            bearer_token(&headers).map(str::to_owned)
        };
        for value in [
            "Bearer slt_x",
            "bearer slt_x",
            "BEARER  slt_x ",
            "bEaReR slt_x",
        ] {
            assert_eq!(with(value).as_deref(), Some("slt_x"), "{value}");
        }
        for value in ["Basic slt_x", "Bearer", "Bearer ", "Bearerslt_x"] {
            assert_eq!(with(value), None, "{value}");
        }
    }

    #[test]
    fn the_session_cookie_is_locked_down() {
        let cookie = session_set_cookie("s3cret", std::time::Duration::from_secs(60), true);
        for part in [
            "sightline_session=s3cret",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(cookie.contains(part), "{cookie} lacks {part}");
        }
    }
}
