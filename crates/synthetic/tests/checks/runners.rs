//! Every check type against real targets on 127.0.0.1: the outcome, the
//! words of the problem and the timing breakdown.

use crate::targets::{self, App};
use serde_json::{Value, json};
use sightline_core::monitor::{CheckOutcome, CheckReport, ProblemKind};
use sightline_core::{ManualClock, MonitorSpec, Timestamp};
use sightline_synthetic::{Prober, ProberConfig, Secrets};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    Timestamp::from(since_epoch.as_millis() as i64)
}

fn prober(extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>) -> Prober {
    Prober::new(
        ProberConfig {
            extra_roots,
            ..ProberConfig::default()
        },
        Arc::new(ManualClock::new(now())),
    )
    .unwrap()
}

fn monitor(document: Value) -> MonitorSpec {
    let mut document = document;
    document["name"] = json!("under test");
    MonitorSpec::from_json(document).unwrap()
}

async fn run(prober: &Prober, document: Value) -> CheckReport {
    prober.run(&monitor(document), &Secrets::default()).await
}

fn problem(report: &CheckReport) -> (ProblemKind, &str) {
    let problem = report.problem.as_ref().expect("a problem");
    (problem.kind, problem.message.as_str())
}

#[tokio::test]
async fn http_checks_report_status_body_and_every_phase() {
    let app = targets::http_app(App::default()).await;
    let prober = prober(Vec::new());
    let base = format!("http://localhost:{}", app.port());

    let up = run(
        &prober,
        json!({"type": "http", "url": format!("{base}/ok"),
        "expect": {"status": [200], "body_contains": "Add to cart",
                   "headers": [{"name": "Content-Type", "contains": "text/html"}]}}),
    )
    .await;
    assert_eq!(up.outcome, CheckOutcome::Up, "{up:?}");
    assert_eq!(up.status_code, Some(200));
    assert_eq!(up.response_bytes, Some(targets::PAGE.len() as i64));
    let timings = up.timings;
    assert!(timings.dns_ms.is_some(), "a name was resolved: {timings:?}");
    assert!(timings.connect_ms.is_some() && timings.first_byte_ms.is_some());
    assert!(timings.download_ms.is_some());
    assert_eq!(timings.tls_ms, None, "plain HTTP has no handshake");
    assert!(up.duration_ms >= timings.first_byte_ms.unwrap());
    assert_eq!(up.detail["final_url"], format!("{base}/ok"));
    // Every condition is kept with what was found; the headers too, with
    // a cookie's value masked; a passing body is not stored.
    assert_eq!(
        up.detail["conditions"],
        json!([
            {"expected": "status 200", "found": "status 200", "passed": true},
            {"expected": "`Add to cart` in the body", "found": "in the body", "passed": true},
            {"expected": "header `Content-Type` containing `text/html`", "found": "`text/html`", "passed": true}
        ])
    );
    let headers = up.detail["headers"].as_array().unwrap();
    assert!(
        headers.contains(&json!(["content-type", "text/html"])),
        "{headers:?}"
    );
    assert!(
        headers.contains(&json!(["set-cookie", "***"])),
        "{headers:?}"
    );
    assert!(!up.detail.to_string().contains("s3cr3t"));
    assert!(up.detail.get("body_excerpt").is_none());
    assert!(
        up.detail.get("certificates").is_none(),
        "plain HTTP has none"
    );

    let wrong_status = run(
        &prober,
        json!({"type": "http", "url": format!("{base}/status/503")}),
    )
    .await;
    assert_eq!(wrong_status.outcome, CheckOutcome::Error);
    assert_eq!(wrong_status.status_code, Some(503));
    assert_eq!(
        problem(&wrong_status),
        (ProblemKind::Status, "expected a 2xx status, got 503")
    );
    assert_eq!(
        wrong_status.detail["body_excerpt"], "status 503: the shop is closed",
        "the first bytes of the body are kept on error"
    );

    let wrong_content = run(
        &prober,
        json!({"type": "http", "url": format!("{base}/ok"),
        "expect": {"body_contains": "Checkout"}}),
    )
    .await;
    assert_eq!(
        problem(&wrong_content),
        (ProblemKind::Body, "the body does not contain `Checkout`")
    );
    assert_eq!(
        wrong_content.detail["conditions"][1],
        json!({"expected": "`Checkout` in the body", "found": "not in the body", "passed": false})
    );
    let forbidden_text = run(
        &prober,
        json!({"type": "http", "url": format!("{base}/ok"),
        "expect": {"body_not_contains": "Add to cart"}}),
    )
    .await;
    assert_eq!(
        problem(&forbidden_text),
        (ProblemKind::Body, "the body contains `Add to cart`")
    );
    let no_match = run(
        &prober,
        json!({"type": "http", "url": format!("{base}/ok"),
        "expect": {"body_matches": "<h1>Shop [0-9]+</h1>"}}),
    )
    .await;
    assert_eq!(
        problem(&no_match),
        (
            ProblemKind::Body,
            "the body does not match /<h1>Shop [0-9]+</h1>/"
        )
    );
    let header = run(
        &prober,
        json!({"type": "http", "url": format!("{base}/ok"),
        "expect": {"headers": [{"name": "content-type", "equals": "application/json"}]}}),
    )
    .await;
    assert_eq!(
        problem(&header),
        (
            ProblemKind::Header,
            "header `content-type` is `text/html`, expected `application/json`"
        )
    );
}

