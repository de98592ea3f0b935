//! Signing in through the OpenID provider: the login screen's "Sign in with
//! …" leads to `GET /session/oidc`, which sends the browser to the provider;
//! the provider sends it back to `GET /session/oidc/callback`, which starts
//! a session like a password login does. People are created at their first
//! sign-in, and their role follows the provider's claim when one is mapped.

use crate::auth::{self};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::oidc::{Identity, SignInError};
use crate::routes::QueryParams;
use crate::state::AppState;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde::Serialize;
use sightline_core::Role;
use sightline_store::{NewAuditEntry, NewUser, StoreError, User};
use std::net::SocketAddr;
use std::time::Duration;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login_options))
        .routes(routes!(start))
        .routes(routes!(callback))
}

/// The cookie that ties the provider's return to the browser that left.
const STATE_COOKIE: &str = "sightline_oidc";
/// The cookie telling the login screen why a sign-in was refused.
const REFUSAL_COOKIE: &str = "sightline_sso_error";
/// Where the state cookie goes: the callback alone.
const STATE_COOKIE_PATH: &str = "/api/v1/session/oidc";
/// How long a sign-in may stay at the provider.
const SIGN_IN_TIME: Duration = Duration::from_secs(600);

/// How people may sign in, for the login screen.
#[derive(Serialize, utoipa::ToSchema)]
struct LoginOptions {
    /// `everyone`, or `break_glass_only` when single sign-on has turned
    /// password login off for all but one admin.
    password: &'static str,
    /// The OpenID provider, when there is one.
    single_sign_on: Option<SingleSignOnOption>,
}

/// The provider as the login screen offers it.
#[derive(Serialize, utoipa::ToSchema)]
struct SingleSignOnOption {
    /// Shown as "Sign in with {name}".
    name: String,
    /// Where the button leads.
    url: &'static str,
}

/// How people may sign in (no authentication needed).
#[utoipa::path(get, path = "/session/options", tag = "session", security(()),
    responses((status = 200, body = LoginOptions)))]
async fn login_options(State(state): State<AppState>) -> Json<LoginOptions> {
    let sso = state.sso.as_ref();
    Json(LoginOptions {
        password: if sso.is_some_and(|sso| sso.config().break_glass_admin.is_some()) {
            "break_glass_only"
        } else {
            "everyone"
        },
        single_sign_on: sso.map(|sso| SingleSignOnOption {
            name: sso.config().name.clone(),
            url: "/api/v1/session/oidc",
        }),
    })
}

/// A `return_to` the UI may be sent back to: a path of this server.
fn safe_return(params: &std::collections::HashMap<String, String>) -> String {
    params
        .get("return_to")
        .filter(|path| {
            // A path of this server, and nothing a browser would read as
            // another server's (`//evil`, `/\evil`, or those with a tab or
            // line break that browsers drop).
            path.starts_with('/')
                && !path.starts_with("//")
                && !path
                    .chars()
                    .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
        })
        .cloned()
        .unwrap_or_else(|| "/".to_owned())
}

/// Sends the browser to the OpenID provider to sign in (no authentication
/// needed); `return_to` is the UI path to come back to.
#[utoipa::path(get, path = "/session/oidc", tag = "session", security(()),
    params(("return_to" = Option<String>, Query, description = "a path of this server to show once signed in")),
    responses(
        (status = 303, description = "to the provider; a cookie ties its return to this browser"),
        (status = 404, description = "single sign-on is not configured", body = ErrorBody),
        (status = 429, description = "too many sign-ins started from this address", body = ErrorBody),
        (status = 502, description = "the provider cannot be reached", body = ErrorBody)
    ))]
