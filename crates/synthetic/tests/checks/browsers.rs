//! The browser pool with real headless Chromium and chromedriver: a check
//! gets a working browser, a check past its time limit is stopped, a
//! crashed browser does not reach the next check, and nothing is left
//! running afterwards.

use crate::targets::serve;
use sightline_synthetic::browser::{BrowserConfig, BrowserError, BrowserPool};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn config(profiles: &Path, sessions: usize) -> BrowserConfig {
    let path = |variable: &str, default: &str| {
        PathBuf::from(std::env::var(variable).unwrap_or_else(|_| default.to_owned()))
    };
    BrowserConfig {
        chromium: path("SIGHTLINE_CHROMIUM", "/usr/bin/chromium"),
        chromedriver: path("SIGHTLINE_CHROMEDRIVER", "/usr/bin/chromedriver"),
        sessions,
        profiles: profiles.to_owned(),
    }
}

/// Processes whose command line names `needle`.
pub fn processes_naming(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

/// Children of this test process that are chromedriver.
pub fn drivers_left() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((name, rest)) = stat.split_once(") ") else {
            continue;
        };
        let parent = rest.split_whitespace().nth(1).unwrap_or_default();
        if parent == me && name.contains("chromedriver") {
            found.push(stat);
        }
    }
    found
}

async fn page(body: &'static str) -> String {
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(body) }),
    );
    format!("http://{}/", serve(app).await)
}

#[tokio::test]
async fn browsers_are_fresh_bounded_stopped_and_leave_nothing_behind() {
    let profiles = tempfile::tempdir().unwrap();
    let root = profiles.path().to_string_lossy().into_owned();
    let pool = BrowserPool::new(config(profiles.path(), 2)).unwrap();
    let url = page("<!doctype html><title>Shop</title><h1>Welcome</h1>").await;

    // A check gets a working browser.
    let title = pool
        .run(Duration::from_secs(30), async |browser| {
            browser.goto(&url).await.unwrap();
            browser.title().await.unwrap()
        })
        .await
        .unwrap();
    assert_eq!(title, "Shop");

    // A browser killed in the middle of a check fails that check only.
    let crashed = pool
        .run(Duration::from_secs(30), async |browser| {
            browser.goto(&url).await.unwrap();
            for process in processes_naming(&root) {
                let pid = process.split(':').next().unwrap().to_owned();
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid])
                    .status();
            }
            browser.goto(&url).await.is_err()
        })
        .await
        .unwrap();
    assert!(crashed, "the killed browser cannot load pages");
    let title = pool
        .run(Duration::from_secs(30), async |browser| {
            browser.goto(&url).await.unwrap();
            browser.title().await.unwrap()
        })
        .await
        .unwrap();
    assert_eq!(title, "Shop", "the next check has a healthy browser");

    // A check past its time limit is stopped.
    let started = Instant::now();
    let stopped = pool
        .run(Duration::from_secs(5), async |browser| {
            browser.goto(&url).await.unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
        })
        .await;
    assert!(
        matches!(stopped, Err(BrowserError::TimedOut(_))),
        "{stopped:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(12));

    // Six checks on a pool of two: never more than two browsers at once.
    let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let checks = (0..6).map(|_| {
        let (pool, url, running, most) = (pool.clone(), url.clone(), running.clone(), most.clone());
        tokio::spawn(async move {
            pool.run(Duration::from_secs(60), async |browser| {
                use std::sync::atomic::Ordering::SeqCst;
                let now = running.fetch_add(1, SeqCst) + 1;
                most.fetch_max(now, SeqCst);
                browser.goto(&url).await.unwrap();
                running.fetch_sub(1, SeqCst);
            })
            .await
            .unwrap()
        })
    });
    for check in checks.collect::<Vec<_>>() {
        check.await.unwrap();
    }
    assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 2);

    // Nothing is left: no Chromium with a profile of this pool, no
    // chromedriver, no profile directory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(processes_naming(&root), Vec::<String>::new());
    assert_eq!(drivers_left(), Vec::<String>::new());
    assert_eq!(std::fs::read_dir(profiles.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_checkpoint_without_a_browser_says_so() {
    let profiles = tempfile::tempdir().unwrap();
    let mut missing = config(profiles.path(), 1);
    missing.chromedriver = PathBuf::from("/nonexistent/chromedriver");
    let error = BrowserPool::new(missing).unwrap_err();
    assert_eq!(
        error.to_string(),
        "this checkpoint has no browser: /nonexistent/chromedriver not found (install the `chromium` and `chromium-driver` packages, or set its path)"
    );
}

/// A page with an image, a broken image, a layout shift and long tasks
/// (three, so that a measurement injected late on a busy machine still
/// sees some: long tasks are not buffered for observers that come later).
async fn heavy_page() -> String {
    const PAGE: &str = "<!doctype html><html><head><title>Shop</title></head><body>\
        <div id=banner></div><h1 style='font-size:48px'>Welcome to the shop</h1>\
        <img src='/logo.svg' width=200 height=100><img src='/missing.png' width=10 height=10>\
        <p>Fresh coffee, roasted daily.</p>\
        <script>addEventListener('load', function () { setTimeout(function () {\
          document.getElementById('banner').innerHTML = '<p style=\"height:300px;margin:0\">sale</p>';\
        }, 50);\
        [50, 400, 800].forEach(function (at) { setTimeout(function () {\
          var end = performance.now() + 250; while (performance.now() < end) {}\
        }, at); }); });</script></body></html>";
    let logo = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='200' height='100'><!-- {} --></svg>",
        "x".repeat(20_000)
    );
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|| async { axum::response::Html(PAGE) }),
        )
        .route(
            "/logo.svg",
            axum::routing::get(move || async move {
                ([(axum::http::header::CONTENT_TYPE, "image/svg+xml")], logo)
            }),
        );
    format!("http://{}/", serve(app).await)
}