#[tokio::test]
async fn slow_answers_are_degraded_or_errors_and_timeouts_name_the_phase() {
    let app = targets::http_app(App::default()).await;
    let prober = prober(Vec::new());
    let slow = format!("http://127.0.0.1:{}/slow?ms=700", app.port());

    let degraded = run(
        &prober,
        json!({"type": "http", "url": slow,
        "expect": {"degraded_response_ms": 300, "max_response_ms": 5000}}),
    )
    .await;
    assert_eq!(degraded.outcome, CheckOutcome::Degraded, "{degraded:?}");
    let (kind, message) = problem(&degraded);
    assert_eq!(kind, ProblemKind::ResponseTime);
    assert!(
        message.ends_with("over the degraded threshold of 300 ms"),
        "{message}"
    );
    assert!(degraded.timings.first_byte_ms.unwrap() >= 700);
    assert_eq!(
        degraded.timings.dns_ms, None,
        "an IP address needs no lookup"
    );

    let too_slow = run(
        &prober,
        json!({"type": "http", "url": slow,
        "expect": {"max_response_ms": 300}}),
    )
    .await;
    assert_eq!(too_slow.outcome, CheckOutcome::Error);
    assert_eq!(problem(&too_slow).0, ProblemKind::ResponseTime);

    let timed_out = run(
        &prober,
        json!({"type": "http", "timeout": "1s",
        "url": format!("http://127.0.0.1:{}/slow?ms=3000", app.port())}),
    )
    .await;
    assert_eq!(
        problem(&timed_out),
        (
            ProblemKind::Timeout,
            "timed out after 1s while waiting for the response"
        )
    );
    assert!(
        timed_out.timings.connect_ms.is_some(),
        "phases reached are kept"
    );
    assert!(
        (1000..2000).contains(&timed_out.duration_ms),
        "{}",
        timed_out.duration_ms
    );

    let refused = run(
        &prober,
        json!({"type": "http",
        "url": format!("http://127.0.0.1:{}/", targets::closed_port().await)}),
    )
    .await;
    let (kind, message) = problem(&refused);
    assert_eq!(kind, ProblemKind::Connect);
    assert!(
        message.starts_with("cannot connect to 127.0.0.1:"),
        "{message}"
    );
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let app = targets::http_app(App::default()).await;
    let prober = prober(Vec::new());
    let base = format!("http://127.0.0.1:{}", app.port());

    let followed = run(
        &prober,
        json!({"type": "http", "url": format!("{base}/redirect/2")}),
    )
    .await;
    assert_eq!(followed.outcome, CheckOutcome::Up, "{followed:?}");
    assert_eq!(followed.detail["final_url"], format!("{base}/ok"));
    assert_eq!(followed.detail["redirects"].as_array().unwrap().len(), 3);

    let too_many = run(
        &prober,
        json!({"type": "http", "url": format!("{base}/redirect/2"),
        "max_redirects": 2}),
    )
    .await;
    let (kind, message) = problem(&too_many);
    assert_eq!(kind, ProblemKind::Redirect);
    assert_eq!(message, "more than 2 redirects (last to /ok)");

    let not_followed = run(
        &prober,
        json!({"type": "http", "url": format!("{base}/redirect/0"),
        "follow_redirects": false}),
    )
    .await;
    assert_eq!(not_followed.outcome, CheckOutcome::Up);
    assert_eq!(not_followed.status_code, Some(303));
}

