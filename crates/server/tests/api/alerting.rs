//! Alerting through the API: test notifications go through the real outbox
//! to a real SMTP server (or webhook) and answer with what it said.

use super::{ADMIN, Auth, TestServer, VIEWER, assert_error, serve_app};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sightline_alerting::testing::SmtpServer;
use sightline_server::ServerConfig;
use sightline_store::BackendKind;
use sightline_store::testing::free_port;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A fresh SMTP server, and a server configuration that sends to it.
pub(super) fn smtp_server() -> (SmtpServer, ServerConfig) {
    let port = free_port();
    let config = ServerConfig {
        smtp: Some(SmtpServer::settings(port)),
        ..ServerConfig::default()
    };
    (SmtpServer::start(port), config)
}

/// `config` with alerting loops that pass every 250 ms when nothing wakes
/// them, so that [`TestServer::after_passes`] is quick.
pub(super) fn passing_often(config: ServerConfig) -> ServerConfig {
    ServerConfig {
        alerting_every: Duration::from_millis(250),
        outbox: sightline_alerting::OutboxConfig {
            poll: Duration::from_millis(250),
            ..config.outbox.clone()
        },
        ..config
    }
}

pub(super) async fn test_notifications_report_what_the_receiver_said(kind: BackendKind) {
    let smtp_port = free_port();
    let config = ServerConfig {
        smtp: Some(SmtpServer::settings(smtp_port)),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let test = "/api/v1/notifications/test";

    // The SMTP server is down: the answer says so, and nothing is retried.
    let (status, body) = server
        .call(
            Method::POST,
            test,
            &admin,
            Some(json!({"email": "ops@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "failed", "{body}");
    assert!(
        body["error"].as_str().unwrap().starts_with("SMTP: "),
        "{body}"
    );

    let smtp = SmtpServer::start(smtp_port);
    let (status, body) = server
        .call(
            Method::POST,
            test,
            &admin,
            Some(json!({"email": "ops@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "sent", "{body}");
    assert!(
        body["answer"].as_str().unwrap().starts_with("250"),
        "{body}"
    );
    let received = smtp.received();
    assert_eq!(received.len(), 1, "the failed test was not retried");
    let text = String::from_utf8_lossy(&received[0]);
    assert!(
        text.contains("Subject: Sightline test notification"),
        "{text}"
    );
    assert!(text.contains("X-RcptTo: ops@example.com"), "{text}");

    // A webhook gets the JSON; its HTTP answer is reported.
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::Json<serde_json::Value>| {
            let counted = counted.clone();
            async move {
                assert_eq!(body["type"], "test");
                counted.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let hook = format!("{}/hook", serve_app(app).await);
    let (_, body) = server
        .call(Method::POST, test, &admin, Some(json!({"webhook": hook})))
        .await;
    assert_eq!(
        (body["status"].as_str(), body["answer"].as_str()),
        (Some("sent"), Some("HTTP 200")),
        "{body}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let (status, body) = server
        .call(
            Method::POST,
            test,
            &admin,
            Some(json!({"email": "not an address"})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(body["field"], "email");
    let (status, body) = server
        .call(Method::POST, test, &admin, Some(json!({})))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    let viewer = Auth::Cookie(server.log_in(VIEWER).await);
    let (status, _) = server
        .call(
            Method::POST,
            test,
            &viewer,
            Some(json!({"email": "ops@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    server.stop().await;
}

pub(super) async fn alert_policies_are_managed_and_list_their_monitors(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let policy = json!({"name": "on-call", "remind_every": "30m", "levels": [
        {"after": "1 confirmed error", "email": ["ops@example.com"]},
        {"after": "15m", "email": ["cto@example.com"], "webhook": ["https://hooks.example.com/x"]}
    ]});
    let (status, created) = server
        .call(
            Method::POST,
            "/api/v1/alert-policies",
            &admin,
            Some(policy.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["levels"], policy["levels"]);
    let id = created["id"].as_i64().unwrap();
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/monitors",
            &admin,
            Some(
                json!({"name": "shop", "type": "tcp", "host": "shop.example.com", "port": 443,
                        "every": "1h", "alert_policy": "on-call"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let path = format!("/api/v1/alert-policies/{id}");
    let (_, read) = server.call(Method::GET, &path, &admin, None).await;
    assert_eq!(read["monitors"], json!(["shop"]));
    // What a GET answers can be PUT back.
    let (status, again) = server
        .call(Method::PUT, &path, &admin, Some(read.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["levels"], read["levels"]);

    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/alert-policies",
            &admin,
            Some(
                json!({"name": "bad", "levels": [{"after": "soon", "email": ["ops@example.com"]}]}),
            ),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(body["field"], "levels[0].after");
    let (status, body) = server
        .call(Method::POST, "/api/v1/alert-policies", &admin, Some(policy))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, _) = server.call(Method::DELETE, &path, &admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server.call(Method::GET, &path, &admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

pub(super) async fn a_confirmed_failure_emails_the_alert_policy(kind: BackendKind) {
    let (smtp, config) = smtp_server();
    let server = TestServer::start_with(kind, passing_often(config)).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down") }),
    );
    let url = format!("{}/", serve_app(app).await);
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/alert-policies",
            &admin,
            Some(json!({"name": "on-call", "levels": [{"after": "1 confirmed error", "email": ["ops@example.com"]}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, monitor) = server
        .call(
            Method::POST,
            "/api/v1/monitors",
            &admin,
            Some(json!({"name": "shop", "type": "http", "url": url, "every": "1h", "alert_policy": "on-call"})),
        )
        .await;
    let id = monitor["id"].as_i64().unwrap();
    let started = std::time::Instant::now();
    server.run_now(&admin, id).await;
    while smtp.received().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no e-mail arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = String::from_utf8_lossy(&smtp.received()[0]).into_owned();
    assert!(
        text.contains("Subject: [DOWN] shop: expected a 2xx status, got 503 (local)"),
        "{text}"
    );
    assert!(text.contains("X-RcptTo: ops@example.com"), "{text}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 1, "one e-mail");

    // The incident, its timeline and the e-mail it sent.
    let (status, open) = server
        .call(Method::GET, "/api/v1/incidents?open=true", &admin, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{open}");
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["monitor_id"], id);
    assert_eq!(open[0]["cause"], "expected a 2xx status, got 503");
    let incident = open[0]["id"].as_i64().unwrap();
    let (_, detail) = server
        .call(
            Method::GET,
            &format!("/api/v1/incidents/{incident}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(detail["events"][0]["kind"], "opened");
    assert_eq!(detail["notifications"][0]["recipient"], "ops@example.com");
    assert_eq!(detail["notifications"][0]["status"], "sent", "{detail}");
    assert!(
        detail["notifications"][0]["answer"]
            .as_str()
            .unwrap()
            .starts_with("250")
    );
    let (status, body) = server
        .call(Method::GET, "/api/v1/incidents?open=maybe", &admin, None)
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    // Of one monitor: this one's, none of another's; a bad id is named.
    for (monitor_id, count) in [(id, 1), (id + 1000, 0)] {
        let path = format!("/api/v1/incidents?monitor_id={monitor_id}");
        let (status, listed) = server.call(Method::GET, &path, &admin, None).await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        assert_eq!(listed.as_array().unwrap().len(), count, "{path}");
    }
    let (status, body) = server
        .call(
            Method::GET,
            "/api/v1/incidents?monitor_id=shop",
            &admin,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    assert!(
        body["message"].as_str().unwrap().contains("`shop`"),
        "{body}"
    );
    server.stop().await;
}

/// Waits until `count` e-mails arrived, then a little longer to see that no
/// more follow; returns them as text.
/// The e-mails received once `count` have, and the alerting loops have
/// passed again without sending more.
async fn emails(server: &TestServer, smtp: &SmtpServer, count: usize) -> Vec<String> {
    let started = std::time::Instant::now();
    while smtp.received().len() < count {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} of {count} e-mails arrived",
            smtp.received().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.after_passes().await;
    smtp.received()
        .iter()
        .map(|mail| String::from_utf8_lossy(mail).into_owned())
        .collect()
}

pub(super) async fn a_host_going_down_sends_one_email_per_recipient(kind: BackendKind) {
    let (smtp, config) = smtp_server();
    let server = TestServer::start_with(kind, passing_often(config)).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let closed = free_port();
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/alert-policies",
            &admin,
            Some(json!({"name": "on-call", "levels": [
                {"after": "1 confirmed error", "email": ["ops@example.com", "dev@example.com"]}
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut first = 0;
    for n in 1..=20 {
        let (status, monitor) = server
            .call(
                Method::POST,
                "/api/v1/monitors",
                &admin,
                Some(json!({"name": format!("page {n:02}"), "type": "http",
                    "url": format!("http://127.0.0.1:{closed}/{n}"), "every": "1h",
                    "alert_policy": "on-call"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{monitor}");
        if n == 1 {
            first = monitor["id"].as_i64().unwrap();
        }
    }
    // One check fails; its nineteen relatives on the same host are checked
    // at once, and all twenty reach each recipient in one message.
    server.run_now(&admin, first).await;
    let received = emails(&server, &smtp, 2).await;
    assert_eq!(received.len(), 2, "one e-mail per recipient");
    for recipient in ["ops@example.com", "dev@example.com"] {
        let mail = received
            .iter()
            .find(|mail| mail.contains(&format!("X-RcptTo: {recipient}")))
            .unwrap_or_else(|| panic!("nothing for {recipient}"));
        assert!(
            mail.contains(&format!(
                "Subject: [DOWN] 20 monitors on 127.0.0.1:{closed}: page 01, page 02,"
            )),
            "{mail}"
        );
        let parsed = mailparse::parse_mail(mail.as_bytes()).unwrap();
        let text = parsed.subparts[0].get_body().unwrap();
        for n in 1..=20 {
            assert!(
                text.contains(&format!("page {n:02} (")),
                "page {n:02}: {text}"
            );
        }
    }
    let (_, open) = server
        .call(Method::GET, "/api/v1/incidents?open=true", &admin, None)
        .await;
    assert_eq!(open.as_array().unwrap().len(), 20);
    server.stop().await;
}

pub(super) async fn a_dependant_is_held_back_behind_its_parent(kind: BackendKind) {
    let (smtp, config) = smtp_server();
    let server = TestServer::start_with(kind, passing_often(config)).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    server
        .call(
            Method::POST,
            "/api/v1/alert-policies",
            &admin,
            Some(json!({"name": "on-call", "levels": [
                {"after": "1 confirmed error", "email": ["ops@example.com"]}
            ]})),
        )
        .await;
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/monitors",
            &admin,
            Some(
                json!({"name": "database", "type": "tcp", "host": "127.0.0.1",
                "port": free_port(), "every": "1h", "alert_policy": "on-call"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, api) = server
        .call(
            Method::POST,
            "/api/v1/monitors",
            &admin,
            Some(json!({"name": "api", "type": "http",
                "url": format!("http://localhost:{}/", free_port()), "every": "1h",
                "alert_policy": "on-call", "depends_on": "database"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{api}");
    // The dependant fails first; its parent is checked at once, found down,
    // and only the parent's incident is told, naming the dependant.
    server
        .call(
            Method::POST,
            &format!("/api/v1/monitors/{}/run", api["id"]),
            &admin,
            None,
        )
        .await;
    let received = emails(&server, &smtp, 1).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(
        received[0].contains("Subject: [DOWN] database:"),
        "{}",
        received[0]
    );
    assert!(
        received[0].contains("held back because they depend on it: api"),
        "{}",
        received[0]
    );
    let (_, open) = server
        .call(Method::GET, "/api/v1/incidents?open=true", &admin, None)
        .await;
    let held: Vec<_> = open
        .as_array()
        .unwrap()
        .iter()
        .filter(|incident| !incident["held_by"].is_null())
        .collect();
    assert_eq!(held.len(), 1, "{open}");
    assert_eq!(held[0]["monitor_id"], api["id"]);
    server.stop().await;
}

pub(super) async fn a_contradicted_failure_tells_nobody_and_a_confirmed_one_reaches_every_channel(
    kind: BackendKind,
) {
    let (smtp, config) = smtp_server();
    let server = TestServer::start_with(kind, passing_often(config)).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);

    // The target fails the requests it is told to fail, then answers.
    let failures = Arc::new(AtomicUsize::new(1));
    let left = failures.clone();
    let target = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let left = left.clone();
            async move {
                let failing = left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if failing {
                    (axum::http::StatusCode::BAD_GATEWAY, "down")
                } else {
                    (axum::http::StatusCode::OK, "up")
                }
            }
        }),
    );
    let url = format!("{}/", serve_app(target).await);
    // A webhook receiver keeping what it is sent.
    let hooked = Arc::new(std::sync::Mutex::new(Vec::<serde_json::Value>::new()));
    let kept = hooked.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let hook = format!("{}/hook", serve_app(receiver).await);

    server
        .call(
            Method::POST,
            "/api/v1/alert-policies",
            &admin,
            Some(json!({"name": "on-call", "levels": [
                {"after": "1 confirmed error", "email": ["ops@example.com"], "webhook": [hook]}
            ]})),
        )
        .await;
    let (status, monitor) = server
        .call(
            Method::POST,
            "/api/v1/monitors",
            &admin,
            Some(
                json!({"name": "shop", "type": "http", "url": url, "every": "1h",
                "alert_policy": "on-call"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{monitor}");
    let id = monitor["id"].as_i64().unwrap();
    let run = async || {
        let (status, body) = server.run_now(&admin, id).await;
        assert!(status.is_success(), "{status} {body}");
    };

    // One failure; the confirmation re-run passes: nobody hears of it.
    run().await;
    let started = std::time::Instant::now();
    loop {
        let (_, results) = server
            .call(
                Method::GET,
                &format!("/api/v1/monitors/{id}/results"),
                &admin,
                None,
            )
            .await;
        let results = results.as_array().cloned().unwrap_or_default();
        if results.iter().any(|result| result["attempt"] == 1) {
            assert!(
                results
                    .iter()
                    .all(|result| result["confirmed_error"] == false),
                "{results:?}"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no confirmation re-run: {results:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.after_passes().await;
    assert!(smtp.received().is_empty(), "no e-mail for a false alarm");
    assert!(hooked.lock().unwrap().is_empty(), "no webhook either");
    let (_, open) = server
        .call(Method::GET, "/api/v1/incidents", &admin, None)
        .await;
    assert_eq!(open, json!([]), "no incident");

    // Failing for good: one e-mail, one webhook call.
    failures.store(usize::MAX, Ordering::SeqCst);
    run().await;
    let received = emails(&server, &smtp, 1).await;
    assert_eq!(received.len(), 1);
    assert!(
        received[0].contains("Subject: [DOWN] shop:"),
        "{}",
        received[0]
    );
    let started = std::time::Instant::now();
    while hooked.lock().unwrap().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no webhook call"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let calls = hooked.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call["type"], "down");
    assert_eq!(
        call["text"],
        "[DOWN] shop: expected a 2xx status, got 502 (local)"
    );
    assert_eq!(call["incidents"][0]["monitor"], "shop");
    assert_eq!(call["incidents"][0]["class"], "down");
    assert_eq!(
        call["incidents"][0]["problem"],
        "expected a 2xx status, got 502"
    );
    let incident = call["incident_ids"][0].as_i64().unwrap();
    assert!(
        call["incidents"][0]["link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/incidents/{incident}")),
        "{call}"
    );
    server.stop().await;
}

/// Deleting a monitor keeps its incidents, closed as "monitor deleted" and
/// under its name, so that the links in messages sent about them open.
pub(super) async fn a_deleted_monitors_incidents_stay_closed(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let id = server
        .create_monitor(
            &admin,
            json!({"name": "database", "type": "tcp", "host": "127.0.0.1",
                   "port": free_port(), "every": "1h"}),
        )
        .await;
    server.run_now(&admin, id).await;
    let started = std::time::Instant::now();
    let incident = loop {
        let (_, open) = server
            .call(Method::GET, "/api/v1/incidents?open=true", &admin, None)
            .await;
        if let Some(incident) = open.as_array().and_then(|open| open.first()) {
            break incident.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no incident");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/v1/monitors/{id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, detail) = server
        .call(
            Method::GET,
            &format!("/api/v1/incidents/{}", incident["id"]),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["subject"], "monitor database");
    assert_eq!(detail["monitor_id"], serde_json::Value::Null);
    assert!(detail["closed_at"].is_string(), "{detail}");
    let last = detail["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["kind"], &last["message"]),
        (&json!("closed"), &json!("monitor deleted"))
    );
    let (_, open) = server
        .call(Method::GET, "/api/v1/incidents?open=true", &admin, None)
        .await;
    assert_eq!(open, json!([]));
    server.stop().await;
}
