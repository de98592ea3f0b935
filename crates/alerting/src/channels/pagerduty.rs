//! PagerDuty: Events API v2 (<https://developer.pagerduty.com/docs/events-api-v2/overview/>).
//! One alert per incident, known by one `dedup_key`: a trigger when it is
//! told, an acknowledge when someone is on it, a resolve when it recovers. PagerDuty reminds and escalates by
//! itself, so reminders are not sent. It answers 202 with
//! `{"status": "success", "dedup_key": …}`.

use super::text::{clip, facts, join_url};
use super::{Message, Notifier, Outgoing, Sending, incident_key};
use crate::render::MessageKind;
use sightline_core::alert_channels::ChannelSettings;

/// The Events API's address.
const EVENTS_API: &str = "https://events.pagerduty.com";

/// A PagerDuty service's Events API v2 integration.
pub(super) struct PagerDuty;

impl Notifier for PagerDuty {
    fn name(&self) -> &'static str {
        "pagerduty"
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
        let dedup_key = incident_key(&message.context.server, line.id);
        match message.kind() {
            MessageKind::Recovered => {
                return serde_json::json!({"event_action": "resolve", "dedup_key": dedup_key});
            }
            MessageKind::Acknowledged => {
                return serde_json::json!({"event_action": "acknowledge", "dedup_key": dedup_key});
            }
            MessageKind::Down | MessageKind::Reminder => {}
        }
        let details: serde_json::Map<String, serde_json::Value> = facts(line, message.kind())
            .into_iter()
            .map(|(label, value)| (label.to_owned(), serde_json::json!(value)))
            .collect();
        let severity = if line.critical { "critical" } else { "warning" };
        serde_json::json!({
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {
                "summary": clip(&message.email.subject, 1024),
                "source": line.target,
                "severity": severity,
                "component": line.monitor,
                "group": line.group,
                "class": line.class,
                "custom_details": details,
            },
            "links": [{"href": line.link, "text": "Incident in Sightline"}],
            "client": "Sightline",
            "client_url": message.context.server,
        })
    }

    fn outgoing(
        &self,
        target: &ChannelSettings,
        payload: &serde_json::Value,
        _sending: &Sending<'_>,
    ) -> Result<Outgoing, String> {
        let routing_key = target
            .get("routing_key")
            .ok_or_else(|| "the PagerDuty target has no routing_key".to_owned())?;
        let base = target.get("url").map_or(EVENTS_API, String::as_str);
        // An overriding address is used as given when it names the path.
        let url = if base.trim_end_matches('/').ends_with("/v2/enqueue") {
            base.to_owned()
        } else {
            join_url(base, "/v2/enqueue")
        };
        let mut body = payload.clone();
        body["routing_key"] = serde_json::json!(routing_key);
        Ok(Outgoing::Post {
            url,
            headers: Vec::new(),
            body: body.to_string(),
        })
    }
}
