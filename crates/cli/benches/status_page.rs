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

use std::time::{Duration, Instant};
use support::wrk::{self, Load};
use support::{Server, ensure_package, now_ms, percentile, serve_ok};

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
    let load = Load {
        threads: 2,
        connections: CONNECTIONS,
        seconds: SECONDS,
        headers: &["Accept-Encoding: gzip"],
        body: None,
    };
    for _ in 0..ROUNDS {
        healths.push(wrk::run(&health, &load, &[pid]));
        pages.push(wrk::run(&page, &load, &[pid]));
    }
    let loaded_to = now_ms();
    let quiet = start_delays(&server, &ids, quiet_from, quiet_to).await;
    let loaded = start_delays(&server, &ids, loaded_from, loaded_to).await;

    let (healths, pages) = (wrk::combined(&healths), wrk::combined(&pages));
    println!(
        "status page benchmark: wrk -t2 -c{CONNECTIONS}, {ROUNDS} rounds of {SECONDS} s each, taking turns ({:.0} s), \
         {MONITORS} monitors every 10 s, a page of {} components, {weight} bytes of HTML ({gzipped} gzipped)",
        started.elapsed().as_secs_f64(),
        MONITORS / 3 + 1
    );
    for (path, round) in [("/healthz:", &healths), ("/status/shop:", &pages)] {
        println!(
            "{path:<14} {:>9.0} req/s   p99 {:>7.2} ms   server CPU {:>6.1} µs/request   errors {}",
            round.rate(),
            round.p99_ms,
            round.cpu_per_request_us(),
            round.errors
        );
    }
    println!("ratio page/healthz: {:.2}", pages.rate() / healths.rate());
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
