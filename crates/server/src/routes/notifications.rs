//! Test notifications: one message to one target of any channel through
//! the real outbox, answered with what the receiver said.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::JsonDocument;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use sightline_alerting::channels::{self, Message, escape_markup};
use sightline_alerting::{Email, IncidentLine, MessageContext, MessageKind};
use sightline_core::alert_channels::{self, ChannelSettings, WrittenTarget};
use sightline_store::{NewNotification, NotificationStatus};
use std::time::Duration;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(test_notification))
        .routes(routes!(list_channels))
}

/// Where to send a test notification: an e-mail address, a webhook URL, or
/// a channel and one target's settings (as a policy's level writes them).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    /// An e-mail address.
    #[serde(default)]
    email: Option<String>,
    /// A webhook URL (http or https).
    #[serde(default)]
    webhook: Option<String>,
    /// A channel of `GET /api/v1/alert-channels` (`slack`, `pagerduty`…).
    #[serde(default)]
    channel: Option<String>,
    /// The channel's settings (`{"webhook_url": …}`); `{{secrets.NAME}}` is
    /// filled in from the vault.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    target: Option<serde_json::Value>,
}

/// How the test went.
#[derive(Serialize, utoipa::ToSchema)]
struct TestResult {
    /// `sent`, `failed` (will not be retried: it was a test), or `pending`
    /// when the first attempt did not finish in time.
    status: String,
    /// The receiving server's answer (`250 2.0.0 OK`, `HTTP 202`).
    answer: Option<String>,
    /// Why it was not delivered.
    error: Option<String>,
}

/// How long the answer waits for the first delivery attempt.
const WAIT: Duration = Duration::from_secs(20);

/// The channels a policy's level can name beside `email`, with the
/// settings each takes: what the UI builds its forms from.
#[utoipa::path(get, path = "/alert-channels", tag = "alerting",
    responses((status = 200, body = Vec<alert_channels::ChannelKind>)))]
async fn list_channels(_: Principal) -> Json<&'static [alert_channels::ChannelKind]> {
    Json(alert_channels::CHANNELS)
}

/// Sends a test notification (admins and editors) through the outbox, as a real
/// alert would go, and answers with the result of the first attempt. An
/// incident tool (PagerDuty, Opsgenie) gets a test alert and, right after,
/// its resolution, so that nobody stays paged.
#[utoipa::path(post, path = "/notifications/test", tag = "alerting", request_body = TestRequest,
    responses((status = 200, body = TestResult), (status = 422, body = ErrorBody)))]
