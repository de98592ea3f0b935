//! Slack: a Block Kit message through an incoming webhook
//! (<https://api.slack.com/messaging/webhooks>). A header with the subject,
//! one section per incident (at most 45, then a count), a button to the
//! incident, and `text` as the notification's fallback.

use super::text::{clip, escape_markup, facts};
use super::{Message, Notifier, Outgoing, Sending};
use sightline_core::alert_channels::ChannelSettings;

/// Block Kit allows 50 blocks a message; a header, the incidents and a
/// closing line fit in this many sections.
const MAX_SECTIONS: usize = 45;

/// A Slack incoming webhook.
pub(super) struct Slack;

impl Notifier for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn payload(&self, message: &Message<'_>) -> serde_json::Value {
        let subject = &message.email.subject;
        let mut blocks = vec![serde_json::json!({
            "type": "header",
            "text": {"type": "plain_text", "text": clip(subject, 150), "emoji": false}
        })];
        let incidents = message.incidents();
        for line in incidents.iter().take(MAX_SECTIONS) {
            let mut text = format!("*<{}|{}>*", line.link, escape_markup(&line.monitor));
            for (label, value) in facts(line, message.kind()) {
                text.push_str(&format!("\n*{label}:* {}", escape_markup(&value)));
            }
            blocks.push(serde_json::json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": clip(&text, 3000)},
                "accessory": {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open incident"},
                    "url": line.link,
                }
            }));
        }
        if incidents.len() > MAX_SECTIONS {
            blocks.push(serde_json::json!({
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": format!(
                    "and {} more: {}", incidents.len() - MAX_SECTIONS, message.context.server)}]
            }));
        }
        serde_json::json!({"text": clip(subject, 3000), "blocks": blocks})
    }

    fn outgoing(
        &self,
        target: &ChannelSettings,
        payload: &serde_json::Value,
        _sending: &Sending<'_>,
    ) -> Result<Outgoing, String> {
        super::post_to_webhook_url("Slack", target, payload)
    }
}
