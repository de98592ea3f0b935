//! Maintenance windows: periods when results are recorded but not counted.

use super::{parse_id, without_read_only};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::json::JsonDocument;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use sightline_core::{MaintenanceWindowSpec, Timestamp};
use sightline_store::MaintenanceWindow;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_windows, create_window))
        .routes(routes!(get_window, replace_window, delete_window))
}

const READ_ONLY: &[&str] = &["id", "active", "upcoming", "created_at", "updated_at"];

/// How many spans to come a window lists.
const UPCOMING: usize = 3;

/// One span of a window, open or to come.
#[derive(Serialize, utoipa::ToSchema)]
struct SpanView {
    /// RFC 3339.
    starts_at: String,
    /// RFC 3339.
    ends_at: String,
}

/// A maintenance window as the API shows it; what a GET answers can be PUT back.
#[derive(Serialize, utoipa::ToSchema)]
struct WindowView {
    /// Stable id.
    id: i64,
    /// Whether the window is open now.
    active: bool,
    /// The span open now, if any, and the next ones: up to three, none
    /// for a one-off window that ended.
    upcoming: Vec<SpanView>,
    /// The window as configured.
    #[serde(flatten)]
    spec: MaintenanceWindowSpec,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
}

fn view(state: &AppState, window: MaintenanceWindow) -> WindowView {
    let now = state.store.now();
    let upcoming = window
        .spec
        .spans(now, Timestamp::from(i64::MAX / 2), UPCOMING)
        .into_iter()
        .map(|(starts, ends)| SpanView {
            starts_at: starts.to_rfc3339(),
            ends_at: ends.to_rfc3339(),
        })
        .collect();
    WindowView {
        id: window.id,
        active: window.spec.covers(now),
        upcoming,
        spec: window.spec,
        created_at: window.created_at.to_rfc3339(),
        updated_at: window.updated_at.to_rfc3339(),
    }
}

/// Every maintenance window.
#[utoipa::path(get, path = "/maintenance-windows", tag = "maintenance",
    responses((status = 200, body = Vec<WindowView>)))]
async fn list_windows(
    State(state): State<AppState>,
    _: Principal,
) -> ApiResult<Json<Vec<WindowView>>> {
    let windows = state.store.list_maintenance_windows().await?;
    Ok(Json(
        windows
            .into_iter()
            .map(|window| view(&state, window))
            .collect(),
    ))
}

/// Creates a maintenance window (admins and editors): one-off (`starts_at`,
/// `ends_at`) or recurring (`cron`, `duration`).
#[utoipa::path(post, path = "/maintenance-windows", tag = "maintenance", request_body = MaintenanceWindowSpec,
    responses(
        (status = 201, body = WindowView),
        (status = 409, description = "the name is taken", body = ErrorBody),
        (status = 422, description = "invalid window", body = ErrorBody)
    ))]
async fn create_window(
    State(state): State<AppState>,
    _: Principal,
    JsonDocument(document): JsonDocument,
) -> ApiResult<(StatusCode, Json<WindowView>)> {
    let spec = MaintenanceWindowSpec::from_json(without_read_only(document, READ_ONLY))?;
    let window = state.store.create_maintenance_window(&spec).await?;
    Ok((StatusCode::CREATED, Json(view(&state, window))))
}

/// One maintenance window.
#[utoipa::path(get, path = "/maintenance-windows/{id}", tag = "maintenance", params(("id" = i64, Path)),
    responses((status = 200, body = WindowView), (status = 404, body = ErrorBody)))]
async fn get_window(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<WindowView>> {
    let window = state.store.maintenance_window(parse_id(&id)?).await?;
    Ok(Json(view(&state, window)))
}

/// Replaces a maintenance window (admins and editors).
#[utoipa::path(put, path = "/maintenance-windows/{id}", tag = "maintenance", params(("id" = i64, Path)),
    request_body = MaintenanceWindowSpec,
    responses(
        (status = 200, body = WindowView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody),
        (status = 422, description = "invalid window", body = ErrorBody)
    ))]
async fn replace_window(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
    JsonDocument(document): JsonDocument,
) -> ApiResult<Json<WindowView>> {
    let id = parse_id(&id)?;
    let spec = MaintenanceWindowSpec::from_json(without_read_only(document, READ_ONLY))?;
    let window = state.store.update_maintenance_window(id, &spec).await?;
    Ok(Json(view(&state, window)))
}

/// Removes a maintenance window (admins and editors).
#[utoipa::path(delete, path = "/maintenance-windows/{id}", tag = "maintenance", params(("id" = i64, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody)))]
async fn delete_window(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_maintenance_window(parse_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
