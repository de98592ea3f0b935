//! API tokens: created (and shown) once, listed without their secret, revoked.

use super::parse_id;
use crate::auth::{Principal, mint_token};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sightline_core::Role;
use sightline_core::validation::require_text;
use sightline_store::ApiToken;
use std::time::Duration;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

/// A token as listed: never with its secret.
#[derive(Serialize, utoipa::ToSchema)]
struct TokenView {
    /// Stable id.
    id: i64,
    /// The user it acts for.
    user_id: i64,
    /// What it is for.
    name: String,
    /// The start of the secret, to recognise it.
    prefix: String,
    /// What it may do.
    role: Role,
    /// The checkpoint an agent token is bound to.
    checkpoint_id: Option<i64>,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339, if ever used.
    last_used_at: Option<String>,
    /// RFC 3339, if it expires.
    expires_at: Option<String>,
    /// RFC 3339, if revoked.
    revoked_at: Option<String>,
}

fn rfc3339(millis: Option<i64>) -> Option<String> {
    millis.map(|millis| sightline_core::Timestamp::from_millis(millis).to_rfc3339())
}

impl From<ApiToken> for TokenView {
    fn from(token: ApiToken) -> Self {
        TokenView {
            id: token.id,
            user_id: token.user_id,
            name: token.name,
            prefix: token.token_prefix,
            role: token.role,
            checkpoint_id: token.checkpoint_id,
            created_at: token.created_at.to_rfc3339(),
            last_used_at: rfc3339(token.last_used_at),
            expires_at: rfc3339(token.expires_at),
            revoked_at: rfc3339(token.revoked_at),
        }
    }
}

/// A new token.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    /// What it is for (`deploy script`).
    name: String,
    /// What it may do; `viewer` by default.
    #[serde(default = "viewer")]
    role: Role,
    /// The user it acts for; the caller by default.
    user_id: Option<i64>,
    /// Bind the token to one checkpoint's agent protocol.
    #[schema(pattern = r"^[a-z0-9_-]{1,64}$")]
    checkpoint: Option<String>,
    /// Days until it stops working; never by default.
    expires_in_days: Option<u32>,
}

fn viewer() -> Role {
    Role::Viewer
}

/// A created token, with its secret: the only time it is shown.
#[derive(Serialize, utoipa::ToSchema)]
struct CreatedToken {
    /// Send as `Authorization: Bearer <token>`. Not retrievable later.
    token: String,
    /// The stored token.
    #[serde(flatten)]
    view: TokenView,
}

/// Every token (admins), or the caller's own (editors and viewers).
#[utoipa::path(get, path = "/tokens", tag = "tokens",
    responses((status = 200, body = Vec<TokenView>), (status = 401, body = ErrorBody)))]
async fn list_tokens(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<TokenView>>> {
    let owner = (!principal.role.can_administer()).then_some(principal.user.id);
    let tokens = state.store.list_tokens(owner).await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

/// Creates a token and shows its secret once (admins only).
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = CreateToken,
    responses(
        (status = 201, body = CreatedToken),
        (status = 409, description = "the user cannot own such a token", body = ErrorBody),
        (status = 422, description = "invalid input", body = ErrorBody)
    ))]
async fn create_token(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    require_text("name", &request.name, 100)?;
    let user_id = request.user_id.unwrap_or(principal.user.id);
    state
        .store
        .user(user_id)
        .await
        .map_err(|_| ApiError::invalid("user_id", format!("there is no user {user_id}")))?;
    let checkpoint_id = match &request.checkpoint {
        Some(name) => {
            sightline_core::monitor::validate_checkpoint_name(name)
                .map_err(|e| e.within("checkpoint"))?;
            Some(state.store.ensure_checkpoint(name).await?.id)
        }
        None => None,
    };
    let expires_at = request.expires_in_days.map(|days| {
        state
            .store
            .now()
            .plus(Duration::from_secs(u64::from(days) * 86_400))
    });
    let (secret, new_token) = mint_token(
        user_id,
        request.name.trim(),
        request.role,
        checkpoint_id,
        expires_at,
    );
    let token = state.store.create_token(&new_token).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: secret,
            view: token.into(),
        }),
    ))
}

/// Revokes a token for good (admins only).
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 204, description = "revoked"), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.store.revoke_token(parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
