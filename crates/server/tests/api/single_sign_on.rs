//! Single sign-on through OpenID Connect: people sign in through a real
//! provider (the `oidc-provider` package, certified, as `cargo xtask test`
//! installs it) in Chromium and through its login screen driven over HTTP;
//! a hostile provider made here sends the ID tokens no real one would (for
//! another audience, badly signed, expired, with another nonce), and each
//! is refused.

use super::browser::ChromeDriver;
use super::ui::click;
use super::*;
use fantoccini::Locator;
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, EmptyAdditionalClaims, EndUserEmail, IssuerUrl, JsonWebKeyId, Nonce,
    PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use sightline_core::ManualClock;
use sightline_server::OidcConfig;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "sightline";
const CLIENT_SECRET: &str = "sightline-client-secret";
/// The break-glass admin: the one password login left.
const BREAK_GLASS: &str = ADMIN.0;

/// The real provider: `oidc-provider` run by Node.js.
struct RealProvider {
    child: Child,
    issuer: String,
}

impl RealProvider {
    /// Starts it for a server whose callback is `redirect`, with each
    /// account's groups.
    fn start(redirect: &str, groups: Value) -> Self {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let module = root.join("../../target/reference/node_modules/oidc-provider/lib/index.js");
        assert!(
            module.is_file(),
            "{} is missing: `cargo xtask test` installs it",
            module.display()
        );
        let port = sightline_store::testing::free_port();
        let mut child = Command::new("node")
            .arg(root.join("tests/api/oidc_provider.mjs"))
            .arg(&module)
            .arg(port.to_string())
            .arg(redirect)
            .arg(groups.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().unwrap();
        let (told, listening) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("listening") {
                    let _ = told.send(());
                }
            }
        });
        listening
            .recv_timeout(Duration::from_secs(20))
            .expect("the OpenID provider started");
        RealProvider {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for RealProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Single sign-on through `issuer` for a server at `public_url`: e-mail
/// addresses at example.com, `ops-admins` are admins and `ops` editors.
fn sso_config(issuer: &str, public_url: &str) -> ServerConfig {
    ServerConfig {
        public_url: public_url.to_owned(),
        oidc: Some(OidcConfig {
            issuer: issuer.to_owned(),
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            name: "Example ID".to_owned(),
            scopes: ["openid", "email", "profile", "groups"]
                .map(str::to_owned)
                .to_vec(),
            allowed_domains: vec!["example.com".to_owned()],
            role_claim: Some("groups".to_owned()),
            admin_values: vec!["ops-admins".to_owned()],
            editor_values: vec!["ops".to_owned()],
            break_glass_admin: Some(BREAK_GLASS.to_owned()),
        }),
        ..ServerConfig::default()
    }
}

/// A server signing in through a provider started by `provider` (given the
/// callback URL); its store runs on a clock the test moves.
async fn with_provider<P>(
    kind: BackendKind,
    provider: impl FnOnce(&str) -> (P, String),
) -> (TestServer, P, Arc<ManualClock>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (provider, issuer) = provider(&format!("{base}/api/v1/session/oidc/callback"));
    let clock = Arc::new(ManualClock::new(sightline_core::Timestamp::from_millis(
        chrono::Utc::now().timestamp_millis(),
    )));
    let server = TestServer::start_listening(
        listener,
        kind,
        sso_config(&issuer, &base),
        clock.clone(),
        async |_| {},
    )
    .await;
    (server, provider, clock)
}

/// A client that keeps cookies and follows no redirect, as a browser
/// driven step by step.
fn stepping_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Starts a sign-in at the server and goes through the provider's login
/// and consent screens as `login`; answers the URL the provider sends the
/// browser back to (not followed).
async fn through_the_provider(http: &reqwest::Client, server: &TestServer, login: &str) -> String {
    let started = http
        .get(server.url("/api/v1/session/oidc?return_to=/incidents"))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let mut next = location(&started);
    let callback = server.url("/api/v1/session/oidc/callback");
    for _ in 0..12 {
        if next.starts_with(&callback) {
            return next;
        }
        let response = http.get(&next).send().await.unwrap();
        if response.status().is_redirection() {
            let to = location(&response);
            next = url::Url::parse(&next)
                .unwrap()
                .join(&to)
                .unwrap()
                .to_string();
            continue;
        }
        let page = response.text().await.unwrap();
        let action = page
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no form on the provider's page: {page}"));
        let form: Vec<(&str, &str)> = if page.contains("name=\"login\"") {
            vec![
                ("prompt", "login"),
                ("login", login),
                ("password", "anything"),
            ]
        } else {
            vec![("prompt", "consent")]
        };
        let submit = url::Url::parse(&next).unwrap().join(action).unwrap();
        let response = http.post(submit.clone()).form(&form).send().await.unwrap();
        assert!(response.status().is_redirection(), "{}", response.status());
        next = submit.join(&location(&response)).unwrap().to_string();
    }
    panic!("the provider never sent the browser back");
}

/// Where the server sent the browser after the provider, with the session
/// cookie it set, or why it refused (the login screen's `sso_error` cookie).
struct Outcome {
    to: String,
    session: Option<String>,
    refused: Option<String>,
}

/// What a return from the provider came to.
fn outcome(response: &reqwest::Response) -> Outcome {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = |name: &str| {
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|value| value.split(';').next())
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, value)| *key == name && !value.is_empty())
            .map(|(_, value)| value.to_owned())
    };
    Outcome {
        to: location(response),
        session: cookie("sightline_session").map(|value| format!("sightline_session={value}")),
        refused: cookie("sightline_sso_error").map(|value| {
            url::form_urlencoded::parse(format!("why={value}").as_bytes())
                .next()
                .unwrap()
                .1
                .into_owned()
        }),
    }
}

