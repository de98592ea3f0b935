//! Opsgenie: the Alert API v2 (<https://docs.opsgenie.com/docs/alert-api>).
//! One alert per incident, known by its `alias`: created when the incident
//! is told, closed when it recovers. Opsgenie notifies and escalates by
//! itself, so reminders are not sent. Requests are taken asynchronously:
//! 202 with a `requestId`.

use super::text::{clip, facts, join_url};
use super::{Message, Notifier, Outgoing, Sending, incident_key};
use crate::render::MessageKind;
use sightline_core::alert_channels::ChannelSettings;

/// The API's address (EU accounts use `https://api.eu.opsgenie.com`).
const ALERT_API: &str = "https://api.opsgenie.com";

/// An Opsgenie API integration.
pub(super) struct Opsgenie;

impl Notifier for Opsgenie {
    fn name(&self) -> &'static str {
        "opsgenie"
    }

    fn per_incident(&self) -> bool {
        true
    }

    fn reminds(&self) -> bool {
        false
    }

    fn payload(&self, message: &Message<'_>) -> serde_json::Value {
        let Some(line) = message.lead() else {
            return serde_json::Value::Null;
        };
        let alias = incident_key(&message.context.server, line.id);
        match message.kind() {
            MessageKind::Recovered => {
                return serde_json::json!({
                    "action": "close",
                    "alias": alias,
                    "body": {"source": "Sightline", "note": clip(&message.email.subject, 25_000)},
                });
            }
            MessageKind::Acknowledged => {
                let note = message
                    .context
                    .acknowledged
                    .clone()
                    .unwrap_or_else(|| "acknowledged in Sightline".to_owned());
                return serde_json::json!({
                    "action": "acknowledge",
                    "alias": alias,
                    "body": {"source": "Sightline", "note": clip(&note, 25_000)},
                });
            }
            MessageKind::Down | MessageKind::Reminder => {}
        }
        let details: serde_json::Map<String, serde_json::Value> = facts(line, message.kind())
            .into_iter()
            .map(|(label, value)| (label.to_owned(), serde_json::json!(clip(&value, 8000))))
            .collect();
        serde_json::json!({
            "action": "create",
            "alias": alias,
            "body": {
                "message": clip(&message.email.subject, 130),
                "alias": alias,
                "description": clip(&format!("{}\n\n{}", message.email.text, line.link), 15_000),
                "source": "Sightline",
                "entity": clip(&line.monitor, 512),
                "priority": if line.critical { "P1" } else { "P3" },
                "tags": [line.class],
                "details": details,
            },
        })
    }

    fn outgoing(
        &self,
        target: &ChannelSettings,
        payload: &serde_json::Value,
        _sending: &Sending<'_>,
    ) -> Result<Outgoing, String> {
        let key = target
            .get("api_key")
            .ok_or_else(|| "the Opsgenie target has no api_key".to_owned())?;
        let base = target.get("url").map_or(ALERT_API, String::as_str);
        let alias = payload["alias"].as_str().unwrap_or_default();
        let path = match payload["action"].as_str() {
            Some("create") => "/v2/alerts".to_owned(),
            Some(action) => format!(
                "/v2/alerts/{}/{action}?identifierType=alias",
                url::form_urlencoded::byte_serialize(alias.as_bytes()).collect::<String>()
            ),
            None => return Err("unreadable Opsgenie payload".to_owned()),
        };
        Ok(Outgoing::Post {
            url: join_url(base, &path),
            headers: vec![("Authorization".to_owned(), format!("GenieKey {key}"))],
            body: payload["body"].to_string(),
        })
    }
}
