//! Incidents: when monitors were down, with their timeline and the
//! notifications they caused.

use super::{only_params, parse_id, time_param};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use sightline_core::Timestamp;
use sightline_store::Incident;
use std::time::Duration;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_incidents))
        .routes(routes!(get_incident))
}

/// An incident as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
struct IncidentView {
    /// Stable id.
    id: i64,
    /// `monitor_down`, `rum_silent` (a site's real-user traffic stopped
    /// while its checks pass), `rum_performance` (a Core Web Vital is poor)
    /// or `checkpoint_offline` (a checkpoint stopped making contact).
    kind: String,
    /// The monitor that was down (`monitor_down`).
    monitor_id: Option<i64>,
    /// The RUM site (the `rum_*` kinds).
    site_id: Option<i64>,
    /// The checkpoint (`checkpoint_offline`).
    checkpoint_id: Option<i64>,
    /// The incident of the monitor this one depends on, while that one is
    /// down: this one's notifications are held back.
    held_by: Option<i64>,
    /// `critical`, `warning` or `info`.
    severity: String,
    /// What failed, in words.
    cause: String,
    /// The class from correlation with real-user traffic, once known:
    /// `confirmed_outage`, `synthetic_failure`, `rum_silent`, `rum_performance`,
    /// `checkpoint_offline`.
    correlation: Option<String>,
    /// When it opened (RFC 3339).
    opened_at: String,
    /// When it closed (RFC 3339); `null` while open.
    closed_at: Option<String>,
}

impl From<Incident> for IncidentView {
    fn from(incident: Incident) -> Self {
        IncidentView {
            id: incident.id,
            kind: incident.kind.as_str().to_owned(),
            monitor_id: incident.monitor_id,
            site_id: incident.site_id,
            checkpoint_id: incident.checkpoint_id,
            held_by: incident.held_by,
            severity: incident.severity.as_str().to_owned(),
            cause: incident.cause,
            correlation: incident.correlation,
            opened_at: incident.opened_at.to_rfc3339(),
            closed_at: incident
                .closed_at
                .map(|at| Timestamp::from(at).to_rfc3339()),
        }
    }
}

/// One line of the timeline.
#[derive(Serialize, utoipa::ToSchema)]
struct EventView {
    /// When (RFC 3339).
    at: String,
    /// `opened`, `recovered`, …
    kind: String,
    /// What happened, in words.
    message: String,
}

/// A notification the incident caused.
#[derive(Serialize, utoipa::ToSchema)]
struct NotificationView {
    /// `email` or `webhook`.
    channel: String,
    /// Address or URL.
    recipient: String,
    /// Subject line.
    subject: String,
    /// `pending`, `sent` or `expired`.
    status: String,
    /// Delivery attempts so far.
    attempts: i64,
    /// When it was delivered (RFC 3339).
    sent_at: Option<String>,
    /// The receiver's answer.
    answer: Option<String>,
    /// Why the last attempt failed.
    error: Option<String>,
}

/// An incident with its timeline and notifications.
#[derive(Serialize, utoipa::ToSchema)]
struct IncidentDetail {
    #[serde(flatten)]
    incident: IncidentView,
    /// The timeline, oldest first.
    events: Vec<EventView>,
    /// The notifications, oldest first.
    notifications: Vec<NotificationView>,
}

/// Incidents, newest first: open ones (`open=true`) or all that opened
/// since `since` (default 30 days ago), of one monitor (`monitor_id`) or of
/// everything.
#[utoipa::path(get, path = "/incidents", tag = "alerting",
    params(
        ("open" = Option<bool>, Query, description = "only open incidents"),
        ("since" = Option<String>, Query, description = "opened since, RFC 3339 or Unix ms (default: 30 days ago)"),
        ("monitor_id" = Option<i64>, Query, description = "only the incidents of this monitor")
    ),
    responses((status = 200, body = Vec<IncidentView>), (status = 400, body = ErrorBody)))]
async fn list_incidents(
    State(state): State<AppState>,
    _: Principal,
    super::QueryParams(params): super::QueryParams,
) -> ApiResult<Json<Vec<IncidentView>>> {
    only_params(&params, &["open", "since", "monitor_id"])?;
    let open_only = match params.get("open").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::BadQuery {
                field: "open".to_owned(),
                message: format!("`{other}` is neither true nor false"),
            });
        }
    };
    let since = time_param(&params, "since")?
        .unwrap_or_else(|| state.store.now().minus(Duration::from_secs(30 * 86_400)));
    let monitor_id = params
        .get("monitor_id")
        .map(|id| {
            id.parse::<i64>().map_err(|_| ApiError::BadQuery {
                field: "monitor_id".to_owned(),
                message: format!("`{id}` is not a monitor id"),
            })
        })
        .transpose()?;
    let incidents = state
        .store
        .list_incidents(open_only, monitor_id, since, 1000)
        .await?;
    Ok(Json(
        incidents.into_iter().map(IncidentView::from).collect(),
    ))
}

/// One incident, with its timeline and the notifications it caused.
#[utoipa::path(get, path = "/incidents/{id}", tag = "alerting", params(("id" = i64, Path)),
    responses((status = 200, body = IncidentDetail), (status = 404, body = ErrorBody)))]
async fn get_incident(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<IncidentDetail>> {
    let incident = state.store.incident(parse_id(&id)?).await?;
    let events = state.store.incident_events(incident.id).await?;
    let notifications = state.store.incident_notifications(incident.id).await?;
    Ok(Json(IncidentDetail {
        events: events
            .into_iter()
            .map(|event| EventView {
                at: event.at.to_rfc3339(),
                kind: event.kind,
                message: event.message,
            })
            .collect(),
        notifications: notifications
            .into_iter()
            .map(|notification| NotificationView {
                channel: notification.channel.as_str().to_owned(),
                recipient: notification.recipient,
                subject: notification.subject,
                status: notification.status.as_str().to_owned(),
                attempts: notification.attempts,
                sent_at: notification
                    .sent_at
                    .map(|at| Timestamp::from(at).to_rfc3339()),
                answer: notification.delivery_answer,
                error: notification.last_error,
            })
            .collect(),
        incident: incident.into(),
    }))
}
