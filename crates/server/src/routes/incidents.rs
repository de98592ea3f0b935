//! Incidents: when monitors were down, with their timeline and the
//! notifications they caused.

use super::{only_params, parse_id, time_param};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::JsonDocument;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use sightline_core::Timestamp;
use sightline_core::correlation::IncidentClass;
use sightline_store::Incident;
use std::time::Duration;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_incidents))
        .routes(routes!(get_incident))
        .routes(routes!(acknowledge_incident))
        .routes(routes!(comment_on_incident))
        .routes(routes!(incident_classes))
}

/// One class of incident, as an alert policy level may route by it.
#[derive(Serialize, utoipa::ToSchema)]
struct IncidentClassView {
    /// As written in a level's `classes` (`confirmed_outage`).
    name: &'static str,
    /// In the words of an e-mail subject.
    label: &'static str,
    /// What it means for whoever reads the alert.
    explanation: &'static str,
}

/// Every class an incident can have, for pick-lists: what a policy level's
/// `classes` may name.
#[utoipa::path(get, path = "/incident-classes", tag = "alerting",
    responses((status = 200, body = Vec<IncidentClassView>)))]
async fn incident_classes(_: Principal) -> Json<Vec<IncidentClassView>> {
    Json(
        IncidentClass::ALL
            .into_iter()
            .map(|class| IncidentClassView {
                name: class.as_str(),
                label: class.label(),
                explanation: class.explanation(),
            })
            .collect(),
    )
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
    /// When someone said they are on it (RFC 3339); `null` until then.
    acknowledged_at: Option<String>,
    /// Who said so: a user's e-mail, or the address an alert's
    /// acknowledgement link was sent to.
    acknowledged_by: Option<String>,
    /// What it was about once that was deleted (`monitor shop home`); the
    /// incident stays, closed, so that links to it still open.
    subject: Option<String>,
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
            acknowledged_at: incident
                .acknowledged_at
                .map(|at| Timestamp::from(at).to_rfc3339()),
            acknowledged_by: incident.acknowledged_by,
            subject: incident.subject,
        }
    }
}

/// One line of the timeline.
#[derive(Serialize, utoipa::ToSchema)]
struct EventView {
    /// When (RFC 3339).
    at: String,
    /// `opened`, `classified`, `acknowledged`, `comment`, `recovered`, …
    kind: String,
    /// What happened, in words (a comment's text).
    message: String,
    /// Who wrote it (an acknowledgement, a comment); `null` for the
    /// engine's own lines.
    author: Option<String>,
}

impl From<sightline_store::IncidentEvent> for EventView {
    fn from(event: sightline_store::IncidentEvent) -> Self {
        EventView {
            at: event.at.to_rfc3339(),
            kind: event.kind,
            message: event.message,
            author: event.author,
        }
    }
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

/// Incidents, newest first: open ones (`open=true`), or those in one state
/// (`state=open|acknowledged|resolved`; open ones include acknowledged
/// ones), or all that opened since `since` (default 30 days ago); of one
/// monitor (`monitor_id`) or of everything.
#[utoipa::path(get, path = "/incidents", tag = "alerting",
    params(
        ("open" = Option<bool>, Query, description = "only open incidents"),
        ("state" = Option<String>, Query, description = "`open` (acknowledged or not), `acknowledged` (open and acknowledged), `unacknowledged` (open, nobody on it), or `resolved`"),
        ("since" = Option<String>, Query, description = "opened since, RFC 3339 or Unix ms (default: 30 days ago)"),
        ("monitor_id" = Option<i64>, Query, description = "only the incidents of this monitor")
    ),
    responses((status = 200, body = Vec<IncidentView>), (status = 400, body = ErrorBody)))]
async fn list_incidents(
    State(state): State<AppState>,
    _: Principal,
    super::QueryParams(params): super::QueryParams,
) -> ApiResult<Json<Vec<IncidentView>>> {
    only_params(&params, &["open", "state", "since", "monitor_id"])?;
    let wanted = params.get("state").map(String::as_str);
    if let Some(other) = wanted
        .filter(|state| !["open", "acknowledged", "unacknowledged", "resolved"].contains(state))
    {
        return Err(ApiError::BadQuery {
            field: "state".to_owned(),
            message: format!(
                "`{other}` is not a state: one of open, acknowledged, unacknowledged, resolved"
            ),
        });
    }
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
    let open_only = open_only || matches!(wanted, Some("open" | "acknowledged" | "unacknowledged"));
    let incidents = state
        .store
        .list_incidents(open_only, monitor_id, since, 1000)
        .await?;
    Ok(Json(
        incidents
            .into_iter()
            .filter(|incident| match wanted {
                Some("acknowledged") => incident.acknowledged_at.is_some(),
                Some("unacknowledged") => incident.acknowledged_at.is_none(),
                Some("resolved") => incident.closed_at.is_some(),
                _ => true,
            })
            .map(IncidentView::from)
            .collect(),
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
        events: events.into_iter().map(EventView::from).collect(),
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

/// What an acknowledgement may say.
#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct Acknowledgement {
    /// What is being done (`rolling back the deploy`).
    #[serde(default)]
    comment: Option<String>,
}

/// A comment on an incident.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewComment {
    /// The comment.
    text: String,
}

fn comment_text(field: &str, text: &str) -> ApiResult<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::invalid(field, "must not be blank"));
    }
    if text.chars().count() > super::acknowledge_link::MAX_COMMENT_CHARS {
        return Err(ApiError::invalid(
            field,
            format!(
                "must be at most {} characters",
                super::acknowledge_link::MAX_COMMENT_CHARS
            ),
        ));
    }
    Ok(text.to_owned())
}

/// Says "I'm on it" for an open incident, with an optional comment: its
/// reminders and further escalation stop (for the rest of its outage too),
/// incident tools (PagerDuty, Opsgenie) mark their alert acknowledged, the
/// timeline says who and when, and the next message names them. The first
/// acknowledgement stands; a closed incident answers 409.
#[utoipa::path(post, path = "/incidents/{id}/acknowledge", tag = "alerting", params(("id" = i64, Path)),
    request_body(content = Option<Acknowledgement>),
    responses((status = 200, body = IncidentView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn acknowledge_incident(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<IncidentView>> {
    let id = parse_id(&id)?;
    let request: Acknowledgement = if body.iter().all(u8::is_ascii_whitespace) {
        Acknowledgement::default()
    } else {
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid("", format!("the body is not JSON: {e}")))?;
        sightline_core::validation::from_json_value(value)?
    };
    let comment = request
        .comment
        .as_deref()
        .map(|text| comment_text("comment", text))
        .transpose()?;
    let by = principal.user.email.to_string();
    let (incident, _) = state
        .store
        .acknowledge_incident(id, &by, comment.as_deref())
        .await?;
    state.outbox.notify_waiters();
    Ok(Json(incident.into()))
}

/// Adds a comment to an incident's timeline, under the caller's name.
#[utoipa::path(post, path = "/incidents/{id}/comments", tag = "alerting", params(("id" = i64, Path)),
    request_body = NewComment,
    responses((status = 201, body = EventView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn comment_on_incident(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonDocument(document): JsonDocument,
) -> ApiResult<(axum::http::StatusCode, Json<EventView>)> {
    let id = parse_id(&id)?;
    let request: NewComment = sightline_core::validation::from_json_value(document)?;
    let text = comment_text("text", &request.text)?;
    let event = state
        .store
        .comment_on_incident(id, &principal.user.email.to_string(), &text)
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(event.into())))
}
