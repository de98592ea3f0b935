//! Following a status page by e-mail: a subscription is confirmed from a
//! link mailed to the address (double opt-in), every incident update is
//! mailed to the confirmed subscribers, and every mail carries a link that
//! ends the subscription. All of it goes through the outbox, so that a
//! message is written down before it is sent and retried until it is.

use crate::error::ApiError;
use crate::state::AppState;
use sightline_alerting::Email;
use sightline_alerting::channels::escape_markup;
use sightline_core::StatusPageSpec;
use sightline_store::{NewNotification, StatusIncident, StatusPage, StatusSubscriber};
use std::time::Duration;

/// How long a subscription mail is tried before it is given up.
const MAIL_LIFETIME: Duration = Duration::from_secs(2 * 86_400);

/// The page's absolute address, as links in mail need it.
pub(crate) fn page_url(state: &AppState, spec: &StatusPageSpec) -> String {
    match &spec.domain {
        Some(domain) => format!("https://{domain}"),
        None => format!(
            "{}/status/{}",
            state.config.public_url.trim_end_matches('/'),
            spec.slug
        ),
    }
}

/// The token of a subscriber's unsubscribe link: its id, signed.
pub(crate) fn unsubscribe_token(state: &AppState, subscriber_id: i64) -> String {
    let tag = state
        .status_pages
        .sign(&format!("unsubscribe\0{subscriber_id}"));
    format!("{subscriber_id}.{tag}")
}

/// The subscriber an unsubscribe token names, if its signature holds.
pub(crate) fn unsubscribe_id(state: &AppState, token: &str) -> Option<i64> {
    let (id, tag) = token.split_once('.')?;
    let id: i64 = id.parse().ok()?;
    let expected = state.status_pages.sign(&format!("unsubscribe\0{id}"));
    super::same_digest(&super::digest(tag), &super::digest(&expected)).then_some(id)
}

fn mail(subject: String, lines: &[String], link: (&str, &str), footer: &str) -> Email {
    let text = format!(
        "{}\n\n{}: {}\n\n{footer}\n",
        lines.join("\n\n"),
        link.0,
        link.1
    );
    let paragraphs: String = lines
        .iter()
        .map(|line| format!("<p>{}</p>", escape_markup(line)))
        .collect();
    let html = format!(
        "<!DOCTYPE html><html><body style=\"font-family: sans-serif\">{paragraphs}\
         <p><a href=\"{}\">{}</a></p><p style=\"color: #57606a; font-size: 0.9em\">{}</p></body></html>",
        escape_markup(link.1),
        escape_markup(link.0),
        escape_markup(footer)
    );
    Email {
        subject,
        text,
        html,
        message_id: None,
        in_reply_to: None,
    }
}

async fn enqueue(
    state: &AppState,
    dedupe_key: String,
    to: &str,
    email: &Email,
) -> Result<(), ApiError> {
    state
        .store
        .enqueue_notification(&NewNotification {
            dedupe_key,
            incident_id: None,
            channel: "email".to_owned(),
            recipient: to.to_owned(),
            target: serde_json::json!({ "address": to }),
            subject: email.subject.clone(),
            payload: serde_json::to_value(email).map_err(|e| ApiError::Internal(e.to_string()))?,
            lifetime: MAIL_LIFETIME,
        })
        .await?;
    state.outbox.notify_waiters();
    Ok(())
}

/// Records a wish to follow `page` and mails the link that confirms it.
/// An address already confirmed gets nothing (and the answer is the same,
/// so that the form tells nobody who follows a page).
pub(crate) async fn subscribe(
    state: &AppState,
    page: &StatusPage,
    address: &str,
) -> Result<(), ApiError> {
    let token = crate::auth::new_secret();
    let subscriber = state
        .store
        .add_status_subscriber(page.id, address, &crate::auth::secret_hash(&token))
        .await?;
    if subscriber.confirmed_at.is_some() {
        return Ok(());
    }
    let url = page_url(state, &page.spec);
    let email = mail(
        format!("Confirm your subscription to {}", page.spec.title),
        &[format!(
            "Someone, we hope you, asked to get an e-mail when {} posts about an incident. \
             Open the link below to confirm.",
            page.spec.title
        )],
        (
            "Confirm the subscription",
            &format!("{url}/confirm/{token}"),
        ),
        "If you did not ask for this, ignore this message: nothing will be sent to you.",
    );
    let key = format!(
        "status-subscription/{}/{}",
        subscriber.id,
        crate::auth::secret_hash(&token)
    );
    enqueue(state, key, address, &email).await
}

/// Tells a subscriber they will get no more mail from the page.
pub(crate) async fn farewell(
    state: &AppState,
    spec: &StatusPageSpec,
    subscriber: &StatusSubscriber,
) -> Result<(), ApiError> {
    let url = page_url(state, spec);
    let email = mail(
        format!("You are unsubscribed from {}", spec.title),
        &[format!(
            "You will get no more e-mail about incidents on {}.",
            spec.title
        )],
        ("The status page", &url),
        "You can subscribe again from the page at any time.",
    );
    let key = format!("status-farewell/{}", subscriber.id);
    enqueue(state, key, &subscriber.email, &email).await
}

/// Mails the incident's latest update to every confirmed subscriber of
/// its page, each with their own unsubscribe link.
pub(crate) async fn announce(
    state: &AppState,
    page: &StatusPage,
    incident: &StatusIncident,
) -> Result<(), ApiError> {
    let Some(update) = incident.updates.last() else {
        return Ok(());
    };
    let subscribers = state.store.confirmed_status_subscribers(page.id).await?;
    if subscribers.is_empty() {
        return Ok(());
    }
    let url = page_url(state, &page.spec);
    let mut lines = vec![
        format!("{}: {}", update.state.label(), update.message),
        format!("Posted {}.", super::model::time_text(update.at)),
    ];
    if !incident.components.is_empty() {
        lines.push(format!("Affects {}.", incident.components.join(", ")));
    }
    for subscriber in subscribers {
        let unsubscribe = format!(
            "{url}/unsubscribe/{}",
            unsubscribe_token(state, subscriber.id)
        );
        let email = mail(
            format!(
                "[{}] {}: {}",
                page.spec.title,
                update.state.label(),
                incident.title
            ),
            &lines,
            ("The status page", &url),
            &format!(
                "You get this because you follow {}. Unsubscribe: {unsubscribe}",
                page.spec.title
            ),
        );
        let key = format!("status-update/{}/{}", update.id, subscriber.id);
        enqueue(state, key, &subscriber.email, &email).await?;
    }
    Ok(())
}

/// A token from a link, whole: letters, digits, `-`, `_` and `.`.
pub(crate) fn plausible_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 200
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