async fn start(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    QueryParams(params): QueryParams,
) -> ApiResult<Response> {
    let sso = state
        .sso
        .as_ref()
        .ok_or(ApiError::NotFound("single sign-on configuration"))?;
    // Each start stores a row until it expires: an address starts no more
    // sign-ins than it may try passwords.
    state
        .login_limiter
        .admit_address(state.client_ip(client, &headers))
        .map_err(ApiError::retry_after)?;
    let started = sso
        .start(safe_return(&params))
        .await
        .map_err(|e| ApiError::Upstream(e.to_string()))?;
    let expires = state.store.now().plus(SIGN_IN_TIME);
    state
        .store
        .begin_oidc_login(
            &auth::secret_hash(&started.state),
            &started.pending,
            expires,
        )
        .await?;
    let cookie = state_cookie(&started.state, SIGN_IN_TIME, state.config.secure_cookies);
    Ok((
        StatusCode::SEE_OTHER,
        AppendHeaders([
            (header::LOCATION, started.url.to_string()),
            (header::SET_COOKIE, cookie),
        ]),
    )
        .into_response())
}

/// The cookie that tells the login screen why a sign-in was refused. A
/// cookie, not the address: only this server can set it, so no link can
/// make the login screen say what someone else wrote. Readable by the
/// UI's script, gone after a minute.
fn refusal_cookie(why: &str, secure: bool) -> String {
    let text: String = why.chars().take(300).collect();
    let encoded: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
    cookie::Cookie::build((REFUSAL_COOKIE, encoded))
        .path("/")
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(60))
        .build()
        .to_string()
}

/// The cookie holding a sign-in's `state`, or (with a zero age) clearing it.
fn state_cookie(state: &str, max_age: Duration, secure: bool) -> String {
    cookie::Cookie::build((STATE_COOKIE, state.to_owned()))
        .path(STATE_COOKIE_PATH)
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age.as_secs() as i64))
        .build()
        .to_string()
}

/// Where the provider sends the browser back (no authentication needed):
/// checks the return, starts a session and goes on to the UI. A sign-in
/// that fails goes back to the login screen, which says why.
#[utoipa::path(get, path = "/session/oidc/callback", tag = "session", security(()),
    params(
        ("code" = Option<String>, Query, description = "the authorization code"),
        ("state" = Option<String>, Query, description = "the state the sign-in was started with"),
        ("error" = Option<String>, Query, description = "the provider's error, instead of a code")
    ),
    responses((status = 303, description = "to the UI: signed in with the session cookie set, or to the login screen with `sso_error=1` and the reason in the `sightline_sso_error` cookie")))]
async fn callback(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    QueryParams(params): QueryParams,
) -> Response {
    let clear = state_cookie("", Duration::ZERO, state.config.secure_cookies);
    match sign_in(&state, client, &headers, &params).await {
        Ok((user, return_to)) => {
            let [session, device] = match super::session::start_session(&state, &user).await {
                Ok(cookies) => cookies,
                Err(error) => return error.into_response(),
            };
            tracing::info!(user = %user.email, "signed in through the identity provider");
            (
                StatusCode::SEE_OTHER,
                AppendHeaders([
                    (header::LOCATION, return_to),
                    (header::SET_COOKIE, session),
                    (header::SET_COOKIE, device),
                    (header::SET_COOKIE, clear),
                ]),
            )
                .into_response()
        }
        Err(failure) => {
            let why = failure.to_string();
            // `?`: the provider's words are logged escaped, one line.
            tracing::warn!(client = %client.ip(), reason = ?why, "single sign-on refused");
            (
                StatusCode::SEE_OTHER,
                AppendHeaders([
                    (header::LOCATION, "/?sso_error=1".to_owned()),
                    (header::SET_COOKIE, clear),
                    (
                        header::SET_COOKIE,
                        refusal_cookie(&why, state.config.secure_cookies),
                    ),
                ]),
            )
                .into_response()
        }
    }
}

