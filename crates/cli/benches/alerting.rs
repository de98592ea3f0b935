//! Alert latency: from the check result that confirms a monitor down to the
//! e-mail handed to the SMTP server, through everything in between (the
//! engine's pass, the incident, rendering, the outbox, the lease, the SMTP
//! conversation), run by `sightline serve` (release build, SQLite) against
//! a real SMTP server (aiosmtpd).
//!
//! The reference, measured in the same run against the same SMTP server, is
//! a bare send of an e-mail of the same size with the same SMTP client: the
//! least any alert can take. The goal is under 5 s.
//!
//! `cargo bench -p sightline --bench alerting`. Environment:
//! `SIGHTLINE_BENCH_ALERTS` (samples, default 20).

mod support;

use serde_json::json;
use sightline_alerting::testing::SmtpServer;
use sightline_alerting::{Email, Mailer};
use std::time::{Duration, Instant};
use support::{Server, ensure_package, env_number, free_port, now_ms, percentile};

/// The goal for the confirming result to reach the SMTP server.
const GOAL: Duration = Duration::from_secs(5);

/// Waits until the SMTP server holds `count` messages; returns when the
/// last one was seen (Unix ms) and the messages.
async fn arrivals(smtp: &SmtpServer, count: usize) -> (i64, Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let received = smtp.received();
        if received.len() >= count {
            let seen = now_ms();
            let text = received
                .iter()
                .map(|mail| String::from_utf8_lossy(mail).into_owned())
                .collect();
            return (seen, text);
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} e-mails",
            received.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// When the confirming result of a monitor's latest incident was stored:
/// its start plus its duration, from the server's database.
fn confirmed_at(database: &rusqlite::Connection, monitor: i64) -> i64 {
    database
        .query_row(
            "SELECT started_at + duration_ms FROM check_results \
             WHERE monitor_id = ?1 AND confirmed_error = 1 ORDER BY started_at DESC LIMIT 1",
            [monitor],
            |row| row.get(0),
        )
        .expect("a confirming result")
}

#[tokio::main]
async fn main() {
    let samples = env_number("SIGHTLINE_BENCH_ALERTS", 20) as usize;
    ensure_package(
        "/usr/lib/python3/dist-packages/aiosmtpd/__init__.py",
        "python3-aiosmtpd",
    );
    let smtp_port = free_port();
    let smtp = SmtpServer::start(smtp_port);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let port = smtp_port.to_string();
    let server = Server::start(&[
        "--data-dir",
        data.to_str().expect("path"),
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &port,
        "--smtp-security",
        "plain",
    ])
    .await;
    server
        .post(
            "/api/v1/alert-policies",
            json!({"name": "on-call", "levels": [
                {"after": "1 confirmed error", "email": ["ops@example.com"]}
            ]}),
        )
        .await;
    let database = rusqlite::Connection::open(data.join("sightline.db")).expect("open database");

    // One monitor at a time, each on a host of its own (127.0.0.k), so that
    // every alert is a message of its own.
    let closed = free_port();
    let mut latencies = Vec::new();
    let mut size = 0;
    for sample in 0..samples {
        let monitor = server
            .post(
                "/api/v1/monitors",
                json!({"name": format!("m{sample}"), "type": "tcp",
                       "host": format!("127.0.0.{}", sample + 2), "port": closed,
                       "every": "1h", "alert_policy": "on-call"}),
            )
            .await;
        let id = monitor["id"].as_i64().expect("id");
        server
            .post(&format!("/api/v1/monitors/{id}/run"), json!({}))
            .await;
        let (arrived, mails) = arrivals(&smtp, sample + 1).await;
        let subject = format!("[DOWN] m{sample}:");
        let mail = mails
            .iter()
            .find(|mail| mail.contains(&subject))
            .unwrap_or_else(|| panic!("no e-mail for m{sample}"));
        size = mail.len();
        latencies.push(arrived - confirmed_at(&database, id));
    }

    // A storm: twenty monitors on one host, one of them failing first; its
    // relatives are checked at once and all reach the recipient in one
    // e-mail. Measured from the last of their confirming results.
    let mut storm = Vec::new();
    for n in 0..20 {
        let monitor = server
            .post(
                "/api/v1/monitors",
                json!({"name": format!("storm {n:02}"), "type": "http",
                       "url": format!("http://127.0.0.200:{closed}/{n}"),
                       "every": "1h", "alert_policy": "on-call"}),
            )
            .await;
        storm.push(monitor["id"].as_i64().expect("id"));
    }
    server
        .post(&format!("/api/v1/monitors/{}/run", storm[0]), json!({}))
        .await;
    let (arrived, mails) = arrivals(&smtp, samples + 1).await;
    assert!(
        mails
            .iter()
            .any(|mail| mail.contains("20 monitors on 127.0.0.200")),
        "one e-mail for the storm"
    );
    let last_confirmed = storm
        .iter()
        .map(|id| confirmed_at(&database, *id))
        .max()
        .expect("twenty");
    let storm_latency = arrived - last_confirmed;
    drop(server);

    // The reference: the same SMTP client handing an e-mail of the same
    // size to the same server, directly.
    let mailer = Mailer::new(&SmtpServer::settings(smtp_port)).expect("mailer");
    let mut references = Vec::new();
    let before = samples + 1;
    for sample in 0..samples {
        let email = Email {
            subject: format!("reference {sample}"),
            text: "x".repeat(size / 2),
            html: format!("<p>{}</p>", "x".repeat(size / 2)),
            message_id: None,
            in_reply_to: None,
        };
        let started = now_ms();
        mailer
            .send("ops@example.com", &email)
            .await
            .expect("reference send");
        let (arrived, _) = arrivals(&smtp, before + sample + 1).await;
        references.push(arrived - started);
    }

    latencies.sort_unstable();
    references.sort_unstable();
    let p50 = percentile(&latencies, 0.5);
    let reference = percentile(&references, 0.5).max(1);
    println!(
        "alert latency, confirming result to SMTP server ({samples} alerts): \
         p50 {p50} ms, p99 {} ms, max {} ms (goal < {} ms)",
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
        GOAL.as_millis()
    );
    println!(
        "storm of 20 monitors on one host, one e-mail: {storm_latency} ms after the last confirming result"
    );
    println!(
        "reference, a bare SMTP send of the same size: p50 {reference} ms, max {} ms",
        references.last().copied().unwrap_or_default()
    );
    println!(
        "ratio (p50 / reference p50): {:.1}",
        p50 as f64 / reference as f64
    );
    let worst = *latencies.last().unwrap_or(&0);
    if worst >= GOAL.as_millis() as i64 {
        println!("GOAL MISSED: an alert took {worst} ms");
    }
}
