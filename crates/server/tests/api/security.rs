//! Attacks replayed: each test does what an outsider, a viewer, an admin or
//! an agent tried against the server, and checks that it no longer works.

use super::*;

on_both_backends!(
    agents_report_only_the_jobs_they_leased,
    only_a_checkpoints_own_token_leases_its_jobs,
    secrets_are_masked_in_every_form_they_take,
    client_text_never_becomes_a_metric_label,
    slow_clients_cannot_hold_the_server,
    pages_of_other_origins_cannot_use_the_session_cookie,
    guessing_never_locks_the_owner_out,
    checks_cannot_run_themselves,
    oversized_configuration_is_refused_by_field,
    every_user_changes_their_own_password,
    every_answer_carries_its_protective_headers,
);
use base64::Engine as _;
use sightline_core::{ManualClock, Timestamp};
use std::time::Duration;

/// A server on a clock the test moves, without a scheduler or a local
/// checkpoint of its own: only what the test does happens.
async fn server_on_manual_clock(
    kind: BackendKind,
    config: ServerConfig,
) -> (TestServer, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_800_000_000_000)));
    let config = ServerConfig {
        synthetic: sightline_synthetic::SyntheticConfig {
            enabled: false,
            ..Default::default()
        },
        ..config
    };
    let server = TestServer::start_on_clock(kind, config, clock.clone(), async |_| {}).await;
    (server, clock)
}

/// Creates a monitor and returns its id.
/// Queues a check of a monitor from `checkpoint`, due now, as the
/// scheduler does.
async fn queue_run(server: &TestServer, id: i64, checkpoint: &str) {
    let checkpoint_id = server.store.ensure_checkpoint(checkpoint).await.unwrap().id;
    server
        .store
        .enqueue_jobs(&[sightline_store::NewJob {
            monitor_id: id,
            checkpoint_id,
            due_at: server.store.now(),
            attempt: 0,
        }])
        .await
        .unwrap();
}

/// Leases a checkpoint's due jobs with `auth`; returns the status and body.
async fn lease(server: &TestServer, auth: &Auth, checkpoint: &str) -> (StatusCode, Value) {
    server
        .call(
            Method::POST,
            &format!("/api/v1/checkpoints/{checkpoint}/lease"),
            auth,
            Some(json!({"max": 100})),
        )
        .await
}

/// A report of a leased job (as the lease handed it out) with `outcome`.
fn report_of(job: &Value, outcome: &str) -> Value {
    let due = job["due_at"].as_i64().unwrap();
    let problem =
        (outcome == "error").then(|| json!({"kind": "connect", "message": "connection refused"}));
    json!({
        "job_id": job["job_id"], "monitor_id": job["monitor_id"], "due_at": due,
        "attempt": job["attempt"], "started_at": due, "lease": job["lease"],
        "report": {"outcome": outcome, "duration_ms": 3, "problem": problem}
    })
}

async fn report(
    server: &TestServer,
    auth: &Auth,
    checkpoint: &str,
    reports: Value,
) -> (StatusCode, Value) {
    server
        .call(
            Method::POST,
            &format!("/api/v1/checkpoints/{checkpoint}/results"),
            auth,
            Some(reports),
        )
        .await
}

