//! Synthetic monitoring at scale: 10,000 HTTP monitors every 60 s against a
//! local target, run by `sightline serve` (release build, SQLite), which
//! schedules, runs and stores every check. Reports how late checks start
//! after their due time (p50/p99), the CPU and memory the server uses, and,
//! measured in the same run against the same target, the CPU cost per probe
//! of Prometheus's blackbox_exporter, which only probes and stores nothing.
//!
//! `cargo bench -p sightline --bench checks`. Environment:
//! `SIGHTLINE_BENCH_MONITORS` (default 10000), `SIGHTLINE_BENCH_SECONDS`
//! (measured period, default 120).

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{
    Server, cpu_seconds, ensure_package, env_number, free_port, now_ms, peak_memory_mib,
    percentile, wait_for,
};

const BLACKBOX: &str = "/usr/bin/prometheus-blackbox-exporter";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(port) = args
        .iter()
        .position(|a| a == "--target")
        .and_then(|i| args.get(i + 1))
    {
        target(port);
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

/// The target both checkers probe: a small page, answered at once. Runs in
/// a process of its own so that its CPU is nobody's.
fn target(port: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(|| async { "<html><body>shop is up</body></html>" }),
        );
        let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
            .await
            .expect("bind");
        axum::serve(listener, app).await.expect("serve");
    });
}

async fn run() {
    let monitors = env_number("SIGHTLINE_BENCH_MONITORS", 10_000);
    let seconds = env_number("SIGHTLINE_BENCH_SECONDS", 120);
    let port = free_port();
    let mut target = Command::new(std::env::current_exe().expect("this benchmark"))
        .args(["--target", &port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the target");
    let url = format!("http://127.0.0.1:{port}/");
    wait_for(&url).await;

    // The monitors, applied as code before the server starts.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut yaml = String::from("monitors:\n");
    for index in 0..monitors {
        yaml.push_str(&format!(
            "  - {{name: \"m{index}\", type: http, url: \"{url}\", every: 1m, timeout: 10s, expect: {{status: [200], body_contains: \"shop is up\"}}}}\n"
        ));
    }
    let file = dir.path().join("monitors.yaml");
    std::fs::write(&file, yaml).expect("write monitors");
    let started = Instant::now();
    let applied = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .arg("apply")
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::null())
        .status()
        .expect("apply");
    assert!(applied.success(), "apply failed");
    println!(
        "applied {monitors} monitors in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let server = Server::start(&["--data-dir", data.to_str().expect("path")]).await;
    let pid = server.child.id();
    // The first minute brings every monitor to its slot.
    tokio::time::sleep(Duration::from_secs(75)).await;
    let (cpu_before, from) = (cpu_seconds(pid), now_ms());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (cpu_after, to) = (cpu_seconds(pid), now_ms());
    let memory = peak_memory_mib(&server.child);
    // Results of due times inside the window, once all have been stored.
    tokio::time::sleep(Duration::from_secs(12)).await;
    drop(server);

    let database = rusqlite::Connection::open(data.join("sightline.db")).expect("open database");
    let mut statement = database
        .prepare(
            "SELECT started_at - due_at, outcome FROM check_results \
             WHERE attempt = 0 AND due_at >= ?1 AND due_at < ?2",
        )
        .expect("query");
    let rows: Vec<(i64, String)> = statement
        .query_map([from, to], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("rows")
        .map(|row| row.expect("row"))
        .collect();
    let checks = rows.len() as f64;
    let failed = rows.iter().filter(|(_, outcome)| outcome != "up").count();
    let mut delays: Vec<i64> = rows.iter().map(|(delay, _)| *delay).collect();
    delays.sort_unstable();
    let window = (to - from) as f64 / 1000.0;
    let expected = monitors as f64 * window / 60.0;
    let sightline_cpu = cpu_after - cpu_before;
    let sightline_per_check = sightline_cpu / checks * 1e6;

    // The reference: blackbox_exporter probing the same target at the same rate.
    ensure_package(BLACKBOX, "prometheus-blackbox-exporter");
    let config = dir.path().join("blackbox.yml");
    std::fs::write(
        &config,
        "modules:\n  http_2xx:\n    prober: http\n    timeout: 10s\n    http:\n      valid_status_codes: [200]\n      fail_if_body_not_matches_regexp: [\"shop is up\"]\n",
    )
    .expect("write blackbox config");
    let blackbox_port = free_port();
    let mut blackbox = Command::new(BLACKBOX)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{blackbox_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start blackbox_exporter");
    let probe = format!(
        "http://127.0.0.1:{blackbox_port}/probe?module=http_2xx&target={}",
        url
    );
    wait_for(&format!("http://127.0.0.1:{blackbox_port}/metrics")).await;
    let client = reqwest::Client::new();
    let rate = monitors as f64 / 60.0;
    let probe_seconds = 60.0;
    let blackbox_before = cpu_seconds(blackbox.id());
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut pending = Vec::new();
    let driving = Instant::now();
    while driving.elapsed().as_secs_f64() < probe_seconds {
        tick.tick().await;
        let client = client.clone();
        let probe = probe.clone();
        pending.push(tokio::spawn(async move {
            match client.get(&probe).send().await {
                Ok(response) => response
                    .text()
                    .await
                    .is_ok_and(|body| body.contains("probe_success 1")),
                Err(_) => false,
            }
        }));
    }
    let mut probes = 0.0;
    let mut probe_failures = 0;
    for task in pending {
        if task.await.unwrap_or(false) {
            probes += 1.0;
        } else {
            probe_failures += 1;
        }
    }
    let blackbox_cpu = cpu_seconds(blackbox.id()) - blackbox_before;
    let blackbox_memory = peak_memory_mib(&blackbox);
    let _ = blackbox.kill();
    let _ = blackbox.wait();
    let _ = target.kill();
    let _ = target.wait();
    let blackbox_per_probe = blackbox_cpu / probes * 1e6;

    println!(
        "sightline: {monitors} HTTP monitors every 60 s; {checks} checks due in {window:.0} s \
         ({:.1}/s, {:.1}% of the {expected:.0} due), {failed} not up",
        checks / window,
        checks * 100.0 / expected
    );
    println!(
        "start delay after due time: p50 {} ms, p99 {} ms, max {} ms (goal: p99 < 1000 ms)",
        percentile(&delays, 0.50),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(0)
    );
    println!(
        "sightline CPU: {:.1}% of a core, {sightline_per_check:.0} µs per check (schedule, run, store); \
         peak memory {memory:.0} MiB",
        sightline_cpu * 100.0 / window
    );
    println!(
        "blackbox_exporter CPU: {blackbox_per_probe:.0} µs per probe ({probes} probes, \
         {probe_failures} failed; stores nothing); peak memory {blackbox_memory:.0} MiB"
    );
    println!(
        "CPU per check, sightline / blackbox_exporter: {:.2} (goal: below 1)",
        sightline_per_check / blackbox_per_probe
    );
}
