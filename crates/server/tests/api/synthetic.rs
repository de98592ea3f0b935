//! Synthetic monitoring through the API: running a monitor, its results and
//! uptime, confirmation before down, maintenance windows, the vault, and the
//! checkpoint protocol a remote agent speaks.

use super::{ADMIN, Auth, TestServer, VIEWER, assert_error, serve_app};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use sightline_server::ServerConfig;
use sightline_store::BackendKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// An HTTP target whose `/health` answers the status held in the returned cell.
pub(super) async fn target() -> (String, Arc<AtomicU16>) {
    let status = Arc::new(AtomicU16::new(200));
    let shared = status.clone();
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let status = shared.load(Ordering::SeqCst);
            async move {
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    format!("health {status}"),
                )
            }
        }),
    );
    let url = format!("{}/health", serve_app(app).await);
    (url, status)
}

async fn wait_for_status(server: &TestServer, auth: &Auth, id: i64, expected: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, monitor) = server
            .call(Method::GET, &format!("/api/v1/monitors/{id}"), auth, None)
            .await;
        if monitor["status"] == expected {
            return monitor;
        }
        assert!(
            Instant::now() < deadline,
            "status stayed {}",
            monitor["status"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(super) async fn monitors_run_report_results_uptime_and_confirmed_downtime(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let viewer = Auth::Cookie(server.log_in(VIEWER).await);
    let (url, health) = target().await;
    let (status, monitor) = server
        .call(
            Method::POST,
            "/api/v1/monitors",
            &admin,
            Some(
                json!({"name": "health", "type": "http", "url": url, "every": "1h",
                        "expect": {"status": [200], "body_contains": "health"}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{monitor}");
    let id = monitor["id"].as_i64().unwrap();
    let run = format!("/api/v1/monitors/{id}/run");

    let (status, results) = server.call(Method::POST, &run, &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{results}");
    let first = &results[0];
    assert_eq!(first["outcome"], "up", "{first}");
    assert_eq!(
        (first["checkpoint"].as_str(), first["attempt"].as_i64()),
        (Some("local"), Some(0))
    );
    assert_eq!(first["status_code"], 200);
    assert!(first["timings"]["connect_ms"].is_i64() && first["timings"]["first_byte_ms"].is_i64());
    let (status, _) = server.call(Method::POST, &run, &viewer, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewers cannot run checks");
    wait_for_status(&server, &viewer, id, "up").await;

    // The site breaks: the failure is confirmed by a re-run before the
    // monitor goes down, and uptime counts the confirmed error.
    health.store(503, Ordering::SeqCst);
    let (status, results) = server.call(Method::POST, &run, &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(results[0]["outcome"], "error");
    assert_eq!(results[0]["problem"]["kind"], "status");
    assert_eq!(
        results[0]["problem"]["message"],
        "expected status 200, got 503"
    );
    assert_eq!(results[0]["detail"]["body_excerpt"], "health 503");
    let down = wait_for_status(&server, &viewer, id, "down").await;
    assert!(down["status_since"].is_string());
    let (status, listed) = server
        .call(
            Method::GET,
            &format!("/api/v1/monitors/{id}/results"),
            &viewer,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(
        (
            listed[0]["attempt"].as_i64(),
            listed[0]["confirmed_error"].as_bool()
        ),
        (Some(1), Some(true))
    );
    let (status, uptime) = server
        .call(
            Method::GET,
            &format!("/api/v1/monitors/{id}/uptime"),
            &viewer,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{uptime}");
    assert_eq!(
        (
            uptime["checks"].as_i64(),
            uptime["confirmed_errors"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(uptime["uptime_percent"], 50.0);
    // Down from the failed run until now: a run asked for by hand is a
    // sample, not an hour of the schedule.
    let downtime = uptime["downtime_ms"].as_i64().unwrap();
    assert!((1..60_000).contains(&downtime), "{uptime}");
    assert!(uptime["response_ms"]["p50"].as_f64().unwrap() >= 0.0);
    // The overview says the same of every monitor at once, with the
    // latest results oldest first.
    let (status, overview) = server
        .call(Method::GET, "/api/v1/monitors/overview", &viewer, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    assert_eq!(overview["periods"], json!(["24h", "7d", "30d"]));
    // Compressed for a client that accepts it, to the same answer.
    let compressed = server
        .request(Method::GET, "/api/v1/monitors/overview", &viewer)
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(compressed.headers()[header::CONTENT_ENCODING], "gzip");
    let packed = compressed.bytes().await.unwrap();
    let unpacked: Value =
        serde_json::from_reader(flate2::read::GzDecoder::new(&packed[..])).unwrap();
    assert_eq!(unpacked["periods"], overview["periods"]);
    assert_eq!(unpacked["monitors"][0]["monitor_id"], id);
    let digest = &overview["monitors"][0];
    assert_eq!(digest["monitor_id"], id);
    for period in ["24h", "7d", "30d"] {
        assert_eq!(digest["uptime"][period]["uptime_percent"], 50.0, "{digest}");
        let downtime = digest["uptime"][period]["downtime_ms"].as_i64().unwrap();
        assert!((1..60_000).contains(&downtime), "{digest}");
    }
    let outcomes: Vec<(&str, i64)> = digest["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| {
            (
                result["outcome"].as_str().unwrap(),
                result["attempt"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(outcomes, [("up", 0), ("error", 0), ("error", 1)]);
    assert_eq!(
        digest["recent"][2]["id"], listed[0]["id"],
        "the latest result"
    );
    assert_eq!(digest["recent"][2]["error"], "expected status 200, got 503");
    let (status, body) = server
        .call(
            Method::GET,
            "/api/v1/monitors/overview?periods=90m",
            &viewer,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    assert_eq!(body["field"], "periods");

    let (status, body) = server
        .call(
            Method::GET,
            &format!("/api/v1/monitors/{id}/uptime?from=yesterday"),
            &viewer,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    assert_eq!(body["field"], "from");
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/api/v1/monitors/{id}/results?limit=0"),
            &viewer,
            None,
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limit"))
    );

    // In a maintenance window, failures are recorded but not confirmed.
    let (status, window) = server
        .call(
            Method::POST,
            "/api/v1/maintenance-windows",
            &admin,
            Some(json!({"name": "deploy", "monitors": ["health"], "cron": "* * * * *", "duration": "1h"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{window}");
    assert_eq!(window["active"], true);
    let (status, results) = server.call(Method::POST, &run, &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(results[0]["in_maintenance"], true);
    wait_for_status(&server, &viewer, id, "maintenance").await;
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/maintenance-windows",
            &admin,
            Some(json!({"name": "bad", "starts_at": "2026-12-01T03:00:00Z", "ends_at": "2026-12-01T02:00:00Z"})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(body["field"], "ends_at");
    let window_id = window["id"].as_i64().unwrap();
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/v1/maintenance-windows/{window_id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    server.stop().await;
}

pub(super) async fn secrets_are_sealed_and_never_shown(kind: BackendKind) {
    // Without a key the vault refuses, saying how to set one.
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/v1/secrets/API_KEY",
            &admin,
            Some(json!({"value": "s3cret-value"})),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("SIGHTLINE_VAULT_KEY"),
        "{body}"
    );
    server.stop().await;

    let config = ServerConfig {
        vault_key: Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned()),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/v1/secrets/API_KEY",
            &admin,
            Some(json!({"value": "s3cret-value"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/v1/secrets/9lives",
            &admin,
            Some(json!({"value": "x"})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    let (status, listed) = server
        .call(Method::GET, "/api/v1/secrets", &admin, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "API_KEY");
    assert!(
        !listed.to_string().contains("s3cret-value"),
        "values are never returned"
    );
    let sealed = server.store.sealed_secrets().await.unwrap();
    assert!(
        !sealed[0]
            .ciphertext
            .windows(12)
            .any(|w| w == b"s3cret-value"),
        "stored encrypted"
    );
    let (status, _) = server
        .call(Method::DELETE, "/api/v1/secrets/API_KEY", &admin, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    server.stop().await;
}

pub(super) async fn agents_lease_and_report_for_their_checkpoint_only(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let agent = server.agent(&admin, "east").await;
    let (status, monitor) = server
        .call(
            Method::POST,
            "/api/v1/monitors",
            &admin,
            Some(
                json!({"name": "from east", "type": "tcp", "host": "127.0.0.1", "port": 9,
                        "every": "1h", "checkpoints": ["east"]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{monitor}");
    let id = monitor["id"].as_i64().unwrap();
    // Queue a run; the local checkpoint does not take east's job.
    let monitor_id = id;
    let due = server_run_now(&server, &admin, monitor_id).await;

    let (status, jobs) = server
        .call(
            Method::POST,
            "/api/v1/checkpoints/east/lease",
            &agent,
            Some(json!({"max": 10, "agent_version": "0.1.0"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{jobs}");
    assert!(
        jobs.get("secrets").is_none(),
        "no check here uses one: {jobs}"
    );
    let jobs = jobs["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(
        (jobs[0]["monitor_id"].as_i64(), jobs[0]["due_at"].as_i64()),
        (Some(id), Some(due))
    );
    assert_eq!(jobs[0]["spec"]["type"], "tcp");
    let (_, again) = server
        .call(
            Method::POST,
            "/api/v1/checkpoints/east/lease",
            &agent,
            Some(json!({"max": 10})),
        )
        .await;
    assert_eq!(
        again,
        json!({"jobs": []}),
        "a leased job is not handed out twice"
    );

    let report = json!([{
        "job_id": jobs[0]["job_id"], "monitor_id": id, "due_at": due, "attempt": 0,
        "started_at": due + 3, "lease": jobs[0]["lease"],
        "report": {"outcome": "up", "duration_ms": 4, "timings": {"connect_ms": 1}}
    }]);
    for _ in 0..2 {
        let (status, body) = server
            .call(
                Method::POST,
                "/api/v1/checkpoints/east/results",
                &agent,
                Some(report.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (_, results) = server
        .call(
            Method::GET,
            &format!("/api/v1/monitors/{id}/results"),
            &admin,
            None,
        )
        .await;
    assert_eq!(
        results.as_array().unwrap().len(),
        1,
        "reported twice, stored once"
    );
    assert_eq!(results[0]["checkpoint"], "east");
    let (_, checkpoints) = server
        .call(Method::GET, "/api/v1/checkpoints", &admin, None)
        .await;
    let east = checkpoints
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "east")
        .unwrap()
        .clone();
    assert_eq!(east["agent_version"], "0.1.0");

    // The agent's token works for its checkpoint's protocol and nothing else.
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/checkpoints/local/lease",
            &agent,
            Some(json!({"max": 1})),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = server
        .call(Method::GET, "/api/v1/monitors", &agent, None)
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/checkpoints/east/results",
            &agent,
            Some(json!([{"job_id": 1, "monitor_id": id}])),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    server.stop().await;
}

/// Queues a run without waiting for it (its checkpoint is remote) and
/// returns its due time.
async fn server_run_now(server: &TestServer, admin: &Auth, id: i64) -> i64 {
    let before = server.store.now().as_millis();
    let (status, body) = server.run_now(admin, id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let jobs = server.store.pending_jobs(id).await.unwrap();
    let due = jobs.last().unwrap().due_at.as_millis();
    assert!(due >= before);
    due
}

pub(super) async fn a_server_without_a_browser_refuses_browser_monitors(kind: BackendKind) {
    let config = ServerConfig {
        prober: sightline_synthetic::ProberConfig {
            browser: sightline_synthetic::browser::BrowserConfig {
                chromedriver: "/nonexistent/chromedriver".into(),
                ..Default::default()
            },
            ..Default::default()
        },
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let browser = json!({"name": "shop page", "type": "browser",
        "url": "https://shop.example.com/", "expect": {"max_lcp_ms": 2500}});
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/monitors",
            &admin,
            Some(browser.clone()),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(body["field"], "type");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("this checkpoint has no browser: /nonexistent/chromedriver not found"),
        "{body}"
    );
    // Paused, it is kept: nothing would run it.
    let mut paused = browser;
    paused["enabled"] = json!(false);
    let (status, body) = server
        .call(Method::POST, "/api/v1/monitors", &admin, Some(paused))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    server.stop().await;
}

/// A monitor's checks over any period come in buckets sized to it: ninety
/// days in days, from the daily summaries once the raw results are gone,
/// plus what is not rolled yet; an hour in minutes from the raw results.
/// A bucket count out of range, or too few for the period, is refused.
pub(super) async fn series_answer_any_period_in_buckets_sized_to_it(kind: BackendKind) {
    use super::status_pages::result;
    use sightline_core::Timestamp;
    const DAY_MS: i64 = 86_400_000;
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let id = server
        .create_monitor(
            &admin,
            json!({"name": "shop", "type": "http", "url": "http://127.0.0.1:9/", "enabled": false}),
        )
        .await;
    let store = &server.store;
    let local = store.ensure_checkpoint("local").await.unwrap();
    let now = store.now().as_millis();
    let old_day = (now.div_euclid(DAY_MS) - 40) * DAY_MS;
    // Forty days ago 10 checks, 3 failed; rolled, then the raw results expire.
    for n in 0..10 {
        let at = Timestamp::from(old_day + 3_600_000 + n * 60_000);
        store
            .record_check_result(&result(id, local.id, at, n < 3))
            .await
            .unwrap();
    }
    while store.roll_check_summaries(store.now(), 1000).await.unwrap() > 0 {}
    store
        .delete_check_results_before(Timestamp::from(now - 30 * DAY_MS))
        .await
        .unwrap();
    // The last hour: 5 checks, one failed, not rolled yet.
    for n in 0..5 {
        let at = Timestamp::from(now - 50 * 60_000 + n * 10 * 60_000);
        store
            .record_check_result(&result(id, local.id, at, n == 2))
            .await
            .unwrap();
    }
    let series = |query: String| {
        let server = &server;
        let admin = &admin;
        async move {
            server
                .call(
                    Method::GET,
                    &format!("/api/v1/monitors/{id}/series?{query}"),
                    admin,
                    None,
                )
                .await
        }
    };
    let (status, days) = series(format!("from={}&to={now}", now - 90 * DAY_MS)).await;
    assert_eq!(status, StatusCode::OK, "{days}");
    assert_eq!(days["step_ms"], DAY_MS, "{days}");
    let buckets = days["buckets"].as_array().unwrap();
    assert!((90..=92).contains(&buckets.len()), "{}", buckets.len());
    let old = buckets
        .iter()
        .find(|b| b["start_ms"] == old_day)
        .expect("the old day's bucket");
    assert_eq!(
        (old["checks"].as_i64(), old["confirmed_errors"].as_i64()),
        (Some(10), Some(3)),
        "{old}"
    );
    // Quantiles come from the sketch: within its 1 % of the truth.
    let p50 = old["p50_ms"].as_f64().unwrap();
    assert!((79.0..=81.0).contains(&p50), "{old}");
    let total: i64 = buckets.iter().map(|b| b["checks"].as_i64().unwrap()).sum();
    assert_eq!(total, 15, "the days hold every check once");
    let empty = &buckets[1];
    assert_eq!(
        (empty["checks"].as_i64(), &empty["p50_ms"]),
        (Some(0), &Value::Null),
        "{empty}"
    );

    // The spans of the maintenance windows that cover the monitor, one-off
    // or recurring; a window for other monitors is not among them.
    for window in [
        json!({"name": "nightly", "cron": "0 2 * * *", "duration": "30m", "monitors": ["shop"]}),
        json!({"name": "others", "cron": "0 3 * * *", "duration": "1h", "tags": ["elsewhere"]}),
    ] {
        let (status, body) = server
            .call(
                Method::POST,
                "/api/v1/maintenance-windows",
                &admin,
                Some(window),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let upcoming = body["upcoming"].as_array().unwrap();
        assert_eq!(upcoming.len(), 3, "{body}");
    }
    let (_, week) = series(format!("from={}&to={now}", now - 7 * DAY_MS)).await;
    let spans = week["maintenance"].as_array().unwrap();
    assert!((7..=8).contains(&spans.len()), "{week}");
    for span in spans {
        assert_eq!(span["window"], "nightly", "{span}");
        assert_eq!(
            span["start_ms"].as_i64().unwrap().rem_euclid(DAY_MS),
            2 * 3_600_000
        );
        assert_eq!(
            span["end_ms"].as_i64().unwrap() - span["start_ms"].as_i64().unwrap(),
            30 * 60_000
        );
    }

    let (status, minutes) = series(format!("from={}&to={now}", now - 3_600_000)).await;
    assert_eq!(status, StatusCode::OK, "{minutes}");
    assert_eq!(minutes["step_ms"], 60_000, "{minutes}");
    let buckets = minutes["buckets"].as_array().unwrap();
    let counted: Vec<(i64, i64)> = buckets
        .iter()
        .filter(|b| b["checks"].as_i64() > Some(0))
        .map(|b| {
            (
                b["checks"].as_i64().unwrap(),
                b["confirmed_errors"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counted, vec![(1, 0), (1, 0), (1, 1), (1, 0), (1, 0)]);

    for (query, field) in [
        ("buckets=5".to_owned(), "buckets"),
        ("buckets=lots".to_owned(), "buckets"),
        (format!("from={now}&to={}", now - 1), "from"),
        (
            format!("from={}&to={now}&buckets=10", now - 3650 * DAY_MS),
            "buckets",
        ),
        ("step=1m".to_owned(), "step"),
    ] {
        let (status, body) = series(query.clone()).await;
        assert_eq!(
            (status, &body["field"]),
            (StatusCode::BAD_REQUEST, &json!(field)),
            "{query}: {body}"
        );
    }
    let (status, _) = server
        .call(Method::GET, "/api/v1/monitors/987654/series", &admin, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
