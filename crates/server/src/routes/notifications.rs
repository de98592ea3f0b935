//! Test notifications: one message to one recipient through the real outbox,
//! answered with what the receiving server said.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::JsonDocument;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use sightline_alerting::Email;
use sightline_store::{Channel, NewNotification, NotificationStatus};
use std::time::Duration;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(test_notification))
}

/// Whom to send a test notification to: exactly one of the two.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    /// An e-mail address.
    #[serde(default)]
    email: Option<String>,
    /// A webhook URL (http or https).
    #[serde(default)]
    webhook: Option<String>,
}

/// How the test went.
#[derive(Serialize, utoipa::ToSchema)]
struct TestResult {
    /// `sent`, `failed` (will not be retried: it was a test), or `pending`
    /// when the first attempt did not finish in time.
    status: String,
    /// The receiving server's answer (`250 2.0.0 OK`, `HTTP 200`).
    answer: Option<String>,
    /// Why it was not delivered.
    error: Option<String>,
}

/// How long the answer waits for the first delivery attempt.
const WAIT: Duration = Duration::from_secs(20);

/// Sends a test notification (admins only) through the outbox, as a real
/// alert would go, and answers with the result of the first attempt.
#[utoipa::path(post, path = "/notifications/test", tag = "alerting", request_body = TestRequest,
    responses((status = 200, body = TestResult), (status = 422, body = ErrorBody)))]
async fn test_notification(
    State(state): State<AppState>,
    principal: Principal,
    JsonDocument(document): JsonDocument,
) -> ApiResult<Json<TestResult>> {
    let request: TestRequest = sightline_core::validation::from_json_value(document)?;
    let sender = principal.user.email.to_string();
    let (channel, recipient, subject, payload) = match (request.email, request.webhook) {
        (Some(address), None) => {
            sightline_core::Email::parse(&address)
                .map_err(|e| ApiError::invalid("email", e.message))?;
            let subject = "Sightline test notification".to_owned();
            let text = format!(
                "This is a test notification from Sightline at {}, sent by {sender}.\n\
                 If you can read it, alerts will reach this address.",
                state.config.public_url
            );
            let html = format!(
                "<p>This is a test notification from Sightline at <a href=\"{0}\">{0}</a>, sent by {1}.</p>\
                 <p>If you can read it, alerts will reach this address.</p>",
                state.config.public_url, sender
            );
            let email = Email {
                subject: subject.clone(),
                text,
                html,
            };
            let payload =
                serde_json::to_value(email).map_err(|e| ApiError::Internal(e.to_string()))?;
            (Channel::Email, address, subject, payload)
        }
        (None, Some(url)) => {
            let parsed = url::Url::parse(&url)
                .map_err(|e| ApiError::invalid("webhook", format!("`{url}` is not a URL ({e})")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ApiError::invalid(
                    "webhook",
                    format!("`{url}` must start with http:// or https://"),
                ));
            }
            let subject = "Sightline test notification".to_owned();
            let payload = serde_json::json!({
                "type": "test",
                "text": format!("Sightline test notification from {}, sent by {sender}", state.config.public_url),
            });
            (Channel::Webhook, url, subject, payload)
        }
        _ => {
            return Err(ApiError::invalid(
                "",
                "give exactly one of `email` or `webhook`",
            ));
        }
    };
    let dedupe_key = format!("test/{}", uuid::Uuid::new_v4());
    state
        .store
        .enqueue_notification(&NewNotification {
            dedupe_key: dedupe_key.clone(),
            incident_id: None,
            channel,
            recipient,
            subject,
            payload,
            // A test is tried once: it expires before its first retry.
            lifetime: Duration::from_secs(1),
        })
        .await?;
    state.outbox.notify_waiters();
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        let notification = state.store.notification_by_key(&dedupe_key).await?;
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
