//! Single sign-on with any OpenID Connect provider: the authorization code
//! flow with PKCE, `state` and `nonce`, the provider found by discovery and
//! its signing keys fetched again when a token names one not seen yet
//! (rotation). What the provider says is checked by `openidconnect`
//! (signature, issuer, audience, expiry on the store's clock, nonce); what
//! it means here (allowed domains, the role a claim maps to) is decided in
//! [`SingleSignOn::identify`].

use base64::Engine as _;
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError,
};
use sightline_core::{Clock, Email, Role};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// How the server signs people in through an OpenID provider.
#[derive(Clone)]
pub struct OidcConfig {
    /// The provider's issuer URL (`https://id.example.com/realms/ops`).
    pub issuer: String,
    /// This server's client id at the provider.
    pub client_id: String,
    /// This server's client secret at the provider.
    pub client_secret: String,
    /// The provider's name on the login screen: "Sign in with …".
    pub name: String,
    /// Scopes asked for: `openid` always, then these.
    pub scopes: Vec<String>,
    /// Only e-mail addresses in these domains may sign in (any when empty).
    pub allowed_domains: Vec<String>,
    /// The claim whose values give the role (`groups`); without it, new
    /// people are viewers and an admin sets roles.
    pub role_claim: Option<String>,
    /// Values of the role claim that make an admin.
    pub admin_values: Vec<String>,
    /// Values of the role claim that make an editor.
    pub editor_values: Vec<String>,
    /// The one account that may still log in with a password; when set,
    /// password login is off for everyone else.
    pub break_glass_admin: Option<String>,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client secret is never written out, not even to a debug log.
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"…")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("allowed_domains", &self.allowed_domains)
            .field("role_claim", &self.role_claim)
            .field("admin_values", &self.admin_values)
            .field("editor_values", &self.editor_values)
            .field("break_glass_admin", &self.break_glass_admin)
            .finish()
    }
}

/// Why a sign-in through the provider did not happen, in words for the
/// person signing in.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The provider cannot be reached or described itself wrongly.
    #[error("the identity provider cannot be reached: {0}")]
    Provider(String),
    /// The provider sent the person back with an error.
    #[error("the identity provider refused: {0}")]
    Refused(String),
    /// The return does not belong to a sign-in started here, in this
    /// browser, or was used already.
    #[error("this sign-in was not started here, has expired or was used already; start again")]
    UnknownState,
    /// The code could not be exchanged for tokens.
    #[error("the identity provider did not accept the sign-in: {0}")]
    Exchange(String),
    /// The ID token did not pass verification.
    #[error("the identity provider's answer is not valid: {0}")]
    InvalidToken(String),
    /// The token names no usable e-mail address.
    #[error("the identity provider gave no verified e-mail address")]
    NoEmail,
    /// The e-mail address is outside the allowed domains.
    #[error("{0} is not in a domain allowed to sign in")]
    Domain(String),
}

/// Who the provider says signed in, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The provider's issuer and `sub`: stable, unlike the e-mail address.
    pub subject: String,
    /// Their e-mail address.
    pub email: Email,
    /// Whether the provider vouches for the address.
    pub email_verified: bool,
    /// The role the role claim maps to, when a role claim is configured.
    pub role: Option<Role>,
}

/// A sign-in to send to the provider.
pub struct Started {
    /// Where to send the browser.
    pub url: url::Url,
    /// The `state`, also set in the browser's cookie.
    pub state: String,
    /// What the return is checked against.
    pub pending: sightline_store::PendingLogin,
}

/// The provider's metadata, and when it was fetched (on the store's
/// clock, as every other age here).
struct Discovered {
    metadata: CoreProviderMetadata,
    at: sightline_core::Timestamp,
}

/// Metadata is fetched again after this long, and at most this often when
/// a token names an unknown key.
const REDISCOVER_AFTER: Duration = Duration::from_secs(3600);
const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(10);

