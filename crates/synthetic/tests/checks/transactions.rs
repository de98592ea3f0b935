//! Transaction monitors in real headless Chromium against a small shop on
//! 127.0.0.1: a login form, a page that loads slowly, a page with a broken
//! image, a page whose button appears late.

use crate::browsers::{config, drivers_left, processes_naming};
use crate::targets::serve;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use serde_json::{Value, json};
use sightline_core::monitor::{CheckOutcome, CheckReport, ProblemKind};
use sightline_core::{ManualClock, MonitorSpec, Timestamp};
use sightline_synthetic::{Prober, ProberConfig, Secrets};
use std::sync::Arc;
use std::time::Duration;

const PASSWORD: &str = "correct-horse-battery";

/// A red banner on every page, so that a screenshot can be told from a
/// blank one.
const BANNER: &str = "<header style='background:#dd0000;color:white;height:160px;font-size:40px'>Coffee shop</header>";

async fn shop() -> String {
    let login = || async {
        Html(format!(
            "<!doctype html><title>Log in</title>{BANNER}\
             <form method=post action=/login>\
             <input id=user name=user><input id=password name=password type=password>\
             <input id=note name=note>\
             <select id=country name=country><option value=de>Germany</option><option value=fr>France</option></select>\
             <button id=login type=submit>Log in</button></form>"
        ))
    };
    let check_login = |body: String| async move {
        let fields: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
        let user = fields.get("user").cloned().unwrap_or_default();
        if user == "alice" && fields.get("password").map(String::as_str) == Some(PASSWORD) {
            let country = fields.get("country").cloned().unwrap_or_default();
            Redirect::to(&format!("/account?user={user}&country={country}")).into_response()
        } else {
            (
                StatusCode::OK,
                Html(format!(
                    "<!doctype html><title>Log in</title>{BANNER}<p id=error>Wrong user name or password</p>"
                )),
            )
                .into_response()
        }
    };
    let account = |query: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
        Html(format!(
            "<!doctype html><title>Account</title>{BANNER}<h1>Welcome, {}</h1><p>Ships to {}</p>\
             <a id=order href=/late>Order</a>",
            query.get("user").cloned().unwrap_or_default(),
            query.get("country").cloned().unwrap_or_default(),
        ))
    };
    let late = || async {
        Html(format!(
            "<!doctype html><title>Order</title>{BANNER}<div id=slot></div><p id=done></p>\
             <script>setTimeout(function () {{\
               var b = document.createElement('button'); b.id = 'buy'; b.textContent = 'Buy';\
               b.onclick = function () {{ document.getElementById('done').textContent = 'Thanks for your order'; }};\
               document.getElementById('slot').appendChild(b); }}, 1200);</script>"
        ))
    };
    let slow = || async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Html(format!(
            "<!doctype html><title>Slow</title>{BANNER}<p>Finally here</p>"
        ))
    };
    let hang = || async {
        tokio::time::sleep(Duration::from_secs(120)).await;
        Html("never")
    };
    let broken = || async {
        Html(format!(
            "<!doctype html><title>Broken</title>{BANNER}<img src=/missing.png><p>Half a page</p>"
        ))
    };
    let app = axum::Router::new()
        .route("/login", get(login).post(check_login))
        .route("/account", get(account))
        .route("/late", get(late))
        .route("/slow", get(slow))
        .route("/hang", get(hang))
        .route("/broken", get(broken))
        .route(
            "/missing.png",
            get(|| async {
                (
                    StatusCode::NOT_FOUND,
                    [(header::CONTENT_TYPE, "text/plain")],
                    "no",
                )
            }),
        );
    format!("http://{}", serve(app).await)
}

fn prober(profiles: &std::path::Path, sessions: usize) -> Prober {
    Prober::new(
        ProberConfig {
            browser: config(profiles, sessions),
            ..ProberConfig::default()
        },
        Arc::new(ManualClock::new(Timestamp::from(1_800_000_000_000))),
    )
    .unwrap()
}

