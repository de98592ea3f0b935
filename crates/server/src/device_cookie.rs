//! Device cookies: a browser where an account logged in keeps a cookie
//! saying so, signed with a key the server keeps in the database. Login
//! attempts on that account from that browser are not held back by the
//! account-wide pace, so that guesses from elsewhere never lock the owner
//! out. The cookie grants nothing else: it is not a credential.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sightline_store::{Store, StoreError};

/// The cookie's name.
pub const DEVICE_COOKIE: &str = "sightline_device";
/// How long a browser stays known.
const LIFETIME_DAYS: i64 = 365;
/// The name of the signing key in the store.
const KEY_NAME: &str = "device_cookie";

/// Issues and recognises device cookies.
#[derive(Clone)]
pub struct DeviceCookies {
    key: Hmac<Sha256>,
}

impl std::fmt::Debug for DeviceCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceCookies")
    }
}

impl DeviceCookies {
    /// Device cookies under the database's key, made on first use.
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        let candidate = crate::auth::new_secret();
        let key = store.server_key(KEY_NAME, candidate.as_bytes()).await?;
        Ok(DeviceCookies {
            key: Hmac::new_from_slice(&key).expect("HMAC takes a key of any length"),
        })
    }

    fn tag(&self, account: &str, nonce: &str) -> Hmac<Sha256> {
        let mut mac = self.key.clone();
        mac.update(account.to_lowercase().as_bytes());
        mac.update(b"\n");
        mac.update(nonce.as_bytes());
        mac
    }

    /// The `Set-Cookie` value for a browser that just logged in to `account`.
    pub fn issue(&self, account: &str, secure: bool) -> String {
        let nonce = crate::auth::new_secret();
        let tag = self.tag(account, &nonce).finalize().into_bytes();
        let value = format!(
            "{}.{nonce}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(account.to_lowercase()),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag)
        );
        cookie::Cookie::build((DEVICE_COOKIE, value))
            .path("/api/v1/session")
            .http_only(true)
            .same_site(cookie::SameSite::Strict)
            .secure(secure)
            .max_age(cookie::time::Duration::days(LIFETIME_DAYS))
            .build()
            .to_string()
    }

    /// Whether the request's cookies say this browser logged in to
    /// `account` before.
    pub fn knows(&self, headers: &axum::http::HeaderMap, account: &str) -> bool {
        let account = account.to_lowercase();
        crate::auth::cookie_values(headers, DEVICE_COOKIE).any(|value| self.holds(&value, &account))
    }

    fn holds(&self, value: &str, account: &str) -> bool {
        let mut parts = value.split('.');
        let (Some(named), Some(nonce), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let names_account = engine
            .decode(named)
            .is_ok_and(|named| named == account.as_bytes());
        names_account
            && engine
                .decode(tag)
                .is_ok_and(|tag| self.tag(account, nonce).verify_slice(&tag).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies() -> DeviceCookies {
        DeviceCookies {
            key: Hmac::new_from_slice(b"test key").unwrap(),
        }
    }

    fn request_with(set_cookie: &str) -> axum::http::HeaderMap {
        let pair = set_cookie.split(';').next().unwrap();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            format!("other=1; {pair}").parse().unwrap(),
        );
        headers
    }

    #[test]
    fn a_browser_is_known_for_the_account_it_logged_in_to_only() {
        let set = cookies().issue("Ops@example.com", true);
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/api/v1/session",
        ] {
            assert!(set.contains(part), "{set}");
        }
        let headers = request_with(&set);
        assert!(cookies().knows(&headers, "ops@example.com"));
        assert!(!cookies().knows(&headers, "dev@example.com"));
        let other_key = DeviceCookies {
            key: Hmac::new_from_slice(b"another key").unwrap(),
        };
        assert!(!other_key.knows(&headers, "ops@example.com"));
        // The account swapped in a cookie made for another breaks its seal.
        let value = set.split(';').next().unwrap().split_once('=').unwrap().1;
        let (_, rest) = value.split_once('.').unwrap();
        let forged = format!(
            "{DEVICE_COOKIE}={}.{rest}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("dev@example.com")
        );
        assert!(!cookies().knows(&request_with(&forged), "dev@example.com"));
        assert!(!cookies().knows(&request_with("sightline_device=junk"), "ops@example.com"));
    }
}