/// Signs in as `login` through the provider.
async fn sign_in(http: &reqwest::Client, server: &TestServer, login: &str) -> Outcome {
    let back = through_the_provider(http, server, login).await;
    outcome(&http.get(&back).send().await.unwrap())
}

impl Outcome {
    /// Why the sign-in was refused; the browser is back at the login screen.
    fn refusal(&self) -> &str {
        assert_eq!(self.to, "/?sso_error=1", "not refused");
        assert!(self.session.is_none());
        self.refused
            .as_deref()
            .expect("a reason for the login screen")
    }
}

pub(super) async fn people_sign_in_through_the_provider_once_each(kind: BackendKind) {
    let groups = json!({"ada@example.com": ["staff", "ops-admins"], "cy@example.com": ["ops"]});
    let (server, _provider, clock) = with_provider(kind, |redirect| {
        let provider = RealProvider::start(redirect, groups);
        let issuer = provider.issuer.clone();
        (provider, issuer)
    })
    .await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (_, options) = server
        .call(Method::GET, "/api/v1/session/options", &Auth::None, None)
        .await;
    assert_eq!(
        options,
        json!({"password": "break_glass_only",
               "single_sign_on": {"name": "Example ID", "url": "/api/v1/session/oidc"}})
    );

    // First sign-in: the account is made, with the role the groups map to,
    // and the browser goes where it asked to.
    let http = stepping_client();
    let first = sign_in(&http, &server, "ada@example.com").await;
    assert_eq!(first.to, "/incidents");
    let ada = Auth::Cookie(first.session.expect("a session"));
    let (status, who) = server
        .call(Method::GET, "/api/v1/session", &ada, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&who["user"]["email"], &who["user"]["role"]),
        (&json!("ada@example.com"), &json!("admin"))
    );
    let ada_id = who["user"]["id"].clone();
    // The second reuses it.
    let signed_in = async |login: &str| {
        let signed = sign_in(&stepping_client(), &server, login).await;
        let cookie = Auth::Cookie(signed.session.expect("a session"));
        server
            .call(Method::GET, "/api/v1/session", &cookie, None)
            .await
            .1
    };
    assert_eq!(signed_in("ada@example.com").await["user"]["id"], ada_id);
    assert_eq!(signed_in("cy@example.com").await["user"]["role"], "editor");
    let (_, users) = server
        .call(Method::GET, "/api/v1/users", &admin, None)
        .await;
    let emails: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["ada@example.com", "cy@example.com", VIEWER.0, ADMIN.0]
    );

    // A replayed return: the state is good once, even with its cookie.
    let http = stepping_client();
    let back = through_the_provider(&http, &server, "ada@example.com").await;
    let kept_cookie = {
        // What the browser held when the provider sent it back.
        let state = url::Url::parse(&back)
            .unwrap()
            .query_pairs()
            .find(|(name, _)| name == "state")
            .unwrap()
            .1
            .into_owned();
        format!("sightline_oidc={state}")
    };
    let first = outcome(&http.get(&back).send().await.unwrap());
    assert!(first.session.is_some(), "{}", first.to);
    let replayed = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&back)
        .header(header::COOKIE, &kept_cookie)
        .send()
        .await
        .unwrap();
    let replayed = outcome(&replayed);
    assert!(
        replayed.refusal().contains("used already"),
        "{}",
        replayed.refusal()
    );
    // A return without the browser's cookie (someone else's sign-in link).
    let elsewhere = {
        let other = stepping_client();
        let back = through_the_provider(&other, &server, "ada@example.com").await;
        let response = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(&back)
            .send()
            .await
            .unwrap();
        outcome(&response)
    };
    assert!(
        elsewhere.refusal().contains("not started here"),
        "{}",
        elsewhere.refusal()
    );

    // A disallowed domain and an address the provider does not vouch for.
    let eve = sign_in(&stepping_client(), &server, "eve@elsewhere.test").await;
    assert_eq!(
        eve.refusal(),
        "eve@elsewhere.test is not in a domain allowed to sign in"
    );
    let unverified = sign_in(&stepping_client(), &server, "unverified@example.com").await;
    assert!(
        unverified.refusal().contains("no verified e-mail"),
        "{}",
        unverified.refusal()
    );
    let (_, users) = server
        .call(Method::GET, "/api/v1/users", &admin, None)
        .await;
    assert_eq!(users.as_array().unwrap().len(), 4, "{users}");

    // Password login is the break-glass admin's only; a person made by
    // single sign-on has no password at all.
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/session",
            &Auth::None,
            Some(json!({"email": VIEWER.0, "password": VIEWER.1})),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("sign in with Example ID")
    );
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/session",
            &Auth::None,
            Some(json!({"email": "ada@example.com", "password": ""})),
        )
        .await;
    assert_ne!(status, StatusCode::OK);

    // The audit log says who came in through single sign-on.
    let (_, log) = server
        .call(Method::GET, "/api/v1/audit-log?kind=user", &admin, None)
        .await;
    let made: Vec<(&str, &str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|entry| {
            (
                entry["credential"].as_str().unwrap(),
                entry["action"].as_str().unwrap(),
                entry["object_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        made,
        [
            ("single sign-on", "created", "ada@example.com"),
            ("single sign-on", "created", "cy@example.com"),
        ]
    );

    // An ID token read after it expired (the provider gives them a minute;
    // this server's clock has moved on five) is refused. Last: every token
    // is old on this clock from now on.
    let http = stepping_client();
    let back = through_the_provider(&http, &server, "ada@example.com").await;
    clock.advance(Duration::from_secs(300));
    let late = outcome(&http.get(&back).send().await.unwrap());
    assert!(late.refusal().contains("Expired"), "{}", late.refusal());

    // Starting sign-ins is limited per address, as password attempts are.
    let mut started = 0;
    let refused = loop {
        let response = stepping_client()
            .get(server.url("/api/v1/session/oidc"))
            .send()
            .await
            .unwrap();
        if response.status() != StatusCode::SEE_OTHER {
            break response;
        }
        started += 1;
        assert!(started <= 30, "no limit after {started} starts");
    };
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    server.stop().await;
}

/// A provider made here: it signs its own ID tokens, flawed as told.
#[derive(Clone)]
struct HostileProvider {
    issuer: String,
    key: Arc<CoreRsaPrivateSigningKey>,
    other_key: Arc<CoreRsaPrivateSigningKey>,
    flaw: Arc<Mutex<Flaw>>,
    nonce: Arc<Mutex<Option<String>>>,
    jwks_fetches: Arc<std::sync::atomic::AtomicUsize>,
    /// Where it last sent a browser back: what a replay would reuse.
    last_return: Arc<Mutex<Option<String>>>,
}

/// What is wrong with the next ID token.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Flaw {
    None,
    Audience,
    Signature,
    Expired,
    Nonce,
    /// Signed with a key the provider only now publishes.
    RotatedKey,
}

/// A 2048-bit RSA key in PKCS#1 PEM, made by openssl.
fn rsa_key(kid: &str) -> CoreRsaPrivateSigningKey {
    let output = Command::new("openssl")
        .args(["genrsa", "-traditional", "2048"])
        .stderr(Stdio::null())
        .output()
        .expect("openssl runs");
    let pem = String::from_utf8(output.stdout).unwrap();
    CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(kid.to_owned()))).unwrap()
}

