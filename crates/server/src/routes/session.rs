//! Logging in and out with the session cookie, and "who am I".

use super::users::UserView;
use crate::auth::{self, Credential, Principal};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse};
use serde::{Deserialize, Serialize};
use sightline_core::Email;
use std::net::SocketAddr;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(log_in, who_am_i, log_out))
        .routes(routes!(change_own_password))
}

/// Credentials to log in with.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LogIn {
    /// The user's e-mail address.
    email: String,
    /// The user's password.
    password: String,
}

/// The logged-in user and how they are authenticated.
#[derive(Serialize, utoipa::ToSchema)]
struct SessionView {
    /// Who.
    user: UserView,
    /// `session` or `token`.
    credential: &'static str,
    /// Whether this credential may change what is monitored (editors and
    /// admins).
    can_write: bool,
    /// Whether this credential manages users, tokens and secrets and reads
    /// the audit log (admins).
    can_administer: bool,
}

impl From<Principal> for SessionView {
    fn from(principal: Principal) -> Self {
        SessionView {
            can_write: principal.role.can_write(),
            can_administer: principal.role.can_administer(),
            credential: match principal.credential {
                Credential::Session => "session",
                Credential::Token(_) => "token",
            },
            user: principal.user.into(),
        }
    }
}

/// A hash of a random secret, verified when the account does not exist so
/// that a wrong e-mail takes as long as a wrong password.
static DECOY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| auth::hash_password(&auth::new_secret()).unwrap_or_default());

/// Logs in: answers the user and sets the session cookie. Limited per client
/// address and per account.
#[utoipa::path(post, path = "/session", tag = "session", security(()), request_body = LogIn,
    responses(
        (status = 200, description = "logged in; the session cookie is set", body = SessionView),
        (status = 401, description = "wrong e-mail or password", body = ErrorBody),
        (status = 429, description = "too many attempts", body = ErrorBody)
    ))]
async fn log_in(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(credentials): ApiJson<LogIn>,
) -> ApiResult<impl IntoResponse> {
    let email = Email::parse(&credentials.email)?;
    admit_password_attempt(&state, client, &headers, &email).await?;
    let (user, hash) = match state.store.user_credentials(&email).await? {
        Some((user, hash)) if !hash.is_empty() => (Some(user), hash),
        // Made by single sign-on, with no password: as slow as a wrong one.
        Some((user, _)) => (Some(user), DECOY_HASH.clone()),
        None => (None, DECOY_HASH.clone()),
    };
    let valid = auth::verify_password_blocking(credentials.password, hash).await?;
    let Some(user) = user.filter(|_| valid) else {
        tracing::info!(email = %email, client = %client.ip(), "failed login");
        return Err(ApiError::BadCredentials);
    };
    // With single sign-on, a password may be the break-glass admin's only;
    // said after the password checks out, so that probing tells nothing.
    if let Some(sso) = &state.sso
        && let Some(only) = &sso.config().break_glass_admin
        && Email::parse(only).ok().as_ref() != Some(&email)
    {
        tracing::info!(email = %email, "password login refused: single sign-on only");
        return Err(ApiError::Forbidden(format!(
            "password login is off; sign in with {}",
            sso.config().name
        )));
    }
    let [cookie, device] = start_session(&state, &user).await?;
    tracing::info!(user = %user.email, "logged in");
    let view = SessionView::from(Principal {
        role: user.role,
        user,
        credential: Credential::Session,
        checkpoint_id: None,
    });
    Ok((
        AppendHeaders([(header::SET_COOKIE, cookie), (header::SET_COOKIE, device)]),
        axum::Json(view),
    ))
}

/// Starts a session for `user`, however they proved who they are: the
/// `Set-Cookie` values of the session and of the browser's device cookie.
pub(super) async fn start_session(
    state: &AppState,
    user: &sightline_store::User,
) -> ApiResult<[String; 2]> {
    let secret = auth::new_secret();
    let lifetime = state.config.session_lifetime;
    state
        .store
        .create_session(user.id, &auth::secret_hash(&secret), lifetime)
        .await?;
    let secure = state.config.secure_cookies;
    Ok([
        auth::session_set_cookie(&secret, lifetime, secure),
        state.device_cookies.issue(&user.email, secure),
    ])
}

