//! The notifier interface and its registry: one module per channel, each
//! turning a message into what its receiver expects (an e-mail, a Slack
//! Block Kit message, a PagerDuty event…) and judging the answer.
//!
//! A notifier does no I/O: it says what to send ([`Outgoing`]) and the
//! outbox sends it, so every channel is retried, leased and recorded alike.
//! Adding a channel: its settings in core `alert_channels::CHANNELS`, a
//! module here, and one line in [`NOTIFIERS`].

mod discord;
mod email;
mod opsgenie;
mod pagerduty;
mod slack;
mod teams;
mod telegram;
mod text;
mod webhook;

pub use text::escape_markup;

use crate::outbox::Delivery;
use crate::render::{IncidentLine, MessageContext, MessageKind};
use crate::smtp::Email;
use sha2::Digest;
use sightline_core::alert_channels::ChannelSettings;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;

/// Every channel's notifier, by the name policies use.
pub static NOTIFIERS: &[&dyn Notifier] = &[
    &email::EmailNotifier,
    &webhook::Webhook,
    &slack::Slack,
    &teams::Teams,
    &pagerduty::PagerDuty,
    &opsgenie::Opsgenie,
    &discord::Discord,
    &telegram::Telegram,
];

/// The notifier of channel `name`.
pub fn notifier(name: &str) -> Option<&'static dyn Notifier> {
    NOTIFIERS.iter().copied().find(|n| n.name() == name)
}

/// A message on its way into the outbox.
#[derive(Debug)]
pub struct Message<'a> {
    /// What it says and about which incidents (one, for a notifier that
    /// alerts per incident).
    pub context: &'a MessageContext,
    /// The rendered e-mail: its subject and text serve every channel as
    /// the summary and the fallback.
    pub email: &'a Email,
}

impl Message<'_> {
    /// What happened.
    pub fn kind(&self) -> MessageKind {
        self.context.kind
    }

    /// The incidents it is about.
    pub fn incidents(&self) -> &[IncidentLine] {
        &self.context.incidents
    }

    /// The incident an incident tool's alert is keyed by when one message
    /// speaks for several (one outage): the first opened, whose id the
    /// stored notification carries.
    pub fn lead(&self) -> Option<&IncidentLine> {
        self.context.incidents.iter().min_by_key(|line| line.id)
    }
}

/// What a stored message becomes when it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// An e-mail to this address.
    Email {
        /// The address.
        to: String,
        /// The message.
        email: Email,
    },
    /// A JSON POST.
    Post {
        /// Where to (secrets filled in: never logged or stored).
        url: String,
        /// Headers beside `Content-Type: application/json`.
        headers: Vec<(String, String)>,
        /// The body.
        body: String,
    },
}

/// What a sender knows about the notification it is sending.
#[derive(Debug, Clone)]
pub struct Sending<'a> {
    /// The notification's dedupe key: stable across retries, so receivers
    /// that take an idempotency key see a retry as the same message.
    pub key: &'a str,
    /// Now, in Unix seconds (signatures are dated).
    pub unix_seconds: i64,
    /// How long it has waited in the outbox since it was queued.
    pub waited: std::time::Duration,
    /// Why the last attempt failed, when one did.
    pub last_error: Option<&'a str>,
}

/// One channel. Implementations are stateless; see the module's doc.
pub trait Notifier: Send + Sync {
    /// The channel's name in policies and the outbox (`slack`).
    fn name(&self) -> &'static str;

    /// Whether each incident is a message (an alert) of its own, as
    /// incident tools expect (one alert per incident, resolved by the same
    /// key), rather than one message listing every incident due.
    fn per_incident(&self) -> bool {
        false
    }

    /// Whether reminders are sent: incident tools remind by themselves.
    fn reminds(&self) -> bool {
        true
    }