fn transaction(steps: Value, more: Value) -> MonitorSpec {
    let mut document = json!({"name": "shop journey", "type": "transaction", "steps": steps});
    for (key, value) in more.as_object().unwrap() {
        document[key] = value.clone();
    }
    MonitorSpec::from_json(document).unwrap()
}

fn secrets() -> Secrets {
    Secrets::new([("SHOP_PASSWORD".to_owned(), PASSWORD.to_owned())])
}

/// The statuses of the steps, in order.
fn statuses(report: &CheckReport) -> Vec<&str> {
    report.detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["status"].as_str().unwrap())
        .collect()
}

/// Decodes a PNG and says how many of its pixels are the banner's red.
fn red_pixels(png_bytes: &[u8]) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(png_bytes);
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let red = pixels[..info.buffer_size()]
        .chunks(channels)
        .filter(|pixel| pixel[0] > 200 && pixel[1] < 40 && pixel[2] < 40)
        .count();
    (info.width, info.height, red)
}

#[tokio::test]
async fn a_journey_logs_in_waits_for_a_late_button_and_keeps_the_secret() {
    let profiles = tempfile::tempdir().unwrap();
    let prober = prober(profiles.path(), 1);
    let base = shop().await;
    let spec = transaction(
        json!([
            {"navigate": format!("{base}/login")},
            {"name": "user", "type": {"into": "#user", "text": "alice"}},
            {"type": {"into": "#password", "text": "{{secrets.SHOP_PASSWORD}}"}},
            // A secret typed into a visible field is hidden in screenshots.
            {"type": {"into": "#note", "text": "{{secrets.SHOP_PASSWORD}}"}},
            {"select": {"from": "#country", "option": "France"}},
            {"click": "//button[text()='Log in']"},
            {"assert_url": {"contains": "/account"}},
            {"assert_text": "Welcome, alice"},
            {"assert_no_text": "Wrong user name"},
            {"assert_text": "Ships to fr"},
            {"click": "#order"},
            // The button appears 1.2 s after the page: the click waits for it.
            {"click": "#buy"},
            {"wait_for": {"text": "Thanks for your order"}},
            {"navigate": "/slow"},
            {"wait_for": {"element": "p"}},
            {"screenshot": "the slow page"}
        ]),
        json!({"screenshot": "always"}),
    );
    let report = prober.run(&spec, &secrets()).await;
    assert_eq!(report.outcome, CheckOutcome::Up, "{report:?}");
    assert_eq!(report.problem, None);
    assert_eq!(statuses(&report), vec!["passed"; 16]);
    let steps = report.detail["steps"].as_array().unwrap();
    assert_eq!(steps[1]["name"], "user");
    assert_eq!(steps[5]["description"], "click `//button[text()='Log in']`");
    assert!(
        steps[6]["url"]
            .as_str()
            .unwrap()
            .contains("/account?user=alice"),
        "{steps:?}"
    );
    let took = |index: usize| steps[index]["duration_ms"].as_i64().unwrap();
    assert!(took(11) >= 800, "the late button was waited for: {steps:?}");
    assert!(took(13) >= 1400, "the slow page took its time: {steps:?}");
    assert_eq!(report.detail["failed_step"], Value::Null);
    // The screenshot step, then the one at the end (`always`).
    assert_eq!(report.screenshots.len(), 2);
    assert_eq!(report.screenshots[0].label, "the slow page");
    assert_eq!(report.screenshots[0].step, Some(16));
    assert_eq!(report.detail["screenshots"][1]["number"], 2);
    let (width, height, red) = red_pixels(&report.screenshots[0].png);
    assert!(width >= 800 && height >= 500, "{width}x{height}");
    assert!(red > 50_000, "the banner shows: {red} red pixels");
    // The secret is nowhere in what the check reports.
    let reported = serde_json::to_string(&report.detail).unwrap();
    assert!(!reported.contains(PASSWORD), "{reported}");
}