async fn results_of(server: &TestServer, admin: &Auth, id: i64) -> Vec<Value> {
    let (status, results) = server
        .call(
            Method::GET,
            &format!("/api/v1/monitors/{id}/results?from=0"),
            admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{results}");
    results.as_array().unwrap().clone()
}

/// The value of a counter in `/metrics` with these labels (0 when absent).
async fn metric(server: &TestServer, series: &str) -> f64 {
    metrics_text(server, &Auth::None)
        .await
        .1
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Attack: an agent token bound to `east` posted results for any monitor
/// and any job id (even `job_id: 0` of a monitor that runs only from
/// `local`), opening incidents with a forged cause and closing them with a
/// forged `up`.
async fn agents_report_only_the_jobs_they_leased(kind: BackendKind) {
    let (server, clock) = server_on_manual_clock(kind, ServerConfig::default()).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let east = server.agent(&admin, "east").await;
    let west = server.agent(&admin, "west").await;
    let local_only = server
        .create_monitor(
            &admin,
            json!({"name": "local only", "type": "tcp", "host": "127.0.0.1", "port": 9,
               "every": "1h", "checkpoints": ["local"]}),
        )
        .await;
    let from_east = server
        .create_monitor(
            &admin,
            json!({"name": "from east", "type": "tcp", "host": "127.0.0.1", "port": 9,
               "every": "1h", "timeout": "1s", "checkpoints": ["east"]}),
        )
        .await;
    let refused = "sightline_checkpoint_reports_refused_total{reason=\"not_leased\"}";

    // The forgery as it was sent: no lease at all, for a monitor east never runs.
    let now = server.store.now().as_millis();
    let forged = json!([{
        "job_id": 0, "monitor_id": local_only, "due_at": now, "attempt": 0, "started_at": now,
        "report": {"outcome": "error", "duration_ms": 1,
                   "problem": {"kind": "status", "message": "forged outage"}}
    }]);
    let (status, body) = report(&server, &east, "east", forged).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "not_leased");
    assert_eq!(body["field"], "[0].lease", "{body}");
    assert_eq!(metric(&server, refused).await, 1.0);

    // A real lease of east's job, replayed for another monitor, due time,
    // attempt or job, or by another checkpoint: each refused.
    queue_run(&server, from_east, "east").await;
    let (status, leased) = lease(&server, &east, "east").await;
    assert_eq!(status, StatusCode::OK, "{leased}");
    let job = leased["jobs"][0].clone();
    assert!(
        job["lease"].as_str().is_some_and(|l| l.len() >= 20),
        "{job}"
    );
    let genuine = report_of(&job, "up");
    for (key, value) in [
        ("monitor_id", json!(local_only)),
        ("due_at", json!(job["due_at"].as_i64().unwrap() + 1)),
        ("attempt", json!(1)),
        ("job_id", json!(job["job_id"].as_i64().unwrap() + 1)),
        ("lease", json!("AAAAAAAAAAAAAAAAAAAAAA")),
    ] {
        let mut altered = genuine.clone();
        altered[key] = value;
        // Behind a genuine report in the same batch: nothing of it is stored.
        let (status, body) = report(&server, &east, "east", json!([genuine, altered])).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "not_leased");
        assert_eq!(body["field"], "[1].lease", "{key}: {body}");
    }
    let (status, body) = report(&server, &west, "west", json!([genuine])).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "not_leased");
    assert_eq!(metric(&server, refused).await, 7.0);
    for id in [local_only, from_east] {
        assert!(results_of(&server, &admin, id).await.is_empty());
        let (_, monitor) = server
            .call(Method::GET, &format!("/api/v1/monitors/{id}"), &admin, None)
            .await;
        assert_eq!(monitor["status"], "unknown", "{monitor}");
    }
    let (_, incidents) = server
        .call(Method::GET, "/api/v1/incidents", &admin, None)
        .await;
    assert_eq!(incidents.as_array().unwrap().len(), 0, "{incidents}");

    // The genuine report is taken, once however often it is sent.
    for _ in 0..2 {
        let (status, body) = report(&server, &east, "east", json!([genuine])).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let stored = results_of(&server, &admin, from_east).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["checkpoint"], "east");

    // A late report of east's own lease, run out meanwhile, is still taken
    // while the job ran nowhere else: still queued, or dropped as stale.
    let mut late = Vec::new();
    for _ in 0..2 {
        clock.advance(Duration::from_secs(61));
        queue_run(&server, from_east, "east").await;
        let (_, leased) = lease(&server, &east, "east").await;
        // The newest (the one before has run out and comes again).
        let newest = leased["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .max_by_key(|job| job["due_at"].as_i64());
        late.push(newest.unwrap().clone());
    }
    clock.advance(Duration::from_secs(3600));
    let dropped = server
        .store
        .delete_stale_jobs(server.store.now().minus(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(dropped, 2);
    let (status, body) = report(
        &server,
        &east,
        "east",
        json!([report_of(&late[0], "up"), report_of(&late[1], "up")]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(results_of(&server, &admin, from_east).await.len(), 3);

    // A job handed to another checkpoint once east's lease ran out belongs
    // to that one: east may not report it while west runs it, nor after.
    clock.advance(Duration::from_secs(60));
    queue_run(&server, from_east, "east").await;
    let (_, leased) = lease(&server, &east, "east").await;
    let job = leased["jobs"][0].clone();
    clock.advance(Duration::from_secs(120));
    let west_id = server.store.ensure_checkpoint("west").await.unwrap().id;
    let job_id = job["job_id"].as_i64().unwrap();
    assert!(server.store.move_job(job_id, west_id).await.unwrap());
    let (_, taken) = lease(&server, &west, "west").await;
    assert_eq!(taken["jobs"][0]["job_id"], job_id, "{taken}");
    let (status, body) = report(&server, &east, "east", json!([report_of(&job, "error")])).await;
    assert_error(status, &body, StatusCode::CONFLICT, "running_elsewhere");
    assert!(body["message"].as_str().unwrap().contains("west"), "{body}");
    let (status, body) = report(
        &server,
        &west,
        "west",
        json!([report_of(&taken["jobs"][0], "up")]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = report(&server, &east, "east", json!([report_of(&job, "error")])).await;
    assert_error(status, &body, StatusCode::CONFLICT, "completed_elsewhere");
    assert_eq!(body["field"], "[0].job_id", "{body}");
    let stored = results_of(&server, &admin, from_east).await;
    assert_eq!(stored.len(), 4, "{stored:?}");
    assert_eq!(stored[0]["checkpoint"], "west", "{stored:?}");
    assert_eq!(
        metric(
            &server,
            "sightline_checkpoint_reports_refused_total{reason=\"completed_elsewhere\"}"
        )
        .await,
        1.0
    );
    server.stop().await;
}

/// Attack: any admin session or unbound admin token leased a checkpoint's
/// jobs, receiving vault secrets in clear and taking the jobs from the
/// checkpoint's agent.
async fn only_a_checkpoints_own_token_leases_its_jobs(kind: BackendKind) {
    let config = ServerConfig {
        vault_key: Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned()),
        ..ServerConfig::default()
    };
    let (server, _clock) = server_on_manual_clock(kind, config).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let viewer = Auth::Cookie(server.log_in(VIEWER).await);
    let secret = "pa55 wörd+/=";
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/v1/secrets/API_KEY",
            &admin,
            Some(json!({"value": secret})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let id = server.create_monitor(&admin,
        json!({"name": "keyed", "type": "http", "url": "http://127.0.0.1:9/?key={{secrets.API_KEY}}",
               "every": "1h", "checkpoints": ["east"]}),
    )
    .await;
    queue_run(&server, id, "east").await;
    let admin_token = Auth::Bearer(server.token(&admin, "script", "admin").await);
    let west = server.agent(&admin, "west").await;
    for (who, auth) in [
        ("an admin session", &admin),
        ("an unbound admin token", &admin_token),
        ("a viewer", &viewer),
        ("another checkpoint's agent", &west),
        ("nobody", &Auth::None),
    ] {
        let (status, body) = lease(&server, auth, "east").await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED,
            "{who}: {status} {body}"
        );
        assert!(!body.to_string().contains("pa55"), "{who}: {body}");
        let (status, body) = report(&server, auth, "east", json!([])).await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED,
            "{who} reporting: {status} {body}"
        );
    }
    // The job is still east's, with the secret for its agent alone.
    let east = server.agent(&admin, "east").await;
    let (status, leased) = lease(&server, &east, "east").await;
    assert_eq!(status, StatusCode::OK, "{leased}");
    assert_eq!(leased["jobs"].as_array().unwrap().len(), 1, "{leased}");
    assert_eq!(leased["secrets"]["API_KEY"], secret);
    server.stop().await;
}

/// A secret with a space, a non-ASCII letter and base64's own characters.
const AWKWARD_SECRET: &str = "pa55 wörd+/=";

/// `text` as a JSON string literal with everything beyond ASCII and `/`
/// escaped, as many servers write JSON.
fn json_ascii(text: &str) -> String {
    let mut out = String::from("\"");
    for unit in text.encode_utf16() {
        match unit {
            0x22 => out.push_str("\\\""),
            0x2f => out.push_str("\\/"),
            0x5c => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(unit as u8)),
            _ => out.push_str(&format!("\\u{unit:04x}")),
        }
    }
    out.push('"');
    out
}

/// A target that answers 500 echoing what it was sent: the raw query, the
/// query's values as ASCII-escaped JSON and as HTML character references,
/// the request's headers and its body. It keeps the queries it received.
async fn echoing_target() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = received.clone();
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
            let kept = kept.clone();
            async move {
                let query = uri.query().unwrap_or_default().to_owned();
                kept.lock().unwrap().push(query.clone());
                let values: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
                    .map(|(_, value)| value.into_owned())
                    .collect();
                let html: String = values
                    .join(" ")
                    .chars()
                    .map(|c| format!("&#{};", u32::from(c)))
                    .collect();
                let headers: Vec<String> = headers
                    .iter()
                    .map(|(name, value)| {
                        format!("{name}: {}", String::from_utf8_lossy(value.as_bytes()))
                    })
                    .collect();
                let json: Vec<String> = values.iter().map(|v| json_ascii(v)).collect();
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "query {query}\njson [{}]\nhtml <p>{html}</p>\n{}\nbody {body}",
                        json.join(","),
                        headers.join("\n")
                    ),
                )
            }
        },
    );
    (serve_app(app).await, received)
}