#[tokio::test]
async fn tls_checks_judge_expiry_name_chain_and_issuer() {
    let certificates = targets::certificates(Duration::from_secs(5 * 86_400 + 3_600));
    let server = targets::tls_server(&certificates).await;
    let trusting = prober(vec![certificates.ca.clone()]);
    let port = server.port();

    let expiring = run(
        &trusting,
        json!({"type": "tls", "host": "localhost", "port": port}),
    )
    .await;
    assert_eq!(expiring.outcome, CheckOutcome::Error, "{expiring:?}");
    let expires_at = Timestamp::from(certificates.not_after_ms).to_rfc3339();
    assert_eq!(
        problem(&expiring),
        (
            ProblemKind::Certificate,
            format!(
                "the certificate expires in 5 days ({expires_at}), under the error threshold of 7 days"
            )
            .as_str()
        )
    );
    assert_eq!(
        expiring.detail["expires_at"], expires_at,
        "the expiry is kept"
    );
    assert_eq!(expiring.detail["days_left"], 5);
    assert_eq!(expiring.detail["chain_valid"], true);
    let chain = expiring.detail["chain"].as_array().unwrap();
    assert_eq!(chain[0]["days_left"], 5, "the leaf comes first: {chain:?}");
    assert_eq!(chain[0]["expires_at"], expires_at);
    assert!(expiring.timings.tls_ms.is_some() && expiring.timings.connect_ms.is_some());

    let warned = run(
        &trusting,
        json!({"type": "tls", "host": "127.0.0.1", "port": port,
        "error_days": 3, "expect_issuer": "Sightline Test CA"}),
    )
    .await;
    assert_eq!(warned.outcome, CheckOutcome::Degraded, "{warned:?}");
    assert!(
        problem(&warned)
            .1
            .contains("under the warning threshold of 21 days")
    );

    let wrong_name = run(
        &trusting,
        json!({"type": "tls", "host": "127.0.0.1", "port": port,
        "server_name": "shop.example.com", "error_days": 1, "warn_days": 1}),
    )
    .await;
    let (kind, message) = problem(&wrong_name);
    assert_eq!(kind, ProblemKind::Certificate);
    assert!(
        message.starts_with("the certificate is not valid for shop.example.com"),
        "{message}"
    );

    let untrusting = prober(Vec::new());
    let untrusted = run(
        &untrusting,
        json!({"type": "tls", "host": "localhost", "port": port,
        "error_days": 1, "warn_days": 1}),
    )
    .await;
    let (kind, message) = problem(&untrusted);
    assert_eq!(kind, ProblemKind::Certificate);
    assert!(
        message.starts_with("the certificate chain is not trusted"),
        "{message}"
    );
    assert_eq!(
        untrusted.detail["days_left"], 5,
        "an untrusted certificate is still read"
    );

    let other_issuer = run(
        &trusting,
        json!({"type": "tls", "host": "localhost", "port": port,
        "error_days": 1, "warn_days": 1, "expect_issuer": "Let's Encrypt"}),
    )
    .await;
    assert!(
        problem(&other_issuer)
            .1
            .contains("does not contain `Let's Encrypt`")
    );

    // HTTPS requests time the handshake, and verification can be turned off.
    let https = format!("https://localhost:{port}/");
    let verified = run(&trusting, json!({"type": "http", "url": https})).await;
    assert_eq!(verified.outcome, CheckOutcome::Up, "{verified:?}");
    assert!(verified.timings.tls_ms.is_some());
    let served = verified.detail["certificates"].as_array().unwrap();
    assert_eq!(
        served[0]["days_left"], 5,
        "the server's chain is kept: {served:?}"
    );
    assert!(
        served[0]["issuer"]
            .as_str()
            .unwrap()
            .contains("Sightline Test CA")
    );
    let refused = run(&untrusting, json!({"type": "http", "url": https})).await;
    assert_eq!(problem(&refused).0, ProblemKind::Certificate, "{refused:?}");
    let unverified = run(
        &untrusting,
        json!({"type": "http", "url": https, "verify_tls": false}),
    )
    .await;
    assert_eq!(unverified.outcome, CheckOutcome::Up, "{unverified:?}");
}

