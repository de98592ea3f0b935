//! Monitors: create, read, change and remove synthetic checks.

use super::{parse_id, without_read_only};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::json::JsonDocument;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use sightline_core::MonitorSpec;
use sightline_store::Monitor;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_monitors, create_monitor))
        .routes(routes!(get_monitor, replace_monitor, delete_monitor))
}

const READ_ONLY: &[&str] = &["id", "site_id", "status", "created_at", "updated_at"];

/// A monitor as the API shows it: its document plus what the server adds.
/// What a GET answers can be PUT back unchanged.
#[derive(Serialize, utoipa::ToSchema)]
struct MonitorView {
    /// Stable id.
    id: i64,
    /// The linked RUM site's id.
    site_id: Option<i64>,
    /// `up`, `degraded`, `down`, `unknown`, `paused` or `maintenance`.
    status: String,
    /// The monitor as configured.
    #[serde(flatten)]
    spec: MonitorSpec,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
}

impl From<Monitor> for MonitorView {
    fn from(monitor: Monitor) -> Self {
        let status = if monitor.spec.settings.enabled {
            monitor.status
        } else {
            "paused".to_owned()
        };
        MonitorView {
            id: monitor.id,
            site_id: monitor.site_id,
            status,
            spec: monitor.spec,
            created_at: monitor.created_at.to_rfc3339(),
            updated_at: monitor.updated_at.to_rfc3339(),
        }
    }
}

/// Every monitor.
#[utoipa::path(get, path = "/monitors", tag = "monitors", responses((status = 200, body = Vec<MonitorView>)))]
async fn list_monitors(
    State(state): State<AppState>,
    _: Principal,
) -> ApiResult<Json<Vec<MonitorView>>> {
    let monitors = state.store.list_monitors().await?;
    Ok(Json(monitors.into_iter().map(MonitorView::from).collect()))
}

/// Creates a monitor (admins only). The body is validated against its
/// type; an error names the field.
#[utoipa::path(post, path = "/monitors", tag = "monitors", request_body = MonitorSpec,
    responses(
        (status = 201, body = MonitorView),
        (status = 409, description = "the name is taken", body = ErrorBody),
        (status = 422, description = "invalid monitor", body = ErrorBody)
    ))]
async fn create_monitor(
    State(state): State<AppState>,
    _: Principal,
    JsonDocument(document): JsonDocument,
) -> ApiResult<(StatusCode, Json<MonitorView>)> {
    let spec = MonitorSpec::from_json(without_read_only(document, READ_ONLY))?;
    let monitor = state.store.create_monitor(&spec).await?;
    Ok((StatusCode::CREATED, Json(monitor.into())))
}

/// One monitor.
#[utoipa::path(get, path = "/monitors/{id}", tag = "monitors", params(("id" = i64, Path)),
    responses((status = 200, body = MonitorView), (status = 404, body = ErrorBody)))]
async fn get_monitor(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<MonitorView>> {
    Ok(Json(state.store.monitor(parse_id(&id)?).await?.into()))
}

/// Replaces a monitor's configuration; its history stays (admins only).
#[utoipa::path(put, path = "/monitors/{id}", tag = "monitors", params(("id" = i64, Path)), request_body = MonitorSpec,
    responses(
        (status = 200, body = MonitorView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody),
        (status = 422, description = "invalid monitor", body = ErrorBody)
    ))]
async fn replace_monitor(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
    JsonDocument(document): JsonDocument,
) -> ApiResult<Json<MonitorView>> {
    let id = parse_id(&id)?;
    let spec = MonitorSpec::from_json(without_read_only(document, READ_ONLY))?;
    Ok(Json(state.store.update_monitor(id, &spec).await?.into()))
}

/// Removes a monitor with its results and incidents (admins only).
#[utoipa::path(delete, path = "/monitors/{id}", tag = "monitors", params(("id" = i64, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody)))]
async fn delete_monitor(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.store.delete_monitor(parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
