//! The RUM collector's endpoint, public by design: any page carrying the
//! snippet may post to it; the site key and allowed origins decide.

use crate::error::ErrorBody;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use sightline_core::rum::MAX_BEACON_BYTES;
use sightline_rum::{BeaconRequest, RejectReason, Rejection};
use std::net::SocketAddr;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(collect_beacon))
}

/// Receives one page view's beacon from the RUM script. The body is JSON
/// sent as `text/plain` (so browsers need no CORS preflight), at most 8 KiB.
/// A 204 means the page view is durably stored.
#[utoipa::path(post, path = "/rum/v1/beacon", tag = "rum", security(()),
    request_body(content = String, content_type = "text/plain", description = "the beacon, JSON"),
    responses(
        (status = 204, description = "stored"),
        (status = 400, description = "malformed beacon or unknown site key", body = ErrorBody),
        (status = 403, description = "origin not allowed for the site", body = ErrorBody),
        (status = 413, description = "larger than 8 KiB", body = ErrorBody),
        (status = 422, description = "ignored: a robot's or a headless browser's (code `robot`)", body = ErrorBody),
        (status = 429, description = "too many beacons from the site or address", body = ErrorBody),
        (status = 503, description = "the collector is saturated or the database unavailable", body = ErrorBody)
    ))]
async fn collect_beacon(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let origin = headers.get(header::ORIGIN);
    let outcome = match http_body_util::Limited::new(body, MAX_BEACON_BYTES)
        .collect()
        .await
    {
        Ok(collected) => {
            let body = collected.to_bytes();
            let request = BeaconRequest {
                body: &body,
                origin: origin.and_then(|value| value.to_str().ok()),
                user_agent: headers
                    .get(header::USER_AGENT)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or(""),
                client: state.client_ip(peer, &headers),
            };
            state.collector.collect(request).await
        }
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(Rejection::too_large()),
        Err(error) => Err(Rejection {
            reason: RejectReason::Malformed,
            message: format!("the beacon body could not be read: {error}"),
            field: None,
        }),
    };
    match outcome {
        Ok(site_id) => {
            state.metrics.count_beacon("stored");
            state.metrics.monitored.count_page_view(site_id);
            let mut response = StatusCode::NO_CONTENT.into_response();
            if let Some(origin) = origin {
                response
                    .headers_mut()
                    .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            }
            response
        }
        Err(rejection) => {
            state.metrics.count_beacon(rejection.reason.name());
            let status =
                StatusCode::from_u16(rejection.reason.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let body = ErrorBody {
                code: rejection.reason.name().to_owned(),
                message: rejection.message,
                field: rejection.field,
                errors: Vec::new(),
            };
            (status, axum::Json(body)).into_response()
        }
    }
}