#[tokio::test]
async fn dns_checks_compare_answers_from_the_given_resolver() {
    let server = targets::dns_server().await;
    let prober = prober(Vec::new());
    let resolver = server.to_string();

    let up = run(
        &prober,
        json!({"type": "dns", "host": "shop.test", "resolver": resolver,
        "expect": ["192.0.2.10"]}),
    )
    .await;
    assert_eq!(up.outcome, CheckOutcome::Up, "{up:?}");
    assert_eq!(up.detail["answers"], json!(["192.0.2.10", "192.0.2.11"]));
    assert!(up.timings.dns_ms.is_some());

    let missing = run(
        &prober,
        json!({"type": "dns", "host": "shop.test", "resolver": resolver,
        "expect": ["192.0.2.99"]}),
    )
    .await;
    assert_eq!(
        problem(&missing),
        (
            ProblemKind::Records,
            "A records of shop.test do not include `192.0.2.99` (got 192.0.2.10, 192.0.2.11)"
        )
    );

    let mx = run(
        &prober,
        json!({"type": "dns", "host": "shop.test", "resolver": resolver,
        "record_type": "MX", "expect": ["mail.shop.test"]}),
    )
    .await;
    assert_eq!(mx.outcome, CheckOutcome::Up, "{mx:?}");
    let txt = run(
        &prober,
        json!({"type": "dns", "host": "shop.test", "resolver": resolver,
        "record_type": "TXT", "expect": ["v=spf1 -all"]}),
    )
    .await;
    assert_eq!(txt.outcome, CheckOutcome::Up, "{txt:?}");

    let no_records = run(
        &prober,
        json!({"type": "dns", "host": "shop.test", "resolver": resolver,
        "record_type": "AAAA"}),
    )
    .await;
    assert_eq!(
        problem(&no_records),
        (ProblemKind::Records, "shop.test has no AAAA records")
    );
    let unknown = run(
        &prober,
        json!({"type": "dns", "host": "gone.test", "resolver": resolver}),
    )
    .await;
    assert_eq!(
        problem(&unknown),
        (ProblemKind::Dns, "gone.test does not exist (NXDOMAIN)")
    );
}

#[tokio::test]
async fn tcp_checks_connect_and_read_the_greeting() {
    let server = targets::banner_server("220 mail.shop.test ESMTP ready\r\n").await;
    let prober = prober(Vec::new());

    let up = run(
        &prober,
        json!({"type": "tcp", "host": "127.0.0.1", "port": server.port(),
        "expect_banner": "ESMTP"}),
    )
    .await;
    assert_eq!(up.outcome, CheckOutcome::Up, "{up:?}");
    assert_eq!(up.detail["banner"], "220 mail.shop.test ESMTP ready");
    assert!(up.timings.connect_ms.is_some() && up.timings.first_byte_ms.is_some());

    let wrong = run(
        &prober,
        json!({"type": "tcp", "host": "127.0.0.1", "port": server.port(),
        "expect_banner": "+OK", "timeout": "1s"}),
    )
    .await;
    assert_eq!(
        problem(&wrong),
        (
            ProblemKind::Banner,
            "the greeting `220 mail.shop.test ESMTP ready` does not contain `+OK`"
        )
    );

    let closed = run(
        &prober,
        json!({"type": "tcp", "host": "localhost",
        "port": targets::closed_port().await}),
    )
    .await;
    assert_eq!(problem(&closed).0, ProblemKind::Connect);
}