#[tokio::test]
async fn a_journey_that_fails_says_where_why_and_shows_the_page() {
    let profiles = tempfile::tempdir().unwrap();
    let prober = prober(profiles.path(), 1);
    let base = shop().await;

    // The log-in is refused, so step 3 does not find the welcome.
    let spec = transaction(
        json!([
            {"navigate": format!("{base}/login")},
            {"click": "#login"},
            {"assert_text": "Welcome", "timeout": "2s"},
            {"click": "#order"}
        ]),
        json!({}),
    );
    let report = prober.run(&spec, &secrets()).await;
    assert_eq!(report.outcome, CheckOutcome::Error);
    let problem = report.problem.clone().unwrap();
    assert_eq!(problem.kind, ProblemKind::Body);
    assert_eq!(
        problem.message,
        "step 3 (assert the page shows `Welcome`): the page does not show `Welcome`"
    );
    assert_eq!(report.detail["failed_step"], 3);
    assert_eq!(statuses(&report), ["passed", "passed", "failed", "not_run"]);
    assert_eq!(
        report.detail["steps"][2]["error"],
        "the page does not show `Welcome`"
    );
    assert_eq!(report.screenshots.len(), 1);
    let shot = &report.screenshots[0];
    assert_eq!(shot.step, Some(3));
    assert_eq!(shot.label, "the page when step 3 failed");
    let (_, _, red) = red_pixels(&shot.png);
    assert!(
        red > 50_000,
        "the screenshot shows the page: {red} red pixels"
    );

    // An element that never comes: named, with the time waited.
    let spec = transaction(
        json!([
            {"navigate": format!("{base}/broken")},
            {"name": "pay", "click": "#pay", "timeout": "1s"}
        ]),
        json!({"screenshot": "never"}),
    );
    let report = prober.run(&spec, &secrets()).await;
    assert_eq!(
        report.problem.unwrap().message,
        "step 2 (`pay`: click `#pay`): no element matches `#pay` (waited 1s)"
    );
    assert!(report.screenshots.is_empty(), "`never` means none");

    // A page that answers with an error status fails its navigation.
    let spec = transaction(
        json!([{"navigate": format!("{base}/missing.png")}]),
        json!({}),
    );
    let report = prober.run(&spec, &secrets()).await;
    assert_eq!(
        report.problem.unwrap().message,
        format!("step 1 (navigate to {base}/missing.png): the page answered HTTP 404")
    );

    // A secret the vault does not hold is named before anything is typed.
    let spec = transaction(
        json!([
            {"navigate": format!("{base}/login")},
            {"type": {"into": "#password", "text": "{{secrets.NOPE}}"}}
        ]),
        json!({"screenshot": "never"}),
    );
    let report = prober.run(&spec, &secrets()).await;
    assert_eq!(
        report.problem.unwrap().message,
        "step 2 (type into `#password`): step 2 uses `{{secrets.NOPE}}`: no such secret in the vault"
    );

    // A page that hangs is cut off at the monitor's timeout, and its
    // screenshot still shows what the browser had.
    let started = std::time::Instant::now();
    let spec = transaction(
        json!([
            {"navigate": format!("{base}/login")},
            {"navigate": "/hang"}
        ]),
        json!({"timeout": "15s"}),
    );
    let report = prober.run(&spec, &secrets()).await;
    let problem = report.problem.clone().unwrap();
    assert_eq!(problem.kind, ProblemKind::Timeout, "{problem:?}");
    assert!(
        problem.message.starts_with("step 2 (navigate to /hang): "),
        "{problem:?}"
    );
    assert_eq!(report.screenshots.len(), 1, "{report:?}");
    assert!(started.elapsed() < Duration::from_secs(19));
}

