//! Telegram: a message from a bot (`sendMessage` of the Bot API,
//! <https://core.telegram.org/bots/api#sendmessage>) in its HTML mode,
//! within the 4,096 characters of a message. The Bot API answers
//! `{"ok": true, …}`, or `{"ok": false, "description": …}` saying why not.

use super::text::{clip, escape_markup, facts, join_url, kind_word};
use super::{Message, Notifier, Outgoing, Sending};
use crate::outbox::Delivery;
use sightline_core::alert_channels::ChannelSettings;

/// The Bot API's address.
const BOT_API: &str = "https://api.telegram.org";
/// Characters in one message (counted after entities are parsed; the
/// markup is counted too here, which only errs on the short side).
const MAX_TEXT: usize = 4096;

/// A Telegram bot writing to one chat.
pub(super) struct Telegram;

impl Notifier for Telegram {
    fn name(&self) -> &'static str {
        "telegram"
    }

    fn payload(&self, message: &Message<'_>) -> serde_json::Value {
        let kind = message.kind();
        let mut text = format!("<b>{}</b>", escape_markup(&message.email.subject));
        for line in message.incidents() {
            let mut part = format!(
                "\n\n<b>{}:</b> <a href=\"{}\">{}</a>",
                kind_word(kind),
                escape_markup(&line.link),
                escape_markup(&line.monitor)
            );
            for (label, value) in facts(line, kind) {
                part.push_str(&format!("\n{label}: {}", escape_markup(&value)));
            }
            if text.chars().count() + part.chars().count() > MAX_TEXT - 40 {
                text.push_str(&format!(
                    "\n\n… more at {}",
                    escape_markup(&message.context.server)
                ));
                break;
            }
            text.push_str(&part);
        }
        serde_json::json!({
            "text": clip(&text, MAX_TEXT),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
        })
    }

    fn outgoing(
        &self,
        target: &ChannelSettings,
        payload: &serde_json::Value,
        _sending: &Sending<'_>,
    ) -> Result<Outgoing, String> {
        let token = target
            .get("bot_token")
            .ok_or_else(|| "the Telegram target has no bot_token".to_owned())?;
        let chat = target
            .get("chat_id")
            .ok_or_else(|| "the Telegram target has no chat_id".to_owned())?;
        let base = target.get("url").map_or(BOT_API, String::as_str);
        let mut body = payload.clone();
        body["chat_id"] = match chat.parse::<i64>() {
            Ok(number) => serde_json::json!(number),
            Err(_) => serde_json::json!(chat),
        };
        Ok(Outgoing::Post {
            url: join_url(base, &format!("/bot{token}/sendMessage")),
            headers: Vec::new(),
            body: body.to_string(),
        })
    }

    fn judge(&self, status: u16, body: &str) -> Delivery {
        let answer: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        if (200..300).contains(&status) && answer["ok"] == true {
            let id = &answer["result"]["message_id"];
            Delivery::Sent(format!("HTTP {status}, message {id}"))
        } else {
            let why = answer["description"]
                .as_str()
                .map_or_else(|| clip(body.trim(), 300), str::to_owned);
            Delivery::Failed(format!("HTTP {status}: {why}"))
        }
    }
}
