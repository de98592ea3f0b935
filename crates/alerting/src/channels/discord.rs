//! Discord: embeds through a channel webhook
//! (<https://discord.com/developers/docs/resources/webhook#execute-webhook>),
//! one per incident (at most 10 a message), within Discord's limits on
//! titles (256), descriptions (4,096), fields (25 of 1,024) and the 6,000
//! characters of all embeds together. Mentions are switched off, so an
//! incident's text cannot ping `@everyone`.

use super::text::{clip, colour, facts, kind_word};
use super::{Message, Notifier, Outgoing, Sending};
use sightline_core::alert_channels::ChannelSettings;

/// Embeds in one message.
const MAX_EMBEDS: usize = 10;
/// Characters of all embeds together.
const MAX_EMBED_CHARS: usize = 6000;

/// A Discord channel webhook.
pub(super) struct Discord;

impl Notifier for Discord {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn payload(&self, message: &Message<'_>) -> serde_json::Value {
        let kind = message.kind();
        let incidents = message.incidents();
        let mut embeds = Vec::new();
        let mut used = 0;
        let room = MAX_EMBED_CHARS / incidents.len().clamp(1, MAX_EMBEDS);
        for line in incidents.iter().take(MAX_EMBEDS) {
            let title = clip(&format!("{}: {}", kind_word(kind), line.monitor), 256);
            let mut budget = room.saturating_sub(title.chars().count());
            let mut fields = Vec::new();
            for (name, value) in facts(line, kind).into_iter().take(25) {
                let value = clip(&value, 1024.min(budget.saturating_sub(name.len())));
                if value.is_empty() {
                    break;
                }
                budget = budget.saturating_sub(name.len() + value.chars().count());
                fields.push(serde_json::json!({"name": name, "value": value, "inline": false}));
            }
            used += room - budget;
            embeds.push(serde_json::json!({
                "title": title,
                "url": line.link,
                "color": colour(kind),
                "fields": fields,
            }));
        }
        debug_assert!(used <= MAX_EMBED_CHARS);
        let content = if incidents.len() > MAX_EMBEDS {
            format!(
                "{} (and {} more)",
                message.email.subject,
                incidents.len() - MAX_EMBEDS
            )
        } else {
            message.email.subject.clone()
        };
        serde_json::json!({
            "content": clip(&content, 2000),
            "embeds": embeds,
            "allowed_mentions": {"parse": []},
        })
    }

    fn outgoing(
        &self,
        target: &ChannelSettings,
        payload: &serde_json::Value,
        _sending: &Sending<'_>,
    ) -> Result<Outgoing, String> {
        super::post_to_webhook_url("Discord", target, payload)
    }
}
