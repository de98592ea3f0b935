//! The generic webhook: the incidents as JSON, with an idempotency key that
//! stays the same across retries and, when the target has a secret, an
//! HMAC-SHA256 signature over the timestamp and the body.
//!
//! Receivers check `X-Sightline-Signature: sha256=HEX`, where HEX is
//! HMAC-SHA256(secret, `{X-Sightline-Timestamp}.{body}`), and may refuse a
//! timestamp far from their clock (a replayed request).

use super::{Message, Notifier, Outgoing, Sending};
use hmac::{Hmac, Mac};
use sightline_core::alert_channels::ChannelSettings;

/// The header holding the idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// The header holding the Unix time the request was signed at.
pub const TIMESTAMP_HEADER: &str = "X-Sightline-Timestamp";
/// The header holding the signature.
pub const SIGNATURE_HEADER: &str = "X-Sightline-Signature";

/// A JSON POST to any URL.
pub(super) struct Webhook;

impl Notifier for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn payload(&self, message: &Message<'_>) -> serde_json::Value {
        let ids: Vec<i64> = message.incidents().iter().map(|line| line.id).collect();
        // A test notification says so, so that receivers can tell it apart.
        let kind = if message.incidents().iter().all(|line| line.class == "test") {
            serde_json::json!("test")
        } else {
            serde_json::json!(message.kind())
        };
        // `text` is what Slack-compatible receivers show; the rest is for
        // programs.
        serde_json::json!({
            "type": kind,
            "text": message.email.subject,
            "incident_ids": ids,
            "incidents": message.incidents(),
            "details": message.email.text,
        })
    }

    fn outgoing(
        &self,
        target: &ChannelSettings,
        payload: &serde_json::Value,
        sending: &Sending<'_>,
    ) -> Result<Outgoing, String> {
        let url = target
            .get("url")
            .cloned()
            .ok_or_else(|| "the webhook has no url".to_owned())?;
        let body = payload.to_string();
        let timestamp = sending.unix_seconds.to_string();
        let mut headers = vec![
            (IDEMPOTENCY_HEADER.to_owned(), sending.key.to_owned()),
            (TIMESTAMP_HEADER.to_owned(), timestamp.clone()),
        ];
        if let Some(secret) = target.get("secret") {
            headers.push((
                SIGNATURE_HEADER.to_owned(),
                format!("sha256={}", sign(secret, &timestamp, &body)),
            ));
        }
        Ok(Outgoing::Post { url, headers, body })
    }
}

/// HMAC-SHA256 of `{timestamp}.{body}` under `secret`, in lowercase hex.
pub fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_agrees_with_pythons_hmac() {
        // python3 -c 'import hmac,hashlib; print(hmac.new(b"s3cret",
        //   b"1700000000.{\"a\":1}", hashlib.sha256).hexdigest())'
        assert_eq!(
            sign("s3cret", "1700000000", r#"{"a":1}"#),
            "1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
        );
    }
}
