//! The collector against a bare server, under the same load, in one run.
//!
//! Starts `sightline serve` (release build) and a bare axum server that
//! only answers 204 on the same route, each a process of its own, and
//! loads each with wrk (Debian's, installed if missing) posting the beacon
//! rum.js sends, from 64 and from 256 connections. The two take turns,
//! `ROUNDS` of `SECONDS` each, so that the machine's own swings weigh on
//! both alike; then again with a CPU-bound neighbour (a process spinning on
//! one core), the way a shared machine runs. Each line shows wrk's own CPU
//! (one thread: near 100 % would mean the generator, not the server, was
//! the limit) and the server's CPU per beacon, the database's processes
//! included on PostgreSQL. At the end every 204 is checked against the page
//! views the site holds. On PostgreSQL, last, two `serve` processes share
//! the database and the load (a wrk each, half the connections each).
//! `SIGHTLINE_BENCH_SCENARIOS=sustained` instead sends 10 M beacons
//! (`SIGHTLINE_BENCH_SUSTAINED_VIEWS`), a day's worth at 10 M a day, a
//! minute at a time, and shows whether the rate holds as the table grows.
//! Run with `cargo bench -p sightline --bench
//! collector`; `SIGHTLINE_BENCH_BACKENDS` picks `sqlite`, `postgres` or
//! both (the default).

mod support;

use sightline_store::BackendKind;
use sightline_store::testing::TestDatabase;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::wrk::{self, Load, Round};
use support::{
    CHROME, ORIGIN, Server, ensure_package, free_port, now_ms, peak_memory_mib, postgres_pids,
    wait_for,
};

const ROUNDS: usize = 3;
const SECONDS: u64 = 5;
const CONNECTIONS: [usize; 2] = [64, 256];
const THREADS: usize = 1;

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
    if args.iter().any(|a| a == "--spin") {
        spin();
    }
    ensure_package("/usr/bin/wrk", "wrk");
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

/// The neighbour: one core's worth of work that never ends.
fn spin() -> ! {
    let mut x: u64 = 1;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
}

/// A process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

/// Two wrk runs at once against two servers, as one: responses, CPU and
/// errors summed over the same seconds, the worse p99.
fn side_by_side(first: &Round, second: &Round) -> Round {
    Round {
        requests: first.requests + second.requests,
        p99_ms: first.p99_ms.max(second.p99_ms),
        errors: first.errors + second.errors,
        server_cpu: first.server_cpu + second.server_cpu,
        wrk_cpu: first.wrk_cpu + second.wrk_cpu,
        seconds: (first.seconds + second.seconds) / 2.0,
    }
}

/// `sightline serve` on `database` with the per-site and per-address rate
/// limits out of the way.
async fn serve_unlimited(database: &TestDatabase) -> Server {
    Server::start(&[
        "--database-url",
        database.url(),
        "--rum-site-rate",
        "100000000",
        "--rum-address-rate",
        "100000000",
    ])
    .await
}

/// The benchmark's site on `server`, and the beacon rum.js sends for it.
async fn bench_site(server: &Server) -> (serde_json::Value, String) {
    let site = server
        .post(
            "/api/v1/sites",
            serde_json::json!({"name": "bench", "origins": [ORIGIN]}),
        )
        .await;
    let body = beacon(site["site_key"].as_str().expect("site key"));
    (site, body)
}

/// The page views the site holds since `started_ms`, once the last
/// beacons answered have had time to be committed.
async fn stored_page_views(server: &Server, site: &serde_json::Value, started_ms: i64) -> f64 {
    tokio::time::sleep(Duration::from_secs(3)).await;
    let summary = server
        .get(&format!(
            "/api/v1/sites/{}/rum/summary?from={}&to={}",
            site["id"],
            started_ms - 1000,
            now_ms() + 1000
        ))
        .await;
    summary["page_views"].as_f64().unwrap_or(0.0)
}

/// The headers a browser sends with a beacon.
fn beacon_headers() -> Vec<String> {
    vec![
        "Content-Type: text/plain;charset=UTF-8".to_owned(),
        format!("Origin: {ORIGIN}"),
        format!("User-Agent: {CHROME}"),
    ]
}

/// One condition (connections, neighbour or not): both servers' rounds.
struct Condition {
    connections: usize,
    neighbour: bool,
    bare: Round,
    collector: Round,
}

impl Condition {
    fn ratio(&self) -> f64 {
        self.collector.rate() / self.bare.rate()
    }
}

