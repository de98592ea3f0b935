//! Public status pages, as their readers and as an attacker see them: a
//! page with two groups over real monitors and a RUM site, a monitor going
//! down, written incidents, maintenance, 90 days of history (the older part
//! from summaries only), a page's own domain, private pages; and every
//! private field of the monitors, checkpoints and sites behind it filled
//! with marker strings that no public answer may contain.

use super::correlation::{create_site, record_past};
use super::*;
use sightline_core::Timestamp;
use sightline_core::monitor::{CheckOutcome, CheckReport, PhaseTimings};
use sightline_store::NewCheckResult;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const VAULT_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const DAY_MS: i64 = 86_400_000;

/// Strings put in every private field: none may appear in a public answer.
const MARKERS: &[&str] = &[
    "zz-monitor-alpha",
    "zz-url-bravo",
    "zz-expected-delta",
    "zz-checkpoint-echo",
    "zz-tag-foxtrot",
    "zz-header-juliet",
    "zz-monitor-kilo",
    "zz-window-india",
    "shop.example.com",
    "127.0.0.1",
    ADMIN.0,
];

/// A shop whose answers can be turned bad.
async fn shop(down: Arc<AtomicBool>) -> String {
    let app = axum::Router::new().fallback(move || {
        let down = down.clone();
        async move {
            if down.load(Ordering::SeqCst) {
                (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "broken").into_response()
            } else {
                "all good zz-expected-delta".into_response()
            }
        }
    });
    serve_app(app).await
}

use axum::response::IntoResponse;