#[tokio::test]
async fn a_page_load_is_measured_like_a_real_visit() {
    use sightline_core::rum::Metric;
    use sightline_synthetic::browser::measure_page_load;
    let profiles = tempfile::tempdir().unwrap();
    let pool = BrowserPool::new(config(profiles.path(), 1)).unwrap();
    let url = heavy_page().await;
    let load = pool
        .run(Duration::from_secs(30), async |browser| {
            measure_page_load(browser, &url).await
        })
        .await
        .unwrap()
        .unwrap();
    let metric = |metric: Metric| {
        load.metrics
            .get(metric)
            .unwrap_or_else(|| panic!("no {}: {load:?}", metric.name()))
    };
    // The phases come in the order a page loads in.
    assert!(metric(Metric::Ttfb) > 0.0);
    assert!(metric(Metric::Ttfb) <= metric(Metric::Fcp), "{load:?}");
    assert!(metric(Metric::Fcp) <= metric(Metric::Lcp), "{load:?}");
    assert!(
        metric(Metric::DomContentLoaded) <= metric(Metric::Load),
        "{load:?}"
    );
    assert_eq!(
        load.metrics.get(Metric::Inp),
        None,
        "no visitor, no interaction"
    );
    // The late banner pushed the page down; the busy loop blocked it.
    assert!(metric(Metric::Cls) > 0.05, "{load:?}");
    assert!(
        (150.0..2_000.0).contains(&load.total_blocking_time_ms),
        "{load:?}"
    );
    // The waterfall: the document, the logo, the broken image.
    let request = |path: &str| {
        load.requests
            .iter()
            .find(|request| request.url.ends_with(path))
            .unwrap_or_else(|| panic!("no request for {path}: {:?}", load.requests))
    };
    let document = &load.requests[0];
    assert_eq!(
        (document.kind.as_str(), document.status),
        ("document", Some(200))
    );
    assert_eq!(
        (
            request("/logo.svg").kind.as_str(),
            request("/logo.svg").status
        ),
        ("img", Some(200))
    );
    assert!(request("/logo.svg").body_bytes > 20_000);
    assert!(request("/missing.png").failed());
    assert_eq!(request("/missing.png").status, Some(404));
    assert!(load.page_bytes() > 20_000);
}

