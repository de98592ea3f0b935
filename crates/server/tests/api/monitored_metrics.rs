//! `/metrics` as Prometheus and Grafana use it: what is monitored, named by
//! monitor and site, to the credentials that may see it, and the shipped
//! Grafana dashboard asks for nothing `/metrics` does not serve.

use super::security::metrics_text as scrape;
use super::*;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The series names in an OpenMetrics text (`name` of `name{…} value`).
fn series_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// The value of the series written exactly `series` (`name{labels}`).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        rest.split(' ').next()?.parse().ok()
    })
}

/// The metric names a PromQL expression uses: every `sightline_…` word.
fn metric_names(expression: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expression;
    while let Some(at) = rest.find("sightline_") {
        let word: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + word.len()..];
        names.push(word);
    }
    names
}

/// Every PromQL expression of a Grafana dashboard: its panels' targets
/// (rows' panels included) and its variables' queries.
fn dashboard_expressions(dashboard: &Value) -> Vec<String> {
    let mut found = Vec::new();
    fn walk(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("expr", Value::String(text)) => found.push(text.clone()),
                        ("query", Value::String(text)) if text.contains("sightline_") => {
                            found.push(text.clone())
                        }
                        ("query", Value::Object(query)) => {
                            if let Some(Value::String(text)) = query.get("query") {
                                found.push(text.clone());
                            }
                        }
                        _ => walk(inner, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, found)),
            _ => {}
        }
    }
    walk(dashboard, &mut found);
    found
}