/// A public answer: status, content type and body.
async fn public(server: &TestServer, path: &str) -> (StatusCode, String, String) {
    let response = server.http.get(server.url(path)).send().await.unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

fn assert_no_marker(what: &str, body: &str) {
    let lower = body.to_lowercase();
    for marker in MARKERS {
        assert!(
            !lower.contains(&marker.to_lowercase()),
            "{what} shows the private `{marker}`:\n{body}"
        );
    }
}

async fn status_of(server: &TestServer, admin: &Auth, id: i64) -> String {
    let (_, monitor) = server
        .call(Method::GET, &format!("/api/v1/monitors/{id}"), admin, None)
        .await;
    monitor["status"].as_str().unwrap_or_default().to_owned()
}

/// Runs a monitor now until its status is `want`.
pub(super) async fn run_until(server: &TestServer, admin: &Auth, id: i64, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while status_of(server, admin, id).await != want {
        assert!(Instant::now() < deadline, "monitor {id} never {want}");
        let _ = server.run_now(admin, id).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A check result of `monitor` at `at`.
pub(super) fn result(
    monitor_id: i64,
    checkpoint_id: i64,
    at: Timestamp,
    failed: bool,
) -> NewCheckResult {
    NewCheckResult {
        monitor_id,
        checkpoint_id,
        due_at: at,
        attempt: 0,
        started_at: at,
        report: CheckReport {
            outcome: if failed {
                CheckOutcome::Error
            } else {
                CheckOutcome::Up
            },
            problem: None,
            status_code: Some(if failed { 500 } else { 200 }),
            timings: PhaseTimings::default(),
            duration_ms: 80,
            response_bytes: Some(100),
            detail: json!({}),
            screenshots: Vec::new(),
        },
        in_maintenance: false,
        confirmed_error: failed,
        downtime_ms: 0,
    }
}

pub(super) async fn status_pages_show_what_is_up_and_nothing_private(kind: BackendKind) {
    let config = ServerConfig {
        vault_key: Some(VAULT_KEY.to_owned()),
        status_refresh: Duration::from_secs(1),
        ..ServerConfig::default()
    };
    let server = TestServer::start_after(kind, config, async |store| {
        record_past(store, create_site(store, "zz-site-golf").await).await;
    })
    .await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let down = Arc::new(AtomicBool::new(false));
    let base = shop(down.clone()).await;
    // The checkpoint exists (an agent was given a token for it).
    server.agent(&admin, "zz-checkpoint-echo").await;
    let home = server
        .create_monitor(
            &admin,
            json!({"name": "zz-monitor-alpha", "type": "http", "every": "1h",
                   "url": format!("{base}/zz-url-bravo"), "tags": ["zz-tag-foxtrot"],
                   "site": "zz-site-golf",
                   "headers": {"X-Zz": "zz-header-juliet"},
                   "expect": {"body_contains": "zz-expected-delta"}}),
        )
        .await;
    let api = server
        .create_monitor(
            &admin,
            json!({"name": "zz-monitor-kilo", "type": "http", "every": "1h",
                   "url": format!("{base}/api"), "checkpoints": ["local", "zz-checkpoint-echo"]}),
        )
        .await;
    let page = json!({"slug": "shop", "title": "Shop status",
    "description": "How the shop is doing.", "domain": "status.shop.test",
    "groups": [
        {"name": "Website", "components": [
            {"name": "Store front", "monitors": ["zz-monitor-alpha"]},
            {"name": "What visitors see", "site": "zz-site-golf"}]},
        {"name": "API", "components": [{"name": "Public API", "monitors": ["zz-monitor-kilo"]}]}
    ]});
    let (status, created) = server
        .call(
            Method::POST,
            "/api/v1/status-pages",
            &admin,
            Some(page.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["url"], "/status/shop");
    let page_id = created["id"].as_i64().unwrap();
    // What a GET answers can be PUT back unchanged.
    let (status, replaced) = server
        .call(
            Method::PUT,
            &format!("/api/v1/status-pages/{page_id}"),
            &admin,
            Some(created.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["groups"], created["groups"]);

    // Bad pages are refused with the field named.
    let mut unknown = page.clone();
    unknown["slug"] = json!("other");
    unknown["domain"] = json!("status.other.test");
    unknown["groups"][0]["components"][0]["monitors"] = json!(["nope"]);
    let (status, body) = server
        .call(Method::POST, "/api/v1/status-pages", &admin, Some(unknown))
        .await;
    assert_eq!(
        (status, &body["field"]),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!("groups[0].components[0].monitors[0]")
        ),
        "{body}"
    );
    let mut same_domain = page.clone();
    same_domain["slug"] = json!("other");
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/status-pages",
            &admin,
            Some(same_domain),
        )
        .await;
    assert_eq!(
        (status, &body["field"]),
        (StatusCode::CONFLICT, &json!("domain"))
    );
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/status-pages",
            &admin,
            Some(page.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "the slug is taken");

    // Forty days ago the store front failed 3 checks in 10; the raw
    // results are gone since, only the daily summary remains.
    let store = &server.store;
    let local = store.ensure_checkpoint("local").await.unwrap();
    let today = store.now().as_millis().div_euclid(DAY_MS) * DAY_MS;
    let old_day = today - 40 * DAY_MS;
    for n in 0..10 {
        let at = Timestamp::from(old_day + 3_600_000 + n * 60_000);
        store
            .record_check_result(&result(home, local.id, at, n < 3))
            .await
            .unwrap();
    }
    while store.roll_check_summaries(store.now(), 1000).await.unwrap() > 0 {}
    store
        .delete_check_results_before(Timestamp::from(today - 30 * DAY_MS))
        .await
        .unwrap();

    run_until(&server, &admin, home, "up").await;
    run_until(&server, &admin, api, "up").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, kind, html) = public(&server, "/status/shop").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(kind.starts_with("text/html"), "{kind}");
    for text in [
        "Shop status",
        "How the shop is doing.",
        "Website",
        "Store front",
        "What visitors see",
        "Public API",
        "Real visitors:",
        "All systems operational",
    ] {
        assert!(html.contains(text), "{text} missing:\n{html}");
    }
    assert!(!html.contains("<script"), "no script on a status page");
    let (_, _, json_text) = public(&server, "/status/shop/status.json").await;
    let public_json: Value = serde_json::from_str(&json_text).unwrap();
    let store_front = &public_json["groups"][0]["components"][0];
    assert_eq!(store_front["state"], "operational", "{store_front}");
    let days = store_front["days"].as_array().unwrap();
    assert_eq!(days.len(), 90);
    assert_eq!(days[49]["level"], "major", "{}", days[49]);
    assert!(
        days[49]["text"].as_str().unwrap().contains("70.00 % up"),
        "{}",
        days[49]
    );
    let visitors = &public_json["groups"][0]["components"][1];
    assert!(
        visitors["real_users"]["page_views"].as_u64().is_some(),
        "{visitors}"
    );

    // The store front goes down: the page says so within its refresh.
    down.store(true, Ordering::SeqCst);
    run_until(&server, &admin, home, "down").await;
    let seen_down = Instant::now();
    let html = loop {
        let (_, _, html) = public(&server, "/status/shop").await;
        if html.contains("Major outage") {
            break html;
        }
        assert!(
            seen_down.elapsed() < Duration::from_secs(3),
            "the page still says all is well"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(html.contains("Partial outage") || html.contains("Major outage"));

    // A written incident with three updates after its first, then resolved;
    // and one still open.
    let (status, incident) = server
        .call(
            Method::POST,
            &format!("/api/v1/status-pages/{page_id}/incidents"),
            &admin,
            Some(
                json!({"title": "Checkout fails", "components": ["Store front"],
                        "message": "We are looking into failed checkouts."}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    let incident_id = incident["id"].as_i64().unwrap();
    for (state, message) in [
        ("identified", "A bad deploy; rolling back."),
        ("monitoring", "Rolled back; watching."),
        ("resolved", "Checkouts work again."),
    ] {
        let (status, body) = server
            .call(
                Method::POST,
                &format!("/api/v1/status-pages/{page_id}/incidents/{incident_id}/updates"),
                &admin,
                Some(json!({"state": state, "message": message})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/api/v1/status-pages/{page_id}/incidents"),
            &admin,
            Some(json!({"title": "Slow search", "components": ["Nope"], "message": "x"})),
        )
        .await;
    assert_eq!(
        (status, &body["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("components[0]"))
    );
    let (status, open) = server
        .call(
            Method::POST,
            &format!("/api/v1/status-pages/{page_id}/incidents"),
            &admin,
            Some(json!({"title": "Slow search", "components": ["Public API"],
                        "state": "identified", "message": "Search is slow for some."})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{open}");
    let (_, listed) = server
        .call(
            Method::GET,
            &format!("/api/v1/status-pages/{page_id}/incidents"),
            &admin,
            None,
        )
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed[1]["state"], "resolved");
    assert_eq!(listed[1]["updates"].as_array().unwrap().len(), 4);

    // Maintenance in two hours on the store front.
    let starts = chrono::DateTime::from_timestamp_millis(store.now().as_millis() + 7_200_000)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let ends = chrono::DateTime::from_timestamp_millis(store.now().as_millis() + 10_800_000)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/maintenance-windows",
            &admin,
            Some(
                json!({"name": "zz-window-india", "monitors": ["zz-monitor-alpha"],
                        "starts_at": starts, "ends_at": ends}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let deadline = Instant::now() + Duration::from_secs(5);
    let html = loop {
        let (_, _, html) = public(&server, "/status/shop").await;
        if html.contains("Maintenance scheduled") {
            break html;
        }
        assert!(Instant::now() < deadline, "{html}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for text in [
        "Current incidents",
        "Slow search",
        "Past incidents",
        "Checkout fails",
        "A bad deploy; rolling back.",
        "Rolled back; watching.",
        "Checkouts work again.",
        "Affects Store front",
    ] {
        assert!(html.contains(text), "{text} missing:\n{html}");
    }

    // Its feed, badges and JSON; a second read of the page from cache.
    let (status, kind, feed) = public(&server, "/status/shop/feed.atom").await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("application/atom+xml"), "{kind}");
    assert!(
        feed.contains("<title>Resolved: Checkout fails</title>"),
        "{feed}"
    );
    assert!(
        feed.contains("<id>https://status.shop.test#incident-"),
        "{feed}"
    );
    let (status, kind, badge) = public(&server, "/status/shop/badges/store-front/state.svg").await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "image/svg+xml"));
    assert!(badge.contains("Store front: major outage"), "{badge}");
    let (_, _, uptime) = public(&server, "/status/shop/badges/public-api/uptime.svg").await;
    assert!(uptime.contains("Public API uptime: "), "{uptime}");
    let response = server
        .http
        .get(server.url("/status/shop"))
        .send()
        .await
        .unwrap();
    let etag = response.headers()[header::ETAG].clone();
    assert!(response.headers().contains_key(header::LAST_MODIFIED));
    let again = server
        .http
        .get(server.url("/status/shop"))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // The page's own domain: the page at `/`, nothing else of the server.
    let on_domain = |path: &str| {
        server
            .http
            .get(server.url(path))
            .header(header::HOST, "Status.Shop.Test")
            .send()
    };
    let response = on_domain("/").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let own = response.text().await.unwrap();
    assert!(
        own.contains("Store front") && own.contains("href=\"/feed.atom\""),
        "{own}"
    );
    let response = on_domain("/feed.atom").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for path in ["/api/v1/monitors", "/login", "/rum.js"] {
        let response = on_domain(path).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_no_marker(path, &response.text().await.unwrap());
    }

    // Unknown pages get a plain 404 page.
    let (status, kind, missing) = public(&server, "/status/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(kind.starts_with("text/html") && missing.contains("Page not found"));

    // No public answer holds anything private.
    let mut answers = vec![
        "/status/shop".to_owned(),
        "/status/shop/status.json".to_owned(),
        "/status/shop/feed.atom".to_owned(),
        "/status/nothing-here".to_owned(),
        "/status/shop/logo".to_owned(),
    ];
    for key in ["store-front", "what-visitors-see", "public-api"] {
        for kind in ["state.svg", "uptime.svg"] {
            answers.push(format!("/status/shop/badges/{key}/{kind}"));
        }
    }
    for path in &answers {
        let (_, _, body) = public(&server, path).await;
        assert_no_marker(path, &body);
    }

    // Private pages: by password, and by token.
    for (name, value) in [
        ("STATUS_PW", "open sesame"),
        ("STATUS_TOKEN", "t0ken-for-scripts"),
    ] {
        let (status, body) = server
            .call(
                Method::PUT,
                &format!("/api/v1/secrets/{name}"),
                &admin,
                Some(json!({ "value": value })),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    for (slug, key, secret) in [
        ("staff", "password", "{{secrets.STATUS_PW}}"),
        ("robots", "token", "{{secrets.STATUS_TOKEN}}"),
    ] {
        let mut private = json!({"slug": slug, "title": "Internal", "groups": [
            {"name": "Core", "components": [{"name": "Store front", "monitors": ["zz-monitor-alpha"]}]}]});
        private[key] = json!(secret);
        let (status, body) = server
            .call(Method::POST, "/api/v1/status-pages", &admin, Some(private))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    for path in [
        "/status/staff",
        "/status/staff/status.json",
        "/status/staff/feed.atom",
        "/status/staff/badges/store-front/state.svg",
        "/status/robots",
    ] {
        let (status, _, body) = public(&server, path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert!(!body.contains("Store front"), "{path}: {body}");
    }
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let wrong = no_redirects
        .post(server.url("/status/staff/access"))
        .form(&[("password", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(header::SET_COOKIE).is_none());
    let right = no_redirects
        .post(server.url("/status/staff/access"))
        .form(&[("password", "open sesame")])
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    let cookie = right.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/status/staff"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let unlocked = server
        .http
        .get(server.url("/status/staff"))
        .header(header::COOKIE, &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(unlocked.status(), StatusCode::OK);
    assert_eq!(
        unlocked.headers()[header::CACHE_CONTROL],
        "private, no-cache"
    );
    assert!(unlocked.text().await.unwrap().contains("Store front"));
    // The cookie opens only its own page.
    let elsewhere = server
        .http
        .get(server.url("/status/robots"))
        .header(header::COOKIE, &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED);
    let (status, _, _) = public(&server, "/status/robots?token=t0ken-for-scripts").await;
    assert_eq!(status, StatusCode::OK);
    let bearer = server
        .http
        .get(server.url("/status/robots/status.json"))
        .bearer_auth("t0ken-for-scripts")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    let (status, _, _) = public(&server, "/status/robots?token=t0ken-for-scriptz").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Deleting a page ends its public answers.
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/v1/status-pages/{page_id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = public(&server, "/status/shop").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

/// Every message a mailbox received so far, parsed: (to, subject, text).
fn mailbox(smtp: &sightline_alerting::testing::SmtpServer) -> Vec<(String, String, String)> {
    use mailparse::MailHeaderMap;
    let mut mails: Vec<(String, String, String)> = smtp
        .received()
        .iter()
        .map(|raw| {
            let mail = mailparse::parse_mail(raw).unwrap();
            let text = mail
                .subparts
                .iter()
                .find(|part| part.ctype.mimetype == "text/plain")
                .map(|part| part.get_body().unwrap())
                .unwrap_or_default();
            (
                mail.headers.get_first_value("X-RcptTo").unwrap_or_default(),
                mail.headers.get_first_value("Subject").unwrap_or_default(),
                text,
            )
        })
        .collect();
    mails.sort();
    mails
}

/// Waits until `count` messages arrived; they are returned.
async fn mails(
    smtp: &sightline_alerting::testing::SmtpServer,
    count: usize,
) -> Vec<(String, String, String)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let received = mailbox(smtp);
        if received.len() >= count {
            return received;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} mails: {received:#?}",
            received.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The address in `text` that starts with `prefix`, to the end of its word.
fn link(text: &str, prefix: &str) -> String {
    text.split_whitespace()
        .find(|word| word.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}… in {text}"))
        .to_owned()
}

pub(super) async fn followers_confirm_by_mail_hear_of_updates_and_leave(kind: BackendKind) {
    use sightline_alerting::testing::SmtpServer;
    let smtp_port = sightline_store::testing::free_port();
    let smtp = SmtpServer::start(smtp_port);
    let server = TestServer::start_with(
        kind,
        super::alerting::passing_often(ServerConfig {
            smtp: Some(SmtpServer::settings(smtp_port)),
            ..ServerConfig::default()
        }),
    )
    .await;
    let public_url = ServerConfig::default().public_url;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    server
        .create_monitor(
            &admin,
            json!({"name": "home", "type": "tcp", "host": "127.0.0.1", "port": 9, "every": "1h"}),
        )
        .await;
    let (_, page) = server
        .call(
            Method::POST,
            "/api/v1/status-pages",
            &admin,
            Some(json!({"slug": "shop", "title": "Shop status", "groups": [
                {"name": "Website", "components": [{"name": "Store front", "monitors": ["home"]}]}]})),
        )
        .await;
    let page_id = page["id"].as_i64().unwrap();
    let (_, _, html) = public(&server, "/status/shop").await;
    assert!(html.contains("action=\"/status/shop/subscribe\""), "{html}");
    let subscribe = |address: &'static str| {
        server
            .http
            .post(server.url("/status/shop/subscribe"))
            .form(&[("email", address)])
            .send()
    };
    let refused = subscribe("not an address").await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let asked = subscribe("reader@example.com").await.unwrap();
    assert_eq!(asked.status(), StatusCode::OK);
    assert!(asked.text().await.unwrap().contains("Check your inbox"));
    let received = mails(&smtp, 1).await;
    let (to, subject, text) = &received[0];
    assert_eq!(
        (to.as_str(), subject.as_str()),
        (
            "reader@example.com",
            "Confirm your subscription to Shop status"
        )
    );
    let confirm = link(text, &format!("{public_url}/status/shop/confirm/"));
    let path = confirm.trim_start_matches(&public_url).to_owned();

    // Unconfirmed, the reader hears of nothing.
    let post_update = async |state: &str, message: &str| {
        let (status, body) = server
            .call(
                Method::POST,
                &format!("/api/v1/status-pages/{page_id}/incidents"),
                &admin,
                Some(
                    json!({"title": "Checkout fails", "components": ["Store front"],
                            "state": state, "message": message}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    };
    post_update("investigating", "Looking into it.").await;
    // Opening the link (as a mail scanner would) confirms nothing; its
    // button does.
    let (status, _, form) = public(&server, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(&format!("action=\"{path}\"")), "{form}");
    let confirmed = server.http.post(server.url(&path)).send().await.unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert!(
        confirmed
            .text()
            .await
            .unwrap()
            .contains("You are subscribed")
    );
    let forged = server
        .http
        .post(server.url("/status/shop/confirm/forged-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    // Asking again for a confirmed address sends nothing more.
    subscribe("reader@example.com").await.unwrap();

    let incident = post_update("identified", "A bad deploy; rolling back.").await;
    let (status, _) = server
        .call(
            Method::POST,
            &format!("/api/v1/status-pages/{page_id}/incidents/{incident}/updates"),
            &admin,
            Some(json!({"state": "resolved", "message": "Fixed."})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let received = mails(&smtp, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received_now = mailbox(&smtp);
    assert_eq!(received_now.len(), 3, "{received_now:#?}");
    let subjects: Vec<&str> = received.iter().map(|(_, s, _)| s.as_str()).collect();
    assert!(
        subjects.contains(&"[Shop status] Identified: Checkout fails"),
        "{subjects:?}"
    );
    assert!(
        subjects.contains(&"[Shop status] Resolved: Checkout fails"),
        "{subjects:?}"
    );
    let update = &received
        .iter()
        .find(|(_, s, _)| s.ends_with("Resolved: Checkout fails"))
        .unwrap()
        .2;
    assert!(
        update.contains("Resolved: Fixed.") && update.contains("Affects Store front."),
        "{update}"
    );
    let unsubscribe = link(update, &format!("{public_url}/status/shop/unsubscribe/"));
    let path = unsubscribe.trim_start_matches(&public_url).to_owned();
    let tampered = format!("{}x", &path[..path.len() - 1]);
    let refused = server
        .http
        .post(server.url(&tampered))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let (status, _, form) = public(&server, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("Unsubscribe"), "{form}");
    let left = server.http.post(server.url(&path)).send().await.unwrap();
    assert_eq!(left.status(), StatusCode::OK);
    let received = mails(&smtp, 4).await;
    assert!(
        received
            .iter()
            .any(|(to, s, _)| to == "reader@example.com"
                && s == "You are unsubscribed from Shop status"),
        "{received:#?}"
    );
    post_update("investigating", "Another one.").await;
    server.after_passes().await;
    assert_eq!(mailbox(&smtp).len(), 4, "no mail after leaving");
    server.stop().await;
}

pub(super) async fn a_page_opens_and_resolves_incidents_by_itself(kind: BackendKind) {
    let server = TestServer::start_with(
        kind,
        super::alerting::passing_often(ServerConfig::default()),
    )
    .await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let port = sightline_store::testing::free_port();
    let id = server
        .create_monitor(
            &admin,
            json!({"name": "zz-monitor-alpha", "type": "tcp", "host": "127.0.0.1", "port": port, "every": "1h"}),
        )
        .await;
    let (status, page) = server
        .call(
            Method::POST,
            "/api/v1/status-pages",
            &admin,
            Some(
                json!({"slug": "shop", "title": "Shop status", "auto_incidents": true, "groups": [
                {"name": "Website", "components": [
                    {"name": "Store front", "monitors": ["zz-monitor-alpha"]}]}]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{page}");
    let page_id = page["id"].as_i64().unwrap();
    let written = async || {
        let (_, incidents) = server
            .call(
                Method::GET,
                &format!("/api/v1/status-pages/{page_id}/incidents"),
                &admin,
                None,
            )
            .await;
        incidents
    };
    run_until(&server, &admin, id, "down").await;
    let deadline = Instant::now() + Duration::from_secs(40);
    let incidents = loop {
        let incidents = written().await;
        if incidents.as_array().is_some_and(|list| !list.is_empty()) {
            break incidents;
        }
        assert!(Instant::now() < deadline, "no incident was opened");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(incidents.as_array().unwrap().len(), 1, "{incidents}");
    let incident = &incidents[0];
    assert_eq!(incident["title"], "Store front is unavailable");
    assert_eq!(incident["automatic"], true);
    assert_eq!(incident["state"], "investigating");
    assert_eq!(incident["updates"][0]["author"], Value::Null);
    let (_, _, html) = public(&server, "/status/shop").await;
    assert_no_marker("an automatic incident", &html);

    // Back up: the incident resolves, once.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let accept = tokio::spawn(async move {
        loop {
            let _ = listener.accept().await;
        }
    });
    run_until(&server, &admin, id, "up").await;
    let deadline = Instant::now() + Duration::from_secs(40);
    let incidents = loop {
        let incidents = written().await;
        if incidents[0]["state"] == "resolved" {
            break incidents;
        }
        assert!(Instant::now() < deadline, "never resolved: {incidents}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    server.after_passes().await;
    let again = written().await;
    assert_eq!(again.as_array().unwrap().len(), 1, "{again}");
    assert_eq!(again[0]["updates"].as_array().unwrap().len(), 2, "{again}");
    assert_eq!(
        incidents[0]["updates"][1]["message"],
        "Store front is available again."
    );
    accept.abort();
    server.stop().await;
}