/// Signs people in through the configured provider.
pub struct SingleSignOn {
    config: OidcConfig,
    redirect: RedirectUrl,
    http: reqwest::Client,
    discovered: Mutex<Option<Discovered>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SingleSignOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleSignOn")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SingleSignOn {
    /// Single sign-on for a server reached at `public_url`; the provider
    /// returns people to `{public_url}/api/v1/session/oidc/callback`.
    pub fn new(
        config: OidcConfig,
        public_url: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SignInError> {
        let redirect = RedirectUrl::new(format!(
            "{}/api/v1/session/oidc/callback",
            public_url.trim_end_matches('/')
        ))
        .map_err(|e| SignInError::Provider(format!("the public URL: {e}")))?;
        IssuerUrl::new(config.issuer.clone())
            .map_err(|e| SignInError::Provider(format!("the issuer URL: {e}")))?;
        // No redirects: a token request that is redirected would carry the
        // client's credentials somewhere else.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SignInError::Provider(e.to_string()))?;
        Ok(Self {
            config,
            redirect,
            http,
            discovered: Mutex::new(None),
            clock,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// The provider's metadata: fetched when missing or old, or when
    /// `fresh` (a token named a key not in the cached set).
    async fn metadata(&self, fresh: bool) -> Result<CoreProviderMetadata, SignInError> {
        let mut cached = self.discovered.lock().await;
        let now = self.clock.now();
        let age = |known: &Discovered| {
            Duration::from_millis(
                u64::try_from(now.as_millis() - known.at.as_millis()).unwrap_or(0),
            )
        };
        let stale = match cached.as_ref() {
            None => true,
            Some(known) if fresh => age(known) >= REFRESH_AT_MOST_EVERY,
            Some(known) => age(known) >= REDISCOVER_AFTER,
        };
        if stale {
            let issuer = IssuerUrl::new(self.config.issuer.clone())
                .map_err(|e| SignInError::Provider(e.to_string()))?;
            let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
                .await
                .map_err(|e| SignInError::Provider(error_chain(&e)))?;
            *cached = Some(Discovered { metadata, at: now });
        }
        Ok(cached.as_ref().expect("just filled").metadata.clone())
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Starts a sign-in that returns to `return_to`.
    pub async fn start(&self, return_to: String) -> Result<Started, SignInError> {
        let client = self.client(self.metadata(false).await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            if scope != "openid" {
                request = request.add_scope(Scope::new(scope.clone()));
            }
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            url,
            state: state.secret().clone(),
            pending: sightline_store::PendingLogin {
                pkce_verifier: verifier.secret().clone(),
                nonce: nonce.secret().clone(),
                return_to,
            },
        })
    }

    /// Finishes a sign-in: exchanges `code` and checks the ID token against
    /// what the sign-in was started with.
    pub async fn finish(
        &self,
        code: String,
        pending: sightline_store::PendingLogin,
    ) -> Result<Identity, SignInError> {
        let client = self.client(self.metadata(false).await?);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| SignInError::Provider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| SignInError::Exchange(error_chain(&e)))?;
        let id_token = openidconnect::TokenResponse::id_token(&tokens)
            .ok_or_else(|| SignInError::InvalidToken("no ID token".to_owned()))?
            .clone();
        let nonce = Nonce::new(pending.nonce.clone());
        let clock = self.clock.clone();
        let now = move || {
            chrono::DateTime::from_timestamp_millis(clock.now().as_millis()).unwrap_or_default()
        };
        let verify = |client: &CoreClient<_, _, _, _, _, _>| {
            let verifier = client.id_token_verifier().set_time_fn(now.clone());
            id_token.claims(&verifier, &nonce).cloned()
        };
        let claims = match verify(&client) {
            // A key the cached set lacks: the provider rotated its keys.
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => verify(&self.client(self.metadata(true).await?)),
            verified => verified,
        }
        .map_err(|e| SignInError::InvalidToken(e.to_string()))?;
        let email = claims
            .email()
            .and_then(|email| Email::parse(email.as_str()).ok())
            .ok_or(SignInError::NoEmail)?;
        let email_verified = claims.email_verified();
        let extra = payload(&id_token.to_string());
        self.identify(
            format!("{} {}", claims.issuer().as_str(), claims.subject().as_str()),
            email,
            email_verified,
            &extra,
        )
    }

    /// Decides what a verified token means here: the address must be
    /// vouched for (or at least not disowned) and in an allowed domain; the
    /// role claim, when configured, gives the role.
    pub fn identify(
        &self,
        subject: String,
        email: Email,
        email_verified: Option<bool>,
        claims: &serde_json::Value,
    ) -> Result<Identity, SignInError> {
        if email_verified == Some(false) {
            return Err(SignInError::NoEmail);
        }
        let domain = email
            .as_str()
            .rsplit_once('@')
            .map(|(_, domain)| domain.to_owned())
            .unwrap_or_default();
        let allowed = &self.config.allowed_domains;
        if !allowed.is_empty() && !allowed.iter().any(|d| d.eq_ignore_ascii_case(&domain)) {
            return Err(SignInError::Domain(email.as_str().to_owned()));
        }
        let role = self.config.role_claim.as_ref().map(|name| {
            let values = claim_values(claims.get(name));
            let has = |wanted: &[String]| values.iter().any(|value| wanted.contains(value));
            if has(&self.config.admin_values) {
                Role::Admin
            } else if has(&self.config.editor_values) {
                Role::Editor
            } else {
                Role::Viewer
            }
        });
        Ok(Identity {
            subject,
            email,
            email_verified: email_verified == Some(true),
            role,
        })
    }
}

/// A claim's values: a list of strings, or one string (some providers send
/// a single group as a string, some as space-separated roles).
fn claim_values(claim: Option<&serde_json::Value>) -> Vec<String> {
    match claim {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        Some(serde_json::Value::String(text)) => {
            text.split_whitespace().map(str::to_owned).collect()
        }
        _ => Vec::new(),
    }
}

/// The claims of a JWT whose signature has been verified: its payload.
fn payload(jwt: &str) -> serde_json::Value {
    jwt.split('.')
        .nth(1)
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// An error with its causes, for a message that says what went wrong.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sso(allowed: &[&str]) -> SingleSignOn {
        SingleSignOn::new(
            OidcConfig {
                issuer: "https://id.example.com".to_owned(),
                client_id: "sightline".to_owned(),
                client_secret: "s3cret".to_owned(),
                name: "Example ID".to_owned(),
                scopes: vec!["openid".to_owned(), "email".to_owned()],
                allowed_domains: allowed.iter().map(|d| (*d).to_owned()).collect(),
                role_claim: Some("groups".to_owned()),
                admin_values: vec!["ops-admins".to_owned()],
                editor_values: vec!["ops".to_owned()],
                break_glass_admin: None,
            },
            "https://sightline.example.com/",
            Arc::new(sightline_store::SystemClock),
        )
        .unwrap()
    }

    #[test]
    fn roles_come_from_the_claim_and_domains_are_kept_to() {
        let sso = sso(&["example.com"]);
        let who = |email: &str, verified, claims| {
            sso.identify(
                "s 1".to_owned(),
                Email::parse(email).unwrap(),
                verified,
                &claims,
            )
        };
        let role = |claims| who("ada@example.com", Some(true), claims).unwrap().role;
        assert_eq!(
            role(json!({"groups": ["staff", "ops-admins"]})),
            Some(Role::Admin)
        );
        assert_eq!(role(json!({"groups": ["ops"]})), Some(Role::Editor));
        assert_eq!(role(json!({"groups": "ops other"})), Some(Role::Editor));
        assert_eq!(role(json!({"groups": []})), Some(Role::Viewer));
        assert_eq!(role(json!({})), Some(Role::Viewer));
        assert!(matches!(
            who("eve@example.org", Some(true), json!({})),
            Err(SignInError::Domain(_))
        ));
        assert!(matches!(
            who("ada@example.com", Some(false), json!({})),
            Err(SignInError::NoEmail)
        ));
        assert!(
            !who("ada@example.com", None, json!({}))
                .unwrap()
                .email_verified
        );
    }

    #[test]
    fn the_secret_is_never_in_a_debug_line() {
        let text = format!("{:?}", sso(&[]));
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("sightline"), "{text}");
    }
}
