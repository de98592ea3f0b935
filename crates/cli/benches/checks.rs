//! Synthetic monitoring at scale: HTTP monitors every 60 s against a local
//! target, run by `sightline serve` (release build), which schedules, runs
//! and stores every check, on SQLite and on PostgreSQL, at 2,000 and at
//! 10,000 monitors. Reports how late checks start after their due time
//! (p50/p99) and the CPU per check of the server and, on PostgreSQL, of
//! every `postgres` process too; then, in the same run against the same
//! target and at the same rate, the CPU per probe of Prometheus's
//! blackbox_exporter, which only probes and stores nothing. The ratio of
//! the two is the figure.
//!
//! `cargo bench -p sightline --bench checks`. Environment:
//! `SIGHTLINE_BENCH_MONITORS` (a comma-separated list, default
//! `2000,10000`), `SIGHTLINE_BENCH_SECONDS` (measured period, default 120),
//! `SIGHTLINE_BENCH_BACKENDS` (`sqlite`, `postgres`; default both).

mod support;

use sightline_store::testing::TestDatabase;
use sightline_store::{BackendKind, GrowingTable, SystemClock};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{
    Server, cpu_seconds, ensure_package, env_number, free_port, now_ms, peak_memory_mib,
    percentile, postgres_pids, wait_for,
};