async fn test_notification(
    State(state): State<AppState>,
    principal: Principal,
    JsonDocument(document): JsonDocument,
) -> ApiResult<Json<TestResult>> {
    let request: TestRequest = sightline_core::validation::from_json_value(document)?;
    let (channel, target) = match (request.email, request.webhook, request.channel) {
        (Some(address), None, None) if request.target.is_none() => {
            sightline_core::Email::parse(&address)
                .map_err(|e| ApiError::invalid("email", e.message))?;
            (
                "email",
                ChannelSettings::from([("address".to_owned(), address)]),
            )
        }
        (None, Some(url), None) if request.target.is_none() => {
            let kind = alert_channels::channel("webhook")
                .ok_or_else(|| ApiError::Internal("no webhook channel".to_owned()))?;
            let target = WrittenTarget::Short(url).settings(kind);
            alert_channels::validate_target(kind, &target)
                .map_err(|e| ApiError::invalid("webhook", format!("{}: {}", e.field, e.message)))?;
            ("webhook", target)
        }
        (None, None, Some(name)) => {
            let kind = alert_channels::channel(&name).ok_or_else(|| {
                ApiError::invalid(
                    "channel",
                    format!(
                        "`{name}` is not a channel; one of {}",
                        alert_channels::recipient_names()
                    ),
                )
            })?;
            let written: WrittenTarget =
                serde_json::from_value(request.target.ok_or_else(|| {
                    ApiError::invalid("target", format!("{} needs its settings", kind.label))
                })?)
                .map_err(|_| ApiError::invalid("target", "must be an object of settings"))?;
            let target = written.settings(kind);
            alert_channels::validate_target(kind, &target)
                .map_err(|e| ApiError::from(e.within("target")))?;
            (kind.name, target)
        }
        _ => {
            return Err(ApiError::invalid(
                "",
                "give exactly one of `email`, `webhook`, or `channel` with its `target`",
            ));
        }
    };
    let notifier = channels::notifier(channel)
        .ok_or_else(|| ApiError::Internal(format!("no notifier for {channel}")))?;
    let sender = principal.user.email.to_string();
    let server = state.config.public_url.clone();
    let subject = "Sightline test notification".to_owned();
    let email = Email {
        subject: subject.clone(),
        text: format!(
            "This is a test notification from Sightline at {server}, sent by {sender}.\n\
             If you can read it, alerts will reach this {}.",
            if channel == "email" {
                "address"
            } else {
                "target"
            }
        ),
        html: format!(
            "<p>This is a test notification from Sightline at <a href=\"{0}\">{0}</a>, sent by {1}.</p>\
             <p>If you can read it, alerts will reach this address.</p>",
            escape_markup(&server),
            escape_markup(&sender)
        ),
        message_id: None,
        in_reply_to: None,
    };
    // A test stands for an incident nobody will find: its key is its own.
    let test_id = -state.store.now().as_millis();
    let line = IncidentLine {
        id: test_id,
        critical: false,
        monitor: "Sightline test notification".to_owned(),
        site: false,
        checkpoint: false,
        target: server.clone(),
        problem: format!("nothing is wrong: {sender} sent a test"),
        checkpoints: Vec::new(),
        timings: None,
        class: "test".to_owned(),
        classification: None,
        explanation: None,
        traffic: None,
        since: state.store.now().to_rfc3339(),
        since_text: "just now".to_owned(),
        opened_at: state.store.now(),
        monitor_id: None,
        acknowledged_by: None,
        acknowledged_at: None,
        duration: None,
        link: server.clone(),
        group: "test".to_owned(),
        dependants: Vec::new(),
    };
    let mut kinds = vec![MessageKind::Down];
    if notifier.per_incident() {
        kinds.push(MessageKind::Recovered);
    }
    let mut keys = Vec::new();
    for kind in kinds {
        let context = MessageContext {
            kind,
            incidents: vec![line.clone()],
            group: None,
            server: server.clone(),
            reminder: None,
            down_for: None,
            acknowledge_link: None,
            acknowledged: None,
        };
        let payload = notifier.payload(&Message {
            context: &context,
            email: &email,
        });
        let dedupe_key = format!("test/{}", uuid::Uuid::new_v4());
        state
            .store
            .enqueue_notification(&NewNotification {
                dedupe_key: dedupe_key.clone(),
                incident_id: None,
                channel: channel.to_owned(),
                recipient: channels::recipient(channel, &target),
                target: serde_json::to_value(&target)
                    .map_err(|e| ApiError::Internal(e.to_string()))?,
                subject: subject.clone(),
                payload,
                // A test is tried once: it expires before its first retry.
                lifetime: Duration::from_secs(1),
            })
            .await?;
        keys.push(dedupe_key);
    }
    state.outbox.notify_waiters();
    let give_up = tokio::time::Instant::now() + WAIT;
    // The first message's fate is the answer.
    loop {
        let notification = state.store.notification_by_key(&keys[0]).await?;
        let status = match notification.status {
            NotificationStatus::Sent => Some("sent"),
            _ if notification.attempts > 0 => Some("failed"),
            _ if tokio::time::Instant::now() >= give_up => Some("pending"),
            _ => None,
        };
        if let Some(status) = status {
            return Ok(Json(TestResult {
                status: status.to_owned(),
                answer: notification.delivery_answer,
                error: notification.last_error,
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
