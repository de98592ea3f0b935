//! The web UI with a large store, timed in a real browser.
//!
//! Fills a fresh database with `SIGHTLINE_BENCH_MONITORS` HTTP monitors
//! (1,000 by default) with a month of results (every 30 minutes, every 5
//! minutes in the last day, one check in fifty failing), and
//! `SIGHTLINE_BENCH_PAGE_VIEWS` page views (1,000,000) over 30 days of
//! realistic traffic, rolled up as the server would. Then starts the
//! release `sightline serve` on it (its monitors keep running, every 5
//! minutes, against a target on 127.0.0.1) and opens, in headless Chromium
//! driven by chromedriver, the overview and the RUM dashboard over 24 hours
//! and over 30 days. Each screen is timed with the Performance API, from
//! navigation start to the mark the screen sets when it first shows all
//! its data (`sightline:overview-complete`, `sightline:site-complete`).
//!
//! The reference, measured the same way in the same run: the same screens
//! on a small store (10 monitors, 1,000 page views). Prints the median of
//! five loads after a first one, next to the reference and the 1 s goal,
//! and when the screen's last API answer had arrived (the rest is drawing).
//! `SIGHTLINE_BENCH_BACKENDS` picks `sqlite`, `postgres` or both (the
//! default). Run with `cargo bench -p sightline --bench ui`.

mod support;

use serde_json::json;
use sightline_core::monitor::{CheckOutcome, CheckReport, PhaseTimings, Problem, ProblemKind};
use sightline_core::{MonitorSpec, SiteSpec, Timestamp};
use sightline_store::testing::TestDatabase;
use sightline_store::{BackendKind, Completion, NewCheckResult, Store, SystemClock};
use sightline_synthetic::browser::{BrowserConfig, BrowserPool};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::traffic::{fill, roll};
use support::{Server, ensure_package, env_number};

const DAY_MS: i64 = 24 * 3_600_000;
const DAYS: i64 = 30;
const RUNS: usize = 5;
/// Results written per transaction.
const RESULT_BATCH: usize = 5_000;

#[tokio::main]
async fn main() {
    ensure_package("/usr/bin/chromium", "chromium");
    ensure_package("/usr/bin/chromedriver", "chromium-driver");
    let monitors = env_number("SIGHTLINE_BENCH_MONITORS", 1_000) as usize;
    let page_views = env_number("SIGHTLINE_BENCH_PAGE_VIEWS", 1_000_000);
    let backends = std::env::var("SIGHTLINE_BENCH_BACKENDS").unwrap_or_default();
    let target = support::serve_ok().await;
    for (kind, name) in [
        (BackendKind::Sqlite, "sqlite"),
        (BackendKind::Postgres, "postgres"),
    ] {
        if !backends.is_empty() && !backends.contains(name) {
            continue;
        }
        let small = Scene::fill(kind, 10, 1_000, &target).await;
        let large = Scene::fill(kind, monitors, page_views, &target).await;
        println!(
            "\n## {name}: {monitors} monitors ({} results), {page_views} page views\n\n\
             filled in {:.0} s\n",
            large.results,
            large.fill_time.as_secs_f64()
        );
        let small_times = small.time_screens().await;
        let large_times = large.time_screens().await;
        println!(
            "| screen | 10 monitors, 1,000 page views | {monitors} monitors, {page_views} page views | ratio | of which data | first load | goal |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for (small, large) in small_times.iter().zip(&large_times) {
            println!(
                "| {} | {:.0} ms | {:.0} ms | {:.2} | {:.0} ms | {:.0} ms | 1 s |",
                large.screen,
                small.median,
                large.median,
                large.median / small.median,
                large.data,
                large.first
            );
        }
        println!();
        for large in &large_times {
            println!("- {}: {}", large.screen, large.requests);
        }
    }
}

/// A database filled with monitors and traffic, served by `sightline serve`.
struct Scene {
    _database: TestDatabase,
    server: Server,
    site_id: i64,
    monitors: usize,
    page_views: u64,
    results: u64,
    fill_time: Duration,
}

/// How long a screen took to be complete.
struct ScreenTime {
    screen: String,
    /// The first load, in a fresh browser.
    first: f64,
    /// The median of the next `RUNS` loads.
    median: f64,
    /// When its last API answer had arrived, in that median load.
    data: f64,
    /// Its API requests and their times, in that median load.
    requests: String,
}