/// Why a return from the provider does not sign anyone in.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("single sign-on is not configured")]
    NotConfigured,
    #[error(transparent)]
    SignIn(#[from] SignInError),
    #[error("an account with {0} exists, and the identity provider does not vouch for the address")]
    Unverified(String),
    #[error("the sign-in could not be stored: {0}")]
    Store(#[from] StoreError),
}

/// Checks a return from the provider and finds (or makes) its user.
async fn sign_in(
    state: &AppState,
    client: SocketAddr,
    headers: &HeaderMap,
    params: &std::collections::HashMap<String, String>,
) -> Result<(User, String), Refusal> {
    let sso = state.sso.as_ref().ok_or(Refusal::NotConfigured)?;
    if let Some(error) = params.get("error") {
        let described = params
            .get("error_description")
            .map_or_else(|| error.clone(), |text| format!("{error}: {text}"));
        return Err(SignInError::Refused(described).into());
    }
    let given = params.get("state").ok_or(SignInError::UnknownState)?;
    // The state must be the one this browser left with (no one else's
    // sign-in can be finished in it) and is good once.
    let ours = auth::cookie_values(headers, STATE_COOKIE).any(|kept| kept == *given);
    if !ours {
        return Err(SignInError::UnknownState.into());
    }
    let pending = state
        .store
        .take_oidc_login(&auth::secret_hash(given))
        .await?
        .ok_or(SignInError::UnknownState)?;
    let code = params
        .get("code")
        .ok_or_else(|| SignInError::Refused("no authorization code".to_owned()))?;
    let return_to = pending.return_to.clone();
    let identity = sso.finish(code.clone(), pending).await?;
    let address = Some(state.client_ip(client, headers).to_string());
    let user = provision(state, &identity, address).await?;
    Ok((user, return_to))
}

/// The user `identity` is: linked before, or the account with the same
/// address (linked now, if the provider vouches for the address), or a new
/// one. With a role claim mapped, the role follows it.
async fn provision(
    state: &AppState,
    identity: &Identity,
    address: Option<String>,
) -> Result<User, Refusal> {
    let store = &state.store;
    let record = async |action: &str, user: &User, before: Option<serde_json::Value>| {
        let entry = NewAuditEntry {
            actor_id: Some(user.id),
            actor: user.email.clone(),
            credential: "single sign-on".to_owned(),
            address: address.clone(),
            action: action.to_owned(),
            kind: "user".to_owned(),
            object_id: Some(user.id.to_string()),
            object_name: Some(user.email.clone()),
            before,
            after: Some(serde_json::json!({"email": user.email, "role": user.role})),
        };
        if let Err(error) = store.record_audit(&entry).await {
            tracing::error!(%error, "the audit log did not take a sign-in's change");
        }
    };
    let user = match store.user_by_oidc_subject(&identity.subject).await? {
        Some(user) => user,
        None => match store.user_by_email(&identity.email).await {
            Ok(user) => {
                if !identity.email_verified {
                    return Err(Refusal::Unverified(user.email));
                }
                store.set_oidc_subject(user.id, &identity.subject).await?;
                user
            }
            Err(StoreError::NotFound(_)) => {
                let user = store
                    .create_user(&NewUser {
                        email: identity.email.clone(),
                        // No password: none matches an empty hash.
                        password_hash: String::new(),
                        role: identity.role.unwrap_or(Role::Viewer),
                    })
                    .await?;
                store.set_oidc_subject(user.id, &identity.subject).await?;
                record("created", &user, None).await;
                return Ok(user);
            }
            Err(error) => return Err(error.into()),
        },
    };
    match identity.role {
        Some(role) if role != user.role => match store.set_role(user.id, role).await {
            Ok(changed) => {
                let before = serde_json::json!({"email": user.email, "role": user.role});
                record("changed", &changed, Some(before)).await;
                Ok(changed)
            }
            // The last admin stays one, whatever the provider says now.
            Err(StoreError::Refused(why)) => {
                tracing::warn!(user = %user.email, %why, "kept the role the provider would change");
                Ok(user)
            }
            Err(error) => Err(error.into()),
        },
        _ => Ok(user),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_server_are_returned_to() {
        let back = |to: &str| {
            let params = std::collections::HashMap::from([("return_to".to_owned(), to.to_owned())]);
            safe_return(&params)
        };
        assert_eq!(back("/monitors/3?from=1h"), "/monitors/3?from=1h");
        for hostile in [
            "//evil.example/",
            "/\\evil.example/",
            "/\t/evil.example/",
            "/\n/evil.example",
            "https://evil.example/",
            "evil",
        ] {
            assert_eq!(back(hostile), "/", "{hostile:?}");
        }
    }
}