impl HostileProvider {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let provider = HostileProvider {
            issuer,
            key: Arc::new(rsa_key("first")),
            other_key: Arc::new(rsa_key("second")),
            flaw: Arc::new(Mutex::new(Flaw::None)),
            nonce: Arc::new(Mutex::new(None)),
            jwks_fetches: Arc::default(),
            last_return: Arc::default(),
        };
        let app = {
            use axum::routing::{get, post};
            let discovery = provider.clone();
            let keys = provider.clone();
            let authorize = provider.clone();
            let token = provider.clone();
            axum::Router::new()
                .route(
                    "/.well-known/openid-configuration",
                    get(move || async move { axum::Json(discovery.metadata()) }),
                )
                .route(
                    "/jwks",
                    get(move || async move {
                        keys.jwks_fetches
                            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let mut published = vec![keys.key.as_verification_key()];
                        if *keys.flaw.lock().unwrap() == Flaw::RotatedKey {
                            published.push(keys.other_key.as_verification_key());
                        }
                        axum::Json(CoreJsonWebKeySet::new(published))
                    }),
                )
                .route(
                    "/authorize",
                    get(
                        move |axum::extract::Query(query): axum::extract::Query<
                            std::collections::HashMap<String, String>,
                        >| async move {
                            *authorize.nonce.lock().unwrap() = query.get("nonce").cloned();
                            let back = format!(
                                "{}?code=forged&state={}",
                                query["redirect_uri"], query["state"]
                            );
                            *authorize.last_return.lock().unwrap() = Some(back.clone());
                            axum::response::Redirect::to(&back)
                        },
                    ),
                )
                .route(
                    "/token",
                    post(move || async move {
                        axum::Json(json!({
                            "access_token": "forged", "token_type": "Bearer",
                            "expires_in": 300, "id_token": token.id_token(),
                        }))
                    }),
                )
        };
        tokio::spawn(async move { axum::serve(listener, app).await });
        provider
    }

    fn metadata(&self) -> Value {
        let issuer = &self.issuer;
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
    }

    fn id_token(&self) -> String {
        let flaw = *self.flaw.lock().unwrap();
        let now = chrono::Utc::now();
        let audience = if flaw == Flaw::Audience {
            "someone-else"
        } else {
            CLIENT_ID
        };
        let (issued, expires) = if flaw == Flaw::Expired {
            (
                now - chrono::Duration::hours(2),
                now - chrono::Duration::hours(1),
            )
        } else {
            (now, now + chrono::Duration::minutes(5))
        };
        let nonce = match flaw {
            Flaw::Nonce => "another nonce".to_owned(),
            _ => self.nonce.lock().unwrap().clone().unwrap_or_default(),
        };
        let claims = CoreIdTokenClaims::new(
            IssuerUrl::new(self.issuer.clone()).unwrap(),
            vec![Audience::new(audience.to_owned())],
            expires,
            issued,
            StandardClaims::new(SubjectIdentifier::new("forged-1".to_owned()))
                .set_email(Some(EndUserEmail::new("mallory@example.com".to_owned())))
                .set_email_verified(Some(true)),
            EmptyAdditionalClaims {},
        )
        .set_nonce(Some(Nonce::new(nonce)));
        let key = if flaw == Flaw::RotatedKey {
            &self.other_key
        } else {
            &self.key
        };
        let token = CoreIdToken::new(
            claims,
            key.as_ref(),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            None,
            None,
        )
        .unwrap()
        .to_string();
        if flaw == Flaw::Signature {
            // The same claims, and a signature that is not theirs.
            let (signed, signature) = token.rsplit_once('.').unwrap();
            let mut bytes: Vec<char> = signature.chars().collect();
            bytes[10] = if bytes[10] == 'A' { 'B' } else { 'A' };
            return format!("{signed}.{}", bytes.into_iter().collect::<String>());
        }
        token
    }
}