/// Counts an attempt at an account's password against the login limits
/// (waiting for the account's pace when needed); a browser that logged in
/// to the account before is not paced.
async fn admit_password_attempt(
    state: &AppState,
    client: SocketAddr,
    headers: &HeaderMap,
    email: &Email,
) -> ApiResult<()> {
    let known_browser = state.device_cookies.knows(headers, email.as_str());
    state
        .login_limiter
        .admit(
            state.client_ip(client, headers),
            email.as_str(),
            known_browser,
        )
        .await
        .map_err(ApiError::retry_after)
}

/// Who the request is authenticated as.
#[utoipa::path(get, path = "/session", tag = "session",
    responses(
        (status = 200, description = "the authenticated user", body = SessionView),
        (status = 401, description = "not authenticated", body = ErrorBody)
    ))]
async fn who_am_i(principal: Principal) -> axum::Json<SessionView> {
    axum::Json(principal.into())
}

/// Logs out: ends the session and clears the cookie.
#[utoipa::path(delete, path = "/session", tag = "session",
    responses(
        (status = 204, description = "logged out"),
        (status = 401, description = "not authenticated", body = ErrorBody)
    ))]
async fn log_out(
    State(state): State<AppState>,
    _principal: Principal,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    if let Some(secret) = auth::session_cookie(&headers) {
        state
            .store
            .delete_session(&auth::secret_hash(&secret))
            .await?;
    }
    let cookie = auth::session_clear_cookie(state.config.secure_cookies);
    Ok((
        StatusCode::NO_CONTENT,
        AppendHeaders([(header::SET_COOKIE, cookie)]),
    ))
}

/// A person changing their own password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChangeRequest {
    /// The password in use now.
    current_password: String,
    /// The new one: at least 10 characters.
    #[schema(min_length = 10, max_length = 1024)]
    new_password: String,
    /// Revoke every API token of the account too.
    #[serde(default)]
    revoke_tokens: bool,
}

/// Changes the password of whoever asks (every role may), given the one in
/// use now. Ends their other sessions (this one stays), and their API
/// tokens too when asked. Attempts count against the login limits.
#[utoipa::path(put, path = "/session/password", tag = "session", request_body = PasswordChangeRequest,
    responses(
        (status = 204, description = "changed; other sessions ended"),
        (status = 401, description = "not authenticated", body = ErrorBody),
        (status = 422, description = "the current password is wrong, or the new one too short", body = ErrorBody),
        (status = 429, description = "too many attempts", body = ErrorBody)
    ))]
async fn change_own_password(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(request): ApiJson<PasswordChangeRequest>,
) -> ApiResult<StatusCode> {
    sightline_core::user::validate_password(&request.new_password)
        .map_err(|e| ApiError::invalid("new_password", e.message))?;
    let email = Email::parse(&principal.user.email)?;
    admit_password_attempt(&state, client, &headers, &email).await?;
    let (_, hash) = state
        .store
        .user_credentials(&email)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if !auth::verify_password_blocking(request.current_password, hash).await? {
        tracing::info!(user = %email, client = %client.ip(), "wrong current password");
        return Err(ApiError::invalid(
            "current_password",
            "is not the password in use now",
        ));
    }
    let new_hash = auth::hash_password_blocking(request.new_password).await?;
    let keep_session = match principal.credential {
        Credential::Session => {
            auth::session_cookie(&headers).map(|secret| auth::secret_hash(&secret))
        }
        Credential::Token(_) => None,
    };
    state
        .store
        .change_password(
            principal.user.id,
            &new_hash,
            &sightline_store::PasswordChange {
                keep_session,
                revoke_tokens: request.revoke_tokens,
            },
        )
        .await?;
    tracing::info!(user = %email, revoke_tokens = request.revoke_tokens, "changed their password");
    Ok(StatusCode::NO_CONTENT)
}