async fn run() {
    let backends = std::env::var("SIGHTLINE_BENCH_BACKENDS").unwrap_or_default();
    let bare_port = free_port();
    let bare = Process(
        Command::new(std::env::current_exe().expect("this benchmark"))
            .args(["--bare-server", &bare_port.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .expect("start the bare server"),
    );
    let bare_url = format!("http://127.0.0.1:{bare_port}/rum/v1/beacon");
    wait_for(&format!("http://127.0.0.1:{bare_port}/")).await;
    println!(
        "collector benchmark: wrk -t{THREADS}, the beacon rum.js sends, {ROUNDS} rounds of {SECONDS} s per server and condition, taking turns"
    );
    let scenarios = std::env::var("SIGHTLINE_BENCH_SCENARIOS").unwrap_or_default();
    for (kind, name) in [
        (BackendKind::Sqlite, "sqlite"),
        (BackendKind::Postgres, "postgres"),
    ] {
        if !backends.is_empty() && !backends.contains(name) {
            continue;
        }
        if scenarios.is_empty() || scenarios.contains("ratio") {
            bench_backend(kind, name, &bare, &bare_url).await;
        }
        if scenarios.contains("sustained") {
            let views = support::env_number("SIGHTLINE_BENCH_SUSTAINED_VIEWS", 10_000_000);
            sustained(kind, name, views).await;
        }
    }
}

/// A day's worth of page views at 10 M a day, sent as fast as the collector
/// takes them, a minute at a time, while the table grows (and the server's
/// rollups and retention run as always): does the rate hold?
async fn sustained(kind: BackendKind, name: &str, views: u64) {
    const MINUTE: u64 = 60;
    let database = TestDatabase::new(kind).await;
    let sightline = serve_unlimited(&database).await;
    let (site, body) = bench_site(&sightline).await;
    let url = format!("{}/rum/v1/beacon", sightline.base);
    let owned_headers = beacon_headers();
    let headers: Vec<&str> = owned_headers.iter().map(String::as_str).collect();
    let mut watched = vec![sightline.child.id()];
    if kind == BackendKind::Postgres {
        watched.extend(postgres_pids());
    }
    let load = Load {
        threads: THREADS,
        connections: CONNECTIONS[0],
        seconds: MINUTE,
        headers: &headers,
        body: Some(&body),
    };
    let started_ms = now_ms();
    println!(
        "\n## {name}: {views} beacons, wrk -t{THREADS} -c{} a minute at a time\n",
        CONNECTIONS[0]
    );
    println!("| minute | page views so far | beacons/s | p99 | CPU/beacon | errors |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut rounds = Vec::new();
    let mut answered = 0.0;
    while answered < views as f64 {
        let round = wrk::run(&url, &load, &watched);
        answered += round.requests;
        println!(
            "| {} | {answered:.0} | {:.0} | {:.2} ms | {:.1} µs | {} |",
            rounds.len() + 1,
            round.rate(),
            round.p99_ms,
            round.cpu_per_request_us(),
            round.errors
        );
        rounds.push(round);
    }
    let stored = stored_page_views(&sightline, &site, started_ms).await;
    let all = wrk::combined(&rounds);
    let day_rate = 10_000_000.0 / 86_400.0;
    println!(
        "\n{answered:.0} page views in {:.0} s: {:.0} a second on average, {:.0}× the average \
         rate of 10 M a day; page views stored: {stored:.0}",
        all.seconds,
        all.rate(),
        all.rate() / day_rate
    );
    assert!(
        stored >= answered,
        "{name}: {answered} beacons answered 204 but only {stored} page views stored"
    );
}

async fn bench_backend(kind: BackendKind, name: &str, bare: &Process, bare_url: &str) {
    let database = TestDatabase::new(kind).await;
    let sightline = serve_unlimited(&database).await;
    let (site, body) = bench_site(&sightline).await;
    let collector_url = format!("{}/rum/v1/beacon", sightline.base);
    let mut collector_pids = vec![sightline.child.id()];
    if kind == BackendKind::Postgres {
        collector_pids.extend(postgres_pids());
    }
    let started_ms = now_ms();
    let owned_headers = beacon_headers();
    let headers: Vec<&str> = owned_headers.iter().map(String::as_str).collect();
    let mut conditions = Vec::new();
    for neighbour in [false, true] {
        let _spinner = neighbour.then(|| {
            Process(
                Command::new(std::env::current_exe().expect("this benchmark"))
                    .arg("--spin")
                    .spawn()
                    .expect("start the neighbour"),
            )
        });
        for connections in CONNECTIONS {
            let load = Load {
                threads: THREADS,
                connections,
                seconds: SECONDS,
                headers: &headers,
                body: Some(&body),
            };
            let (mut bare_rounds, mut collector_rounds) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                bare_rounds.push(wrk::run(bare_url, &load, &[bare.0.id()]));
                collector_rounds.push(wrk::run(&collector_url, &load, &collector_pids));
            }
            conditions.push(Condition {
                connections,
                neighbour,
                bare: wrk::combined(&bare_rounds),
                collector: wrk::combined(&collector_rounds),
            });
        }
    }
    // PostgreSQL: a second process on the same database, each loaded by a
    // wrk of its own with half the connections.
    let mut shared = Vec::new();
    if kind == BackendKind::Postgres {
        let second = serve_unlimited(&database).await;
        let second_url = format!("{}/rum/v1/beacon", second.base);
        // PostgreSQL's processes counted once, with the second server's,
        // now that it has its connections too.
        let first_pids = [sightline.child.id()];
        let mut second_pids = vec![second.child.id()];
        second_pids.extend(postgres_pids());
        for connections in CONNECTIONS {
            let load = Load {
                threads: THREADS,
                connections: connections / 2,
                seconds: SECONDS,
                headers: &headers,
                body: Some(&body),
            };
            let rounds: Vec<Round> = (0..ROUNDS)
                .map(|_| {
                    std::thread::scope(|scope| {
                        let first = scope.spawn(|| wrk::run(&collector_url, &load, &first_pids));
                        let other = wrk::run(&second_url, &load, &[second.child.id()]);
                        side_by_side(&first.join().expect("wrk"), &other)
                    })
                })
                .collect();
            shared.push((connections, wrk::combined(&rounds)));
        }
    }
    // Every 204 is a committed page view: the site holds at least as many
    // (a beacon answered after wrk stopped counting is stored too).
    let answered: f64 = conditions.iter().map(|c| c.collector.requests).sum::<f64>()
        + shared.iter().map(|(_, round)| round.requests).sum::<f64>();
    let stored = stored_page_views(&sightline, &site, started_ms).await;
    let memory = peak_memory_mib(&sightline.child);
    drop(sightline);

    println!("\n## {name}\n");
    println!(
        "| connections | neighbour | bare axum beacons/s | p99 | CPU/beacon | wrk busy | sightline beacons/s | p99 | CPU/beacon{} | wrk busy | errors | ratio |",
        if kind == BackendKind::Postgres {
            " (with PostgreSQL)"
        } else {
            ""
        }
    );
    println!(
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for c in &conditions {
        println!(
            "| {} | {} | {:.0} | {:.2} ms | {:.1} µs | {:.0} % | {:.0} | {:.2} ms | {:.1} µs | {:.0} % | {} | {:.2} |",
            c.connections,
            if c.neighbour {
                "one core spinning"
            } else {
                "none"
            },
            c.bare.rate(),
            c.bare.p99_ms,
            c.bare.cpu_per_request_us(),
            100.0 * c.bare.wrk_busy(THREADS),
            c.collector.rate(),
            c.collector.p99_ms,
            c.collector.cpu_per_request_us(),
            100.0 * c.collector.wrk_busy(THREADS),
            c.bare.errors + c.collector.errors,
            c.ratio(),
        );
    }
    if !shared.is_empty() {
        println!(
            "\nTwo `serve` processes on the one database, each loaded by a wrk of its own with \
             half the connections, beside one process with all of them (the rows above without a \
             neighbour):\n"
        );
        println!(
            "| connections | one process beacons/s | two processes beacons/s | p99 | CPU/beacon (with PostgreSQL) | wrk busy | ratio |"
        );
        println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (connections, round) in &shared {
            let one = conditions
                .iter()
                .find(|c| c.connections == *connections && !c.neighbour)
                .map_or(0.0, |c| c.collector.rate());
            println!(
                "| {connections} | {one:.0} | {:.0} | {:.2} ms | {:.1} µs | {:.0} % | {:.2} |",
                round.rate(),
                round.p99_ms,
                round.cpu_per_request_us(),
                100.0 * round.wrk_busy(2 * THREADS),
                round.rate() / one
            );
        }
    }
    println!(
        "\n204s counted by wrk: {answered:.0}; page views stored: {stored:.0}; peak memory {memory:.0} MiB"
    );
    assert!(
        stored >= answered,
        "{name}: {answered} beacons answered 204 but only {stored} page views stored"
    );
}