    /// The payload stored in the outbox for `message` (no secrets: the
    /// target's settings are added when it is sent).
    fn payload(&self, message: &Message<'_>) -> serde_json::Value;

    /// What to send to `target` (its secrets filled in) for a stored payload.
    fn outgoing(
        &self,
        target: &ChannelSettings,
        payload: &serde_json::Value,
        sending: &Sending<'_>,
    ) -> Result<Outgoing, String>;

    /// What the receiver's answer means. By default any 2xx is delivered.
    fn judge(&self, status: u16, body: &str) -> Delivery {
        if (200..300).contains(&status) {
            Delivery::Sent(format!("HTTP {status}"))
        } else {
            Delivery::Failed(format!("HTTP {status}: {}", text::clip(body.trim(), 300)))
        }
    }
}

/// How claims and people name a target: an e-mail address as it is; any
/// other target by its channel and a digest of its settings, since a
/// webhook URL or a key may itself be a secret.
pub fn recipient(channel: &str, settings: &ChannelSettings) -> String {
    if channel == "email"
        && let Some(address) = settings.get("address")
    {
        return address.clone();
    }
    let canonical = serde_json::to_string(settings).unwrap_or_default();
    let digest = sha2::Sha256::digest(canonical.as_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("{channel}:{hex}")
}

/// The key one incident is known by in incident tools (PagerDuty's
/// `dedup_key`, Opsgenie's `alias`): the same for its trigger, its
/// acknowledgement and its resolution, and distinct between servers.
pub fn incident_key(server: &str, incident_id: i64) -> String {
    let host = url::Url::parse(server)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| "sightline".to_owned());
    format!("sightline:{host}:incident:{incident_id}")
}

/// What a secret lookup eventually gives: the values by name, or why the
/// vault could not be read.
pub type SecretLookup<'a> =
    Pin<Box<dyn Future<Output = Result<BTreeMap<String, String>, String>> + Send + 'a>>;

/// A POST of `payload` to the target's `webhook_url`: what the chat
/// channels (Slack, Teams, Discord) send.
fn post_to_webhook_url(
    channel: &str,
    target: &ChannelSettings,
    payload: &serde_json::Value,
) -> Result<Outgoing, String> {
    let url = target
        .get("webhook_url")
        .cloned()
        .ok_or_else(|| format!("the {channel} target has no webhook_url"))?;
    Ok(Outgoing::Post {
        url,
        headers: Vec::new(),
        body: payload.to_string(),
    })
}

/// Where secrets for channel settings come from (the vault), looked up
/// only when a message that needs them is sent.
pub trait SecretSource: Send + Sync + std::fmt::Debug {
    /// The values of these secrets; a missing one is simply left out.
    fn lookup(&self, names: BTreeSet<String>) -> SecretLookup<'_>;
}

/// The secret names a target's settings use.
pub fn secret_names(settings: &ChannelSettings) -> BTreeSet<String> {
    settings
        .values()
        .flat_map(|value| sightline_core::monitor::template::placeholders(value))
        .filter_map(|name| name.strip_prefix("secrets.").map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_core::alert_channels::CHANNELS;

    #[test]
    fn every_channel_has_one_notifier_and_every_notifier_a_channel() {
        for kind in CHANNELS {
            assert!(
                notifier(kind.name).is_some(),
                "{} has no notifier",
                kind.name
            );
        }
        for notifier in NOTIFIERS {
            let name = notifier.name();
            assert!(
                name == "email" || CHANNELS.iter().any(|kind| kind.name == name),
                "{name} is not a channel policies can name"
            );
            assert_eq!(
                NOTIFIERS.iter().filter(|n| n.name() == name).count(),
                1,
                "{name} twice"
            );
        }
    }

    #[test]
    fn a_recipient_never_spells_out_a_webhook() {
        let settings = ChannelSettings::from([(
            "webhook_url".to_owned(),
            "https://hooks.slack.com/services/T0/B0/very-secret".to_owned(),
        )]);
        let named = recipient("slack", &settings);
        assert!(
            named.starts_with("slack:") && !named.contains("secret"),
            "{named}"
        );
        assert_eq!(named, recipient("slack", &settings.clone()));
    }
}