#[tokio::test]
async fn twenty_checks_due_at_once_share_two_browsers_and_leave_nothing() {
    let profiles = tempfile::tempdir().unwrap();
    let root = profiles.path().to_string_lossy().into_owned();
    let prober = prober(profiles.path(), 2);
    let base = shop().await;
    let resident = || {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status
            .lines()
            .find(|line| line.starts_with("VmRSS:"))
            .unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    // One warm-up check, so that the process's own allocations (TLS roots,
    // the resolver, the pool) are in the starting figure.
    let warm_up = MonitorSpec::from_json(json!({"name": "warm", "type": "browser",
        "url": format!("{base}/broken")}))
    .unwrap();
    assert_eq!(
        prober.run(&warm_up, &secrets()).await.outcome,
        CheckOutcome::Up
    );
    let before = resident();

    let checks = (0..20).map(|index| {
        let prober = prober.clone();
        let spec = if index % 2 == 0 {
            MonitorSpec::from_json(json!({"name": format!("page {index}"), "type": "browser",
                "url": format!("{base}/broken"), "expect": {"text": "Half a page"}}))
            .unwrap()
        } else {
            transaction(
                json!([
                    {"navigate": format!("{base}/login")},
                    {"type": {"into": "#user", "text": "alice"}},
                    {"type": {"into": "#password", "text": "{{secrets.SHOP_PASSWORD}}"}},
                    {"click": "#login"},
                    {"assert_text": "Welcome, alice"}
                ]),
                json!({}),
            )
        };
        tokio::spawn(async move { prober.run(&spec, &secrets()).await })
    });
    for check in checks.collect::<Vec<_>>() {
        let report = check.await.unwrap();
        assert_eq!(report.outcome, CheckOutcome::Up, "{report:?}");
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(processes_naming(&root), Vec::<String>::new());
    assert_eq!(drivers_left(), Vec::<String>::new());
    assert_eq!(std::fs::read_dir(profiles.path()).unwrap().count(), 0);
    let after = resident();
    assert!(
        after < before + 30_000,
        "this process holds {after} kB after twenty checks, {before} kB before"
    );
}

/// The pixels of a PNG.
fn pixels(png_bytes: &[u8]) -> Vec<u8> {
    let mut reader = png::Decoder::new(png_bytes).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    pixels.truncate(info.buffer_size());
    pixels
}

#[tokio::test]
async fn a_secret_in_a_url_arrives_whole_and_never_shows_in_a_screenshot() {
    // A key with what URLs give a meaning to: a space, `+`, `&`, `/`, `=`.
    const KEY: &str = "k3y wörd+&/=x";
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = received.clone();
    let show = move |query: axum::extract::Query<std::collections::HashMap<String, String>>| {
        let kept = kept.clone();
        async move {
            let key = query.get("k").cloned().unwrap_or_default();
            kept.lock().unwrap().push(key.clone());
            let escaped = key.replace('&', "&amp;").replace('<', "&lt;");
            Html(format!(
                "<!doctype html><title>{escaped}</title>{BANNER}\
                 <p style='font-size:40px'>Your key: {escaped}</p>"
            ))
        }
    };
    let base = format!(
        "http://{}",
        serve(axum::Router::new().route("/show", get(show))).await
    );
    let profiles = tempfile::tempdir().unwrap();
    let prober = prober(profiles.path(), 1);
    let secrets = Secrets::new([("KEY".to_owned(), KEY.to_owned())]);
    let shot = async |url: String| {
        let spec = transaction(
            json!([{"navigate": url}, {"screenshot": "the page"}]),
            json!({}),
        );
        let report = prober.run(&spec, &secrets).await;
        assert_eq!(report.outcome, CheckOutcome::Up, "{report:?}");
        assert!(
            !serde_json::to_string(&report.detail)
                .unwrap()
                .contains("wörd")
        );
        pixels(&report.screenshots[0].png)
    };
    let with_secret = shot(format!("{base}/show?k={{{{secrets.KEY}}}}")).await;
    assert_eq!(received.lock().unwrap().as_slice(), [KEY], "sent whole");
    // The page showing the secret looks as one showing dots in its place,
    // and not as one showing other text.
    let dots = shot(format!("{base}/show?k=%E2%80%A2%E2%80%A2%E2%80%A2")).await;
    let other = shot(format!("{base}/show?k=another+text")).await;
    assert!(with_secret == dots, "the secret shows in the screenshot");
    assert!(with_secret != other);
}
