//! The HTTP API, tested as clients see it: a real server on a loopback port,
//! on SQLite and on PostgreSQL, driven with a real HTTP client.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use sightline_core::{Email, Role};
use sightline_server::{AppState, LoginLimits, ServerConfig};
use sightline_store::testing::TestDatabase;
use sightline_store::{BackendKind, NewUser, Store, SystemClock, on_both_backends};
use std::num::NonZeroU32;
use std::sync::Arc;

#[path = "api/alerting.rs"]
mod alerting;
#[path = "api/browser.rs"]
mod browser;
#[path = "api/channels.rs"]
mod channels;
#[path = "api/collector.rs"]
mod collector;
#[path = "api/correlation.rs"]
mod correlation;
#[path = "api/journeys.rs"]
mod journeys;
#[path = "api/monitored_metrics.rs"]
mod monitored_metrics;
#[path = "api/outage.rs"]
mod outage;
#[path = "api/roles_and_audit.rs"]
mod roles_and_audit;
#[path = "api/security.rs"]
mod security;
#[path = "api/single_sign_on.rs"]
mod single_sign_on;
#[path = "api/status_pages.rs"]
mod status_pages;
#[path = "api/synthetic.rs"]
mod synthetic;
/// The synthetic crate's real targets: an HTTP app, a DNS server, a TLS
/// server, a closed port.
#[allow(dead_code)]
#[path = "../../synthetic/tests/checks/targets.rs"]
mod targets;
/// Real-looking real-user traffic, as the benchmarks write it.
#[path = "../../cli/benches/support/traffic.rs"]
#[allow(dead_code)]
mod traffic;
#[path = "api/ui.rs"]
mod ui;
use alerting::{
    a_confirmed_failure_emails_the_alert_policy,
    a_contradicted_failure_tells_nobody_and_a_confirmed_one_reaches_every_channel,
    a_deleted_monitors_incidents_stay_closed, a_dependant_is_held_back_behind_its_parent,
    a_host_going_down_sends_one_email_per_recipient,
    alert_policies_are_managed_and_list_their_monitors,
    test_notifications_report_what_the_receiver_said,
};
use browser::real_chromium_page_views_arrive_with_plausible_metrics;
use channels::{
    each_channel_can_be_sent_a_test, every_channel_hears_of_an_outage_in_its_vendors_shape,
};
use collector::{
    bad_beacons_are_refused_and_store_nothing, beacons_are_rate_limited_per_address,
    beacons_become_enriched_page_views, countries_come_from_the_database_behind_trusted_proxies,
    the_script_is_small_compressed_and_cached,
};
use correlation::{
    a_site_is_watched_from_its_first_half_hour, outages_are_classified_by_what_real_users_see,
};
use journeys::{
    agents_report_screenshots_with_their_results,
    journeys_report_steps_screenshots_and_never_a_secret,
};
use monitored_metrics::{
    a_metrics_token_is_needed_when_the_server_has_one,
    what_is_monitored_reaches_prometheus_and_the_dashboard,
};
use outage::one_outage_is_one_thread_per_person;
use roles_and_audit::{
    editors_change_what_is_monitored_but_not_who_may, every_change_is_in_the_audit_log,
};
use single_sign_on::{forged_id_tokens_are_refused, people_sign_in_through_the_provider_once_each};
use status_pages::{
    a_page_opens_and_resolves_incidents_by_itself,
    followers_confirm_by_mail_hear_of_updates_and_leave,
    status_pages_show_what_is_up_and_nothing_private,
};
use synthetic::{
    a_server_without_a_browser_refuses_browser_monitors,
    agents_lease_and_report_for_their_checkpoint_only,
    monitors_run_report_results_uptime_and_confirmed_downtime, secrets_are_sealed_and_never_shown,
    series_answer_any_period_in_buckets_sized_to_it,
};

const ADMIN: (&str, &str) = ("ops@example.com", "admin password 1");
const VIEWER: (&str, &str) = ("dev@example.com", "viewer password 1");
/// An editor, made by the tests that need one ([`TestServer::add_editor`]).
const EDITOR: (&str, &str) = ("editor@example.com", "an editor's password");

struct TestServer {
    base: String,
    store: Store,
    http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _database: TestDatabase,
}

impl TestServer {
    async fn start(kind: BackendKind) -> Self {
        Self::start_with(kind, ServerConfig::default()).await
    }

