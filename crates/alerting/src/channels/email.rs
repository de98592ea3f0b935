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
        _sending: &Sending<'_>,
    ) -> Result<Outgoing, String> {
        let to = target
            .get("address")
            .cloned()
            .ok_or_else(|| "the e-mail target has no address".to_owned())?;
        let email: Email = serde_json::from_value(payload.clone())
            .map_err(|e| format!("unreadable e-mail payload: {e}"))?;
        Ok(Outgoing::Email { to, email })
    }
}
