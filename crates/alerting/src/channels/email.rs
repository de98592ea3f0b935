//! E-mail: the rendered message (subject, text, HTML) over SMTP.

use super::{Message, Notifier, Outgoing, Sending};
use crate::smtp::Email;
use sightline_core::alert_channels::ChannelSettings;

/// E-mail to one address.
pub(super) struct EmailNotifier;

impl Notifier for EmailNotifier {
    fn name(&self) -> &'static str {
        "email"
    }

    fn payload(&self, message: &Message<'_>) -> serde_json::Value {
        serde_json::to_value(message.email).unwrap_or_default()
    }

    fn outgoing(
        &self,
        target: &ChannelSettings,
        payload: &serde_json::Value,
        sending: &Sending<'_>,
    ) -> Result<Outgoing, String> {
        let to = target
            .get("address")
            .cloned()
            .ok_or_else(|| "the e-mail target has no address".to_owned())?;
        let mut email: Email = serde_json::from_value(payload.clone())
            .map_err(|e| format!("unreadable e-mail payload: {e}"))?;
        if sending.waited >= LATE {
            let note = late_note(sending);
            email.text = format!("{note}\n\n{}", email.text);
            if let Some(end) = email
                .html
                .find("<body")
                .and_then(|at| email.html[at..].find('>').map(|close| at + close + 1))
            {
                email.html.insert_str(
                    end,
                    &format!(
                        "\n<p style=\"background: #fff8c5; padding: 6px\">{}</p>",
                        super::text::escape_markup(&note)
                    ),
                );
            }
        }
        Ok(Outgoing::Email { to, email })
    }
}

/// How long a message may wait in the outbox before it says it is late.
const LATE: std::time::Duration = std::time::Duration::from_secs(60);

/// Says how late a message is and why, so that nobody takes an old alert
/// for news.
fn late_note(sending: &Sending<'_>) -> String {
    let late = crate::when::span(std::time::Duration::from_secs(sending.waited.as_secs()));
    match sending.last_error {
        Some(why) => format!("This message is {late} late: it could not be sent before ({why})."),
        None => format!("This message is {late} late: it waited in the outbox."),
    }
}
