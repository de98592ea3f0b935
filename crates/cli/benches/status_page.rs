//! A public status page under an outage's crowd, against `/healthz` on the
//! same server, with the same load generator, in one run; and the
//! scheduler's start delays while the page is hammered.
//!
//! Starts `sightline serve` (release build, SQLite) with 60 HTTP monitors
//! checked every 10 s and a status page over them in four groups with a
//! RUM component, then loads `/status/shop` and `/healthz` with wrk
//! (`CONNECTIONS` connections, `SECONDS` a round), taking turns,
//! `ROUNDS` each. Prints both rates, their ratio, wrk's p99 latencies, the
//! server's CPU per request, and the p99 of how late checks started
//! (quiet, then under load). Run with
//! `cargo bench -p sightline --bench status_page`.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::{Server, cpu_seconds, ensure_package, now_ms, percentile, serve_ok};

const CONNECTIONS: usize = 256;
const SECONDS: u64 = 10;
const ROUNDS: usize = 3;
const MONITORS: usize = 60;

fn main() {
    ensure_package("/usr/bin/wrk", "wrk");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

/// What wrk saw in one round.
struct Round {
    rate: f64,
    p99_ms: f64,
    errors: u64,
    cpu_seconds: f64,
    requests: f64,
}

fn wrk(url: &str, server_pid: u32) -> Round {
    let cpu_before = cpu_seconds(server_pid);
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{SECONDS}s"),
            "--latency",
            "-H",
            "Accept-Encoding: gzip",
            url,
        ])
        .output()
        .expect("run wrk");
    let cpu = cpu_seconds(server_pid) - cpu_before;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let number_after = |label: &str| -> Option<f64> {
        let line = text
            .lines()
            .find(|line| line.trim_start().starts_with(label))?;
        line.trim_start()[label.len()..]
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let rate = number_after("Requests/sec:").unwrap_or(0.0);
    let p99_ms = text
        .lines()
        .find(|line| line.trim_start().starts_with("99%"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(parse_duration_ms)
        .unwrap_or(f64::NAN);
    // "Non-2xx or 3xx responses: N" and socket errors.
    let non_2xx = text
        .lines()
        .find(|line| line.contains("Non-2xx or 3xx responses:"))
        .and_then(|line| line.rsplit(':').next())
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let socket = text
        .lines()
        .find(|line| line.contains("Socket errors:"))
        .map(|line| {
            line.split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    let requests = text
        .lines()
        .find(|line| line.contains("requests in"))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(rate > 0.0, "wrk printed no rate:\n{text}");
    Round {
        rate,
        p99_ms,
        errors: non_2xx + socket,
        cpu_seconds: cpu,
        requests,
    }
}

/// wrk's durations: `812.00us`, `3.21ms`, `1.02s`.
fn parse_duration_ms(word: &str) -> Option<f64> {
    for (suffix, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] {
        if let Some(number) = word.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    None
}

/// How late each scheduled check started in `[from, to)` (ms), from every
/// monitor's results.
async fn start_delays(server: &Server, ids: &[i64], from: i64, to: i64) -> Vec<i64> {
    let mut delays = Vec::new();
    for id in ids {
        let results = server
            .get(&format!(
                "/api/v1/monitors/{id}/results?from={from}&to={to}&limit=1000"
            ))
            .await;
        for result in results.as_array().into_iter().flatten() {
            if result["attempt"] != 0 {
                continue;
            }
            let at = |key: &str| {
                chrono::DateTime::parse_from_rfc3339(result[key].as_str().unwrap_or_default())
                    .map(|time| time.timestamp_millis())
                    .unwrap_or(0)
            };
            delays.push((at("started_at") - at("due_at")).max(0));
        }
    }
    delays.sort_unstable();
    delays
}

fn summed(rounds: &[Round]) -> (f64, f64, u64, f64) {
    let rate = rounds.iter().map(|r| r.rate).sum::<f64>() / rounds.len() as f64;
    let mut p99s: Vec<f64> = rounds.iter().map(|r| r.p99_ms).collect();
    p99s.sort_by(f64::total_cmp);
    let errors = rounds.iter().map(|r| r.errors).sum();
    let requests: f64 = rounds.iter().map(|r| r.requests).sum();
    let cpu: f64 = rounds.iter().map(|r| r.cpu_seconds).sum();
    let cpu_per_request_us = if requests > 0.0 {
        cpu / requests * 1e6
    } else {
        f64::NAN
    };
    (rate, p99s[p99s.len() / 2], errors, cpu_per_request_us)
}

async fn run() {
    let data = tempfile::tempdir().expect("temporary directory");
    let data_dir = data.path().display().to_string();
    let target = serve_ok().await;
    let server = Server::start(&["--data-dir", &data_dir]).await;
    let mut ids = Vec::new();
    let mut names = Vec::new();
    for n in 0..MONITORS {
        let name = format!("check {n:02}");
        let monitor = server
            .post(
                "/api/v1/monitors",
                serde_json::json!({"name": name, "type": "http",
                    "url": format!("{target}/page/{n}"), "every": "10s"}),
            )
            .await;
        ids.push(monitor["id"].as_i64().expect("id"));
        names.push(name);
    }
    server
        .post(
            "/api/v1/sites",
            serde_json::json!({"name": "shop", "origins": ["https://shop.example.com"]}),
        )
        .await;
    let groups: Vec<serde_json::Value> = names
        .chunks(MONITORS / 4)
        .enumerate()
        .map(|(g, chunk)| {
            let components: Vec<serde_json::Value> = chunk
                .chunks(3)
                .enumerate()
                .map(|(c, monitors)| {
                    serde_json::json!({"name": format!("Component {g}.{c}"), "monitors": monitors})
                })
                .collect();
            serde_json::json!({"name": format!("Group {g}"), "components": components})
        })
        .chain([serde_json::json!({"name": "Visitors", "components": [
            {"name": "What visitors see", "site": "shop"}]})])
        .collect();
    server
        .post(
            "/api/v1/status-pages",
            serde_json::json!({"slug": "shop", "title": "Shop status", "groups": groups}),
        )
        .await;
    let page = format!("{}/status/shop", server.base);
    let health = format!("{}/healthz", server.base);
    let answered = reqwest::get(&page).await.expect("the page");
    assert!(answered.status().is_success(), "{}", answered.status());
    let weight = answered.bytes().await.expect("body").len();
    // The client does not decompress: this is what travels.
    let gzipped = server
        .http
        .get(&page)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("the page, gzipped")
        .bytes()
        .await
        .expect("body")
        .len();

    // Quiet: the checks run a while with nobody on the page.
    let quiet_from = now_ms();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let quiet_to = now_ms();

    let pid = server.child.id();
    let (mut pages, mut healths) = (Vec::new(), Vec::new());
    let loaded_from = now_ms();
    let started = Instant::now();
    for _ in 0..ROUNDS {
        healths.push(wrk(&health, pid));
        pages.push(wrk(&page, pid));
    }
    let loaded_to = now_ms();
    let quiet = start_delays(&server, &ids, quiet_from, quiet_to).await;
    let loaded = start_delays(&server, &ids, loaded_from, loaded_to).await;

    let (health_rate, health_p99, health_errors, health_cpu) = summed(&healths);
    let (page_rate, page_p99, page_errors, page_cpu) = summed(&pages);
    println!(
        "status page benchmark: wrk -t2 -c{CONNECTIONS}, {ROUNDS} rounds of {SECONDS} s each, taking turns ({:.0} s), \
         {MONITORS} monitors every 10 s, a page of {} components, {weight} bytes of HTML ({gzipped} gzipped)",
        started.elapsed().as_secs_f64(),
        MONITORS / 3 + 1
    );
    println!(
        "/healthz:      {health_rate:>9.0} req/s   p99 {health_p99:>7.2} ms   server CPU {health_cpu:>6.1} µs/request   errors {health_errors}"
    );
    println!(
        "/status/shop:  {page_rate:>9.0} req/s   p99 {page_p99:>7.2} ms   server CPU {page_cpu:>6.1} µs/request   errors {page_errors}"
    );
    println!("ratio page/healthz: {:.2}", page_rate / health_rate);
    println!(
        "check start delays: quiet p50 {} ms p99 {} ms ({} checks); under load p50 {} ms p99 {} ms ({} checks)",
        percentile(&quiet, 0.5),
        percentile(&quiet, 0.99),
        quiet.len(),
        percentile(&loaded, 0.5),
        percentile(&loaded, 0.99),
        loaded.len()
    );
}
