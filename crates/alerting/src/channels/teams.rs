//! Microsoft Teams: an Adaptive Card (schema 1.4) through a Workflows
//! webhook ("Post to a channel when a webhook request is received"), which
//! takes a message with the card as its one attachment and answers 202.

use super::text::{clip, facts, kind_word};
use super::{Message, Notifier, Outgoing, Sending};
use sightline_core::alert_channels::ChannelSettings;

/// Incidents shown in full on one card; the rest are counted.
const MAX_INCIDENTS: usize = 20;

/// A Teams Workflows webhook.
pub(super) struct Teams;

impl Notifier for Teams {
    fn name(&self) -> &'static str {
        "teams"
    }

    fn payload(&self, message: &Message<'_>) -> serde_json::Value {
        let kind = message.kind();
        let colour = match kind {
            crate::render::MessageKind::Down => "Attention",
            crate::render::MessageKind::Reminder => "Warning",
            crate::render::MessageKind::Recovered => "Good",
            crate::render::MessageKind::Acknowledged => "Accent",
        };
        let mut body = vec![serde_json::json!({
            "type": "TextBlock", "text": clip(&message.email.subject, 400),
            "weight": "Bolder", "size": "Medium", "color": colour, "wrap": true
        })];
        let incidents = message.incidents();
        for line in incidents.iter().take(MAX_INCIDENTS) {
            body.push(serde_json::json!({
                "type": "TextBlock", "text": format!("{}: [{}]({})", kind_word(kind), line.monitor, line.link),
                "weight": "Bolder", "wrap": true, "separator": true
            }));
            let facts: Vec<serde_json::Value> = facts(line, kind)
                .into_iter()
                .map(|(title, value)| serde_json::json!({"title": title, "value": clip(&value, 1000)}))
                .collect();
            body.push(serde_json::json!({"type": "FactSet", "facts": facts}));
        }
        if incidents.len() > MAX_INCIDENTS {
            body.push(serde_json::json!({
                "type": "TextBlock", "wrap": true,
                "text": format!("and {} more", incidents.len() - MAX_INCIDENTS)
            }));
        }
        let link = incidents
            .first()
            .map(|line| line.link.clone())
            .unwrap_or_else(|| message.context.server.clone());
        serde_json::json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "msteams": {"width": "Full"},
                    "body": body,
                    "actions": [{"type": "Action.OpenUrl", "title": "Open in Sightline", "url": link}]
                }
            }]
        })
    }

    fn outgoing(
        &self,
        target: &ChannelSettings,
        payload: &serde_json::Value,
        _sending: &Sending<'_>,
    ) -> Result<Outgoing, String> {
        super::post_to_webhook_url("Teams", target, payload)
    }
}