/// Scrapes as `auth` until `ready` holds, for up to 40 s.
async fn scrape_until(server: &TestServer, auth: &Auth, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let (status, text) = scrape(server, auth).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        if ready(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "never ready:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(super) async fn what_is_monitored_reaches_prometheus_and_the_dashboard(kind: BackendKind) {
    let certificates = targets::certificates(Duration::from_secs(40 * 24 * 3600));
    let tls = targets::tls_server(&certificates).await.port();
    let config = ServerConfig {
        prober: sightline_synthetic::ProberConfig {
            extra_roots: vec![certificates.ca.clone()],
            ..Default::default()
        },
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (hooks, received) = super::channels::receiver().await;
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/alert-policies",
            &admin,
            Some(json!({"name": "on-call", "levels": [{
                "after": "1 confirmed error",
                // No SMTP server: the e-mail waits in the outbox.
                "email": ["ops@example.com"],
                "webhook": [format!("{hooks}/hook")],
            }]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let closed = sightline_store::testing::free_port();
    let monitors = [
        json!({"name": "health", "type": "http", "url": server.url("/healthz"), "every": "1h"}),
        json!({"name": "database", "type": "tcp", "host": "127.0.0.1", "port": closed,
               "every": "1h", "alert_policy": "on-call"}),
        json!({"name": "certificate", "type": "tls", "host": "127.0.0.1", "port": tls,
               "server_name": "localhost", "every": "1h"}),
        json!({"name": "resting", "type": "http", "url": server.url("/healthz"), "every": "1h",
               "enabled": false}),
        // A name that would end its label early if it were not escaped.
        json!({"name": r#"say "hi" \ twice"#, "type": "http", "url": server.url("/healthz"),
               "enabled": false}),
    ];
    let mut ids = Vec::new();
    for spec in monitors {
        ids.push(server.create_monitor(&admin, spec).await);
    }
    for id in &ids[..3] {
        server.run_now(&admin, *id).await;
    }
    let (site_id, key) = super::collector::create_site(&server).await;
    for _ in 0..3 {
        let body = serde_json::to_vec(&super::collector::beacon(&key)).unwrap();
        let (status, answer) = super::collector::send(
            &server,
            body,
            Some("https://shop.example.com"),
            super::collector::CHROME,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    }

    // Everything, once the outage has reached the webhook.
    let viewer = Auth::Bearer(server.token(&admin, "grafana", "viewer").await);
    let text = scrape_until(&server, &viewer, |text| {
        value(text, r#"sightline_monitor_up{monitor="database"}"#) == Some(0.0)
            && value(
                text,
                r#"sightline_notifications_total{channel="webhook",outcome="sent"}"#,
            )
            .is_some()
    })
    .await;
    assert!(!received.lock().unwrap().is_empty());
    for (series, expected) in [
        (r#"sightline_monitor_up{monitor="health"}"#, 1.0),
        (r#"sightline_monitor_up{monitor="certificate"}"#, 1.0),
        (
            r#"sightline_monitor_status{monitor="database",state="down"}"#,
            1.0,
        ),
        (
            r#"sightline_monitor_status{monitor="database",state="up"}"#,
            0.0,
        ),
        (
            r#"sightline_monitor_status{monitor="resting",state="paused"}"#,
            1.0,
        ),
        (
            r#"sightline_tls_certificate_expiry_timestamp_seconds{monitor="certificate"}"#,
            certificates.not_after_ms as f64 / 1000.0,
        ),
        (r#"sightline_rum_page_views_total{site="shop"}"#, 3.0),
        (r#"sightline_outbox_depth{channel="email"}"#, 1.0),
    ] {
        assert_eq!(value(&text, series), Some(expected), "{series} in\n{text}");
    }
    assert_eq!(
        value(
            &text,
            r#"sightline_monitor_status{monitor="say \"hi\" \\ twice",state="paused"}"#
        ),
        Some(1.0),
        "{text}"
    );
    // Paused: a state, not a failure.
    assert_eq!(
        value(&text, r#"sightline_monitor_up{monitor="resting"}"#),
        None
    );
    // The beacon's LCP of 1,834.2 ms, within the sketch's 1 %.
    let lcp = value(&text, r#"sightline_rum_lcp_p75_seconds{site="shop"}"#).unwrap();
    assert!((lcp - 1.8342).abs() < 0.02, "{lcp}");
    let cls = value(&text, r#"sightline_rum_cls_p75{site="shop"}"#).unwrap();
    assert!((cls - 0.031).abs() < 0.001, "{cls}");
    // Two runs of the health check (the first scheduled one, and "run
    // now"), each timed whole and by phase.
    let checks = value(
        &text,
        r#"sightline_check_duration_seconds_count{monitor="health",phase="total"}"#,
    )
    .unwrap();
    assert!(checks >= 1.0, "{text}");
    assert!(
        value(
            &text,
            r#"sightline_check_duration_seconds_count{monitor="certificate",phase="tls"}"#
        )
        .unwrap()
            >= 1.0
    );
    // Plain HTTP has no TLS phase, and a series of it would be all zeros.
    assert_eq!(
        value(
            &text,
            r#"sightline_check_duration_seconds_count{monitor="health",phase="tls"}"#
        ),
        None
    );
    assert!(
        value(
            &text,
            r#"sightline_notifications_total{channel="email",outcome="failed"}"#
        )
        .unwrap()
            >= 1.0,
        "{text}"
    );

    // The dashboard shipped in deploy/ asks only for what is served.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/grafana/sightline-dashboard.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let expressions = dashboard_expressions(&dashboard);
    assert!(expressions.len() >= 8, "{expressions:?}");
    let served = series_names(&text);
    let mut asked = BTreeSet::new();
    for expression in &expressions {
        asked.extend(metric_names(expression));
    }
    let missing: Vec<&String> = asked
        .iter()
        .filter(|name| !served.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard asks for {missing:?}, which /metrics does not serve"
    );
    // And it shows every metric of what is monitored.
    for family in [
        "sightline_monitor_up",
        "sightline_monitor_status",
        "sightline_check_duration_seconds_bucket",
        "sightline_tls_certificate_expiry_timestamp_seconds",
        "sightline_rum_page_views_total",
        "sightline_rum_lcp_p75_seconds",
        "sightline_rum_inp_p75_seconds",
        "sightline_rum_cls_p75",
        "sightline_outbox_depth",
        "sightline_notifications_total",
    ] {
        assert!(asked.contains(family), "the dashboard shows no {family}");
    }

    // Who may see it: names of monitors and sites are not for anyone.
    let agent = server.agent(&admin, "east").await;
    for auth in [Auth::None, agent, Auth::Bearer("slt_not-a-token".into())] {
        let (status, text) = scrape(&server, &auth).await;
        assert_eq!(status, StatusCode::OK);
        assert!(text.contains("sightline_build_info"), "{text}");
        assert!(
            !text.contains("monitor=") && !text.contains("site="),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
    let (_, by_session) = scrape(&server, &admin).await;
    assert!(by_session.contains(r#"monitor="health""#));
    assert_eq!(by_session.matches("# EOF").count(), 1);

    // A deleted monitor's and site's series go with them.
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/v1/monitors/{}", ids[0]),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/v1/sites/{site_id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, text) = scrape(&server, &viewer).await;
    assert!(!text.contains(r#"monitor="health""#), "{text}");
    assert!(!text.contains(r#"site="shop""#), "{text}");
    assert!(text.contains(r#"monitor="database""#), "{text}");
    server.stop().await;
}

pub(super) async fn a_metrics_token_is_needed_when_the_server_has_one(kind: BackendKind) {
    let config = ServerConfig {
        metrics_token: Some("scrape-secret".into()),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    server
        .create_monitor(
            &admin,
            json!({"name": "health", "type": "http", "url": server.url("/healthz"), "every": "1h"}),
        )
        .await;
    let viewer = Auth::Bearer(server.token(&admin, "grafana", "viewer").await);
    for auth in [Auth::None, admin, viewer] {
        let (status, text) = scrape(&server, &auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
    }
    let (status, text) = scrape(&server, &Auth::Bearer("scrape-secret".into())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains(r#"sightline_monitor_status{monitor="health",state="#),
        "{text}"
    );
    server.stop().await;
}