pub(super) async fn forged_id_tokens_are_refused(kind: BackendKind) {
    let (server, hostile, clock) = with_provider(kind, |_| {
        let provider = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(HostileProvider::start())
        });
        let issuer = provider.issuer.clone();
        (provider, issuer)
    })
    .await;
    let attempt = async |flaw: Flaw| {
        *hostile.flaw.lock().unwrap() = flaw;
        let http = stepping_client();
        let started = http
            .get(server.url("/api/v1/session/oidc"))
            .send()
            .await
            .unwrap();
        let at_provider = http.get(location(&started)).send().await.unwrap();
        outcome(&http.get(location(&at_provider)).send().await.unwrap())
    };
    // Sound, it would be let in: the refusals below are for their flaw.
    assert!(attempt(Flaw::None).await.session.is_some());
    for (flaw, reason) in [
        (Flaw::Audience, "Invalid audiences"),
        (Flaw::Signature, "Signature verification failed"),
        (Flaw::Expired, "Expired"),
        (Flaw::Nonce, "Invalid nonce"),
    ] {
        let refused = attempt(flaw).await;
        let why = refused.refusal();
        assert!(why.contains(reason), "{flaw:?}: {why}");
    }
    // Keys rotate: a token signed with a key published since is taken once
    // the provider's keys are fetched again.
    let fetched = hostile
        .jwks_fetches
        .load(std::sync::atomic::Ordering::SeqCst);
    clock.advance(Duration::from_secs(11));
    assert!(attempt(Flaw::RotatedKey).await.session.is_some());
    assert_eq!(
        hostile
            .jwks_fetches
            .load(std::sync::atomic::Ordering::SeqCst),
        fetched + 1
    );
    let (_, users) = server
        .call(
            Method::GET,
            "/api/v1/users",
            &Auth::Cookie(server.log_in(ADMIN).await),
            None,
        )
        .await;
    let mallory: Vec<&Value> = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|user| user["email"] == "mallory@example.com")
        .collect();
    assert_eq!(mallory.len(), 1, "{users}");
    server.stop().await;
}

