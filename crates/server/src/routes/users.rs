//! Users: who may log in, and with which role.

use super::parse_id;
use crate::auth::{self, Principal};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sightline_core::user::validate_password;
use sightline_core::{Email, Role};
use sightline_store::{NewUser, User};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
}

/// A user as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UserView {
    /// Stable id.
    id: i64,
    /// Login name.
    email: String,
    /// `admin`, `editor` or `viewer`.
    role: Role,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        UserView {
            id: user.id,
            email: user.email,
            role: user.role,
            created_at: user.created_at.to_rfc3339(),
            updated_at: user.updated_at.to_rfc3339(),
        }
    }
}

/// A new user.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    /// Login name.
    email: String,
    /// At least 10 characters.
    #[schema(min_length = 10, max_length = 1024)]
    password: String,
    /// `viewer` by default.
    #[serde(default = "viewer")]
    role: Role,
}

fn viewer() -> Role {
    Role::Viewer
}

/// Changes to a user; absent fields stay.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateUser {
    /// A new role.
    role: Option<Role>,
    /// A new password (ends the user's sessions).
    #[schema(min_length = 10, max_length = 1024)]
    password: Option<String>,
}

/// Every user.
#[utoipa::path(get, path = "/users", tag = "users",
    responses((status = 200, body = Vec<UserView>), (status = 401, body = ErrorBody)))]
async fn list_users(State(state): State<AppState>, _: Principal) -> ApiResult<Json<Vec<UserView>>> {
    let users = state.store.list_users().await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

/// Creates a user (admins only).
#[utoipa::path(post, path = "/users", tag = "users", request_body = CreateUser,
    responses(
        (status = 201, body = UserView),
        (status = 409, description = "the e-mail is taken", body = ErrorBody),
        (status = 422, description = "invalid input", body = ErrorBody)
    ))]
async fn create_user(
    State(state): State<AppState>,
    _: Principal,
    ApiJson(request): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let email = Email::parse(&request.email)?;
    validate_password(&request.password)?;
    let password_hash = auth::hash_password_blocking(request.password).await?;
    let user = state
        .store
        .create_user(&NewUser {
            email,
            password_hash,
            role: request.role,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// One user.
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(state.store.user(parse_id(&id)?).await?.into()))
}

/// Changes a user's role or password (admins only). The last admin cannot
/// be demoted.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UpdateUser,
    responses(
        (status = 200, body = UserView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "would leave no admin", body = ErrorBody)
    ))]
async fn update_user(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    let id = parse_id(&id)?;
    if let Some(password) = &request.password {
        validate_password(password)?;
    }
    let mut user = state.store.user(id).await?;
    if let Some(password) = request.password {
        let hash = auth::hash_password_blocking(password).await?;
        state.store.set_password(id, &hash).await?;
    }
    if let Some(role) = request.role {
        user = state.store.set_role(id, role).await?;
    }
    Ok(Json(user.into()))
}

/// Removes a user with their sessions and tokens (admins only). The last
/// admin cannot be removed.
#[utoipa::path(delete, path = "/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses(
        (status = 204, description = "removed"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "would leave no admin", body = ErrorBody)
    ))]
async fn delete_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id)?;
    if id == principal.user.id {
        return Err(ApiError::Conflict {
            field: None,
            message: "you cannot remove yourself; ask another admin".to_owned(),
        });
    }
    state.store.delete_user(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
