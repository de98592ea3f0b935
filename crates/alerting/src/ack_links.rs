//! Acknowledgement links: an alert e-mail carries a link that lets its
//! recipient say "I'm on it" for that one incident without logging in. The
//! link is signed with a key the server keeps in the database, names the
//! incident and the recipient, and expires. Opening it only shows a confirm
//! button (mail scanners follow links); the acknowledgement is the button's
//! POST.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sightline_core::Timestamp;
use std::time::Duration;

/// How long a link works after its message was written.
pub const LINK_LIFETIME: Duration = Duration::from_secs(3 * 86_400);

/// What a valid link says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckGrant {
    /// The incident it acknowledges.
    pub incident_id: i64,
    /// Who it was sent to, and so who acknowledges.
    pub recipient: String,
}

/// Why a link does not acknowledge anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckLinkError {
    /// It is not a link this server made (or it was altered).
    #[error("this acknowledgement link is not valid")]
    Invalid,
    /// It was made long ago.
    #[error("this acknowledgement link has expired; acknowledge from the incident's page")]
    Expired,
}

/// Makes and checks acknowledgement links under one key.
#[derive(Clone)]
pub struct AckLinks {
    key: Hmac<Sha256>,
}

impl std::fmt::Debug for AckLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AckLinks")
    }
}

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl AckLinks {
    /// Links signed with `key` (the server's, from the database).
    pub fn new(key: &[u8]) -> Self {
        AckLinks {
            key: Hmac::new_from_slice(key).expect("HMAC takes a key of any length"),
        }
    }

    fn tag(&self, incident_id: i64, expires: i64, recipient: &str) -> Hmac<Sha256> {
        let mut mac = self.key.clone();
        mac.update(format!("acknowledge\n{incident_id}\n{expires}\n{recipient}").as_bytes());
        mac
    }

    /// The token for `recipient` to acknowledge `incident_id`, written
    /// `now`: `{incident}.{expires}.{recipient}.{signature}`.
    pub fn token(&self, incident_id: i64, recipient: &str, now: Timestamp) -> String {
        let expires = now.plus(LINK_LIFETIME).as_millis() / 1000;
        let tag = self
            .tag(incident_id, expires, recipient)
            .finalize()
            .into_bytes();
        format!(
            "{incident_id}.{expires}.{}.{}",
            encode(recipient.as_bytes()),
            encode(&tag)
        )
    }

    /// The link to open: `{server}/acknowledge/{token}`.
    pub fn link(&self, server: &str, incident_id: i64, recipient: &str, now: Timestamp) -> String {
        format!(
            "{}/acknowledge/{}",
            server.trim_end_matches('/'),
            self.token(incident_id, recipient, now)
        )
    }

    /// What `token` grants at `now`.
    pub fn check(&self, token: &str, now: Timestamp) -> Result<AckGrant, AckLinkError> {
        let mut parts = token.split('.');
        let (Some(incident), Some(expires), Some(recipient), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(AckLinkError::Invalid);
        };
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let incident_id: i64 = incident.parse().map_err(|_| AckLinkError::Invalid)?;
        let expires: i64 = expires.parse().map_err(|_| AckLinkError::Invalid)?;
        let recipient = engine
            .decode(recipient)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(AckLinkError::Invalid)?;
        let tag = engine.decode(tag).map_err(|_| AckLinkError::Invalid)?;
        self.tag(incident_id, expires, &recipient)
            .verify_slice(&tag)
            .map_err(|_| AckLinkError::Invalid)?;
        if now.as_millis() / 1000 > expires {
            return Err(AckLinkError::Expired);
        }
        Ok(AckGrant {
            incident_id,
            recipient,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_grants_its_incident_to_its_recipient_until_it_expires() {
        let links = AckLinks::new(b"server key");
        let now = Timestamp::from(1_800_000_000_000);
        let link = links.link("https://mon.example.com/", 42, "ana@example.com", now);
        let token = link
            .strip_prefix("https://mon.example.com/acknowledge/")
            .unwrap();
        assert_eq!(
            links.check(token, now),
            Ok(AckGrant {
                incident_id: 42,
                recipient: "ana@example.com".to_owned()
            })
        );
        assert_eq!(
            links.check(token, now.plus(LINK_LIFETIME + Duration::from_secs(1))),
            Err(AckLinkError::Expired)
        );
        // Another incident, another recipient, a later expiry, another key:
        // none passes.
        let parts: Vec<&str> = token.split('.').collect();
        for forged in [
            format!("43.{}.{}.{}", parts[1], parts[2], parts[3]),
            format!(
                "42.{}.{}.{}",
                parts[1],
                encode(b"eve@example.com"),
                parts[3]
            ),
            format!(
                "42.{}.{}.{}",
                parts[1].parse::<i64>().unwrap() + 86_400,
                parts[2],
                parts[3]
            ),
            "42.1.2".to_owned(),
            String::new(),
        ] {
            assert_eq!(
                links.check(&forged, now),
                Err(AckLinkError::Invalid),
                "{forged}"
            );
        }
        assert_eq!(
            AckLinks::new(b"another key").check(token, now),
            Err(AckLinkError::Invalid)
        );
    }
}
