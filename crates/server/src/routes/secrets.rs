//! The vault over the API: secrets can be set and removed, and their names
//! listed, but a value is never returned.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::JsonDocument;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sightline_synthetic::VaultError;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_secrets))
        .routes(routes!(put_secret, delete_secret))
}

/// A secret as the API shows it: its name, never its value.
#[derive(Serialize, utoipa::ToSchema)]
struct SecretView {
    /// Used in checks as `{{secrets.NAME}}`.
    name: String,
    /// When it was last set (RFC 3339).
    updated_at: String,
}

/// A secret's new value.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SecretValue {
    /// The value; stored encrypted, never shown again.
    value: String,
}

fn vault_error(error: VaultError) -> ApiError {
    match error {
        VaultError::NoKey => ApiError::Conflict {
            field: None,
            message: error.to_string(),
        },
        VaultError::BadName(_) => ApiError::invalid("name", error.to_string()),
        VaultError::Store(error) => error.into(),
        other => ApiError::Internal(other.to_string()),
    }
}

/// The names of the secrets in the vault.
#[utoipa::path(get, path = "/secrets", tag = "secrets", responses((status = 200, body = Vec<SecretView>)))]
async fn list_secrets(
    State(state): State<AppState>,
    _: Principal,
) -> ApiResult<Json<Vec<SecretView>>> {
    let sealed = state.store.sealed_secrets().await?;
    Ok(Json(
        sealed
            .into_iter()
            .map(|secret| SecretView {
                name: secret.name,
                updated_at: secret.updated_at.to_rfc3339(),
            })
            .collect(),
    ))
}

/// Sets a secret (admins only). Needs the vault key (`SIGHTLINE_VAULT_KEY`).
#[utoipa::path(put, path = "/secrets/{name}", tag = "secrets", params(("name" = String, Path)),
    request_body = SecretValue,
    responses(
        (status = 204, description = "stored, encrypted"),
        (status = 409, description = "the server has no vault key", body = ErrorBody),
        (status = 422, description = "not a secret name", body = ErrorBody)
    ))]
async fn put_secret(
    State(state): State<AppState>,
    _: Principal,
    Path(name): Path<String>,
    JsonDocument(document): JsonDocument,
) -> ApiResult<StatusCode> {
    let SecretValue { value } = sightline_core::validation::from_json_value(document)?;
    let vault = state
        .synthetic
        .vault()
        .ok_or_else(|| vault_error(VaultError::NoKey))?;
    vault
        .put(&state.store, &name, &value)
        .await
        .map_err(vault_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a secret (admins only).
#[utoipa::path(delete, path = "/secrets/{name}", tag = "secrets", params(("name" = String, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody)))]
async fn delete_secret(
    State(state): State<AppState>,
    _: Principal,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    state.store.delete_secret(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