#[tokio::test]
async fn ping_checks_answer_or_say_why_they_cannot() {
    let prober = prober(Vec::new());
    let report = run(
        &prober,
        json!({"type": "ping", "host": "127.0.0.1", "count": 3}),
    )
    .await;
    match prober.ping_available() {
        Ok(()) => {
            assert_eq!(report.outcome, CheckOutcome::Up, "{report:?}");
            assert_eq!(report.detail["received"], 3);
            let average = report.detail["rtt_avg_ms"].as_f64().unwrap();
            assert!(average >= 0.0);
            // Its time is the round trip, not the pauses between requests.
            assert_eq!(report.duration_ms, average.round().max(1.0) as i64);
        }
        Err(reason) => {
            assert_eq!(problem(&report), (ProblemKind::Setup, reason.as_str()));
            assert!(reason.contains("ICMP"), "{reason}");
        }
    }
}

fn login_journey(base: &str) -> Value {
    json!({"type": "api", "steps": [
        {"name": "log in", "method": "POST", "url": format!("{base}/api/login"),
         "headers": {"Content-Type": "application/json", "X-Request-Id": "{{uuid}}"},
         "body": r#"{"user": "ada", "password": "{{secrets.PASSWORD}}"}"#,
         "extract": [{"name": "token", "json_path": "$.token"}],
         "expect": {"status": [200], "json": [{"path": "$.expires_in", "equals": 3600}]}},
        {"name": "who am I", "url": format!("{base}/api/me"),
         "headers": {"Authorization": "Bearer {{token}}"},
         "expect": {"status": [200], "json": [{"path": "$.id", "equals": 7}],
                    "max_response_ms": 5000}}
    ]})
}

#[tokio::test]
async fn a_multi_step_check_carries_a_token_and_names_the_step_that_breaks() {
    let app = App::default();
    let address = targets::http_app(app.clone()).await;
    let prober = prober(Vec::new());
    let base = format!("http://127.0.0.1:{}", address.port());
    let spec = monitor(login_journey(&base));
    let secrets = Secrets::new([("PASSWORD".to_owned(), "correct horse".to_owned())]);

    let up = prober.run(&spec, &secrets).await;
    assert_eq!(up.outcome, CheckOutcome::Up, "{up:?}");
    let steps = up.detail["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(
        (
            steps[0]["status_code"].clone(),
            steps[1]["status_code"].clone()
        ),
        (json!(200), json!(200))
    );
    assert!(up.timings.connect_ms.is_some() && up.timings.first_byte_ms.is_some());

    // The API changes shape: the second step fails and says which assertion.
    app.changed.store(true, Ordering::SeqCst);
    let changed = prober.run(&spec, &secrets).await;
    assert_eq!(
        problem(&changed),
        (
            ProblemKind::Json,
            "step 2 (`who am I`): $.id is missing, expected 7"
        )
    );
    assert_eq!(changed.detail["steps"][1]["outcome"], "error");
    // Each request lists its conditions with what was expected and found.
    assert_eq!(
        changed.detail["steps"][1]["conditions"],
        json!([
            {"expected": "status 200", "found": "status 200", "passed": true},
            {"expected": "$.id equal to 7", "found": "nothing there", "passed": false},
            {"expected": "a response within 5000 ms", "found": changed.detail["steps"][1]["duration_ms"].to_string() + " ms", "passed": true}
        ])
    );
    assert_eq!(changed.detail["steps"][1]["method"], "GET");

    // A wrong secret fails the first step; the secret never shows.
    let wrong = Secrets::new([("PASSWORD".to_owned(), "wrong horse".to_owned())]);
    let refused = prober.run(&spec, &wrong).await;
    assert_eq!(
        problem(&refused),
        (
            ProblemKind::Status,
            "step 1 (`log in`): expected status 200, got 401"
        )
    );
    let excerpt = refused.detail["steps"][0]["body_excerpt"].as_str().unwrap();
    assert_eq!(excerpt, "wrong password \"***\"");

    // A secret the vault does not hold is named, before any request.
    let missing = prober.run(&spec, &Secrets::default()).await;
    assert_eq!(
        problem(&missing),
        (
            ProblemKind::Step,
            "step 1 (`log in`): the body uses `{{secrets.PASSWORD}}`: no such secret in the vault"
        )
    );
}