/// Attack: a secret with spaces or non-ASCII characters came back
/// percent-encoded in step URLs, JSON-escaped in an echoed body and
/// base64-encoded in a Basic-auth header; a monitor could name a secret
/// that does not exist and send it empty.
async fn secrets_are_masked_in_every_form_they_take(kind: BackendKind) {
    let config = ServerConfig {
        vault_key: Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned()),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (target, received) = echoing_target().await;
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/v1/secrets/KEY",
            &admin,
            Some(json!({"value": AWKWARD_SECRET})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Naming a secret the vault does not hold is refused, with the field.
    for (spec, field) in [
        (
            json!({"name": "typo", "type": "http", "url": format!("{target}/?k={{{{secrets.KYE}}}}")}),
            "url",
        ),
        (
            json!({"name": "typo", "type": "http", "url": target.clone(),
                   "auth": {"scheme": "basic", "username": "a", "password": "{{secrets.NOPE}}"}}),
            "auth.password",
        ),
        (
            json!({"name": "typo", "type": "api", "steps": [
                {"name": "a", "url": format!("{target}/a")},
                {"name": "b", "url": format!("{target}/b"), "headers": {"X-Key": "{{ secrets.NOPE }}"}}]}),
            "steps[1].headers.X-Key",
        ),
    ] {
        for path in ["/api/v1/monitors", "/api/v1/monitors/validate"] {
            let (status, body) = server
                .call(Method::POST, path, &admin, Some(spec.clone()))
                .await;
            assert_error(
                status,
                &body,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            );
            assert_eq!(body["field"], field, "{body}");
        }
    }

    let http = json!({"name": "keyed http", "type": "http", "every": "1h",
        "url": format!("{target}/echo?k={{{{secrets.KEY}}}}"),
        "auth": {"scheme": "basic", "username": "alice", "password": "{{secrets.KEY}}"}});
    let api = json!({"name": "keyed api", "type": "api", "every": "1h", "steps": [{
        "name": "echo", "method": "POST", "url": format!("{target}/api?k={{{{secrets.KEY}}}}"),
        "headers": {"X-Key": "{{secrets.KEY}}", "Content-Type": "application/json"},
        "body": "{\"key\": \"{{secrets.KEY}}\"}"}]});
    let mut texts = Vec::new();
    for spec in [http, api] {
        let id = server.create_monitor(&admin, spec).await;
        let (status, results) = server.run_now(&admin, id).await;
        assert_eq!(status, StatusCode::OK, "{results}");
        assert_eq!(results[0]["outcome"], "error", "{results}");
        texts.push(results.to_string());
        texts.push(results_of(&server, &admin, id).await[0].to_string());
    }
    // The target got the real secret each time.
    let got: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .next()
                .unwrap()
                .1
                .into_owned()
        })
        .collect();
    assert!(
        got.len() >= 2 && got.iter().all(|k| k == AWKWARD_SECRET),
        "{got:?}"
    );
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    for text in &texts {
        assert!(text.contains("***"), "{text}");
        for (form, leaked) in [
            ("as typed", "pa55".to_owned()),
            ("percent-encoded", "w%C3%B6rd".to_owned()),
            ("JSON-escaped", "w\\\\u00f6rd".to_owned()),
            ("HTML", "&#119;&#246;".to_owned()),
            ("base64", b64(AWKWARD_SECRET)[..8].to_owned()),
            (
                "Basic",
                b64(&format!("alice:{AWKWARD_SECRET}"))[..12].to_owned(),
            ),
        ] {
            assert!(!text.contains(&leaked), "{form} ({leaked}) in {text}");
        }
    }
    server.stop().await;
}