/// One load of a screen, in milliseconds after navigation start.
#[derive(Clone)]
struct Load {
    /// The screen showed all its data.
    complete: f64,
    /// The last API answer it waited for had arrived.
    data: f64,
    /// Each API request with how long it took.
    requests: String,
}

impl Scene {
    async fn fill(kind: BackendKind, monitors: usize, page_views: u64, target: &str) -> Scene {
        let started = Instant::now();
        let database = TestDatabase::new(kind).await;
        let store = database.store(Arc::new(SystemClock)).await;
        let site = store
            .create_site(
                &SiteSpec {
                    name: "shop".to_owned(),
                    origins: vec!["https://shop.example.com".to_owned()],
                    keep_query_string: false,
                    alert_policy: None,
                },
                "bench-site-key",
            )
            .await
            .expect("create the site");
        let now = store.now().as_millis();
        // All inside the dashboard's last 30 days however long the run takes.
        let first = now - DAYS * DAY_MS + 3_600_000;
        fill(&store, site.id, page_views, (first, now)).await;
        roll(&store, site.id).await;
        let results = fill_monitors(&store, monitors, target, now).await;
        store.close().await;
        let server = Server::start(&["--database-url", database.url()]).await;
        Scene {
            _database: database,
            server,
            site_id: site.id,
            monitors,
            page_views,
            results,
            fill_time: started.elapsed(),
        }
    }

    /// Times the overview and the RUM dashboard in a fresh browser.
    async fn time_screens(&self) -> Vec<ScreenTime> {
        let profiles = tempfile::tempdir().expect("profiles");
        let pool = BrowserPool::new(BrowserConfig {
            sessions: 1,
            profiles: profiles.path().to_owned(),
            ..BrowserConfig::default()
        })
        .expect("a browser");
        let base = self.server.base.clone();
        let site = format!("/sites/{}", self.site_id);
        let screens = [
            (
                "overview".to_owned(),
                "/".to_owned(),
                "sightline:overview-complete",
            ),
            (
                "RUM dashboard, 24 hours".to_owned(),
                format!("{site}?range=24h"),
                "sightline:site-complete",
            ),
            (
                "RUM dashboard, 30 days".to_owned(),
                format!("{site}?range=30d"),
                "sightline:site-complete",
            ),
        ];
        let (monitors, page_views) = (self.monitors, self.page_views);
        pool.run(Duration::from_secs(900), async |browser| {
            // Log in as a person would, then keep the session cookie.
            browser.goto(&base).await.expect("open the UI");
            let status = browser
                .execute(
                    "return fetch('/api/v1/session', {method: 'POST', \
                     headers: {'content-type': 'application/json'}, \
                     body: JSON.stringify({email: arguments[0], password: arguments[1]})}) \
                     .then((r) => r.status)",
                    vec![json!(support::ADMIN_EMAIL), json!(support::ADMIN_PASSWORD)],
                )
                .await
                .expect("log in");
            assert_eq!(status, json!(200), "logging in");
            let mut times = Vec::new();
            for (screen, path, mark) in &screens {
                let url = format!("{base}{path}");
                let mut loads = Vec::new();
                for _ in 0..=RUNS {
                    browser.goto(&url).await.expect("open the screen");
                    loads.push(complete_at(browser, mark).await);
                }
                check_screen(browser, path, monitors, page_views).await;
                let first = loads.remove(0);
                loads.sort_by(|a, b| a.complete.total_cmp(&b.complete));
                let median = loads.swap_remove(RUNS / 2);
                times.push(ScreenTime {
                    screen: screen.clone(),
                    first: first.complete,
                    median: median.complete,
                    data: median.data,
                    requests: median.requests,
                });
            }
            times
        })
        .await
        .expect("the browser ran")
    }
}