#[tokio::test]
async fn performance_monitors_pass_and_fail_on_what_the_page_did() {
    use serde_json::json;
    use sightline_core::monitor::{CheckOutcome, ProblemKind};
    use sightline_core::{ManualClock, MonitorSpec, Timestamp};
    use sightline_synthetic::{Prober, ProberConfig, Secrets};
    let profiles = tempfile::tempdir().unwrap();
    let prober = Prober::new(
        ProberConfig {
            browser: config(profiles.path(), 2),
            ..ProberConfig::default()
        },
        std::sync::Arc::new(ManualClock::new(Timestamp::from(1_800_000_000_000))),
    )
    .unwrap();
    prober.browser_available().unwrap();
    let url = heavy_page().await;
    let run = async |expect: serde_json::Value| {
        let spec = MonitorSpec::from_json(json!({"name": "shop", "type": "browser",
            "url": url, "expect": expect}))
        .unwrap();
        prober.run(&spec, &Secrets::default()).await
    };

    let passing = run(json!({"max_load_ms": 10_000, "text": "Welcome to the shop",
        "element": "h1", "no_failed_requests": ["document", "script"]}))
    .await;
    assert_eq!(passing.outcome, CheckOutcome::Up, "{passing:?}");
    assert_eq!(passing.status_code, Some(200));
    assert!(passing.response_bytes.unwrap() > 20_000);
    assert!(passing.timings.first_byte_ms.is_some());
    assert!(
        passing.detail["metrics"]["lcp"].as_f64().unwrap() > 0.0,
        "{:?}",
        passing.detail
    );
    assert!(passing.detail["requests"].as_array().unwrap().len() >= 3);

    let broken_image = run(json!({"no_failed_requests": ["img"]})).await;
    assert_eq!(broken_image.outcome, CheckOutcome::Error);
    let problem = broken_image.problem.unwrap();
    assert_eq!(problem.kind, ProblemKind::Page);
    assert!(
        problem.message.starts_with("img request http://")
            && problem.message.ends_with("/missing.png failed: status 404"),
        "{problem:?}"
    );
    assert!(passing.screenshots.is_empty(), "on error only, by default");
    let missing = run(json!({"element": "#checkout"})).await;
    assert_eq!(
        missing.problem.unwrap().message,
        "no element of the page matches `#checkout`"
    );
    // A failed check keeps what the page showed, listed in the detail.
    assert_eq!(missing.screenshots.len(), 1);
    assert_eq!(
        missing.screenshots[0].label,
        "the page when the check failed"
    );
    assert_eq!(&missing.screenshots[0].png[..4], b"\x89PNG");
    assert_eq!(missing.detail["screenshots"][0]["number"], 1);
    let heavy = run(json!({"max_page_bytes": 1000})).await;
    assert!(
        heavy
            .problem
            .unwrap()
            .message
            .starts_with("the page weighs "),
    );

    // Without a browser, the checkpoint says so.
    let without = Prober::new(
        ProberConfig {
            browser: sightline_synthetic::browser::BrowserConfig {
                chromium: "/nonexistent/chromium".into(),
                ..config(profiles.path(), 1)
            },
            ..ProberConfig::default()
        },
        std::sync::Arc::new(ManualClock::new(Timestamp::from(1_800_000_000_000))),
    )
    .unwrap();
    assert!(
        without
            .browser_available()
            .unwrap_err()
            .contains("/nonexistent/chromium not found")
    );
}

