//! Liveness, readiness and metrics: the endpoints orchestrators and
//! Prometheus scrape.

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
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
    // The answer names the state, never the database's own words (they
    // may carry host names and users); those go to the log.
    let (code, message) = match state.store.readiness().await {
        Readiness::Ready => return axum::Json(Health { status: "ok" }).into_response(),
        Readiness::SchemaOutdated { missing } => {
            tracing::warn!(?missing, "not ready: the database lacks migrations");
            (
                "schema_outdated",
                "the database lacks migrations; run `sightline migrate`",
            )
        }
        Readiness::Unreachable(reason) => {
            tracing::warn!(%reason, "not ready: the database does not answer");
            ("database_unreachable", "the database does not answer")
        }
    };
    let body = ErrorBody {
        code: code.to_owned(),
        message: message.to_owned(),
        field: None,
        errors: Vec::new(),
    };
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
}

/// Request counts and latencies by route, and build information, in
/// Prometheus text format; with a credential, the metrics of what is
/// monitored too (monitors, check durations, certificates, RUM, the
/// outbox), which name monitors and sites and so are never shown to
/// anyone. When the server has a metrics token (`--metrics-token`), only a
/// request bearing it is answered, with everything; without one, a user's
/// API token or session also sees everything and an anonymous request sees
/// the server's own metrics only.
#[utoipa::path(get, path = "/metrics", tag = "health", security((), ("bearer" = [])),
    responses((status = 200, description = "OpenMetrics text, which Prometheus scrapes",
        content_type = "application/openmetrics-text"),
        (status = 401, description = "the server has a metrics token and the request does not bear it", body = ErrorBody)))]
async fn metrics(
    State(state): State<AppState>,
    mut parts: axum::http::request::Parts,
) -> axum::response::Response {
    let shows_monitored = match &state.config.metrics_token {
        Some(expected) => {
            let given = crate::auth::bearer_token(&parts.headers).unwrap_or_default();
            // Compared by their hashes, so the time taken tells nothing of the token.
            if crate::auth::secret_hash(given) != crate::auth::secret_hash(expected) {
                let mut response = ApiError::Unauthenticated.into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"metrics\""),
                );
                return response;
            }
            true
        }
        // Who is asking matters only without a metrics token (and is looked
        // up only then); an agent's token acts for its checkpoint only.
        None => matches!(
            Principal::from_request_parts(&mut parts, &state).await,
            Ok(principal) if principal.checkpoint_id.is_none()
        ),
    };
    let mut text = state.metrics.render_own();
    if shows_monitored {
        match state.metrics.monitored.render(&state.store).await {
            Ok(monitored) => text.push_str(&monitored),
            Err(error) => return ApiError::from(error).into_response(),
        }
    }
    text.push_str("# EOF\n");
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
