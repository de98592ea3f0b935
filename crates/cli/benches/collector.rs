//! The collector against a bare server, under the same load, in one run.
//!
//! Starts `sightline serve` (release build, SQLite with durable writes) and
//! a bare axum server that only answers 204 on the same route, each as a
//! process of its own, and loads each with the same realistic beacons from
//! the same load generator: `CONCURRENCY` connections for `SECONDS` a
//! round. The two take turns, `ROUNDS` each, so that a change in the
//! machine's speed during the run (it swings by a quarter here) weighs on
//! both alike. Prints both rates and their ratio, the p99 latencies, and
//! each server's peak memory. Run with
//! `cargo bench -p sightline --bench collector`.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{Server, free_port, peak_memory_mib, wait_for};

const CONCURRENCY: usize = 256;
const SECONDS: u64 = 5;
const ROUNDS: usize = 3;
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const ORIGIN: &str = "https://shop.example.com";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(port) = args
        .iter()
        .position(|a| a == "--bare-server")
        .and_then(|i| args.get(i + 1))
    {
        bare_server(port);
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

/// The reference: answers 204 to every beacon, does nothing else.
fn bare_server(port: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let app = axum::Router::new().route(
            "/rum/v1/beacon",
            axum::routing::post(|_body: axum::body::Bytes| async {
                axum::http::StatusCode::NO_CONTENT
            }),
        );
        let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
            .await
            .expect("bind");
        axum::serve(listener, app).await.expect("serve");
    });
}

/// What one round of load saw.
struct Round {
    latencies: Vec<Duration>,
    errors: usize,
    seconds: f64,
}

/// Rounds against one server, taken together.
struct Measured {
    rate: f64,
    p99_ms: f64,
    errors: usize,
}

impl Measured {
    fn of(rounds: Vec<Round>) -> Self {
        let seconds: f64 = rounds.iter().map(|round| round.seconds).sum();
        let errors = rounds.iter().map(|round| round.errors).sum();
        let mut latencies: Vec<Duration> = rounds
            .into_iter()
            .flat_map(|round| round.latencies)
            .collect();
        latencies.sort();
        let p99 = latencies
            .get(latencies.len() * 99 / 100)
            .copied()
            .unwrap_or_default();
        Measured {
            rate: latencies.len() as f64 / seconds,
            p99_ms: p99.as_secs_f64() * 1000.0,
            errors,
        }
    }
}

/// Sends beacons as fast as `CONCURRENCY` connections allow for `SECONDS`.
async fn load(url: &str, body: &str) -> Round {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (client, url, body) = (client.clone(), url.to_owned(), body.to_owned());
        workers.spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0);
            while Instant::now() < deadline {
                let started = Instant::now();
                let sent = client
                    .post(&url)
                    .header("content-type", "text/plain;charset=UTF-8")
                    .header("origin", ORIGIN)
                    .header("user-agent", CHROME)
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 204 => latencies.push(started.elapsed()),
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        });
    }
    let started = Instant::now();
    let mut round = Round {
        latencies: Vec::new(),
        errors: 0,
        seconds: 0.0,
    };
    for (mut worker_latencies, worker_errors) in workers.join_all().await {
        round.latencies.append(&mut worker_latencies);
        round.errors += worker_errors;
    }
    round.seconds = started.elapsed().as_secs_f64().max(SECONDS as f64);
    round
}

fn beacon(key: &str) -> String {
    serde_json::json!({
        "site": key, "url": "https://shop.example.com/products/42?ref=mail", "nav": "navigate",
        "metrics": {"lcp": 1834.2, "fcp": 912.0, "cls": 0.031, "inp": 96.0, "ttfb": 211.5, "redirect": 0.0,
                    "dns": 12.1, "connect": 35.2, "tls": 22.0, "download": 18.4, "dom_interactive": 1200.3,
                    "dom_content_loaded": 1300.8, "load": 2304.0},
        "env": {"vw": 1440, "vh": 900, "dpr": 2.0, "ect": "4g", "lang": "en-GB"},
        "hints": {"brands": [{"brand": "Google Chrome", "version": "120"}], "mobile": false,
                  "platform": "Windows", "platformVersion": "15.0.0",
                  "fullVersionList": [{"brand": "Google Chrome", "version": "120.0.6099.71"}]}
    })
    .to_string()
}

async fn run() {
    let data = tempfile::tempdir().expect("temporary directory");
    let data_dir = data.path().display().to_string();
    let sightline = Server::start(&[
        "--rum-site-rate",
        "1000000",
        "--rum-address-rate",
        "100000000",
        "--data-dir",
        &data_dir,
    ])
    .await;
    let site = sightline
        .post(
            "/api/v1/sites",
            serde_json::json!({"name": "bench", "origins": [ORIGIN]}),
        )
        .await;
    let body = beacon(site["site_key"].as_str().expect("site key"));

    let bare_port = free_port();
    let mut bare = Command::new(std::env::current_exe().expect("this benchmark"))
        .args(["--bare-server", &bare_port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the bare server");
    let bare_url = format!("http://127.0.0.1:{bare_port}/rum/v1/beacon");
    wait_for(&format!("http://127.0.0.1:{bare_port}/")).await;

    let collector_url = format!("{}/rum/v1/beacon", sightline.base);
    let (mut bare_rounds, mut collector_rounds) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        bare_rounds.push(load(&bare_url, &body).await);
        collector_rounds.push(load(&collector_url, &body).await);
    }
    let (reference, collector) = (Measured::of(bare_rounds), Measured::of(collector_rounds));
    let (bare_memory, collector_memory) =
        (peak_memory_mib(&bare), peak_memory_mib(&sightline.child));
    let _ = bare.kill();
    let _ = bare.wait();
    drop(sightline);

    println!(
        "collector benchmark: {CONCURRENCY} connections, {ROUNDS} rounds of {SECONDS} s each, taking turns, same beacon, same load generator"
    );
    println!(
        "bare axum 204:        {:>9.0} beacons/s   p99 {:>7.2} ms   peak memory {:>6.1} MiB   errors {}",
        reference.rate, reference.p99_ms, bare_memory, reference.errors
    );
    println!(
        "sightline (SQLite):   {:>9.0} beacons/s   p99 {:>7.2} ms   peak memory {:>6.1} MiB   errors {}",
        collector.rate, collector.p99_ms, collector_memory, collector.errors
    );
    println!(
        "ratio collector/bare: {:.2}",
        collector.rate / reference.rate
    );
}
