//! The acknowledgement link of an alert e-mail: `/acknowledge/{token}`.
//! Opening it shows the incident and a confirm button, and changes nothing
//! (mail scanners and link previews open links); the button's POST
//! acknowledges that one incident as the e-mail's recipient. The pages are
//! plain HTML, readable in any mail client's browser, without logging in:
//! the signed token is the permission, for that incident only, until it
//! expires.

use crate::state::AppState;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use sightline_alerting::channels::escape_markup as escape;
use sightline_alerting::{AckGrant, AckLinkError};
use sightline_store::{Incident, StoreError};
use utoipa_axum::router::OpenApiRouter;

/// The longest comment an acknowledgement keeps.
pub(super) const MAX_COMMENT_CHARS: usize = 2000;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().route("/acknowledge/{token}", get(confirm).post(acknowledge))
}

/// What the confirm button sends.
#[derive(Deserialize)]
struct Confirmation {
    #[serde(default)]
    comment: String,
}

/// Shows what the link acknowledges, and the button that does it.
async fn confirm(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let (grant, incident) = match open(&state, &token).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let title = subject(&state, &incident).await;
    if let Some(by) = &incident.acknowledged_by {
        return page(
            StatusCode::OK,
            "Already acknowledged",
            &format!(
                "<p><strong>{}</strong>: {} is on it already.</p>{}",
                escape(&title),
                escape(by),
                incident_link(&state, &incident)
            ),
        );
    }
    if incident.closed_at.is_some() {
        return page(
            StatusCode::OK,
            "Already over",
            &format!(
                "<p><strong>{}</strong> has recovered: there is nothing left to acknowledge.</p>{}",
                escape(&title),
                incident_link(&state, &incident)
            ),
        );
    }
    page(
        StatusCode::OK,
        "Acknowledge this incident?",
        &format!(
            "<p><strong>{}</strong></p><p>{}</p>\
             <form method=\"post\">\
             <p><label for=\"comment\">Comment (optional)</label><br>\
             <textarea id=\"comment\" name=\"comment\" rows=\"3\" cols=\"50\" maxlength=\"{MAX_COMMENT_CHARS}\" \
             placeholder=\"rolling back the deploy\"></textarea></p>\
             <p><button type=\"submit\">I'm on it: acknowledge as {}</button></p>\
             <p><small>Reminders and further escalation stop; the timeline and the next message say who is on it.</small></p>\
             </form>{}",
            escape(&title),
            escape(&incident.cause),
            escape(&grant.recipient),
            incident_link(&state, &incident)
        ),
    )
}

/// Acknowledges the link's incident as its recipient.
async fn acknowledge(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(confirmation): Form<Confirmation>,
) -> Response {
    let (grant, incident) = match open(&state, &token).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let comment = confirmation.comment.trim();
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Comment too long",
            &format!("<p>A comment may be at most {MAX_COMMENT_CHARS} characters.</p>"),
        );
    }
    let comment = (!comment.is_empty()).then_some(comment);
    let title = subject(&state, &incident).await;
    match state
        .store
        .acknowledge_incident(incident.id, &grant.recipient, comment)
        .await
    {
        Ok((incident, first)) => {
            state.outbox.notify_waiters();
            let who = incident.acknowledged_by.clone().unwrap_or_default();
            let said = if first {
                "Acknowledged: reminders and further escalation stop.".to_owned()
            } else {
                format!("{} was on it already.", escape(&who))
            };
            page(
                StatusCode::OK,
                "Acknowledged",
                &format!(
                    "<p><strong>{}</strong></p><p>{said}</p>{}",
                    escape(&title),
                    incident_link(&state, &incident)
                ),
            )
        }
        Err(StoreError::Refused(why)) => page(
            StatusCode::CONFLICT,
            "Already over",
            &format!("<p>{}</p>", escape(&why)),
        ),
        Err(error) => {
            tracing::warn!(%error, "acknowledging from a link");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Not acknowledged",
                "<p>The server could not record it; try again in a moment.</p>",
            )
        }
    }
}

/// The grant of a valid token and its incident, or the page that says why
/// there is none.
async fn open(state: &AppState, token: &str) -> Result<(AckGrant, Incident), Response> {
    let grant = state
        .ack_links
        .check(token, state.store.now())
        .map_err(|error| {
            let status = match error {
                AckLinkError::Invalid => StatusCode::NOT_FOUND,
                AckLinkError::Expired => StatusCode::GONE,
            };
            page(
                status,
                "Link not valid",
                &format!("<p>{}.</p>", escape(&error.to_string())),
            )
        })?;
    match state.store.incident(grant.incident_id).await {
        Ok(incident) => Ok((grant, incident)),
        Err(StoreError::NotFound(_)) => Err(page(
            StatusCode::NOT_FOUND,
            "No such incident",
            "<p>The incident this link was for is gone.</p>",
        )),
        Err(error) => {
            tracing::warn!(%error, "reading the incident of a link");
            Err(page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "<p>The server could not read the incident; try again in a moment.</p>",
            ))
        }
    }
}

/// What the incident is about, in a few words.
async fn subject(state: &AppState, incident: &Incident) -> String {
    if let Some(monitor) = incident.monitor_id
        && let Ok(monitor) = state.store.monitor(monitor).await
    {
        return format!("{} is down", monitor.spec.settings.name);
    }
    format!("Incident {}", incident.id)
}

fn incident_link(state: &AppState, incident: &Incident) -> String {
    format!(
        "<p><a href=\"{}/incidents/{}\">The incident in Sightline</a> (log in to see it)</p>",
        escape(state.config.public_url.trim_end_matches('/')),
        incident.id
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title} · Sightline</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}}\
         button{{font:inherit;padding:.5rem 1rem;border-radius:6px;border:0;background:#0969da;color:#fff;cursor:pointer}}\
         textarea{{font:inherit;width:100%;box-sizing:border-box}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>",
        title = escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response.headers_mut().insert(
        axum::http::header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    response
}
