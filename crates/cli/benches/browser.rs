//! Browser checks: what a full-page performance check costs beside a bare
//! page load, and how many browser checks a 2-core checkpoint gets through.
//!
//! The page (HTML, a stylesheet, a script, three images) is served on
//! 127.0.0.1. Measured in the same run, on the same Chromium:
//! - the reference: `goto` of the page in a browser that is already open
//!   (what a page load itself costs);
//! - the measurement alone: the same, plus the metrics and waterfall
//!   script in that open browser;
//! - the whole check, as a checkpoint runs it: a fresh chromedriver and
//!   Chromium with a new profile, the measured load, the verdict, teardown;
//! - throughput: checks due at once on a pool of two sessions, against
//!   bare loads in two open browsers.
//!
//! `cargo bench -p sightline --bench browser`. Environment:
//! `SIGHTLINE_BENCH_LOADS` (samples per figure, default 20),
//! `SIGHTLINE_BENCH_CHECKS` (checks for throughput, default 30).

mod support;

use serde_json::json;
use sightline_core::MonitorSpec;
use sightline_store::SystemClock;
use sightline_synthetic::browser::{BrowserConfig, BrowserPool, measure_page_load};
use sightline_synthetic::{Prober, ProberConfig, Secrets};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{ensure_package, env_number, percentile};

fn main() {
    ensure_package("/usr/bin/chromium", "chromium");
    ensure_package("/usr/bin/chromedriver", "chromium-driver");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

/// A small shop page with the kinds of requests real pages make.
async fn page() -> String {
    let html = "<!doctype html><html><head><title>Shop</title>\
        <link rel=stylesheet href=/style.css><script src=/app.js defer></script></head>\
        <body><h1>Fresh coffee</h1><img src=/a.svg><img src=/b.svg><img src=/c.svg>\
        <p>Roasted daily, shipped in two days.</p></body></html>";
    let svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='300' height='200'>\
         <rect width='300' height='200' fill='#a52'/><!-- {} --></svg>",
        "x".repeat(30_000)
    );
    let svg = move || {
        let svg = svg.clone();
        async move { ([("content-type", "image/svg+xml")], svg) }
    };
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(move || async move { axum::response::Html(html) }),
        )
        .route(
            "/style.css",
            axum::routing::get(|| async {
                (
                    [("content-type", "text/css")],
                    "body{font:16px sans-serif}h1{color:#a52}",
                )
            }),
        )
        .route(
            "/app.js",
            axum::routing::get(|| async {
                (
                    [("content-type", "text/javascript")],
                    "document.body.dataset.ready = '1';",
                )
            }),
        )
        .route("/a.svg", axum::routing::get(svg.clone()))
        .route("/b.svg", axum::routing::get(svg.clone()))
        .route("/c.svg", axum::routing::get(svg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/")
}

fn config(sessions: usize, profiles: &std::path::Path) -> BrowserConfig {
    BrowserConfig {
        sessions,
        profiles: profiles.to_owned(),
        ..BrowserConfig::default()
    }
}

fn millis(since: Instant) -> i64 {
    since.elapsed().as_millis() as i64
}

fn p50(mut samples: Vec<i64>) -> i64 {
    samples.sort_unstable();
    percentile(&samples, 0.5)
}

async fn run() {
    let loads = env_number("SIGHTLINE_BENCH_LOADS", 20) as usize;
    let checks = env_number("SIGHTLINE_BENCH_CHECKS", 30) as usize;
    let profiles = tempfile::tempdir().expect("profiles");
    let url = page().await;
    let pool = BrowserPool::new(config(2, profiles.path())).expect("a browser");

    // In one open browser: bare loads, then measured loads, interleaved
    // so that both see the same machine.
    let (bare, measured) = pool
        .run(Duration::from_secs(600), async |browser| {
            let (mut bare, mut measured) = (Vec::new(), Vec::new());
            // Warm up the browser and the page's cache rules alike.
            browser.goto(&url).await.expect("load");
            for _ in 0..loads {
                browser.goto("about:blank").await.expect("blank");
                let start = Instant::now();
                browser.goto(&url).await.expect("load");
                bare.push(millis(start));
                browser.goto("about:blank").await.expect("blank");
                let start = Instant::now();
                measure_page_load(browser, &url).await.expect("measure");
                measured.push(millis(start));
            }
            (bare, measured)
        })
        .await
        .expect("browser");
    let (bare, measured) = (p50(bare), p50(measured));

    // Whole checks, one at a time, as the checkpoint runs them.
    let prober = Prober::new(
        ProberConfig {
            browser: config(2, profiles.path()),
            ..ProberConfig::default()
        },
        Arc::new(SystemClock),
    )
    .expect("prober");
    let spec = MonitorSpec::from_json(json!({"name": "shop", "type": "browser", "url": url,
        "expect": {"max_load_ms": 10_000, "text": "Fresh coffee"}}))
    .expect("spec");
    let mut whole = Vec::new();
    for _ in 0..loads {
        let start = Instant::now();
        let report = prober.run(&spec, &Secrets::default()).await;
        assert_eq!(report.problem, None, "{report:?}");
        whole.push(millis(start));
    }
    let whole = p50(whole);

    // Throughput: every check due at once, two sessions.
    let start = Instant::now();
    let runs: Vec<_> = (0..checks)
        .map(|_| {
            let (prober, spec) = (prober.clone(), spec.clone());
            tokio::spawn(async move { prober.run(&spec, &Secrets::default()).await })
        })
        .collect();
    for run in runs {
        let report = run.await.expect("check");
        assert_eq!(report.problem, None, "{report:?}");
    }
    let per_minute = checks as f64 * 60.0 / start.elapsed().as_secs_f64();
    // The reference: as many bare loads in two browsers already open
    // (timed from when both are open).
    let per_browser = checks.div_ceil(2);
    let ready = Arc::new(tokio::sync::Barrier::new(2));
    let browsers: Vec<_> = (0..2)
        .map(|_| {
            let (pool, url, ready) = (pool.clone(), url.clone(), ready.clone());
            tokio::spawn(async move {
                pool.run(Duration::from_secs(600), async |browser| {
                    browser.goto(&url).await.expect("load");
                    ready.wait().await;
                    let start = Instant::now();
                    for _ in 0..per_browser {
                        browser.goto("about:blank").await.expect("blank");
                        browser.goto(&url).await.expect("load");
                    }
                    start.elapsed()
                })
                .await
                .expect("browser")
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for browser in browsers {
        slowest = slowest.max(browser.await.expect("browser"));
    }
    let bare_per_minute = (per_browser * 2) as f64 * 60.0 / slowest.as_secs_f64();

    println!("browser checks, {loads} samples each (p50), 2 sessions, {checks} checks due at once");
    println!("  bare page load in an open browser      {bare:>6} ms   (reference)");
    println!(
        "  measured load in an open browser        {measured:>6} ms   {:.1}x  (+{} ms: metrics, waterfall, waiting for the page to go quiet)",
        measured as f64 / bare.max(1) as f64,
        measured - bare
    );
    println!(
        "  whole check (fresh browser, measured)   {whole:>6} ms   {:.1}x  (+{} ms over the bare load, of which {} ms start and stop a fresh browser)",
        whole as f64 / bare.max(1) as f64,
        whole - bare,
        whole - measured
    );
    println!(
        "  throughput: {per_minute:.0} checks/min; bare loads in two open browsers {bare_per_minute:.0}/min; ratio {:.3}",
        per_minute / bare_per_minute
    );
}
