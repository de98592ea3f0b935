//! Liveness, readiness and metrics: the endpoints orchestrators and
//! Prometheus scrape.

use crate::error::ErrorBody;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use sightline_store::Readiness;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(openapi_document))
}

/// This document: the OpenAPI 3 description of every route. Public, since
/// it holds no data.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "health", security(()),
    responses((status = 200, description = "the OpenAPI document", content_type = "application/json")))]
async fn openapi_document() -> axum::Json<&'static serde_json::Value> {
    axum::Json(crate::openapi())
}

/// The process is alive.
#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    /// Always `ok`.
    status: &'static str,
}

/// Whether the process is alive. Never touches the database.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, description = "alive", body = Health)))]
async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// Whether the process can serve: the database answers and its schema is current.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses(
        (status = 200, description = "ready", body = Health),
        (status = 503, description = "not ready", body = ErrorBody)
    ))]
async fn readyz(State(state): State<AppState>) -> axum::response::Response {
    let (code, message) = match state.store.readiness().await {
        Readiness::Ready => return axum::Json(Health { status: "ok" }).into_response(),
        Readiness::SchemaOutdated { missing } => (
            "schema_outdated",
            format!("the database lacks migrations {missing:?}; run `sightline migrate`"),
        ),
        Readiness::Unreachable(reason) => (
            "database_unreachable",
            format!("the database does not answer: {reason}"),
        ),
    };
    let body = ErrorBody {
        code: code.to_owned(),
        message,
        field: None,
    };
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
}

/// Request counts and latencies by route, and build information, in
/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "health", security(()),
    responses((status = 200, description = "OpenMetrics text, which Prometheus scrapes",
        content_type = "application/openmetrics-text")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