/// The text of `/metrics`, read with `auth`.
pub(super) async fn metrics_text(server: &TestServer, auth: &Auth) -> (StatusCode, String) {
    let response = server
        .request(Method::GET, "/metrics", auth)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// Attack: the HTTP method became a metrics label, so 300 requests with
/// 60 KB method names grew the server's memory and `/metrics` without end;
/// `/metrics` was open to anyone.
async fn client_text_never_becomes_a_metric_label(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let before = metrics_text(&server, &Auth::None).await.1.len();
    for number in 0..100 {
        let method = format!("M{number}{}", "X".repeat(20_000));
        let response = server
            .http
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                server.url("/api/v1/monitors"),
            )
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
        let path = format!("/no/such/{number}/{}", "p".repeat(2_000));
        let _ = server.http.get(server.url(&path)).send().await.unwrap();
    }
    let (status, text) = metrics_text(&server, &Auth::None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !text.contains("XXXX") && !text.contains("pppp"),
        "request text in a label"
    );
    assert!(text.contains("method=\"other\""), "{text}");
    assert!(text.contains("route=\"other\""), "{text}");
    assert!(
        text.len() < before + 20_000,
        "{before} → {} bytes",
        text.len()
    );
    server.stop().await;

    // With a token, /metrics answers only those who bear it.
    let config = ServerConfig {
        metrics_token: Some("scrape-me-3f9a".to_owned()),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    for auth in [
        Auth::None,
        Auth::Bearer("wrong".to_owned()),
        Auth::Bearer("scrape-me-3f9".to_owned()),
        admin,
    ] {
        let (status, body) = metrics_text(&server, &auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(!body.contains("sightline_"), "{body}");
    }
    let response = server
        .http
        .get(server.url("/metrics"))
        .header(header::AUTHORIZATION, "bearer scrape-me-3f9a")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("sightline_build_info")
    );
    server.stop().await;
}

/// Whether the server has closed `stream` (a read sees the end or an error
/// within `within`).
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Attack: 1,000 connections sending a header line every 5 s were all open
/// after 45 s, silent ones after 125 s: enough of them hold the server.
async fn slow_clients_cannot_hold_the_server(kind: BackendKind) {
    use tokio::io::AsyncWriteExt;
    let config = ServerConfig {
        connections: sightline_server::ConnectionLimits {
            header_timeout: Duration::from_secs(2),
            keep_alive_timeout: Duration::from_secs(3),
            max_connections: 2_000,
        },
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let connect = || tokio::net::TcpStream::connect(address.clone());
    let opened = tokio::time::Instant::now();
    let mut silent = Vec::new();
    let mut dripping = Vec::new();
    for number in 0..1_000 {
        let mut stream = connect().await.unwrap();
        if number % 2 == 0 {
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
            dripping.push(stream);
        } else {
            silent.push(stream);
        }
    }
    // A client that sends a header line every half second.
    let drip = tokio::spawn(async move {
        let mut line = 0;
        while !dripping.is_empty() && line < 20 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut still_open = Vec::new();
            for mut stream in dripping {
                if stream
                    .write_all(format!("X-Line-{line}: 1\r\n").as_bytes())
                    .await
                    .is_ok()
                {
                    still_open.push(stream);
                }
            }
            dripping = still_open;
            line += 1;
        }
        dripping
    });
    // A normal client is served at once meanwhile.
    for _ in 0..5 {
        let asked = std::time::Instant::now();
        let (status, _) = server
            .call(Method::GET, "/healthz", &Auth::None, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            asked.elapsed() < Duration::from_millis(500),
            "{:?}",
            asked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every slow connection is closed once the header timeout has passed.
    for stream in &mut silent {
        assert!(
            closed_within(stream, Duration::from_secs(4)).await,
            "a silent connection stayed"
        );
    }
    let mut dripping = drip.await.unwrap();
    for stream in &mut dripping {
        assert!(
            closed_within(stream, Duration::from_secs(4)).await,
            "a dripping connection stayed"
        );
    }
    assert!(
        opened.elapsed() < Duration::from_secs(8),
        "{:?}",
        opened.elapsed()
    );
    let timed_out = metric(&server, "sightline_http_connections_timed_out_total").await;
    assert!(timed_out >= 1_000.0, "{timed_out}");

    // A kept-alive connection is closed once idle past its timeout, and
    // kept while it is used.
    let mut kept = connect().await.unwrap();
    for _ in 0..3 {
        kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1_500)).await;
    }
    assert!(!closed_within(&mut kept, Duration::from_millis(500)).await);
    assert!(closed_within(&mut kept, Duration::from_secs(4)).await);
    server.stop().await;

    // Beyond the cap, a connection is refused at once with 503.
    let config = ServerConfig {
        connections: sightline_server::ConnectionLimits {
            max_connections: 20,
            ..Default::default()
        },
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(tokio::net::TcpStream::connect(&address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = std::time::Instant::now();
    let refused = server.http.get(server.url("/healthz")).send().await;
    match refused {
        Ok(response) => assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE),
        Err(error) => assert!(error.is_connect() || error.is_request(), "{error}"),
    }
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = server
        .call(Method::GET, "/healthz", &Auth::None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    server.stop().await;
}

/// Attack: a `text/plain` form on another port of the same host made "Run
/// now" run with the victim's cookie (the cookie is SameSite=Lax, and
/// another port is the same site).
async fn pages_of_other_origins_cannot_use_the_session_cookie(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let closed = sightline_store::testing::free_port();
    let id = server
        .create_monitor(
            &admin,
            // Paused, so that only runs asked for queue anything.
            json!({"name": "target", "type": "tcp", "host": "127.0.0.1", "port": closed,
               "every": "1h", "checkpoints": ["east"], "enabled": false}),
        )
        .await;
    let run = server.url(&format!("/api/v1/monitors/{id}/run"));
    let queued = async || server.store.pending_jobs(id).await.unwrap().len();
    let Auth::Cookie(cookie) = &admin else {
        unreachable!()
    };

    // As a browser sends it: the cookie, a text/plain body, and where from.
    let evil = format!("http://127.0.0.1:{}", sightline_store::testing::free_port());
    for headers in [
        vec![("origin", evil.as_str()), ("sec-fetch-site", "same-site")],
        vec![("origin", evil.as_str())],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
    ] {
        let mut request = server
            .http
            .post(&run)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "text/plain")
            .body("{\"a\":\"=\"}");
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_error(status, &body, StatusCode::FORBIDDEN, "cross_origin");
    }
    assert_eq!(queued().await, 0, "nothing ran");
    // The UI's own requests, and scripts with a token from anywhere, work.
    let response = server
        .http
        .post(&run)
        .header(header::COOKIE, cookie)
        .header("origin", &server.base)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let token = server.token(&admin, "script", "admin").await;
    let response = server
        .http
        .post(&run)
        .bearer_auth(token)
        .header("origin", &evil)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    // Queued already by the run before: refused as such, not as cross-origin.
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let before = queued().await;

    // The attack itself, in Chromium: logged in, the person visits a page
    // on another port that posts a form and a fetch to "Run now".
    let attacker = serve_app(axum::Router::new().route(
        "/",
        axum::routing::get({
            let run = run.clone();
            move || async move {
                axum::response::Html(format!(
                    "<!doctype html><title>Free coffee</title>\
                     <form method=post action='{run}' enctype=text/plain>\
                     <input name='{{\"a\":\"' value='\"}}'></form>\
                     <script>fetch('{run}', {{method: 'POST', mode: 'no-cors', credentials: 'include', \
                     headers: {{'Content-Type': 'text/plain'}}, body: 'x'}}).finally(() => \
                     document.forms[0].submit());</script>"
                ))
            }
        }),
    ))
    .await;
    let driver = super::browser::ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let attacked = async {
        browser.goto(&server.url("/")).await?;
        browser
            .wait()
            .for_element(fantoccini::Locator::Css("form #email"))
            .await?;
        browser
            .find(fantoccini::Locator::Css("#email"))
            .await?
            .send_keys(ADMIN.0)
            .await?;
        browser
            .find(fantoccini::Locator::Css("#password"))
            .await?
            .send_keys(ADMIN.1)
            .await?;
        browser
            .find(fantoccini::Locator::Css("button[type=submit]"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .for_element(fantoccini::Locator::Css("a[href='/monitors/new']"))
            .await?;
        browser.goto(&attacker).await?;
        // The form's answer replaces the page.
        let answer = browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(fantoccini::Locator::XPath(
                "//*[contains(text(), 'cross_origin')]",
            ))
            .await?;
        answer.text().await
    }
    .await;
    let _ = browser.close().await;
    let answer = attacked.unwrap();
    assert!(answer.contains("another site"), "{answer}");
    assert_eq!(queued().await, before, "the attacker's page ran nothing");
    server.stop().await;
}

/// A login attempt on `email` from `address`, with `cookie` if given;
/// returns the status, the Retry-After and the device cookie set.
async fn log_in_from(
    server: &TestServer,
    address: &str,
    (email, password): (&str, &str),
    cookie: Option<&str>,
) -> (StatusCode, Option<u64>, Option<String>) {
    let client = reqwest::Client::builder()
        .local_address(address.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let mut request = client
        .post(server.url("/api/v1/session"))
        .json(&json!({"email": email, "password": password}));
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = request.send().await.unwrap();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok()?.parse().ok());
    let device = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("sightline_device="))
        .map(|value| value.split(';').next().unwrap().to_owned());
    (response.status(), retry_after, device)
}

/// Attack: ten wrong passwords locked an account for everyone, its owner
/// with the right password from another address included.
async fn guessing_never_locks_the_owner_out(kind: BackendKind) {
    let config = ServerConfig {
        login_limits: LoginLimits {
            per_address_per_minute: NonZeroU32::new(100).unwrap(),
            per_account_address_per_minute: NonZeroU32::new(5).unwrap(),
            per_account_per_minute: NonZeroU32::new(20).unwrap(),
            longest_wait: Duration::from_secs(3),
        },
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    // The owner's browser, where they logged in before.
    let (status, _, device) = log_in_from(&server, "127.0.0.3", ADMIN, None).await;
    assert_eq!(status, StatusCode::OK);
    let device = device.expect("a device cookie");

    // One address guessing: refused soon, for that address alone.
    let mut refused = 0;
    for _ in 0..30 {
        let (status, _, _) = log_in_from(&server, "127.0.0.2", (ADMIN.0, "guess"), None).await;
        assert!(status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS);
        refused += usize::from(status == StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(refused >= 24, "{refused}");
    let asked = std::time::Instant::now();
    let (status, _, _) = log_in_from(&server, "127.0.0.4", ADMIN, None).await;
    assert_eq!(status, StatusCode::OK, "the owner from elsewhere");
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "{:?}",
        asked.elapsed()
    );

    // Many addresses guessing at once: the account is paced for all of
    // them, and past its pace refused.
    let mut attempts = tokio::task::JoinSet::new();
    for host in 0..40 {
        let (base, client) = (server.base.clone(), reqwest::Client::builder());
        let client = client
            .local_address(
                format!("127.0.1.{}", host + 2)
                    .parse::<std::net::IpAddr>()
                    .unwrap(),
            )
            .build()
            .unwrap();
        attempts.spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..3 {
                let response = client
                    .post(format!("{base}/api/v1/session"))
                    .json(&json!({"email": ADMIN.0, "password": "guess"}))
                    .send()
                    .await
                    .unwrap();
                statuses.push(response.status());
            }
            statuses
        });
    }
    let statuses: Vec<StatusCode> = attempts.join_all().await.into_iter().flatten().collect();
    let paced = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(paced >= 60, "{paced} of {} refused", statuses.len());
    // The owner's browser gets in at once, whatever others tried.
    let asked = std::time::Instant::now();
    let (status, _, _) = log_in_from(&server, "127.0.0.3", ADMIN, Some(&device)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    // A new browser waits its turn: a few seconds, not a lockout.
    let asked = std::time::Instant::now();
    loop {
        let (status, retry_after, _) = log_in_from(&server, "127.0.0.5", ADMIN, None).await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let wait = retry_after.unwrap();
        assert!(wait <= 5, "{wait}");
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
    assert!(
        asked.elapsed() < Duration::from_secs(8),
        "{:?}",
        asked.elapsed()
    );
    server.stop().await;
}

/// Attack: an API monitor whose step posts to its own `/run` spawned about
/// 250 runs every 5 s until it was deleted.
async fn checks_cannot_run_themselves(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let token = server.token(&admin, "loop", "admin").await;
    let spec = |target: &str| {
        json!({"name": "runs itself", "type": "api", "every": "1h", "enabled": false, "steps": [{
            "name": "run me", "method": "POST", "url": target,
            "headers": {"Authorization": format!("Bearer {token}")}}]})
    };
    let id = server
        .create_monitor(&admin, spec(&server.url("/healthz")))
        .await;
    let own_run = server.url(&format!("/api/v1/monitors/{id}/run"));
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/api/v1/monitors/{id}"),
            &admin,
            Some(spec(&own_run)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, results) = server.run_now(&admin, id).await;
    assert_eq!(status, StatusCode::OK, "{results}");
    let step = &results[0]["detail"]["steps"][0];
    assert_eq!(step["status_code"], 403, "{results}");
    assert!(
        step["body_excerpt"]
            .as_str()
            .unwrap()
            .contains("may not run checks"),
        "{step}"
    );
    // It does not go on by itself: the count settles (the failure's
    // confirmation re-run is the only other run).
    let mut counts = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        counts.push(results_of(&server, &admin, id).await.len());
    }
    assert!(counts[2] <= 2 && counts[1] == counts[2], "{counts:?}");

    // Anything bearing a check's header is refused on /run and /try.
    for (path, body) in [
        (format!("/api/v1/monitors/{id}/run"), None),
        (
            "/api/v1/monitors/try".to_owned(),
            Some(json!({"name": "t", "type": "http", "url": server.url("/healthz")})),
        ),
    ] {
        let mut request = server
            .request(Method::POST, &path, &Auth::Bearer(token.clone()))
            .header(sightline_synthetic::CHECK_HEADER, "1");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }

    // A run of a monitor already running or queued answers 409.
    let waiting = server
        .create_monitor(
            &admin,
            json!({"name": "from east", "type": "tcp", "host": "127.0.0.1", "port": 9,
               "every": "1h", "enabled": false, "checkpoints": ["east"]}),
        )
        .await;
    let path = format!("/api/v1/monitors/{waiting}/run");
    let (status, _) = server.call(Method::POST, &path, &admin, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = server.call(Method::POST, &path, &admin, None).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    assert!(body["message"].as_str().unwrap().contains("east"), "{body}");
    assert_eq!(server.store.pending_jobs(waiting).await.unwrap().len(), 1);
    server.stop().await;
}

/// Attack: a monitor with 100,000 tags and one with a 900 KB URL were
/// accepted; the overview then sent 1.4 M characters to every user.
async fn oversized_configuration_is_refused_by_field(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let http = |extra: Value| {
        let mut spec = json!({"name": "big", "type": "http", "url": "https://shop.example.com/"});
        for (key, value) in extra.as_object().unwrap() {
            spec[key] = value.clone();
        }
        spec
    };
    let many_headers: serde_json::Map<String, Value> =
        (0..60).map(|n| (format!("X-H{n}"), json!("v"))).collect();
    let steps: Vec<Value> = (0..101)
        .map(|n| json!({"name": format!("s{n}"), "url": "https://shop.example.com/"}))
        .collect();
    for (path, body, field) in [
        (
            "/api/v1/monitors",
            http(json!({"tags": vec!["t"; 100_000]})),
            "tags",
        ),
        (
            "/api/v1/monitors",
            http(json!({"tags": vec!["t"; 40]})),
            "tags",
        ),
        (
            "/api/v1/monitors",
            http(json!({"url": format!("https://shop.example.com/?q={}", "a".repeat(900_000))})),
            "url",
        ),
        (
            "/api/v1/monitors",
            http(json!({"url": format!("https://shop.example.com/?q={}", "a".repeat(9_000))})),
            "url",
        ),
        (
            "/api/v1/monitors",
            http(json!({"name": "n".repeat(300)})),
            "name",
        ),
        (
            "/api/v1/monitors",
            http(json!({"headers": many_headers})),
            "headers",
        ),
        (
            "/api/v1/monitors",
            http(json!({"headers": {"X-Big": "v".repeat(10_000)}})),
            "headers.X-Big",
        ),
        (
            "/api/v1/monitors",
            json!({"name": "steps", "type": "api", "steps": steps}),
            "steps",
        ),
        (
            "/api/v1/monitors",
            http(json!({"body": "b".repeat(70_000), "method": "POST"})),
            "body",
        ),
        (
            "/api/v1/sites",
            json!({"name": "s", "origins": (0..1_001).map(|n| format!("https://s{n}.example.com")).collect::<Vec<_>>()}),
            "origins",
        ),
        (
            "/api/v1/tokens",
            json!({"name": "t".repeat(100_000), "role": "viewer"}),
            "name",
        ),
        (
            "/api/v1/users",
            json!({"email": format!("{}@example.com", "u".repeat(100_000)), "password": "a long password 1", "role": "viewer"}),
            "email",
        ),
    ] {
        let (status, answer) = server.call(Method::POST, path, &admin, Some(body)).await;
        assert_error(
            status,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        );
        assert_eq!(answer["field"], field, "{path}: {answer}");
        assert!(
            answer.to_string().len() < 1_000,
            "the answer echoes the input: {path}"
        );
    }
    let (_, monitors) = server
        .call(Method::GET, "/api/v1/monitors", &admin, None)
        .await;
    assert_eq!(monitors, json!([]));
    server.stop().await;
}

/// Attack (on the owner's behalf): a viewer whose password leaked could not
/// change it, and a changed password left the other sessions (the
/// attacker's) open.
async fn every_user_changes_their_own_password(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let mine = Auth::Cookie(server.log_in(VIEWER).await);
    let attackers = Auth::Cookie(server.log_in(VIEWER).await);
    let change = async |auth: &Auth, body: Value| {
        server
            .call(Method::PUT, "/api/v1/session/password", auth, Some(body))
            .await
    };
    let (status, body) = change(
        &mine,
        json!({"current_password": "not it at all", "new_password": "a new long password"}),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(body["field"], "current_password");
    let (status, body) = change(
        &mine,
        json!({"current_password": VIEWER.1, "new_password": "short"}),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(body["field"], "new_password");
    let new_password = "a new long password";
    let (status, body) = change(
        &mine,
        json!({"current_password": VIEWER.1, "new_password": new_password}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // This session goes on; the other is over; only the new password works.
    let (status, _) = server
        .call(Method::GET, "/api/v1/session", &mine, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .call(Method::GET, "/api/v1/session", &attackers, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let log_in = async |password: &str| {
        server
            .call(
                Method::POST,
                "/api/v1/session",
                &Auth::None,
                Some(json!({"email": VIEWER.0, "password": password})),
            )
            .await
            .0
    };
    assert_eq!(log_in(VIEWER.1).await, StatusCode::UNAUTHORIZED);
    assert_eq!(log_in(new_password).await, StatusCode::OK);

    // An admin's tokens stay unless revoked with the change.
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let mut tokens = Vec::new();
    for name in ["one", "two"] {
        tokens.push(Auth::Bearer(server.token(&admin, name, "admin").await));
    }
    let (status, _) = change(
        &admin,
        json!({"current_password": ADMIN.1, "new_password": "another long password"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server
        .call(Method::GET, "/api/v1/monitors", &tokens[0], None)
        .await;
    assert_eq!(status, StatusCode::OK, "kept");
    let (status, _) = change(
        &tokens[1],
        json!({"current_password": "another long password", "new_password": "a third long password",
               "revoke_tokens": true}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for token in &tokens {
        let (status, _) = server
            .call(Method::GET, "/api/v1/monitors", token, None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked");
    }
    server.stop().await;
}

/// Attack surface: `/ui/index.html` had no Content-Security-Policy, answers
/// did not forbid sniffing, API answers could be cached, a lower-case
/// `bearer` was refused, and `/readyz` told anyone the database's own
/// error text.
async fn every_answer_carries_its_protective_headers(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let headers_of = async |path: &str, auth: &Auth| {
        let response = server
            .request(Method::GET, path, auth)
            .send()
            .await
            .unwrap();
        (response.status(), response.headers().clone())
    };
    for (path, auth) in [
        ("/", &Auth::None),
        ("/monitors/1", &Auth::None),
        ("/ui/index.html", &Auth::None),
        ("/api/v1/monitors", &admin),
        ("/api/v1/monitors", &Auth::None),
        ("/api/v1/no/such/thing", &admin),
        ("/healthz", &Auth::None),
        ("/rum.js", &Auth::None),
        ("/metrics", &Auth::None),
    ] {
        let (status, headers) = headers_of(path, auth).await;
        assert_eq!(
            headers[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff",
            "{path} {status}"
        );
        assert!(headers.contains_key(header::REFERRER_POLICY), "{path}");
        let html = headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html");
        if html {
            let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
            assert!(
                policy.contains("frame-ancestors 'none'"),
                "{path}: {policy}"
            );
        }
        if path.starts_with("/api/") {
            assert_eq!(
                headers[header::CACHE_CONTROL],
                "no-store",
                "{path} {status}"
            );
        }
    }
    let (status, headers) = headers_of("/ui/index.html", &Auth::None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));

    // RFC 7235: the scheme's name is case-insensitive.
    let token = server.token(&admin, "script", "viewer").await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let response = server
            .http
            .get(server.url("/api/v1/monitors"))
            .header(header::AUTHORIZATION, format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }

    // A database that does not answer: a code, not its words.
    server.store.close().await;
    let (status, body) = server.call(Method::GET, "/readyz", &Auth::None, None).await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unreachable",
    );
    assert_eq!(body["message"], "the database does not answer", "{body}");
    server.stop().await;
}
