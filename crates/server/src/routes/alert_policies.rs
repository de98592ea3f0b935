//! Alert policies: who is told when a monitor goes down, and when.

use super::{parse_id, without_read_only};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::json::JsonDocument;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use sightline_core::AlertPolicySpec;
use sightline_core::alert_channels;
use sightline_store::AlertPolicy;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_policies, create_policy))
        .routes(routes!(get_policy, replace_policy, delete_policy))
}

const READ_ONLY: &[&str] = &["id", "monitors", "created_at", "updated_at"];

/// An alert policy as the API shows it; what a GET answers can be PUT back.
#[derive(Serialize, utoipa::ToSchema)]
struct PolicyView {
    /// Stable id.
    id: i64,
    /// The monitors that name this policy.
    monitors: Vec<String>,
    /// The policy as configured.
    #[serde(flatten)]
    spec: AlertPolicySpec,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
}

/// The policy as `reader` may see it: channel settings are shown whole to
/// those who may change the policy (admins and editors), redacted to
/// viewers (a webhook URL or a key lets anyone post).
async fn view(
    state: &AppState,
    reader: &Principal,
    mut policy: AlertPolicy,
) -> ApiResult<PolicyView> {
    if !reader.role.can_write() {
        for level in &mut policy.spec.levels {
            for (name, targets) in &mut level.channels {
                if let Some(kind) = alert_channels::channel(name) {
                    for target in targets.iter_mut() {
                        *target = alert_channels::redacted(kind, target);
                    }
                }
            }
        }
    }
    let monitors = state
        .store
        .list_monitors()
        .await?
        .into_iter()
        .filter(|monitor| monitor.spec.settings.alert_policy.as_deref() == Some(&policy.spec.name))
        .map(|monitor| monitor.spec.settings.name)
        .collect();
    Ok(PolicyView {
        id: policy.id,
        monitors,
        spec: policy.spec,
        created_at: policy.created_at.to_rfc3339(),
        updated_at: policy.updated_at.to_rfc3339(),
    })
}

/// Every alert policy.
#[utoipa::path(get, path = "/alert-policies", tag = "alerting",
    responses((status = 200, body = Vec<PolicyView>)))]
async fn list_policies(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<PolicyView>>> {
    let mut views = Vec::new();
    for policy in state.store.list_documents::<AlertPolicySpec>().await? {
        views.push(view(&state, &principal, policy).await?);
    }
    Ok(Json(views))
}

/// Creates an alert policy (admins and editors); monitors name it in `alert_policy`.
#[utoipa::path(post, path = "/alert-policies", tag = "alerting", request_body = AlertPolicySpec,
    responses(
        (status = 201, body = PolicyView),
        (status = 409, description = "the name is taken", body = ErrorBody),
        (status = 422, description = "invalid policy", body = ErrorBody)
    ))]
async fn create_policy(
    State(state): State<AppState>,
    principal: Principal,
    JsonDocument(document): JsonDocument,
) -> ApiResult<(StatusCode, Json<PolicyView>)> {
    let spec = AlertPolicySpec::from_json(without_read_only(document, READ_ONLY))?;
    let policy = state.store.create_document(&spec).await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&state, &principal, policy).await?),
    ))
}

/// One alert policy.
#[utoipa::path(get, path = "/alert-policies/{id}", tag = "alerting", params(("id" = i64, Path)),
    responses((status = 200, body = PolicyView), (status = 404, body = ErrorBody)))]
async fn get_policy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<PolicyView>> {
    let policy = state.store.document(parse_id(&id)?).await?;
    Ok(Json(view(&state, &principal, policy).await?))
}

/// Replaces an alert policy (admins and editors).
#[utoipa::path(put, path = "/alert-policies/{id}", tag = "alerting", params(("id" = i64, Path)),
    request_body = AlertPolicySpec,
    responses(
        (status = 200, body = PolicyView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody),
        (status = 422, description = "invalid policy", body = ErrorBody)
    ))]
async fn replace_policy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonDocument(document): JsonDocument,
) -> ApiResult<Json<PolicyView>> {
    let id = parse_id(&id)?;
    let spec = AlertPolicySpec::from_json(without_read_only(document, READ_ONLY))?;
    let policy = state.store.update_document(id, &spec).await?;
    Ok(Json(view(&state, &principal, policy).await?))
}

/// Removes an alert policy (admins and editors); monitors naming it keep the name
/// and alert nobody until a policy of that name exists again.
#[utoipa::path(delete, path = "/alert-policies/{id}", tag = "alerting", params(("id" = i64, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody)))]
async fn delete_policy(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_document::<AlertPolicySpec>(parse_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