/// A shop page whose script comes from another origin that sends no
/// `Timing-Allow-Origin` (as a CDN or Sightline's own `rum.js` might), with
/// a stylesheet from a server that is down.
async fn page_with_cross_origin_requests() -> (String, u16) {
    let cdn = serve(axum::Router::new().route(
        "/app.js",
        axum::routing::get(|| async {
            (
                [(axum::http::header::CONTENT_TYPE, "text/javascript")],
                "document.title = 'Shop ready';",
            )
        }),
    ))
    .await;
    let down = crate::targets::closed_port().await;
    let page = format!(
        "<!doctype html><html><head><title>Shop</title>\
         <link rel=stylesheet href='http://127.0.0.1:{down}/shop.css'></head>\
         <body><h1>Welcome</h1><script src='http://{cdn}/app.js'></script></body></html>"
    );
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    );
    (format!("http://{}/", serve(app).await), down)
}

#[tokio::test]
async fn cross_origin_requests_keep_their_real_status_and_a_page_its_own_time() {
    use serde_json::json;
    use sightline_core::monitor::CheckOutcome;
    use sightline_core::{ManualClock, MonitorSpec, Timestamp};
    use sightline_synthetic::{Prober, ProberConfig, Secrets};
    let profiles = tempfile::tempdir().unwrap();
    let prober = Prober::new(
        ProberConfig {
            browser: config(profiles.path(), 1),
            ..ProberConfig::default()
        },
        std::sync::Arc::new(ManualClock::new(Timestamp::from(1_800_000_000_000))),
    )
    .unwrap();
    let (url, down) = page_with_cross_origin_requests().await;
    let run = async |expect: serde_json::Value| {
        let spec = MonitorSpec::from_json(json!({"name": "shop", "type": "browser",
            "url": url, "expect": expect}))
        .unwrap();
        let started = Instant::now();
        let report = prober.run(&spec, &Secrets::default()).await;
        (report, started.elapsed())
    };

    // The cross-origin script answered 200: Resource Timing says 0, the
    // browser's network says 200, and the check believes the network.
    let (scripts, whole_run) = run(json!({"no_failed_requests": ["script", "document"]})).await;
    assert_eq!(scripts.outcome, CheckOutcome::Up, "{scripts:?}");
    let requests = scripts.detail["requests"].as_array().unwrap();
    let request = |path: &str| {
        requests
            .iter()
            .find(|request| request["url"].as_str().unwrap().ends_with(path))
            .unwrap_or_else(|| panic!("no request for {path}: {requests:?}"))
    };
    assert_eq!(request("/app.js")["status"], 200, "{requests:?}");
    assert_eq!(request("/app.js").get("error"), None, "{requests:?}");
    // The stylesheet's server is down: no status, and the reason why.
    assert_eq!(request("/shop.css")["status"], serde_json::Value::Null);
    assert_eq!(
        request("/shop.css")["error"],
        "net::ERR_CONNECTION_REFUSED",
        "{requests:?}"
    );
    let (styles, _) = run(json!({"no_failed_requests": ["css"]})).await;
    assert_eq!(styles.outcome, CheckOutcome::Error);
    assert_eq!(
        styles.problem.unwrap().message,
        format!(
            "css request http://127.0.0.1:{down}/shop.css failed: no answer (net::ERR_CONNECTION_REFUSED)"
        )
    );

    // The check's time is the page's (navigation start to load), not the
    // browser's start-up, which is a phase of its own.
    let load = scripts.detail["metrics"]["load"].as_f64().unwrap();
    assert_eq!(scripts.duration_ms, load.round() as i64, "{scripts:?}");
    let browser_start = scripts.detail["browser_start_ms"].as_i64().unwrap();
    assert!(browser_start > 0, "{scripts:?}");
    assert!(
        (scripts.duration_ms as u128) + (browser_start as u128) <= whole_run.as_millis(),
        "{} ms of page and {browser_start} ms of start-up in a run of {whole_run:?}",
        scripts.duration_ms
    );
}