const BLACKBOX: &str = "/usr/bin/prometheus-blackbox-exporter";
/// How long blackbox_exporter is driven.
const PROBE_SECONDS: f64 = 60.0;

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
    let counts: Vec<u64> = std::env::var("SIGHTLINE_BENCH_MONITORS")
        .unwrap_or_else(|_| "2000,10000".to_owned())
        .split(',')
        .map(|count| count.trim().parse().expect("a number of monitors"))
        .collect();
    let seconds = env_number("SIGHTLINE_BENCH_SECONDS", 120);
    let backends = std::env::var("SIGHTLINE_BENCH_BACKENDS").unwrap_or_default();
    ensure_package(BLACKBOX, "prometheus-blackbox-exporter");
    let port = free_port();
    let mut target = Command::new(std::env::current_exe().expect("this benchmark"))
        .args(["--target", &port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the target");
    let url = format!("http://127.0.0.1:{port}/");
    wait_for(&url).await;

    let mut rows = Vec::new();
    for (kind, key, name) in [
        (BackendKind::Sqlite, "sqlite", "SQLite"),
        (BackendKind::Postgres, "postgres", "PostgreSQL"),
    ] {
        if !backends.is_empty() && !backends.contains(key) {
            continue;
        }
        for &monitors in &counts {
            let checks = run_sightline(kind, monitors, seconds, &url).await;
            let probes = run_blackbox(monitors, &url).await;
            let row = format!(
                "| {name} | {monitors} | {} of {:.0} due, {} not up | {} / {} / {} ms | {:.0} µs{} | {:.0} MiB | {:.0} B | {:.0} µs ({} probes, {} failed) | {:.2} |",
                checks.checks,
                checks.due,
                checks.failed,
                percentile(&checks.delays, 0.50),
                percentile(&checks.delays, 0.99),
                checks.delays.last().copied().unwrap_or(0),
                checks.cpu_per_check_us(),
                if checks.database_cpu > 0.0 {
                    format!(
                        " (of which PostgreSQL {:.0} µs)",
                        checks.database_cpu / checks.checks as f64 * 1e6
                    )
                } else {
                    String::new()
                },
                checks.memory,
                checks.bytes_per_result,
                probes.cpu_per_probe_us(),
                probes.probes,
                probes.failed,
                checks.cpu_per_check_us() / probes.cpu_per_probe_us(),
            );
            println!("{row}");
            rows.push(row);
        }
    }
    let _ = target.kill();
    let _ = target.wait();
    println!(
        "\n| backend | monitors | checks in {seconds} s | start delay p50 / p99 / max | \
         CPU per check (server and database) | peak memory | bytes per stored result | \
         blackbox_exporter CPU per probe | ratio |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in rows {
        println!("{row}");
    }
}

/// What the server did in the measured period.
struct Checks {
    /// Checks of due times inside the period.
    checks: usize,
    /// How many were due.
    due: f64,
    failed: usize,
    /// Start delays after the due time, sorted, in milliseconds.
    delays: Vec<i64>,
    /// CPU seconds of the server and the database together.
    cpu: f64,
    /// Of which the database's.
    database_cpu: f64,
    memory: f64,
    /// Bytes on disk per stored result.
    bytes_per_result: f64,
}

impl Checks {
    fn cpu_per_check_us(&self) -> f64 {
        self.cpu / self.checks as f64 * 1e6
    }
}

/// Applies `monitors` HTTP monitors to a fresh database, lets the server
/// bring them to their slots, and measures `seconds` of it.
async fn run_sightline(kind: BackendKind, monitors: u64, seconds: u64, url: &str) -> Checks {
    let database = TestDatabase::new(kind).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut yaml = String::from("monitors:\n");
    for index in 0..monitors {
        yaml.push_str(&format!(
            "  - {{name: \"m{index}\", type: http, url: \"{url}\", every: 1m, timeout: 10s, expect: {{status: [200], body_contains: \"shop is up\"}}}}\n"
        ));
    }
    let file = dir.path().join("monitors.yaml");
    std::fs::write(&file, yaml).expect("write monitors");
    let applied = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .arg("apply")
        .arg(&file)
        .args(["--database-url", database.url()])
        .stdout(Stdio::null())
        .status()
        .expect("apply");
    assert!(applied.success(), "apply failed");

    let server = Server::start(&["--database-url", database.url()]).await;
    let pid = server.child.id();
    // The first minute brings every monitor to its slot.
    tokio::time::sleep(Duration::from_secs(75)).await;
    let database_pids = match kind {
        BackendKind::Sqlite => Vec::new(),
        BackendKind::Postgres => postgres_pids(),
    };
    let database_cpu = || {
        database_pids
            .iter()
            .map(|pid| cpu_seconds(*pid))
            .sum::<f64>()
    };
    let (server_before, database_before, from) = (cpu_seconds(pid), database_cpu(), now_ms());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (server_after, database_after, to) = (cpu_seconds(pid), database_cpu(), now_ms());
    let memory = peak_memory_mib(&server.child);
    // Results of due times inside the window, once all have been stored.
    tokio::time::sleep(Duration::from_secs(12)).await;
    drop(server);

    let (rows, bytes_per_result) = stored_results(kind, &database, (from, to)).await;
    let failed = rows.iter().filter(|(_, up)| !up).count();
    let mut delays: Vec<i64> = rows.iter().map(|(delay, _)| *delay).collect();
    delays.sort_unstable();
    let database_cpu = database_after - database_before;
    Checks {
        checks: rows.len(),
        due: monitors as f64 * (to - from) as f64 / 60_000.0,
        failed,
        delays,
        cpu: server_after - server_before + database_cpu,
        database_cpu,
        memory,
        bytes_per_result,
    }
}

/// What blackbox_exporter did.
struct Probes {
    probes: f64,
    failed: usize,
    cpu: f64,
}

impl Probes {
    fn cpu_per_probe_us(&self) -> f64 {
        self.cpu / self.probes * 1e6
    }
}

/// The reference: blackbox_exporter probing the same target at the rate
/// of `monitors` every minute.
async fn run_blackbox(monitors: u64, url: &str) -> Probes {
    let dir = tempfile::tempdir().expect("temp dir");
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
    let probe = format!("http://127.0.0.1:{blackbox_port}/probe?module=http_2xx&target={url}");
    wait_for(&format!("http://127.0.0.1:{blackbox_port}/metrics")).await;
    let client = reqwest::Client::new();
    let rate = monitors as f64 / 60.0;
    let before = cpu_seconds(blackbox.id());
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut pending = Vec::new();
    let driving = Instant::now();
    while driving.elapsed().as_secs_f64() < PROBE_SECONDS {
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
    let mut failed = 0;
    for task in pending {
        if task.await.unwrap_or(false) {
            probes += 1.0;
        } else {
            failed += 1;
        }
    }
    let cpu = cpu_seconds(blackbox.id()) - before;
    let _ = blackbox.kill();
    let _ = blackbox.wait();
    Probes {
        probes,
        failed,
        cpu,
    }
}

/// Each first attempt due in `[from, to)`: how late it started, and whether
/// it found the target up; and the bytes a stored result takes on disk
/// (the table and its indexes over its rows).
async fn stored_results(
    kind: BackendKind,
    database: &TestDatabase,
    window: (i64, i64),
) -> (Vec<(i64, bool)>, f64) {
    let store = database.store(Arc::new(SystemClock)).await;
    let bytes = store
        .table_bytes(GrowingTable::CheckResults)
        .await
        .expect("size");
    store.close().await;
    let url = database.url();
    let (rows, count) = match kind {
        BackendKind::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.expect("open SQLite");
            first_attempts(&pool, window).await
        }
        BackendKind::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.expect("open PostgreSQL");
            first_attempts(&pool, window).await
        }
    };
    (rows, bytes as f64 / count.max(1) as f64)
}

/// The first attempts due in `[from, to)` (delay, up) and how many results
/// are stored in all.
async fn first_attempts<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    (from, to): (i64, i64),
) -> (Vec<(i64, bool)>, i64)
where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'r> (i64, bool): sqlx::FromRow<'r, DB::Row>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let rows = sqlx::query_as(
        "SELECT started_at - due_at, outcome = 'up' FROM check_results \
         WHERE attempt = 0 AND due_at >= $1 AND due_at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .expect("results");
    let count = sqlx::query_scalar("SELECT COUNT(*) FROM check_results")
        .fetch_one(pool)
        .await
        .expect("count");
    (rows, count)
}