    async fn start_with(kind: BackendKind, config: ServerConfig) -> Self {
        Self::start_after(kind, config, async |_| {}).await
    }

    /// Starts a server on a store `prepare` filled first, as if with data
    /// from before the server's time.
    async fn start_after(
        kind: BackendKind,
        config: ServerConfig,
        prepare: impl AsyncFnOnce(&Store),
    ) -> Self {
        Self::start_on_clock(kind, config, Arc::new(SystemClock), prepare).await
    }

    /// Starts a server whose store reads `clock`, so that a test can move
    /// time (leases, expiry) instead of waiting.
    async fn start_on_clock(
        kind: BackendKind,
        config: ServerConfig,
        clock: Arc<dyn sightline_core::Clock>,
        prepare: impl AsyncFnOnce(&Store),
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_listening(listener, kind, config, clock, prepare).await
    }

    /// Starts a server on a listener bound already, so that its address
    /// can be in its configuration (its public URL, which an identity
    /// provider sends people back to).
    async fn start_listening(
        listener: tokio::net::TcpListener,
        kind: BackendKind,
        config: ServerConfig,
        clock: Arc<dyn sightline_core::Clock>,
        prepare: impl AsyncFnOnce(&Store),
    ) -> Self {
        let database = TestDatabase::new(kind).await;
        let store = database.store(clock).await;
        for ((email, password), role) in [(ADMIN, Role::Admin), (VIEWER, Role::Viewer)] {
            store
                .create_user(&NewUser {
                    email: Email::parse(email).unwrap(),
                    password_hash: sightline_server::hash_password(password).unwrap(),
                    role,
                })
                .await
                .unwrap();
        }
        prepare(&store).await;
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, signal) = tokio::sync::oneshot::channel::<()>();
        let state = AppState::new(store.clone(), config).await.unwrap();
        let task = tokio::spawn(sightline_server::serve(listener, state, async {
            let _ = signal.await;
        }));
        TestServer {
            base,
            store,
            http: reqwest::Client::new(),
            shutdown: Some(shutdown),
            task: Some(task),
            _database: database,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Makes [`EDITOR`] through the API as `admin`; answers their id.
    async fn add_editor(&self, admin: &Auth) -> i64 {
        let (status, user) = self
            .call(
                Method::POST,
                "/api/v1/users",
                admin,
                Some(json!({"email": EDITOR.0, "password": EDITOR.1, "role": "editor"})),
            )
            .await;
        assert_eq!(
            (status, &user["role"]),
            (StatusCode::CREATED, &json!("editor")),
            "{user}"
        );
        user["id"].as_i64().unwrap()
    }

    /// Logs in and returns the session cookie pair (`sightline_session=…`).
    async fn log_in(&self, (email, password): (&str, &str)) -> String {
        let response = self
            .http
            .post(self.url("/api/v1/session"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let set_cookie = response.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_owned();
        set_cookie.split(';').next().unwrap().to_owned()
    }

    /// A request to `path` with `auth`'s credentials.
    fn request(&self, method: Method, path: &str, auth: &Auth) -> reqwest::RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match auth {
            Auth::None => request,
            Auth::Cookie(cookie) => request.header(header::COOKIE, cookie),
            Auth::Bearer(token) => request.bearer_auth(token),
        }
    }

    /// The secret of a new API token with `role`, made by `admin`.
    async fn token(&self, admin: &Auth, name: &str, role: &str) -> String {
        let (status, created) = self
            .call(
                Method::POST,
                "/api/v1/tokens",
                admin,
                Some(json!({"name": name, "role": role})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created["token"].as_str().unwrap().to_owned()
    }

    /// Creates a monitor from `spec` as `admin`; its id.
    async fn create_monitor(&self, admin: &Auth, spec: Value) -> i64 {
        let (status, monitor) = self
            .call(Method::POST, "/api/v1/monitors", admin, Some(spec))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{monitor}");
        monitor["id"].as_i64().unwrap()
    }

    /// Asks for a run of monitor `id` now, as `auth`: the answer.
    async fn run_now(&self, auth: &Auth, id: i64) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            &format!("/api/v1/monitors/{id}/run"),
            auth,
            None,
        )
        .await
    }

    /// The credentials of an agent for `checkpoint`: a token bound to it.
    async fn agent(&self, admin: &Auth, checkpoint: &str) -> Auth {
        let (status, token) = self
            .call(
                Method::POST,
                "/api/v1/tokens",
                admin,
                Some(
                    json!({"name": format!("{checkpoint} agent"), "role": "viewer",
                            "checkpoint": checkpoint}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{token}");
        Auth::Bearer(token["token"].as_str().unwrap().to_owned())
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path, auth);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// `/metrics` as an anonymous scraper reads it.
    async fn metrics(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    }

    /// The completed passes of the alerting engine, the outbox sender and
    /// the status pages' own incidents, as `/metrics` counts them.
    async fn passes(&self) -> [u64; 3] {
        let text = self.metrics().await;
        [
            "sightline_alerting_passes_total",
            "sightline_outbox_passes_total",
            "sightline_status_page_passes_total",
        ]
        .map(|name| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        })
    }

    /// Waits until the alerting engine, the outbox sender and the status
    /// pages have each completed two more passes than now: one at least
    /// began after this was asked, so whatever they were to do about the
    /// present state (open an incident, send a message) is done. What a
    /// test asserts did not happen then has had its chance, without a sleep
    /// long enough to hope.
    async fn after_passes(&self) {
        let before = self.passes().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let now = self.passes().await;
            if now
                .iter()
                .zip(before)
                .all(|(now, before)| *now >= before + 2)
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the alerting loops stalled: {before:?} → {now:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

enum Auth {
    None,
    Cookie(String),
    Bearer(String),
}

/// Serves `app` on a loopback port; returns its base URL
/// (`http://127.0.0.1:PORT`).
async fn serve_app(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// Every error answer has the one shape.
fn assert_error(status: StatusCode, body: &Value, expected_status: StatusCode, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// The API routes anyone may call: logging in (with a password or through
/// the identity provider, and how) and the API's document.
fn is_public(method: &Method, path: &str) -> bool {
    (method == Method::POST && path == "/api/v1/session")
        || (method == Method::GET
            && [
                "/api/v1/openapi.json",
                "/api/v1/session/options",
                "/api/v1/session/oidc",
                "/api/v1/session/oidc/callback",
            ]
            .contains(&path))
}

/// Every operation of the OpenAPI document, with `{id}` filled in.
fn operations(openapi: &Value) -> Vec<(Method, String)> {
    let mut operations = Vec::new();
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                operations.push((
                    method.to_uppercase().parse().unwrap(),
                    path.replace("{id}", "1"),
                ));
            }
        }
    }
    operations
}

on_both_backends!(
    status_pages_show_what_is_up_and_nothing_private,
    followers_confirm_by_mail_hear_of_updates_and_leave,
    a_page_opens_and_resolves_incidents_by_itself,
    health_metrics_and_a_complete_openapi_document,
    what_is_monitored_reaches_prometheus_and_the_dashboard,
    a_metrics_token_is_needed_when_the_server_has_one,
    every_api_route_but_login_needs_authentication,
    viewers_read_but_cannot_change_anything,
    editors_change_what_is_monitored_but_not_who_may,
    every_change_is_in_the_audit_log,
    people_sign_in_through_the_provider_once_each,
    forged_id_tokens_are_refused,
    sessions_log_in_and_out_with_a_locked_down_cookie,
    login_attempts_are_limited_per_account_and_address,
    tokens_are_shown_once_and_work_until_revoked,
    sites_are_managed_and_come_with_their_snippet,
    monitors_are_validated_with_the_field_named,
    users_are_managed_by_admins,
    load_is_shed_and_slow_requests_time_out,
    beacons_become_enriched_page_views,
    bad_beacons_are_refused_and_store_nothing,
    beacons_are_rate_limited_per_address,
    the_script_is_small_compressed_and_cached,
    real_chromium_page_views_arrive_with_plausible_metrics,
    countries_come_from_the_database_behind_trusted_proxies,
    monitors_run_report_results_uptime_and_confirmed_downtime,
    series_answer_any_period_in_buckets_sized_to_it,
    secrets_are_sealed_and_never_shown,
    a_server_without_a_browser_refuses_browser_monitors,
    agents_lease_and_report_for_their_checkpoint_only,
    test_notifications_report_what_the_receiver_said,
    alert_policies_are_managed_and_list_their_monitors,
    a_confirmed_failure_emails_the_alert_policy,
    a_host_going_down_sends_one_email_per_recipient,
    a_dependant_is_held_back_behind_its_parent,
    a_contradicted_failure_tells_nobody_and_a_confirmed_one_reaches_every_channel,
    every_channel_hears_of_an_outage_in_its_vendors_shape,
    each_channel_can_be_sent_a_test,
    one_outage_is_one_thread_per_person,
    a_site_is_watched_from_its_first_half_hour,
    a_deleted_monitors_incidents_stay_closed,
    outages_are_classified_by_what_real_users_see,
    journeys_report_steps_screenshots_and_never_a_secret,
    agents_report_screenshots_with_their_results,
);

async fn health_metrics_and_a_complete_openapi_document(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let (status, body) = server
        .call(Method::GET, "/healthz", &Auth::None, None)
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, _) = server.call(Method::GET, "/readyz", &Auth::None, None).await;
    assert_eq!(status, StatusCode::OK);

    let (status, openapi) = server
        .call(Method::GET, "/api/v1/openapi.json", &Auth::None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        openapi["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        openapi["openapi"]
    );
    let paths: Vec<&str> = openapi["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for expected in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/openapi.json",
        "/api/v1/session",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/sites",
        "/api/v1/sites/{id}",
        "/api/v1/monitors",
        "/api/v1/monitors/{id}",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from {paths:?}"
        );
    }
    // Every documented operation is served (no 404/405), and every schema
    // reference resolves.
    let cookie = Auth::Cookie(server.log_in(ADMIN).await);
    for (method, path) in operations(&openapi) {
        let (status, _) = server.call(method.clone(), &path, &cookie, None).await;
        assert!(
            status != StatusCode::NOT_FOUND || path.contains('1'),
            "{method} {path}: {status}"
        );
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
    let text = openapi.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            openapi["components"]["schemas"].get(name).is_some(),
            "dangling $ref {name}"
        );
    }

    server
        .call(Method::GET, "/api/v1/monitors/42", &cookie, None)
        .await;
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("sightline_build_info{version=\""),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"sightline_http_requests_total{method="GET",route="/api/v1/monitors/{id}",status="404"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("sightline_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    server.stop().await;
}

async fn every_api_route_but_login_needs_authentication(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let (_, openapi) = server
        .call(Method::GET, "/api/v1/openapi.json", &Auth::None, None)
        .await;
    let mut checked = 0;
    for (method, path) in operations(&openapi) {
        if !path.starts_with("/api/v1/") || is_public(&method, &path) {
            continue;
        }
        for auth in [
            Auth::None,
            Auth::Bearer("slt_not-a-token".into()),
            Auth::Cookie("sightline_session=forged".into()),
        ] {
            let (status, body) = server
                .call(method.clone(), &path, &auth, Some(json!({})))
                .await;
            assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
        }
        checked += 1;
    }
    assert!(checked >= 14, "only {checked} operations checked");
    // Unknown API paths do not reveal themselves to anonymous callers either.
    let (status, body) = server
        .call(Method::GET, "/api/v1/nothing-here", &Auth::None, None)
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    server.stop().await;
}

async fn viewers_read_but_cannot_change_anything(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (status, site) = server
        .call(
            Method::POST,
            "/api/v1/sites",
            &admin,
            Some(json!({"name": "shop"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let viewer = Auth::Cookie(server.log_in(VIEWER).await);
    let (status, sites) = server
        .call(Method::GET, "/api/v1/sites", &viewer, None)
        .await;
    assert_eq!(
        (status, sites.as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );

    let (_, openapi) = server
        .call(Method::GET, "/api/v1/openapi.json", &Auth::None, None)
        .await;
    let (_, token) = server
        .call(
            Method::POST,
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "viewer script", "user_id": 2})),
        )
        .await;
    let viewer_token = Auth::Bearer(token["token"].as_str().unwrap().to_owned());
    let mut refused = 0;
    for (method, path) in operations(&openapi) {
        // Their own session and password are theirs to change.
        let own = path == "/api/v1/session" || path == "/api/v1/session/password";
        if method == Method::GET || !path.starts_with("/api/v1/") || own {
            continue;
        }
        let path = path.replace("/1", &format!("/{}", site["id"]));
        for auth in [&viewer, &viewer_token] {
            let (status, body) = server
                .call(method.clone(), &path, auth, Some(json!({"name": "x"})))
                .await;
            assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
        }
        refused += 1;
    }
    assert!(refused >= 9, "only {refused} writes checked");
    // An agent's token, even one an admin made with the admin role, reads
    // and changes nothing outside its checkpoint's protocol: incidents,
    // acknowledgements, comments, sites, tokens alike.
    let (status, token) = server
        .call(
            Method::POST,
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "east agent", "role": "admin", "checkpoint": "east"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let agent = Auth::Bearer(token["token"].as_str().unwrap().to_owned());
    let mut barred = 0;
    for (method, path) in operations(&openapi) {
        let public = is_public(&method, &path);
        if !path.starts_with("/api/v1/") || path.starts_with("/api/v1/checkpoints/") || public {
            continue;
        }
        let path = path.replace("/1", &format!("/{}", site["id"]));
        let (status, body) = server
            .call(
                method.clone(),
                &path,
                &agent,
                Some(json!({"name": "x", "text": "x", "comment": "x"})),
            )
            .await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
        barred += 1;
    }
    assert!(barred >= 40, "only {barred} operations checked");
    // Nothing changed.
    let (_, sites) = server
        .call(Method::GET, "/api/v1/sites", &admin, None)
        .await;
    assert_eq!(sites, json!([site]));
    // A viewer may still log out.
    let (status, _) = server
        .call(Method::DELETE, "/api/v1/session", &viewer, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    server.stop().await;
}

async fn sessions_log_in_and_out_with_a_locked_down_cookie(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let response = server
        .http
        .post(server.url("/api/v1/session"))
        .json(&json!({"email": "OPS@example.com", "password": ADMIN.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let set_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(
            set_cookie.contains(attribute),
            "{set_cookie} lacks {attribute}"
        );
    }
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["user"]["email"].as_str(), body["can_write"].as_bool()),
        (Some("ops@example.com"), Some(true))
    );
    let cookie = Auth::Cookie(set_cookie.split(';').next().unwrap().to_owned());

    let (status, me) = server
        .call(Method::GET, "/api/v1/session", &cookie, None)
        .await;
    assert_eq!(
        (status, me["credential"].as_str()),
        (StatusCode::OK, Some("session"))
    );

    for (email, password) in [(ADMIN.0, "wrong password"), ("nobody@example.com", ADMIN.1)] {
        let (status, body) = server
            .call(
                Method::POST,
                "/api/v1/session",
                &Auth::None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "bad_credentials");
    }
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/session",
            &Auth::None,
            Some(json!({"email": "ops", "password": "x"})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(body["field"], "email");

    let response = server
        .http
        .delete(server.url("/api/v1/session"))
        .header(
            header::COOKIE,
            match &cookie {
                Auth::Cookie(c) => c.clone(),
                _ => unreachable!(),
            },
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        response.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, _) = server
        .call(Method::GET, "/api/v1/session", &cookie, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

async fn login_attempts_are_limited_per_account_and_address(kind: BackendKind) {
    let config = ServerConfig {
        login_limits: LoginLimits {
            per_address_per_minute: NonZeroU32::new(4).unwrap(),
            per_account_address_per_minute: NonZeroU32::new(3).unwrap(),
            per_account_per_minute: NonZeroU32::new(100).unwrap(),
            longest_wait: std::time::Duration::from_secs(1),
        },
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config.clone()).await;
    let attempt = |email: &'static str, password: &'static str| {
        server.call(
            Method::POST,
            "/api/v1/session",
            &Auth::None,
            Some(json!({"email": email, "password": password})),
        )
    };
    for _ in 0..3 {
        assert_eq!(attempt(ADMIN.0, "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    // This address may not try this account for now.
    let (status, body) = attempt(ADMIN.0, "guess").await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
    );
    let response = server
        .http
        .post(server.url("/api/v1/session"))
        .json(&json!({"email": ADMIN.0, "password": ADMIN.1}))
        .send()
        .await
        .unwrap();
    let retry_after: u64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Another account from the same address still gets its turn, until the address's budget is spent.
    assert_eq!(attempt(VIEWER.0, VIEWER.1).await.0, StatusCode::OK);
    assert_eq!(
        attempt("a@example.com", "guess").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    server.stop().await;

    // Behind a trusted proxy, the limits are the clients' own: one guessing
    // client does not hold back another coming through the same proxy.
    let server = TestServer::start_with(
        kind,
        ServerConfig {
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
            ..config
        },
    )
    .await;
    let through = |client: &'static str, password: &'static str| {
        server
            .http
            .post(server.url("/api/v1/session"))
            .header("x-forwarded-for", client)
            .json(&json!({"email": ADMIN.0, "password": password}))
            .send()
    };
    for _ in 0..3 {
        let guess = through("203.0.113.7", "guess").await.unwrap();
        assert_eq!(guess.status(), StatusCode::UNAUTHORIZED);
    }
    let refused = through("203.0.113.7", "guess").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let owner = through("198.51.100.20", ADMIN.1).await.unwrap();
    assert_eq!(owner.status(), StatusCode::OK);
    server.stop().await;
}

async fn tokens_are_shown_once_and_work_until_revoked(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (status, created) = server
        .call(
            Method::POST,
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "deploy", "role": "admin", "expires_in_days": 30})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("slt_") && secret.starts_with(created["prefix"].as_str().unwrap()));
    let bearer = Auth::Bearer(secret.clone());
    let (status, me) = server
        .call(Method::GET, "/api/v1/session", &bearer, None)
        .await;
    assert_eq!(
        (status, me["credential"].as_str()),
        (StatusCode::OK, Some("token"))
    );
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/sites",
            &bearer,
            Some(json!({"name": "by token"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (_, listed) = server
        .call(Method::GET, "/api/v1/tokens", &admin, None)
        .await;
    assert!(
        !listed.to_string().contains(&secret),
        "a listing shows a secret"
    );
    assert!(listed[0]["last_used_at"].is_string());

    // A viewer cannot be given an admin token.
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "x", "role": "admin", "user_id": 2})),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "x", "user_id": 99})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(body["field"], "user_id");

    let path = format!("/api/v1/tokens/{}", created["id"]);
    assert_eq!(
        server.call(Method::DELETE, &path, &admin, None).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, _) = server
        .call(Method::GET, "/api/v1/session", &bearer, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        server
            .call(Method::DELETE, "/api/v1/tokens/999", &admin, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}

async fn sites_are_managed_and_come_with_their_snippet(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (status, site) = server
        .call(
            Method::POST,
            "/api/v1/sites",
            &admin,
            Some(json!({"name": "shop", "origins": ["https://Shop.example.com/"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    let key = site["site_key"].as_str().unwrap();
    assert!(key.len() >= 16);
    assert_eq!(
        site["snippet"],
        format!(r#"<script async src="http://127.0.0.1:8080/rum.js" data-site="{key}"></script>"#)
    );
    assert_eq!(site["origins"], json!(["https://shop.example.com"]));
    let path = format!("/api/v1/sites/{}", site["id"]);

    // What GET answers can be PUT back as it is.
    let (_, fetched) = server.call(Method::GET, &path, &admin, None).await;
    assert_eq!(fetched, site);
    let mut changed = fetched.clone();
    changed["keep_query_string"] = json!(true);
    let (status, updated) = server.call(Method::PUT, &path, &admin, Some(changed)).await;
    assert_eq!(
        (status, &updated["keep_query_string"], &updated["site_key"]),
        (StatusCode::OK, &json!(true), &site["site_key"])
    );

    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/sites",
            &admin,
            Some(json!({"name": "shop"})),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    assert_eq!(body["field"], "name");
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/sites",
            &admin,
            Some(json!({"name": "blog", "origins": ["https://blog.example.com/feed"]})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(body["field"], "origins[0]");

    // A site with a monitor linked to it stays.
    let monitor = json!({"name": "shop home", "type": "http", "url": "https://shop.example.com/", "site": "shop"});
    let (status, created) = server
        .call(Method::POST, "/api/v1/monitors", &admin, Some(monitor))
        .await;
    assert_eq!(
        (status, &created["site_id"]),
        (StatusCode::CREATED, &site["id"])
    );
    let (status, body) = server.call(Method::DELETE, &path, &admin, None).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    server
        .call(
            Method::DELETE,
            &format!("/api/v1/monitors/{}", created["id"]),
            &admin,
            None,
        )
        .await;
    assert_eq!(
        server.call(Method::DELETE, &path, &admin, None).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = server.call(Method::GET, &path, &admin, None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    server.stop().await;
}

async fn monitors_are_validated_with_the_field_named(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let Auth::Cookie(cookie) = &admin else {
        unreachable!()
    };
    // The catalogue of types, for forms: readable by anyone signed in, and
    // each type's example is a monitor the server accepts as it stands.
    let viewer = Auth::Cookie(server.log_in(VIEWER).await);
    let (status, catalogue) = server
        .call(Method::GET, "/api/v1/monitor-types", &viewer, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{catalogue}");
    let types = catalogue["types"].as_array().unwrap();
    assert_eq!(types.len(), 8, "{catalogue}");
    assert!(
        catalogue["settings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "name" && f["required"] == true)
    );
    for kind in types {
        let mut example = kind["example"].clone();
        example["type"] = kind["name"].clone();
        example["name"] = json!(format!("example {}", kind["name"]));
        let (status, body) = server
            .call(
                Method::POST,
                "/api/v1/monitors/validate",
                &admin,
                Some(example),
            )
            .await;
        let needs_a_browser = body["message"]
            .as_str()
            .is_some_and(|m| m.contains("browser"));
        assert!(
            status == StatusCode::OK || needs_a_browser,
            "{}: {status} {body}",
            kind["name"]
        );
    }
    let good = json!({
        "name": "shop home", "type": "http", "url": "https://shop.example.com/", "every": "1m",
        "expect": {"status": [200], "body_contains": "Add to cart", "max_response_ms": 2000}
    });
    let (status, created) = server
        .call(Method::POST, "/api/v1/monitors", &admin, Some(good.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        (
            created["status"].as_str(),
            created["expect"]["status"].clone()
        ),
        (Some("unknown"), json!([200]))
    );

    let cases = [
        (json!({"name": "x", "type": "smtp"}), "type"),
        (
            json!({"name": "x", "type": "http", "url": "https://a.example/", "colour": "red"}),
            "colour",
        ),
        (
            json!({"name": "x", "type": "http", "url": "https://a.example/", "expect": {"status": ["ok"]}}),
            "expect.status[0]",
        ),
        (
            json!({"name": "x", "type": "tcp", "host": "db.example.com", "port": "5432"}),
            "port",
        ),
        (
            json!({"name": "x", "type": "http", "url": "https://a.example/", "every": "1s"}),
            "every",
        ),
        (
            json!({"name": "x", "type": "http", "url": "https://a.example/", "site": "nope"}),
            "site",
        ),
        (
            json!({"name": "x", "type": "api", "steps": [{"name": "a", "url": "ftp://x"}]}),
            "steps[0].url",
        ),
        (json!(["not", "an", "object"]), ""),
    ];
    for (body, field) in cases {
        let (status, answer) = server
            .call(Method::POST, "/api/v1/monitors", &admin, Some(body.clone()))
            .await;
        assert_error(
            status,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        );
        assert_eq!(
            answer["field"].as_str().unwrap_or(""),
            field,
            "{body} -> {answer}"
        );
    }

    // Several problems: every one is named at once, the first also as the
    // answer's own field.
    let (status, answer) = server
        .call(
            Method::POST,
            "/api/v1/monitors/validate",
            &admin,
            Some(
                json!({"name": "", "type": "http", "url": "ftp://x", "every": "often",
                        "expect": {"status": [99]}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let mut named: Vec<&str> = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(answer["field"], json!(named[0]), "{answer}");
    named.sort_unstable();
    assert_eq!(
        named,
        ["every", "expect.status[0]", "name", "url"],
        "{answer}"
    );

    // Malformed JSON, a wrong content type and an oversized body.
    let raw = |body: Vec<u8>, content_type: &'static str| {
        server
            .http
            .post(server.url("/api/v1/monitors"))
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };
    let response = raw(b"{\"name\": ".to_vec(), "application/json")
        .await
        .unwrap();
    let (status, body) = (response.status(), response.json::<Value>().await.unwrap());
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_json",
    );
    let response = raw(good.to_string().into_bytes(), "text/plain")
        .await
        .unwrap();
    let (status, body) = (response.status(), response.json::<Value>().await.unwrap());
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let mut huge = good.clone();
    huge["name"] = json!("n".repeat(2 * 1024 * 1024));
    let response = raw(huge.to_string().into_bytes(), "application/json")
        .await
        .unwrap();
    let (status, body) = (response.status(), response.json::<Value>().await.unwrap());
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );

    // Nothing half-written: only the one good monitor exists.
    let (_, monitors) = server
        .call(Method::GET, "/api/v1/monitors", &admin, None)
        .await;
    assert_eq!(monitors, json!([created]));
    assert_eq!(server.store.list_monitors().await.unwrap().len(), 1);

    // GET → PUT round trip, pausing, renaming conflicts, deletion.
    let path = format!("/api/v1/monitors/{}", created["id"]);
    let mut paused = created.clone();
    paused["enabled"] = json!(false);
    let (status, updated) = server.call(Method::PUT, &path, &admin, Some(paused)).await;
    assert_eq!(
        (status, updated["status"].as_str()),
        (StatusCode::OK, Some("paused")),
        "{updated}"
    );
    let mut second = good.clone();
    second["name"] = json!("second");
    let (_, second) = server
        .call(Method::POST, "/api/v1/monitors", &admin, Some(second))
        .await;
    let (status, body) = server
        .call(
            Method::PUT,
            &path,
            &admin,
            Some(json!({"name": "second", "type": "tcp", "host": "h", "port": 1})),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, body) = server
        .call(Method::GET, "/api/v1/monitors/abc", &admin, None)
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(
        server.call(Method::DELETE, &path, &admin, None).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = server.call(Method::DELETE, &path, &admin, None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (_, monitors) = server
        .call(Method::GET, "/api/v1/monitors", &admin, None)
        .await;
    assert_eq!(monitors, json!([second]));
    server.stop().await;
}

async fn users_are_managed_by_admins(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (status, user) = server
        .call(
            Method::POST,
            "/api/v1/users",
            &admin,
            Some(json!({"email": "New@Example.com", "password": "a long password"})),
        )
        .await;
    assert_eq!(
        (status, user["email"].as_str(), user["role"].as_str()),
        (StatusCode::CREATED, Some("new@example.com"), Some("viewer"))
    );
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/users",
            &admin,
            Some(json!({"email": "new@example.com", "password": "a long password"})),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/users",
            &admin,
            Some(json!({"email": "short@example.com", "password": "short"})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("password"))
    );
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/users",
            &admin,
            Some(json!({"email": "r@example.com", "password": "a long password", "role": "root"})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("role")),
        "{body}"
    );

    let path = format!("/api/v1/users/{}", user["id"]);
    let (status, promoted) = server
        .call(
            Method::PATCH,
            &path,
            &admin,
            Some(json!({"role": "admin", "password": "another long one"})),
        )
        .await;
    assert_eq!(
        (status, promoted["role"].as_str()),
        (StatusCode::OK, Some("admin"))
    );
    let new_admin = Auth::Cookie(server.log_in(("new@example.com", "another long one")).await);
    let (status, body) = server.call(Method::DELETE, &path, &new_admin, None).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    assert_eq!(
        server.call(Method::DELETE, &path, &admin, None).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, _) = server
        .call(Method::GET, "/api/v1/session", &new_admin, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, users) = server
        .call(Method::GET, "/api/v1/users", &admin, None)
        .await;
    assert_eq!(users.as_array().unwrap().len(), 2);
    server.stop().await;
}

async fn load_is_shed_and_slow_requests_time_out(kind: BackendKind) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = ServerConfig {
        max_concurrent_requests: 1,
        request_timeout: std::time::Duration::from_secs(1),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    // A client that sends its headers and then only part of its body holds
    // the one permit while the handler waits for the rest.
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(
        b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\"",
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (status, body) = server
        .call(Method::GET, "/healthz", &Auth::None, None)
        .await;
    assert_error(status, &body, StatusCode::SERVICE_UNAVAILABLE, "overloaded");

    // The slow request is cut off with a 408 in the error shape, and the permit comes back.
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), slow.read(&mut answer))
        .await
        .expect("the slow request was not cut off")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    let (status, _) = server
        .call(Method::GET, "/healthz", &Auth::None, None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // A database that stops answering makes the server unready, not dead.
    server.store.close().await;
    let (status, body) = server.call(Method::GET, "/readyz", &Auth::None, None).await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unreachable",
    );
    let (status, _) = server
        .call(Method::GET, "/healthz", &Auth::None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    server.stop().await;
}