/// Chromium signs in through the real provider's own screens: the login
/// screen offers "Sign in with …", and a refusal is shown on it.
#[tokio::test]
async fn chromium_signs_in_through_the_provider_and_is_told_a_refusal() {
    let groups = json!({"ada@example.com": ["ops-admins"]});
    let (server, provider, _clock) = with_provider(BackendKind::Sqlite, |redirect| {
        let provider = RealProvider::start(redirect, groups);
        let issuer = provider.issuer.clone();
        (provider, issuer)
    })
    .await;
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        let through = async |login: &str| -> Result<(), fantoccini::error::CmdError> {
            browser.goto(&server.url("/")).await?;
            let button = browser
                .wait()
                .for_element(Locator::XPath("//a[.='Sign in with Example ID']"))
                .await?;
            button.click().await?;
            // The provider's screens: its login (any password), then its
            // consent, unless it remembers both.
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut at_provider = false;
            loop {
                assert!(
                    Instant::now() < deadline,
                    "stuck at {}: {}",
                    browser.current_url().await?,
                    browser.source().await?
                );
                let here = browser.current_url().await?;
                at_provider |= here.as_str().starts_with(&provider.issuer);
                // Back on one of this server's screens, signed in or told
                // why not (a provider that remembers the person sends the
                // browser straight back).
                let back = here.as_str().starts_with(&server.url("/"))
                    && !here.path().starts_with("/api/");
                let settled = browser
                    .find(Locator::Css("header .who, [data-testid=sso-error]"))
                    .await
                    .is_ok();
                if back && (at_provider || settled) {
                    return Ok(());
                }
                if let Ok(field) = browser.find(Locator::Css("input[name=login]")).await {
                    field.send_keys(login).await?;
                    browser
                        .find(Locator::Css("input[name=password]"))
                        .await?
                        .send_keys("anything")
                        .await?;
                    click(&browser, Locator::Css("button[type=submit]")).await?;
                } else if let Ok(button) = browser
                    .find(Locator::XPath("//button[contains(., 'Continue')]"))
                    .await
                {
                    button.click().await?;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        };
        through("ada@example.com").await?;
        browser
            .wait()
            .for_element(Locator::Css(
                "[data-testid=summary], [data-testid=first-steps]",
            ))
            .await?;
        let me = browser
            .find(Locator::Css("header .who"))
            .await?
            .text()
            .await?;
        assert_eq!(me, "ada@example.com");
        // An admin by the provider's groups: people and the log are theirs.
        click(&browser, Locator::Css("a[href='/settings']")).await?;
        browser
            .wait()
            .for_element(Locator::Css("#users-heading"))
            .await?;
        click(&browser, Locator::XPath("//button[text()='Log out']")).await?;
        // The second sign-in is the same person, not a new account.
        let ada = Email::parse("ada@example.com").unwrap();
        let first = server.store.user_by_email(&ada).await.unwrap();
        through("ada@example.com").await?;
        browser
            .wait()
            .for_element(Locator::Css(
                "[data-testid=summary], [data-testid=first-steps]",
            ))
            .await?;
        assert_eq!(server.store.user_by_email(&ada).await.unwrap(), first);
        assert_eq!(server.store.count_users().await.unwrap(), 3);
        click(&browser, Locator::XPath("//button[text()='Log out']")).await?;
        // Someone from another domain is told why on the login screen (the
        // provider forgets Ada first: its cookies go with this server's).
        browser.delete_all_cookies().await?;
        through("eve@elsewhere.test").await?;
        let told = browser
            .wait()
            .for_element(Locator::Css("[data-testid=sso-error]"))
            .await?
            .text()
            .await?;
        assert_eq!(
            told,
            "Single sign-on failed: eve@elsewhere.test is not in a domain allowed to sign in"
        );
        let note = browser
            .find(Locator::Css("main.login .or"))
            .await?
            .text()
            .await?;
        assert!(note.contains("break-glass"), "{note}");
        // Only the server says why: a link cannot put words on the screen.
        browser
            .goto(&server.url("/?sso_error=Your+account+is+locked.+Call+555-0100"))
            .await?;
        let told = browser
            .wait()
            .for_element(Locator::Css("[data-testid=sso-error]"))
            .await?
            .text()
            .await?;
        assert_eq!(told, "Single sign-on failed: it did not finish; try again");
        let shots =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        std::fs::write(
            shots.join("login-single-sign-on.png"),
            browser.screenshot().await?,
        )
        .unwrap();
        browser.set_window_size(390, 844).await?;
        std::fs::write(
            shots.join("login-single-sign-on-phone.png"),
            browser.screenshot().await?,
        )
        .unwrap();
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked: Result<(), fantoccini::error::CmdError> = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
    let eve = server
        .store
        .user_by_email(&Email::parse("eve@elsewhere.test").unwrap())
        .await;
    assert!(eve.is_err(), "no account for a refused sign-in");
    server.stop().await;
}

/// Chromium is told on the login screen why a forged token was refused,
/// and a return replayed in it signs nobody in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_is_told_why_a_forged_sign_in_is_refused() {
    let (server, hostile, _clock) = with_provider(BackendKind::Sqlite, |_| {
        let provider = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(HostileProvider::start())
        });
        let issuer = provider.issuer.clone();
        (provider, issuer)
    })
    .await;
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        let told = async || -> Result<String, fantoccini::error::CmdError> {
            browser
                .wait()
                .for_element(Locator::Css("[data-testid=sso-error]"))
                .await?
                .text()
                .await
        };
        for (flaw, reason) in [
            (Flaw::Audience, "Invalid audiences"),
            (Flaw::Signature, "Signature verification failed"),
            (Flaw::Expired, "Expired"),
        ] {
            *hostile.flaw.lock().unwrap() = flaw;
            browser.goto(&server.url("/")).await?;
            browser
                .wait()
                .for_element(Locator::XPath("//a[.='Sign in with Example ID']"))
                .await?
                .click()
                .await?;
            let shown = told().await?;
            assert!(shown.contains(reason), "{flaw:?}: {shown}");
        }
        // A sound one signs in; its return, replayed, does not again.
        *hostile.flaw.lock().unwrap() = Flaw::None;
        browser.goto(&server.url("/")).await?;
        browser
            .wait()
            .for_element(Locator::XPath("//a[.='Sign in with Example ID']"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .for_element(Locator::Css(
                "[data-testid=summary], [data-testid=first-steps]",
            ))
            .await?;
        click(&browser, Locator::XPath("//button[text()='Log out']")).await?;
        let used = hostile.last_return.lock().unwrap().clone().unwrap();
        browser.goto(&used).await?;
        let shown = told().await?;
        assert!(shown.contains("used already"), "{shown}");
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked: Result<(), fantoccini::error::CmdError> = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
    let mallory = Email::parse("mallory@example.com").unwrap();
    assert!(server.store.user_by_email(&mallory).await.is_ok());
    assert_eq!(server.store.count_users().await.unwrap(), 3);
    server.stop().await;
}