/// When the page set `mark`, and when the last of its API answers had
/// arrived, in milliseconds after navigation start.
async fn complete_at(browser: &fantoccini::Client, mark: &str) -> Load {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let at = browser
            .execute(
                "const m = performance.getEntriesByName(arguments[0], 'mark')[0]; \
                 if (!m) return null; \
                 const api = performance.getEntriesByType('resource') \
                   .filter((e) => e.name.includes('/api/v1/') && e.responseEnd <= m.startTime); \
                 return [m.startTime, Math.max(0, ...api.map((e) => e.responseEnd)), \
                   api.map((e) => `${new URL(e.name).pathname} ${Math.round(e.responseEnd - e.startTime)} ms`).join(', ')];",
                vec![json!(mark)],
            )
            .await
            .expect("read the mark");
        if let Some(load) = at.as_array().map(|pair| Load {
            complete: pair[0].as_f64().unwrap_or(f64::NAN),
            data: pair[1].as_f64().unwrap_or(f64::NAN),
            requests: pair[2].as_str().unwrap_or_default().to_owned(),
        }) {
            return load;
        }
        assert!(Instant::now() < deadline, "{mark} never came");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The screen shows what the store holds: every monitor, every page view.
async fn check_screen(browser: &fantoccini::Client, path: &str, monitors: usize, page_views: u64) {
    if path == "/" {
        let rows = browser
            .execute(
                "return document.querySelectorAll('tr[data-monitor] svg.sparkline').length",
                vec![],
            )
            .await
            .expect("count rows");
        assert_eq!(rows, json!(monitors), "every monitor with its sparkline");
    } else if path.ends_with("30d") {
        let views = browser
            .execute(
                "return document.querySelector('[data-metric=page_views] strong').textContent",
                vec![],
            )
            .await
            .expect("read page views");
        let digits: String = views
            .as_str()
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        assert_eq!(digits, page_views.to_string(), "every page view counted");
    }
}

/// `count` HTTP monitors against `target`, each with a month of results;
/// returns how many results.
async fn fill_monitors(store: &Store, count: usize, target: &str, now: i64) -> u64 {
    let local = store
        .ensure_checkpoint("local")
        .await
        .expect("local checkpoint");
    let tags = ["web", "api", "payments", "edge", "internal"];
    let mut pending = Vec::with_capacity(RESULT_BATCH);
    let mut written = 0u64;
    let mut rng = fastrand::Rng::with_seed(20_261_129);
    for index in 0..count {
        let spec = MonitorSpec::from_json(json!({
            "name": format!("service-{index:04}"),
            "type": "http",
            "url": format!("{target}/service/{index}"),
            "every": "5m",
            "tags": [tags[index % tags.len()]],
        }))
        .expect("monitor spec");
        let monitor = store.create_monitor(&spec).await.expect("create monitor");
        let mut at = now - DAYS * DAY_MS + rng.i64(0..1_800_000);
        while at < now - 60_000 {
            let step = if at < now - DAY_MS {
                1_800_000
            } else {
                300_000
            };
            let failed = rng.u32(0..50) == 0;
            pending.extend(results_at(monitor.id, local.id, at, failed, &mut rng));
            at += step;
            if pending.len() >= RESULT_BATCH {
                written += pending.len() as u64;
                store.complete_jobs(&pending).await.expect("store results");
                pending.clear();
            }
        }
    }
    written += pending.len() as u64;
    store.complete_jobs(&pending).await.expect("store results");
    let everything = Timestamp::from(i64::MAX);
    while store
        .roll_check_summaries(everything, 50_000)
        .await
        .expect("roll results")
        > 0
    {}
    written
}

/// A check at `at`, and for a failure its confirmation.
fn results_at(
    monitor_id: i64,
    checkpoint_id: i64,
    at: i64,
    failed: bool,
    rng: &mut fastrand::Rng,
) -> Vec<Completion> {
    let duration_ms = 40 + rng.i64(0..200);
    let report = CheckReport {
        outcome: if failed {
            CheckOutcome::Error
        } else {
            CheckOutcome::Up
        },
        problem: failed.then(|| Problem::new(ProblemKind::Status, "expected status 200, got 503")),
        status_code: Some(if failed { 503 } else { 200 }),
        timings: PhaseTimings {
            dns_ms: Some(1),
            connect_ms: Some(2),
            tls_ms: None,
            first_byte_ms: Some(duration_ms - 5),
            download_ms: Some(2),
        },
        duration_ms,
        response_bytes: Some(2_048),
        detail: json!({}),
        screenshots: Vec::new(),
    };
    let first = NewCheckResult {
        monitor_id,
        checkpoint_id,
        due_at: Timestamp::from(at),
        attempt: 0,
        started_at: Timestamp::from(at + 5),
        report,
        in_maintenance: false,
        confirmed_error: false,
        downtime_ms: 0,
    };
    let mut results = vec![first.clone()];
    if failed {
        results.push(NewCheckResult {
            attempt: 1,
            started_at: Timestamp::from(at + 10_000),
            confirmed_error: true,
            downtime_ms: 300_000,
            ..first
        });
    }
    results
        .into_iter()
        .map(|result| Completion {
            job_id: None,
            status: Some(if failed { "down" } else { "up" }.to_owned()),
            result,
            follow_up: Vec::new(),
        })
        .collect()
}
