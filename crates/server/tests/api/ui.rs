//! The web UI in real headless Chromium, driven through chromedriver: it is
//! served at `/` from the binary, logs in with the session, and its overview
//! shows every monitor's status and the open incidents, filters them, opens
//! a monitor's page (uptime, timing chart, results), and logs out.

use super::browser::ChromeDriver;
use super::*;
use axum::response::IntoResponse;
use fantoccini::actions::InputSource;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use std::time::{Duration, Instant};

/// Opens each of `pages` on `website` as a visitor would, then leaves, so
/// that the last page sends its beacon.
async fn visit(
    browser: &Client,
    website: &str,
    pages: &[&str],
) -> Result<(), fantoccini::error::CmdError> {
    for page in pages {
        browser.goto(&format!("{website}{page}")).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    browser.goto("about:blank").await
}

/// Waits until the RUM summary at `summary_path` counts `count` page views.
async fn wait_for_page_views(server: &TestServer, admin: &Auth, summary_path: &str, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, summary) = server.call(Method::GET, summary_path, admin, None).await;
        if summary["page_views"].as_u64() >= Some(count) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the page views did not arrive: {summary}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Clicks the element `locator` finds.
pub(super) async fn click(
    browser: &Client,
    locator: Locator<'_>,
) -> Result<(), fantoccini::error::CmdError> {
    browser.find(locator).await?.click().await
}

/// Types `text` into the element `locator` finds.
async fn type_into(
    browser: &Client,
    locator: Locator<'_>,
    text: &str,
) -> Result<(), fantoccini::error::CmdError> {
    browser.find(locator).await?.send_keys(text).await
}

/// Keeps a screenshot of the page under `docs/screenshots/` when
/// `SIGHTLINE_UPDATE_SCREENSHOTS` is set and the README shows it by that
/// name, else under the target directory, so that a run never dirties the
/// tree with pictures nobody sees.
async fn keep_screenshot(browser: &Client, name: &str) -> Result<(), fantoccini::error::CmdError> {
    let png = browser.screenshot().await?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    static README: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
            .unwrap_or_default()
    });
    let shown = README.contains(&format!("(docs/screenshots/{name}.png)"));
    let directory = if shown && std::env::var_os("SIGHTLINE_UPDATE_SCREENSHOTS").is_some() {
        root.join("docs/screenshots")
    } else {
        root.join("target/ui-screenshots")
    };
    std::fs::create_dir_all(&directory).unwrap();
    std::fs::write(directory.join(format!("{name}.png")), png).unwrap();
    Ok(())
}

/// Every visible text's contrast with its background, as WCAG 2 computes
/// it (relative luminance of the text colour and of the first opaque
/// background up the tree): `[texts checked, texts below the minimum]`.
const CONTRAST: &str = r#"
const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const v = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1]; };
const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
const background = (e) => { for (; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c[3] > 0) return c; } return [255, 255, 255, 1]; };
const bad = [];
let checked = 0;
for (const e of document.querySelectorAll('body *')) {
  if (![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
  const style = getComputedStyle(e);
  if (style.visibility === 'hidden') continue;
  const rect = e.getBoundingClientRect(); if (rect.width === 0 || rect.height === 0) continue;
  const [hi, lo] = [lum(parse(style.color)), lum(background(e))].sort((a, b) => b - a);
  const ratio = (hi + 0.05) / (lo + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  checked += 1;
  if (ratio < (large ? 3 : 4.5)) bad.push(`${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
}
return [checked, bad];
"#;

/// Asserts that every text on the page is readable: at least 4.5:1
/// against its background, 3:1 for large text (WCAG 2 AA).
async fn readable(browser: &Client, screen: &str) -> Result<(), fantoccini::error::CmdError> {
    let found = browser.execute(CONTRAST, vec![]).await?;
    let checked = found[0].as_u64().unwrap_or(0);
    assert!(checked >= 5, "{screen}: only {checked} texts found");
    assert_eq!(
        found[1],
        json!([]),
        "{screen}: texts with too little contrast"
    );
    Ok(())
}

/// Asserts that at phone width (390 px) nothing on the page needs
/// scrolling sideways; then back to 1280×800.
async fn fits_a_phone(browser: &Client, screen: &str) -> Result<(), fantoccini::error::CmdError> {
    browser.set_window_size(390, 844).await?;
    // The elements that reach past the right edge, outermost first (not
    // those inside a box that scrolls or clips them), once the layout has
    // settled: charts follow their box's new width a frame or two after the
    // window changes.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let beyond = wider_than_the_window(browser).await?;
        if beyond == json!([]) || Instant::now() > deadline {
            assert_eq!(beyond, json!([]), "{screen}: wider than a phone");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.set_window_size(1280, 800).await
}

/// The elements that reach past the window's right edge, outside any box
/// that scrolls or clips them (`tag.class right`).
async fn wider_than_the_window(browser: &Client) -> Result<Value, fantoccini::error::CmdError> {
    browser
        .execute(
            "const width = document.documentElement.clientWidth; \
             if (document.documentElement.scrollWidth <= width) return []; \
             const clipped = (e) => { \
               for (let box = e.parentElement; box && box !== document.body; box = box.parentElement) { \
                 if (getComputedStyle(box).overflowX !== 'visible') return true; \
               } \
               return false; \
             }; \
             return [...document.querySelectorAll('body *')] \
               .filter((e) => e.getBoundingClientRect().right > width + 0.5 && !clipped(e)) \
               .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`);",
            vec![],
        )
        .await
}

/// Presses `key` where the focus is, as a keyboard would.
async fn press(browser: &Client, key: Key) -> Result<(), fantoccini::error::CmdError> {
    browser
        .active_element()
        .await?
        .send_keys(&char::from(key).to_string())
        .await
}

/// The focused element's tag and text, as in `A Skip to content`.
async fn focused(browser: &Client) -> Result<String, fantoccini::error::CmdError> {
    let focus = browser
        .execute(
            "const e = document.activeElement; \
             return `${e.tagName} ${e.textContent.trim()}`;",
            vec![],
        )
        .await?;
    Ok(focus.as_str().unwrap_or_default().to_owned())
}

/// The text of the first element matching `css` once `ready` accepts it.
async fn text_when(
    browser: &Client,
    css: &str,
    ready: impl Fn(&str) -> bool,
) -> Result<String, fantoccini::error::CmdError> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            let text = element.text().await.unwrap_or_default();
            if ready(&text) {
                return Ok(text);
            }
            assert!(Instant::now() < deadline, "`{css}` shows `{text}`");
        } else {
            assert!(Instant::now() < deadline, "`{css}` never appeared");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Rests the pointer on the middle of the first chart and returns the text
/// of the box it shows there, trying again for up to 10 s while the chart is
/// drawn anew by fresh data (which hides the box until the pointer moves).
async fn hover_tip(browser: &Client) -> Result<String, fantoccini::error::CmdError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let shown = async {
            let over = browser.find(Locator::Css(".chart .u-over")).await?;
            let to_left = fantoccini::actions::MouseActions::new("mouse".to_owned()).then(
                fantoccini::actions::PointerAction::MoveToElement {
                    element: over.clone(),
                    duration: None,
                    x: -20.0,
                    y: 0.0,
                },
            );
            browser.perform_actions(to_left).await?;
            let to_middle = fantoccini::actions::MouseActions::new("mouse".to_owned()).then(
                fantoccini::actions::PointerAction::MoveToElement {
                    element: over,
                    duration: Some(Duration::from_millis(100)),
                    x: 0.0,
                    y: 0.0,
                },
            );
            browser.perform_actions(to_middle).await?;
            browser
                .find(Locator::Css(".chart .chart-tip"))
                .await?
                .text()
                .await
        }
        .await;
        match shown {
            Ok(text) if !text.trim().is_empty() => return Ok(text),
            Ok(_) => {}
            Err(error) if error.is_stale_element_reference() || error.is_no_such_element() => {}
            Err(other) => return Err(other),
        }
        assert!(Instant::now() < deadline, "no tooltip under the pointer");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs `step` again while it fails on an element the page has since drawn
/// anew (a screen re-renders as its polling brings fresh data), for up to
/// 10 s; any other outcome is `step`'s own.
async fn settled<T, Step, Fut>(mut step: Step) -> Result<T, fantoccini::error::CmdError>
where
    Step: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match step().await {
            Err(error) if error.is_stale_element_reference() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            outcome => return outcome,
        }
    }
}

#[tokio::test]
async fn the_overview_shows_every_monitor_and_the_open_incidents() {
    let server = TestServer::start(BackendKind::Sqlite).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let closed_port = sightline_store::testing::free_port();
    for monitor in [
        json!({"name": "health", "type": "http", "url": server.url("/healthz"), "every": "1h",
               "tags": ["core"]}),
        json!({"name": "database", "type": "tcp", "host": "127.0.0.1", "port": closed_port,
               "every": "1h"}),
    ] {
        let (status, created) = server
            .call(Method::POST, "/api/v1/monitors", &admin, Some(monitor))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_i64().unwrap();
        let path = format!("/api/v1/monitors/{id}/run");
        let (status, ran) = server.call(Method::POST, &path, &admin, None).await;
        assert_eq!(status, StatusCode::OK, "{ran}");
    }
    // A RUM site with a long origin, which the phone width must fit too.
    let (status, site) = server
        .call(
            Method::POST,
            "/api/v1/sites",
            &admin,
            Some(json!({"name": "shop",
                        "origins": ["https://a-rather-long-shop-name.example.com"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");

    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        browser.set_window_size(1280, 800).await?;
        // Any screen's path serves the app; logged out, it asks to log in.
        browser.goto(&server.url("/incidents/1")).await?;
        browser
            .wait()
            .for_element(Locator::Css("form #email"))
            .await?;
        type_into(&browser, Locator::Css("#email"), ADMIN.0).await?;
        type_into(&browser, Locator::Css("#password"), "wrong password").await?;
        click(&browser, Locator::Css("button[type=submit]")).await?;
        let refused = text_when(&browser, "#login-error", |text| !text.is_empty()).await?;
        assert!(refused.contains("password"), "{refused}");
        let password = browser.find(Locator::Css("#password")).await?;
        password.clear().await?;
        password.send_keys(ADMIN.1).await?;
        click(&browser, Locator::Css("button[type=submit]")).await?;
        // Logged in, the path's own screen shows: the incident's page.
        text_when(&browser, "[data-testid=timeline]", |s| s.contains("opened")).await?;
        click(&browser, Locator::Css("nav a[href='/']")).await?;

        // The overview: each monitor with its status, the incident with
        // its monitor's name, and the summary of statuses.
        text_when(&browser, "tr[data-monitor=health] .badge", |s| s == "up").await?;
        text_when(&browser, "tr[data-monitor=database] .badge", |s| {
            s == "down"
        })
        .await?;
        let incident = text_when(&browser, ".incidents li", |s| s.contains("database")).await?;
        assert!(incident.contains("since"), "{incident}");
        let summary =
            text_when(&browser, "[data-testid=summary]", |s| s.contains("1 down")).await?;
        assert!(summary.contains("1 up"), "{summary}");
        let shop = text_when(&browser, "tr[data-site=shop]", |s| !s.is_empty()).await?;
        assert!(shop.contains("a-rather-long-shop-name"), "{shop}");
        // Each monitor's last check, response times and uptime, from
        // the overview API.
        let last = text_when(
            &browser,
            "tr[data-monitor=database] [data-testid=last-check]",
            |s| s.starts_with("error"),
        )
        .await?;
        assert!(last.contains("refused"), "{last}");
        let up = text_when(
            &browser,
            "tr[data-monitor=health] [data-period='30d']",
            |s| !s.is_empty(),
        )
        .await?;
        assert_eq!(up, "100 %");
        // A failure counts against uptime once a re-run confirms it, and
        // "run now"'s confirmation may land after the badge says down; the
        // overview polls, so both failures show as they are confirmed.
        text_when(
            &browser,
            "tr[data-monitor=database] [data-period='24h']",
            |s| s == "0.00 %",
        )
        .await?;
        // One dot per failed check the API holds (the first scheduled run,
        // "run now", and their confirmations, however many have run).
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let dots = browser
                .find_all(Locator::Css(
                    "tr[data-monitor=database] svg.sparkline circle.error",
                ))
                .await?
                .len();
            let (_, overview) = server
                .call(Method::GET, "/api/v1/monitors/overview", &admin, None)
                .await;
            let failed = overview["monitors"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|digest| digest["recent"].as_array().unwrap())
                .filter(|result| result["outcome"] == "error")
                .count();
            if dots == failed && dots >= 2 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{dots} dots for {failed} failures"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        readable(&browser, "the overview").await?;
        keep_screenshot(&browser, "check-overview").await?;
        fits_a_phone(&browser, "the overview").await?;
        let first = settled(|| async {
            browser
                .find(Locator::Css("table.monitors tbody tr"))
                .await?
                .attr("data-monitor")
                .await
        })
        .await?;
        assert_eq!(
            first.as_deref(),
            Some("database"),
            "what is down comes first"
        );

        // Filters: by text, by status, by tag.
        type_into(&browser, Locator::Css("input[type=search]"), "heal").await?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while browser
            .find_all(Locator::Css("table.monitors tbody tr"))
            .await?
            .len()
            != 1
        {
            assert!(Instant::now() < deadline, "the search did not filter");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Emptied as a person would, key by key.
        for _ in 0..4 {
            type_into(
                &browser,
                Locator::Css("input[type=search]"),
                &char::from(Key::Backspace).to_string(),
            )
            .await?;
        }
        let tag = browser
            .find(Locator::XPath("//label[contains(., 'Tag')]/select"))
            .await?;
        tag.select_by_value("core").await?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let only = settled(|| async {
                let rows = browser
                    .find_all(Locator::Css("table.monitors tbody tr"))
                    .await?;
                match rows.as_slice() {
                    [row] => row.attr("data-monitor").await,
                    _ => Ok(None),
                }
            })
            .await?;
            if only.as_deref() == Some("health") {
                break;
            }
            assert!(Instant::now() < deadline, "the tag did not filter");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // A monitor's page: its uptime, the timing chart, its results; the
        // back button returns to the overview.
        click(&browser, Locator::Css("tr[data-monitor=health] a")).await?;
        text_when(&browser, "h1", |s| s.starts_with("health")).await?;
        let day = text_when(&browser, "[data-period='24 h'] dd", |s| s.contains('%')).await?;
        assert_eq!(day, "100 %");
        // One time range for the charts: 24 hours first; a preset, a
        // custom span (one that ends before it starts is refused), or a
        // span dragged across the chart, each kept in the address.
        let period =
            text_when(&browser, "[data-testid=period-uptime]", |s| s.contains('%')).await?;
        assert!(period.starts_with("last 24 hours\n100 %"), "{period}");
        let band = browser
            .find(Locator::Css("[data-testid=status-band]"))
            .await?
            .attr("data-states")
            .await?
            .unwrap_or_default();
        assert!(
            band.ends_with('u') || band.contains('u'),
            "the checks show in the band: {band}"
        );
        click(
            &browser,
            Locator::XPath("//div[@data-testid='range']/button[.='7 days']"),
        )
        .await?;
        text_when(&browser, "[data-testid=period-uptime]", |s| {
            s.starts_with("last 7 days")
        })
        .await?;
        assert_eq!(browser.current_url().await?.query(), Some("range=7d"));
        click(
            &browser,
            Locator::XPath("//div[@data-testid='range']/button[.='Custom…']"),
        )
        .await?;
        let set_field = async |css: &str, value: &str| {
            let field = browser.find(Locator::Css(css)).await?;
            // A date and time field takes its value as a picker would set it.
            browser
                .execute(
                    "arguments[0].value = arguments[1]; \
                     arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
                    vec![serde_json::to_value(&field).unwrap(), json!(value)],
                )
                .await
        };
        set_field("#range-from", "2030-01-01T00:00").await?;
        set_field("#range-to", "2029-01-01T00:00").await?;
        click(
            &browser,
            Locator::XPath("//form[@aria-label='Custom range']//button[.='Show']"),
        )
        .await?;
        let refused = text_when(&browser, "[data-testid=range] .error", |s| !s.is_empty()).await?;
        assert!(refused.contains("before the end"), "{refused}");
        set_field("#range-from", "2020-01-01T00:00").await?;
        click(
            &browser,
            Locator::XPath("//form[@aria-label='Custom range']//button[.='Show']"),
        )
        .await?;
        text_when(&browser, "[data-testid=period-uptime]", |s| {
            s.contains("2020") && s.contains("100 %")
        })
        .await?;
        let query = browser
            .current_url()
            .await?
            .query()
            .unwrap_or_default()
            .to_owned();
        assert!(
            query.starts_with("from=") && query.contains("&to="),
            "{query}"
        );
        // Back to a day, then a drag across the middle of the chart zooms in.
        click(
            &browser,
            Locator::XPath("//div[@data-testid='range']/button[.='24 hours']"),
        )
        .await?;
        text_when(&browser, "[data-testid=period-uptime]", |s| {
            s.starts_with("last 24 hours")
        })
        .await?;
        settled(|| async {
            let over = browser
                .wait()
                .for_element(Locator::Css(".chart .u-over"))
                .await?;
            let drag = fantoccini::actions::MouseActions::new("mouse".to_owned())
                .then(fantoccini::actions::PointerAction::MoveToElement {
                    element: over,
                    duration: None,
                    x: -100.0,
                    y: 0.0,
                })
                .then(fantoccini::actions::PointerAction::Down {
                    button: fantoccini::actions::MOUSE_BUTTON_LEFT,
                })
                .then(fantoccini::actions::PointerAction::MoveBy {
                    duration: Some(Duration::from_millis(200)),
                    x: 200.0,
                    y: 0.0,
                })
                .then(fantoccini::actions::PointerAction::Up {
                    button: fantoccini::actions::MOUSE_BUTTON_LEFT,
                });
            browser.perform_actions(drag).await
        })
        .await?;
        let zoomed = text_when(&browser, "[data-testid=period-uptime] dt", |s| {
            !s.starts_with("last")
        })
        .await?;
        assert!(zoomed.contains('–'), "{zoomed}");
        let query = browser
            .current_url()
            .await?
            .query()
            .unwrap_or_default()
            .to_owned();
        let bound = |name: &str| -> i64 {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                .and_then(|value| value.parse().ok())
                .unwrap_or(0)
        };
        let (from, to) = (bound("from"), bound("to"));
        assert!(
            to > from && to - from < 20 * 3_600_000,
            "a part of the day: {query}"
        );
        // Nothing ran in that span; back to the day, where the runs are.
        text_when(&browser, "main", |s| {
            s.contains("No results in this period")
        })
        .await?;
        click(
            &browser,
            Locator::XPath("//div[@data-testid='range']/button[.='24 hours']"),
        )
        .await?;
        text_when(&browser, "[data-testid=period-uptime]", |s| {
            s.starts_with("last 24 hours")
        })
        .await?;
        text_when(&browser, "table.results tbody tr", |s| !s.is_empty()).await?;
        browser
            .wait()
            .for_element(Locator::Css(".chart .uplot canvas"))
            .await?;
        // The box beside the cursor names the time and the values under it.
        let tip = hover_tip(&browser).await?;
        assert!(tip.contains("up · total") && tip.contains("ms"), "{tip}");
        // Its run, and the checks it got as a relative of `database` (same
        // host) when that one failed.
        let row = settled(|| async {
            browser
                .find(Locator::Css("tbody tr[data-result]"))
                .await?
                .text()
                .await
        })
        .await?;
        assert!(row.contains("local") && row.contains("up"), "{row}");
        readable(&browser, "a monitor's page").await?;
        keep_screenshot(&browser, "check-monitor").await?;
        fits_a_phone(&browser, "a monitor's page").await?;
        assert!(
            browser
                .current_url()
                .await?
                .path()
                .starts_with("/monitors/")
        );
        browser.back().await?;
        // The overview as it was left: its filter is in the address.
        text_when(&browser, "tr[data-monitor=health] .badge", |s| s == "up").await?;
        assert_eq!(browser.current_url().await?.query(), Some("tag=core"));
        assert!(
            browser
                .find_all(Locator::Css("tr[data-monitor=database]"))
                .await?
                .is_empty()
        );
        browser.goto(&server.url("/")).await?;
        text_when(&browser, "tr[data-monitor=database] .badge", |s| {
            s == "down"
        })
        .await?;

        // With the keyboard alone: the first Tab stops at "Skip to
        // content", Tabs on reach a monitor's link, and Enter opens its
        // page with the focus moved onto it.
        browser.refresh().await?;
        text_when(&browser, "tr[data-monitor=health] .badge", |s| s == "up").await?;
        press(&browser, Key::Tab).await?;
        assert_eq!(focused(&browser).await?, "A Skip to content");
        let mut presses = 0;
        while focused(&browser).await? != "A health" {
            press(&browser, Key::Tab).await?;
            presses += 1;
            assert!(presses < 50, "Tab never reached the monitor's link");
        }
        press(&browser, Key::Enter).await?;
        text_when(&browser, "h1", |s| s.starts_with("health")).await?;
        let focus = focused(&browser).await?;
        assert!(focus.starts_with("MAIN "), "{focus}");

        // Logging out ends the session: the login form is back.
        click(&browser, Locator::XPath("//button[.='Log out']")).await?;
        browser
            .wait()
            .for_element(Locator::Css("form #email"))
            .await?;
        browser.refresh().await?;
        browser
            .wait()
            .for_element(Locator::Css("form #email"))
            .await?;
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
}

/// The overview of an installation with an outage: the monitors of the
/// host that is down are one entry among the open incidents, naming them;
/// each line has a heartbeat of its checks; the lines sort by a heading,
/// group by host and fold, all kept in the address; the selected monitors
/// are paused, resumed, tagged, muted for an hour and deleted at once.
#[tokio::test]
async fn the_overview_groups_an_outage_and_changes_many_monitors_at_once() {
    let server = TestServer::start(BackendKind::Sqlite).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let closed = sightline_store::testing::free_port();
    let mut ids = std::collections::BTreeMap::new();
    let down = ["api gateway", "cart", "checkout", "login", "search"];
    for name in down {
        let spec = json!({"name": name, "type": "tcp", "host": "127.0.0.1", "port": closed, "every": "1h", "tags": ["shop"]});
        ids.insert(name, server.create_monitor(&admin, spec).await);
    }
    for name in ["health", "status"] {
        let spec = json!({"name": name, "type": "http", "url": server.url("/healthz"), "every": "1h", "tags": ["core"]});
        ids.insert(name, server.create_monitor(&admin, spec).await);
    }
    for id in ids.values() {
        server.run_now(&admin, *id).await;
    }
    // Three more checks of `health`, for its heartbeat.
    for _ in 0..3 {
        server.run_now(&admin, ids["health"]).await;
    }
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let rows = async |browser: &Client| -> Result<Vec<String>, fantoccini::error::CmdError> {
        let mut names = Vec::new();
        for row in browser
            .find_all(Locator::Css("table.monitors tr[data-monitor]"))
            .await?
        {
            names.push(row.attr("data-monitor").await?.unwrap_or_default());
        }
        Ok(names)
    };
    let until =
        async |browser: &Client, wanted: &[&str]| -> Result<(), fantoccini::error::CmdError> {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let shown = rows(browser).await?;
                if shown == wanted {
                    return Ok(());
                }
                assert!(Instant::now() < deadline, "rows {shown:?}, not {wanted:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
    let walk = async {
        log_in_with_the_form(&browser, &server).await?;
        // One outage, one entry, naming what it covers.
        let outage = text_when(&browser, "[data-testid=open-incidents] li.outage", |s| {
            !s.is_empty()
        })
        .await?;
        assert!(
            outage.starts_with(&format!("Outage of 127.0.0.1:{closed}")),
            "{outage}"
        );
        assert!(
            outage.contains("5 monitors down: api gateway, cart, checkout, login and 1 more"),
            "{outage}"
        );
        let entries = browser
            .find_all(Locator::Css("[data-testid=open-incidents] > li"))
            .await?;
        assert_eq!(entries.len(), 1, "one entry for the outage");
        // Heartbeats: a bar per check, oldest first.
        let beats = browser
            .find(Locator::Css("tr[data-monitor=health] .heartbeat"))
            .await?
            .attr("data-beats")
            .await?
            .unwrap_or_default();
        assert!(
            beats.len() >= 4 && beats.chars().all(|c| c == 'u'),
            "{beats}"
        );
        let label = browser
            .find(Locator::Css("tr[data-monitor=cart] .heartbeat"))
            .await?
            .attr("aria-label")
            .await?
            .unwrap_or_default();
        assert!(label.contains("failed"), "{label}");
        // What is down first; then by name, descending, from its heading.
        until(
            &browser,
            &[
                "api gateway",
                "cart",
                "checkout",
                "login",
                "search",
                "health",
                "status",
            ],
        )
        .await?;
        click(
            &browser,
            Locator::XPath("//th//button[starts-with(., 'Monitor')]"),
        )
        .await?;
        click(
            &browser,
            Locator::XPath("//th//button[starts-with(., 'Monitor')]"),
        )
        .await?;
        until(
            &browser,
            &[
                "status",
                "search",
                "login",
                "health",
                "checkout",
                "cart",
                "api gateway",
            ],
        )
        .await?;
        assert_eq!(
            browser.current_url().await?.query(),
            Some("sort=name&order=desc")
        );
        // Grouped by host; a group folds.
        browser
            .find(Locator::XPath("//label[contains(., 'Group by')]/select"))
            .await?
            .select_by_value("host")
            .await?;
        text_when(&browser, "tr.group", |s| !s.is_empty()).await?;
        let heads = browser.find_all(Locator::Css("tr.group")).await?;
        assert_eq!(heads.len(), 2, "two hosts");
        let outage_group = format!("//tr[@class='group'][contains(., ':{closed}')]");
        let folded = browser
            .find(Locator::XPath(&outage_group))
            .await?
            .text()
            .await?;
        assert!(
            folded.contains("5 monitors") && folded.contains("5 down"),
            "{folded}"
        );
        click(&browser, Locator::XPath(&format!("{outage_group}//button"))).await?;
        until(&browser, &["status", "health"]).await?;
        keep_screenshot(&browser, "overview-grouped").await?;
        fits_a_phone(&browser, "the grouped overview").await?;
        readable(&browser, "the grouped overview").await?;
        // The address keeps the view: opened again, it is the same.
        let address = browser.current_url().await?;
        assert_eq!(address.query(), Some("group=host&sort=name&order=desc"));
        browser.goto(address.as_str()).await?;
        text_when(&browser, "tr.group", |s| !s.is_empty()).await?;

        // Many at once: select two, pause them, tag them, mute them.
        browser.goto(&server.url("/")).await?;
        until(
            &browser,
            &[
                "api gateway",
                "cart",
                "checkout",
                "login",
                "search",
                "health",
                "status",
            ],
        )
        .await?;
        click(&browser, Locator::Css("input[aria-label='Select cart']")).await?;
        click(&browser, Locator::Css("input[aria-label='Select login']")).await?;
        let bar = text_when(&browser, "[data-testid=bulk]", |s| !s.is_empty()).await?;
        assert!(bar.starts_with("2 selected"), "{bar}");
        click(
            &browser,
            Locator::XPath("//div[@data-testid='bulk']/button[.='Pause']"),
        )
        .await?;
        text_when(&browser, "tr[data-monitor=cart] .badge", |s| s == "paused").await?;
        text_when(&browser, "tr[data-monitor=login] .badge", |s| s == "paused").await?;
        text_when(&browser, "tr[data-monitor=checkout] .badge", |s| {
            s == "down"
        })
        .await?;
        click(&browser, Locator::Css("input[aria-label='Select cart']")).await?;
        click(&browser, Locator::Css("input[aria-label='Select login']")).await?;
        type_into(&browser, Locator::Css("#bulk-tag"), "payments").await?;
        click(
            &browser,
            Locator::XPath("//div[@data-testid='bulk']//button[.='Add tag']"),
        )
        .await?;
        text_when(&browser, "tr[data-monitor=login]", |s| {
            s.contains("payments")
        })
        .await?;
        click(&browser, Locator::Css("input[aria-label='Select cart']")).await?;
        click(
            &browser,
            Locator::XPath("//div[@data-testid='bulk']/button[.='Mute 1 h']"),
        )
        .await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let window = loop {
            let (_, windows) = server
                .call(Method::GET, "/api/v1/maintenance-windows", &admin, None)
                .await;
            if let Some(window) = windows.as_array().unwrap().first() {
                break window.clone();
            }
            assert!(Instant::now() < deadline, "no window made");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(window["monitors"], json!(["cart"]), "{window}");
        assert_eq!(window["active"], true, "{window}");
        let (_, cart) = server
            .call(
                Method::GET,
                &format!("/api/v1/monitors/{}", ids["cart"]),
                &admin,
                None,
            )
            .await;
        assert_eq!(cart["tags"], json!(["shop", "payments"]), "{cart}");
        assert_eq!(cart["enabled"], false, "{cart}");
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
}

/// Logs in through the form as the admin.
async fn log_in_with_the_form(
    browser: &Client,
    server: &TestServer,
) -> Result<(), fantoccini::error::CmdError> {
    log_in_as(browser, server, ADMIN).await
}

/// Logs in through the form as `who` (e-mail, password).
async fn log_in_as(
    browser: &Client,
    server: &TestServer,
    who: (&str, &str),
) -> Result<(), fantoccini::error::CmdError> {
    browser.set_window_size(1280, 800).await?;
    browser.goto(&server.url("/")).await?;
    browser
        .wait()
        .for_element(Locator::Css("form #email"))
        .await?;
    type_into(browser, Locator::Css("#email"), who.0).await?;
    type_into(browser, Locator::Css("#password"), who.1).await?;
    click(browser, Locator::Css("button[type=submit]")).await?;
    // The overview, or the first steps of an empty installation.
    browser
        .wait()
        .for_element(Locator::Css(
            "[data-testid=summary], [data-testid=first-steps]",
        ))
        .await?;
    Ok(())
}

/// Why a monitor is down is one click from the overview: its last check
/// opens the result, with the failed condition and the body the server
/// sent. A viewer sees no control the server would refuse, and an address
/// that leads nowhere says so.
#[tokio::test]
async fn why_a_monitor_is_down_is_one_click_away_and_a_viewer_sees_no_write_control() {
    use super::targets;
    let server = TestServer::start(BackendKind::Sqlite).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let app = format!(
        "http://{}",
        targets::http_app(targets::App::default()).await
    );
    let down = server
        .create_monitor(
            &admin,
            json!({"name": "checkout", "type": "http", "url": format!("{app}/status/503"), "every": "1h"}),
        )
        .await;
    let up = server
        .create_monitor(
            &admin,
            json!({"name": "home", "type": "http", "url": format!("{app}/ok"), "every": "1h"}),
        )
        .await;
    for id in [down, up] {
        let (status, results) = server.run_now(&admin, id).await;
        assert_eq!(status, StatusCode::OK, "{results}");
    }
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        log_in_with_the_form(&browser, &server).await?;
        // One click: the down monitor's last check.
        click(
            &browser,
            Locator::Css("tr[data-monitor=checkout] td.last a"),
        )
        .await?;
        let body = text_when(&browser, "[data-testid=body-excerpt]", |s| !s.is_empty()).await?;
        assert_eq!(body, "status 503: the shop is closed");
        let problem =
            text_when(&browser, "[data-testid=result-problem]", |s| !s.is_empty()).await?;
        assert!(
            problem.contains("expected a 2xx status, got 503"),
            "{problem}"
        );
        let conditions = text_when(&browser, "[data-testid=conditions]", |s| !s.is_empty()).await?;
        assert!(conditions.contains("status 503"), "{conditions}");
        readable(&browser, "a failed result").await?;
        // Dark, by the switch: every screen stays readable, charts too.
        browser
            .find(Locator::Css("select[title=Theme]"))
            .await?
            .select_by_value("dark")
            .await?;
        let background = browser
            .execute(
                "return getComputedStyle(document.documentElement).backgroundColor",
                vec![],
            )
            .await?;
        assert_eq!(background, json!("rgb(13, 17, 23)"), "the page turned dark");
        readable(&browser, "a failed result, dark").await?;
        keep_screenshot(&browser, "check-result-dark").await?;
        for (path, screen) in [
            ("/".to_owned(), "the overview"),
            (format!("/monitors/{down}"), "a monitor's page"),
            ("/incidents".to_owned(), "the incidents"),
            ("/alerting".to_owned(), "alerting"),
            ("/settings".to_owned(), "settings"),
        ] {
            browser.goto(&server.url(&path)).await?;
            text_when(&browser, "h1", |s| !s.is_empty()).await?;
            if path.starts_with("/monitors/") {
                browser
                    .wait()
                    .for_element(Locator::Css(".chart canvas"))
                    .await?;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            readable(&browser, &format!("{screen}, dark")).await?;
        }
        keep_screenshot(&browser, "check-monitor-dark").await?;
        // The choice stays with the browser.
        browser.refresh().await?;
        text_when(&browser, "h1", |s| !s.is_empty()).await?;
        let theme = browser
            .execute("return document.documentElement.dataset.theme", vec![])
            .await?;
        assert_eq!(theme, json!("dark"));
        // The admin has the controls.
        browser
            .goto(&server.url(&format!("/monitors/{down}")))
            .await?;
        text_when(&browser, ".lead", |s| s.contains("Run now")).await?;

        // Addresses that lead nowhere.
        for (path, what) in [
            ("/no/such/screen".to_owned(), "page"),
            ("/monitors/987654".to_owned(), "monitor"),
            (format!("/monitors/{down}/results/987654"), "result"),
            ("/sites/987654".to_owned(), "site"),
        ] {
            browser.goto(&server.url(&path)).await?;
            let said = text_when(&browser, "[data-testid=not-found] h1", |s| !s.is_empty()).await?;
            assert_eq!(said, format!("There is no such {what}"), "{path}");
        }

        // A viewer reads everything and is offered no change.
        click(&browser, Locator::XPath("//button[text()='Log out']")).await?;
        log_in_as(&browser, &server, VIEWER).await?;
        text_when(&browser, "tr[data-monitor=checkout] td.last", |s| {
            s.contains("error")
        })
        .await?;
        let offered = |css: &'static str| {
            let browser = &browser;
            async move {
                Ok::<_, fantoccini::error::CmdError>(
                    browser.find_all(Locator::Css(css)).await?.len(),
                )
            }
        };
        assert_eq!(
            offered("a[href='/monitors/new'], a[href='/sites/new']").await?,
            0
        );
        browser
            .goto(&server.url(&format!("/monitors/{down}")))
            .await?;
        text_when(&browser, "table.results tbody tr", |s| !s.is_empty()).await?;
        let lead = text_when(&browser, ".lead", |s| !s.is_empty()).await?;
        for control in ["Run now", "Edit", "Pause", "Delete"] {
            assert!(
                !lead.contains(control),
                "a viewer is offered `{control}`: {lead}"
            );
        }
        browser.goto(&server.url("/alerting")).await?;
        text_when(&browser, "h1", |s| s == "Alerting").await?;
        text_when(&browser, "#policies-heading", |s| !s.is_empty()).await?;
        assert_eq!(
            offered("main button").await?,
            0,
            "a viewer is offered buttons on Alerting"
        );
        browser.goto(&server.url("/status-pages")).await?;
        text_when(&browser, "h1", |s| s == "Status pages").await?;
        assert_eq!(offered("a[href='/status-pages/new']").await?, 0);
        for path in [
            "/monitors/new".to_owned(),
            format!("/monitors/{down}/edit"),
            "/sites/new".to_owned(),
        ] {
            browser.goto(&server.url(&path)).await?;
            text_when(&browser, "[data-testid=admins-only] h1", |s| {
                s == "Only editors and admins can change this"
            })
            .await?;
        }
        // The result stays open to a viewer.
        browser
            .goto(&server.url(&format!("/monitors/{down}")))
            .await?;
        text_when(&browser, "table.results tbody tr", |s| !s.is_empty()).await?;
        click(&browser, Locator::Css("table.results tbody tr a")).await?;
        text_when(&browser, "[data-testid=body-excerpt]", |s| {
            s.contains("the shop is closed")
        })
        .await?;
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
}

/// A monitor made as code (with settings the form has no field for), saved
/// from its form unchanged, stays exactly as it was; one field changed in
/// the form changes that field only. What the form saves is what
/// `sightline export` writes back.
#[tokio::test]
async fn the_form_saves_a_monitor_exactly_as_it_holds_it() {
    let server = TestServer::start(BackendKind::Sqlite).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let spec = json!({
        "name": "checkout api", "type": "http", "url": "https://shop.example.com/api/cart",
        "method": "POST", "body": "{\"sku\": 1}", "headers": {"Accept": "application/json"},
        "follow_redirects": false, "max_redirects": 3, "verify_tls": false,
        "every": "2m", "timeout": "7s", "tags": ["shop", "api"], "enabled": false,
        "expect": {
            "status": [200, 201], "body_contains": "cart", "body_not_contains": "error",
            "headers": [{"name": "content-type", "contains": "json"}],
            "json": [{"path": "$.items", "exists": true}, {"path": "$.currency", "equals": "EUR"}],
            "degraded_response_ms": 400, "max_response_ms": 800
        }
    });
    let (status, created) = server
        .call(Method::POST, "/api/v1/monitors", &admin, Some(spec))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/v1/monitors/{id}");
    let held = async || {
        let (_, mut monitor) = server.call(Method::GET, &path, &admin, None).await;
        monitor.as_object_mut().unwrap().remove("updated_at");
        monitor
    };
    let before = held().await;

    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let save = async |change: Option<(&str, &str)>| {
        browser
            .goto(&server.url(&format!("/monitors/{id}/edit")))
            .await?;
        text_when(&browser, "h1", |s| s == "Edit checkout api").await?;
        if let Some((field, value)) = change {
            let input = browser
                .find(Locator::Css(&format!("[data-field='{field}']")))
                .await?;
            input.clear().await?;
            input.send_keys(value).await?;
        }
        click(&browser, Locator::XPath("//button[.='Save']")).await?;
        text_when(&browser, "h1", |s| s.starts_with("checkout api")).await?;
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walk = async {
        log_in_with_the_form(&browser, &server).await?;
        save(None).await?;
        let unchanged = held().await;
        save(Some(("every", "5m"))).await?;
        Ok::<_, fantoccini::error::CmdError>(unchanged)
    };
    let walked = walk.await;
    let _ = browser.close().await;
    let unchanged = walked.unwrap();
    assert_eq!(unchanged, before, "saved unchanged");
    let mut expected = before;
    expected["every"] = json!("5m");
    assert_eq!(held().await, expected, "only `every` changed");
}

/// The monitor form, from the type catalogue: saving names every problem
/// at once, beside each field and in a list at the top; alert policies,
/// sites and other monitors are picked, not typed; credentials take the
/// fields of their scheme; a new monitor is checked once as it is saved.
#[tokio::test]
async fn the_form_names_every_problem_picks_names_and_checks_a_new_monitor_once() {
    let server = TestServer::start(BackendKind::Sqlite).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    for (path, body) in [
        (
            "/api/v1/sites",
            json!({"name": "shop", "origins": ["https://shop.example.com"]}),
        ),
        (
            "/api/v1/alert-policies",
            json!({"name": "on-call", "levels": [{"after": "1 confirmed error", "email": ["ops@example.com"]}]}),
        ),
    ] {
        let (status, answer) = server.call(Method::POST, path, &admin, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    server
        .create_monitor(
            &admin,
            json!({"name": "database", "type": "tcp", "host": "127.0.0.1", "port": 1, "every": "1h", "enabled": false}),
        )
        .await;
    let target = serve_app(axum::Router::new().fallback(|| async { "fine" })).await;
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        log_in_with_the_form(&browser, &server).await?;
        browser.goto(&server.url("/monitors/new")).await?;
        browser
            .wait()
            .for_element(Locator::Css("form.monitor-form [data-field=url]"))
            .await?;
        // Nothing typed: both required fields are named at once.
        click(&browser, Locator::Css("button[type=submit]")).await?;
        let problems = text_when(&browser, "[data-testid=problems]", |s| !s.is_empty()).await?;
        assert!(problems.contains("2 things to fix"), "{problems}");
        text_when(&browser, "#field-name-error", |s| !s.is_empty()).await?;
        text_when(&browser, "#field-url-error", |s| !s.is_empty()).await?;
        type_into(&browser, Locator::Css("[data-field=name]"), "home").await?;
        type_into(
            &browser,
            Locator::Css("[data-field=url]"),
            &format!("{target}/"),
        )
        .await?;
        type_into(&browser, Locator::Css("[data-field='expect.status']"), "99").await?;
        type_into(&browser, Locator::Css("[data-field=every]"), "x").await?;
        click(&browser, Locator::Css("button[type=submit]")).await?;
        // The first list also had two things: wait for this one's.
        let problems = text_when(&browser, "[data-testid=problems]", |s| {
            s.contains("2 things to fix") && !s.contains("name:")
        })
        .await?;
        assert!(
            problems.contains("expect.status[0]") && problems.contains("every"),
            "{problems}"
        );
        // Select all, type the right value, as a person would.
        for (field, value) in [("expect.status", "200"), ("every", "1h")] {
            let input = browser
                .find(Locator::Css(&format!("[data-field='{field}']")))
                .await?;
            input.send_keys("\u{E009}a\u{E000}").await?;
            input.send_keys(value).await?;
        }
        // Names picked from those that exist.
        for (field, value) in [
            ("alert_policy", "on-call"),
            ("site", "shop"),
            ("depends_on", "database"),
        ] {
            browser
                .find(Locator::Css(&format!("#field-{field}")))
                .await?
                .select_by_value(value)
                .await?;
        }
        // Credentials: their scheme's fields.
        browser
            .find(Locator::Css("[data-field='auth.scheme']"))
            .await?
            .select_by_value("basic")
            .await?;
        type_into(
            &browser,
            Locator::Css("[data-field='auth.username']"),
            "ada",
        )
        .await?;
        type_into(
            &browser,
            Locator::Css("[data-field='auth.password']"),
            "{{secrets.SHOP}}",
        )
        .await?;
        click(&browser, Locator::Css("button[type=submit]")).await?;
        // An unknown secret is refused by name, nothing else.
        let problems = text_when(&browser, "[data-testid=problems]", |s| {
            s.contains("One thing to fix")
        })
        .await?;
        assert!(problems.contains("SHOP"), "{problems}");
        let password = browser
            .find(Locator::Css("[data-field='auth.password']"))
            .await?;
        password.send_keys("\u{E009}a\u{E000}").await?;
        password.send_keys("not a secret").await?;
        click(&browser, Locator::Css("button[type=submit]")).await?;
        // Saved, then checked once: the page opens with what it found.
        text_when(&browser, "h1", |s| s.starts_with("home")).await?;
        let ran = text_when(&browser, "[data-testid=ran]", |s| !s.is_empty()).await?;
        assert!(
            ran.starts_with("Checked once as it was saved: up from local"),
            "{ran}"
        );
        fits_a_phone(&browser, "a new monitor's page").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
    let (_, list) = server
        .call(Method::GET, "/api/v1/monitors", &admin, None)
        .await;
    let home = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "home")
        .unwrap();
    assert_eq!(home["alert_policy"], "on-call", "{home}");
    assert_eq!(home["site"], "shop", "{home}");
    assert_eq!(home["depends_on"], "database", "{home}");
    assert_eq!(home["expect"]["status"], json!([200]), "{home}");
    assert_eq!(
        home["auth"],
        json!({"scheme": "basic", "username": "ada", "password": "not a secret"}),
        "{home}"
    );
}

#[tokio::test]
async fn a_monitor_made_with_the_form_goes_up_then_down() {
    let server = TestServer::start(BackendKind::Sqlite).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}/", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "fine" }));
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let monitors = async || {
        let (_, list) = server
            .call(Method::GET, "/api/v1/monitors", &admin, None)
            .await;
        list.as_array().map_or(0, Vec::len)
    };

    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        log_in_with_the_form(&browser, &server).await?;
        click(&browser, Locator::Css("a[href='/monitors/new']")).await?;
        browser
            .wait()
            .for_element(Locator::Css("form.monitor-form"))
            .await?;
        let field = async |path: &str| {
            browser
                .find(Locator::Css(&format!("[data-field='{path}']")))
                .await
        };
        field("name").await?.send_keys("shop home").await?;
        field("every").await?.clear().await?;
        field("every").await?.send_keys("10s").await?;

        // Wrong input: the error shows next to its field, as the API words
        // it, and saving stores nothing.
        field("url")
            .await?
            .send_keys("ftp://shop.example.com/")
            .await?;
        let error = text_when(&browser, ".field.invalid .field-error", |s| !s.is_empty()).await?;
        assert!(error.contains("http"), "{error}");
        let invalid = browser
            .find(Locator::Css(".field.invalid [data-field]"))
            .await?;
        assert_eq!(invalid.attr("data-field").await?.as_deref(), Some("url"));
        click(&browser, Locator::Css("button[type=submit]")).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(monitors().await, 0, "nothing saved");

        // Right input: the error goes, a try shows the check's answer
        // before anything is saved, and saving opens the monitor's page.
        field("url").await?.clear().await?;
        field("url").await?.send_keys(&target).await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while browser.find(Locator::Css(".field.invalid")).await.is_ok() {
            assert!(Instant::now() < deadline, "the error stayed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        click(&browser, Locator::XPath("//button[.='Try it now']")).await?;
        let tried = text_when(&browser, "[data-testid=tried]", |s| !s.is_empty()).await?;
        assert!(
            tried.starts_with("up") && tried.contains("HTTP 200"),
            "{tried}"
        );
        assert_eq!(monitors().await, 0, "a try saves nothing");
        click(&browser, Locator::Css("button[type=submit]")).await?;
        text_when(&browser, "h1", |s| s.starts_with("shop home")).await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while text_when(&browser, "h1 .badge", |_| true).await? != "up" {
            assert!(Instant::now() < deadline, "the monitor did not come up");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }

        // The target stops: the monitor goes down and its incident opens.
        serving.abort();
        let deadline = Instant::now() + Duration::from_secs(40);
        while text_when(&browser, "h1 .badge", |_| true).await? != "down" {
            assert!(Instant::now() < deadline, "the monitor did not go down");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // Its own page lists the incident, open.
        let listed = text_when(&browser, "[data-testid=monitor-incidents] li", |s| {
            s.contains("open")
        })
        .await?;
        assert!(listed.contains("connect"), "{listed}");
        click(&browser, Locator::Css("a[href='/']")).await?;
        let incident = text_when(&browser, ".incidents li", |s| s.contains("shop home")).await?;
        assert!(incident.contains("since"), "{incident}");
        // Its page, as the alert e-mail links to it: the cause and the
        // timeline.
        click(
            &browser,
            Locator::XPath("//ul[@class='incidents']//a[.='details']"),
        )
        .await?;
        let timeline =
            text_when(&browser, "[data-testid=timeline]", |s| s.contains("opened")).await?;
        assert!(timeline.contains("opened"), "{timeline}");
        let cause = text_when(&browser, "[data-testid=cause]", |s| !s.is_empty()).await?;
        assert!(cause.contains("connect"), "{cause}");
        text_when(&browser, "h1", |s| s.starts_with("shop home")).await?;
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
    let (_, list) = server
        .call(Method::GET, "/api/v1/monitors", &admin, None)
        .await;
    assert_eq!(list[0]["every"], "10s", "{list}");
    assert_eq!(list[0]["url"], target, "{list}");
}

#[tokio::test]
async fn real_page_views_show_on_the_sites_dashboard_and_filter_by_a_click() {
    let server = TestServer::start(BackendKind::Sqlite).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (site, website) = super::browser::shop_with_website(&server, &admin).await;

    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.person_session(profile.path()).await;
    let summary_path = format!("/api/v1/sites/{}/rum/summary", site["id"]);
    let walk = async {
        visit(&browser, &website, &["/", "/app", "/"]).await?;
        wait_for_page_views(&server, &admin, &summary_path, 3).await;
        // Someone tries the site in headless Chrome: its page view is not
        // stored, and the dashboard says why.
        let headless_profile = tempfile::tempdir().unwrap();
        let headless = driver.session(headless_profile.path(), None).await;
        visit(&headless, &website, &["/"]).await?;
        let _ = headless.close().await;
        // Its beacon leaves as the page closes: counted once it has arrived.
        let deadline = Instant::now() + Duration::from_secs(15);
        while server
            .call(Method::GET, &summary_path, &admin, None)
            .await
            .1["ignored_beacons"]["robot"]
            != 1
        {
            assert!(
                Instant::now() < deadline,
                "the headless page view was never counted"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // Incidents: the site's traffic went silent, a monitor watching it
        // is down, and one watching something else is down too.
        server
            .store
            .open_site_incident(
                sightline_store::IncidentKind::RumSilent,
                site["id"].as_i64().unwrap(),
                sightline_store::Severity::Warning,
                "no page views for 10m",
            )
            .await
            .unwrap();
        let closed_port = sightline_store::testing::free_port();
        for (name, watched) in [("shop checkout", Some("shop")), ("elsewhere", None)] {
            let mut spec = json!({"name": name, "type": "tcp", "host": "127.0.0.1",
                                  "port": closed_port, "every": "1h"});
            if let Some(site) = watched {
                spec["site"] = json!(site);
            }
            let (status, created) = server
                .call(Method::POST, "/api/v1/monitors", &admin, Some(spec))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            let run = format!("/api/v1/monitors/{}/run", created["id"]);
            server.call(Method::POST, &run, &admin, None).await;
        }

        // The overview lists the site with its page views; its dashboard
        // shows them with a breakdown by page.
        log_in_with_the_form(&browser, &server).await?;
        text_when(&browser, "tr[data-site=shop] td:nth-child(2)", |s| s == "3").await?;
        click(&browser, Locator::Css("tr[data-site=shop] a")).await?;
        text_when(&browser, "[data-metric=page_views] strong", |s| s == "3").await?;
        let ignored = text_when(&browser, "[data-testid=ignored-beacons]", |s| {
            s.contains("1 beacon ignored")
        })
        .await?;
        assert!(ignored.contains("robots or headless browsers"), "{ignored}");
        let pages = text_when(&browser, "table[data-dimension=page] tbody", |s| {
            s.contains("/app")
        })
        .await?;
        assert!(pages.contains('2') && pages.contains('1'), "{pages}");
        browser
            .wait()
            .for_element(Locator::Css(".chart .uplot canvas"))
            .await?;
        // Page views over the period, every bucket drawn; headings and
        // values in words.
        browser
            .wait()
            .for_element(Locator::Css(
                "section[aria-labelledby=views-heading] .uplot canvas",
            ))
            .await?;
        let navigation = text_when(&browser, "table[data-dimension=navigation_type]", |s| {
            s.contains("Navigation")
        })
        .await?;
        assert!(navigation.contains("link, address or form"), "{navigation}");
        let os = text_when(&browser, "table[data-dimension=os_version] caption", |s| {
            !s.is_empty()
        })
        .await?;
        assert_eq!(os, "OS version");
        // The site's incidents, and its monitor's, marked on its time axis.
        let marks = text_when(&browser, "[data-testid=marks]", |s| {
            s.contains("rum silent") && s.contains("monitor down")
        })
        .await?;
        assert!(marks.contains("no page views for 10m"), "{marks}");
        assert_eq!(
            browser
                .find_all(Locator::Css("[data-testid=marks] li"))
                .await?
                .len(),
            2,
            "not the incident of a monitor of no site: {marks}"
        );
        readable(&browser, "the RUM dashboard").await?;
        keep_screenshot(&browser, "check-rum").await?;
        fits_a_phone(&browser, "the RUM dashboard").await?;

        // A breakdown value is a filter, kept in the URL.
        click(
            &browser,
            Locator::XPath("//table[@data-dimension='page']//button[.='/app']"),
        )
        .await?;
        text_when(&browser, "[data-metric=page_views] strong", |s| s == "1").await?;
        let chips = text_when(&browser, "[data-testid=filters]", |s| {
            s.contains("Page: /app")
        })
        .await?;
        assert!(chips.contains('×'), "{chips}");
        let url = browser.current_url().await?;
        assert!(url.query().unwrap_or("").contains("page=%2Fapp"), "{url}");
        // Opened afresh from its URL, the view is the same.
        browser.refresh().await?;
        text_when(&browser, "[data-metric=page_views] strong", |s| s == "1").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
}

#[tokio::test]
async fn the_comparison_view_shows_a_page_as_checks_and_real_users_see_it() {
    let server = TestServer::start(BackendKind::Sqlite).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (site, website) = super::browser::shop_with_website(&server, &admin).await;
    let (status, monitor) = server
        .call(
            Method::POST,
            "/api/v1/monitors",
            &admin,
            Some(
                json!({"name": "home page", "type": "browser", "url": format!("{website}/"),
                        "every": "1h"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{monitor}");
    let run = format!("/api/v1/monitors/{}/run", monitor["id"]);
    let (status, ran) = server.call(Method::POST, &run, &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{ran}");
    assert!(
        ran[0]["detail"]["metrics"]["lcp"].as_f64().is_some(),
        "{ran}"
    );

    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.person_session(profile.path()).await;
    let summary_path = format!("/api/v1/sites/{}/rum/summary?page=%2F", site["id"]);
    let walk = async {
        visit(&browser, &website, &["/", "/"]).await?;
        wait_for_page_views(&server, &admin, &summary_path, 2).await;

        log_in_with_the_form(&browser, &server).await?;
        click(&browser, Locator::Css("a[href='/compare']")).await?;
        let page = text_when(&browser, "main label select", |s| s.contains("shop /")).await?;
        assert!(page.contains("home page"), "{page}");
        // The runs per checkpoint are those the API holds (a scheduled run
        // may land while the page loads; the view shows it on its next read).
        let results = format!("/api/v1/monitors/{}/results", monitor["id"]);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let synthetic = text_when(&browser, "[data-testid=synthetic] tbody", |s| {
                s.contains("local")
            })
            .await?;
            let (_, stored) = server.call(Method::GET, &results, &admin, None).await;
            let runs = stored.as_array().unwrap().len();
            if synthetic.starts_with(&format!("local {runs} ")) {
                break;
            }
            assert!(Instant::now() < deadline, "{synthetic}, {runs} runs");
            browser.refresh().await?;
        }
        let real = text_when(&browser, "[data-testid=real]", |s| s.contains("p75")).await?;
        assert!(real.contains("p50") && real.contains("p95"), "{real}");
        browser
            .wait()
            .for_element(Locator::Css(".chart .uplot canvas"))
            .await?;
        let legend = text_when(&browser, ".uplot .u-legend", |s| s.contains("synthetic")).await?;
        assert!(legend.contains("real users p75"), "{legend}");
        readable(&browser, "the comparison view").await?;
        keep_screenshot(&browser, "compare").await?;
        fits_a_phone(&browser, "the comparison view").await?;

        // The page monitor's own page: its last run's requests as a
        // waterfall, the page itself first.
        browser
            .goto(&server.url(&format!("/monitors/{}", monitor["id"])))
            .await?;
        let first = text_when(&browser, "[data-testid=waterfall] tbody tr", |s| {
            !s.is_empty()
        })
        .await?;
        assert!(
            first.contains("document") && first.contains("200"),
            "{first}"
        );
        let bars = browser
            .find_all(Locator::Css("[data-testid=waterfall] .bar i"))
            .await?;
        assert!(!bars.is_empty(), "no phases drawn");
        readable(&browser, "a page monitor's page").await?;
        browser
            .execute(
                "document.getElementById('requests-heading').scrollIntoView()",
                vec![],
            )
            .await?;
        keep_screenshot(&browser, "waterfall").await?;
        fits_a_phone(&browser, "a page monitor's page").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
}

#[tokio::test]
async fn settings_show_checkpoints_send_a_test_email_and_manage_users_and_tokens() {
    let (smtp, config) = super::alerting::smtp_server();
    let server = TestServer::start_with(BackendKind::Sqlite, config).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    server.add_editor(&admin).await;
    // A log longer than a page: a site renamed a hundred times.
    let (_, site) = server
        .call(
            Method::POST,
            "/api/v1/sites",
            &admin,
            Some(json!({"name": "blog-0"})),
        )
        .await;
    for round in 1..=100 {
        let (status, _) = server
            .call(
                Method::PUT,
                &format!("/api/v1/sites/{}", site["id"]),
                &admin,
                Some(json!({"name": format!("blog-{round}")})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        log_in_with_the_form(&browser, &server).await?;
        click(&browser, Locator::Css("a[href='/settings']")).await?;
        let local = text_when(&browser, "tr[data-checkpoint=local]", |s| {
            s.contains("online")
        })
        .await?;
        assert!(local.contains("this server"), "{local}");

        type_into(&browser, Locator::Css("#test-email"), "oncall@example.com").await?;
        click(&browser, Locator::XPath("//button[.='Send test e-mail']")).await?;
        let sent = text_when(&browser, "[data-testid=test-email]", |s| !s.is_empty()).await?;
        assert!(sent.starts_with("sent"), "{sent}");

        type_into(&browser, Locator::Css("#user-email"), "new@example.com").await?;
        type_into(&browser, Locator::Css("#user-password"), "short").await?;
        click(&browser, Locator::XPath("//button[.='Add user']")).await?;
        let refused = text_when(
            &browser,
            "section[aria-labelledby=users-heading] .error",
            |s| !s.is_empty(),
        )
        .await?;
        assert!(refused.starts_with("password"), "{refused}");
        let password = browser.find(Locator::Css("#user-password")).await?;
        password.clear().await?;
        password.send_keys("a long enough password").await?;
        click(&browser, Locator::XPath("//button[.='Add user']")).await?;
        text_when(&browser, "[data-testid=users]", |s| {
            s.contains("new@example.com")
        })
        .await?;
        // One's own row cannot be removed or demoted; another's can be
        // promoted and given a new password.
        let own = format!("//tr[@data-user='{}']", ADMIN.0);
        let mine = text_when(&browser, &format!("tr[data-user='{}']", ADMIN.0), |s| {
            s.contains("(you)")
        })
        .await?;
        assert!(!mine.contains("Remove"), "{mine}");
        assert!(
            browser
                .find_all(Locator::XPath(&format!("{own}//button | {own}//select")))
                .await?
                .is_empty()
        );
        browser
            .find(Locator::Css("select[aria-label='Role of new@example.com']"))
            .await?
            .select_by_value("admin")
            .await?;
        let promoted = text_when(&browser, "[data-testid=user-changed]", |s| !s.is_empty()).await?;
        assert_eq!(promoted, "new@example.com is now an admin.");
        click(
            &browser,
            Locator::XPath("//tr[@data-user='new@example.com']//button[.='Reset password']"),
        )
        .await?;
        type_into(
            &browser,
            Locator::Css("tr[data-user='new@example.com'] input[type=password]"),
            "a fresh password for new",
        )
        .await?;
        click(
            &browser,
            Locator::XPath("//tr[@data-user='new@example.com']//button[.='Set']"),
        )
        .await?;
        text_when(&browser, "[data-testid=user-changed]", |s| {
            s.starts_with("New password set")
        })
        .await?;

        type_into(&browser, Locator::Css("#token-name"), "east agent").await?;
        type_into(&browser, Locator::Css("#token-checkpoint"), "east").await?;
        click(&browser, Locator::XPath("//button[.='Create token']")).await?;
        let shown = text_when(&browser, "[data-testid=new-token] code", |s| !s.is_empty()).await?;
        let row = text_when(&browser, "tr[data-token='east agent']", |s| {
            s.contains("Revoke")
        })
        .await?;
        assert!(row.contains("checkpoint agent"), "{row}");
        click(
            &browser,
            Locator::XPath("//tr[@data-token='east agent']//button[.='Revoke']"),
        )
        .await?;
        text_when(&browser, "tr[data-token='east agent']", |s| {
            s.contains("revoked")
        })
        .await?;
        fits_a_phone(&browser, "the settings").await?;

        // Every change above is in the audit log, one link away.
        click(&browser, Locator::Css("main a[href='/audit-log']")).await?;
        let log = text_when(&browser, "[data-testid=audit-log] tbody", |s| {
            s.contains("deleted token east agent")
        })
        .await?;
        for line in [
            "created user new@example.com",
            "changed user new@example.com",
            "role: viewer → admin",
            "created token east agent",
        ] {
            assert!(log.contains(line), "the log lacks `{line}`: {log}");
        }
        assert!(log.contains("session from 127.0.0.1"), "{log}");
        keep_screenshot(&browser, "audit-log").await?;
        browser.set_window_size(390, 844).await?;
        keep_screenshot(&browser, "audit-log-phone").await?;
        browser.set_window_size(1280, 800).await?;
        assert!(!log.contains(&shown), "the log shows a token's secret");
        // A hundred at a time; older ones a click away, down to the first.
        let rows = browser
            .find_all(Locator::Css("[data-testid=audit-log] tbody tr"))
            .await?;
        assert_eq!(rows.len(), 100);
        click(&browser, Locator::XPath("//button[.='Older changes']")).await?;
        let older = text_when(&browser, "[data-testid=audit-log] tbody", |s| {
            s.contains("created site blog-0")
        })
        .await?;
        assert!(older.contains("name: blog-0 → blog-1"), "{older}");
        assert!(older.contains("created user editor@example.com"), "{older}");
        assert!(
            browser
                .find_all(Locator::XPath("//button[.='Older changes']"))
                .await?
                .is_empty(),
            "nothing older is left to show"
        );
        browser
            .find(Locator::Css("#audit-kind"))
            .await?
            .select_by_value("token")
            .await?;
        text_when(&browser, "[data-testid=audit-log] tbody", |s| {
            !s.contains(" user ") && s.contains("token east agent")
        })
        .await?;
        let tokens = settled(async || {
            let rows = browser
                .find_all(Locator::Css("[data-testid=audit-log] tbody tr"))
                .await?;
            let mut texts = Vec::new();
            for row in rows {
                texts.push(row.text().await?);
            }
            Ok(texts)
        })
        .await?;
        assert_eq!(tokens.len(), 2, "{tokens:?}");
        assert!(
            tokens.iter().all(|row| row.contains("token east agent")),
            "{tokens:?}"
        );
        readable(&browser, "the audit log").await?;
        fits_a_phone(&browser, "the audit log").await?;

        // An editor changes monitors but sees no people, tokens or log.
        click(&browser, Locator::XPath("//button[text()='Log out']")).await?;
        log_in_as(&browser, &server, EDITOR).await?;
        let offered = browser
            .find_all(Locator::Css("a[href='/monitors/new']"))
            .await?;
        assert!(!offered.is_empty(), "an editor is offered no new monitor");
        click(&browser, Locator::Css("a[href='/settings']")).await?;
        text_when(&browser, "#checkpoints-heading", |s| !s.is_empty()).await?;
        for heading in ["#users-heading", "#tokens-heading", "#audit-heading"] {
            assert!(
                browser.find_all(Locator::Css(heading)).await?.is_empty(),
                "an editor sees {heading}"
            );
        }
        browser.goto(&server.url("/audit-log")).await?;
        text_when(&browser, "[data-testid=admins-only] h1", |s| {
            s == "Only admins can see this"
        })
        .await?;
        Ok::<_, fantoccini::error::CmdError>(shown)
    };
    let walked = walk.await;
    let _ = browser.close().await;
    let token = walked.unwrap();
    // The token the page showed was real, and is revoked now.
    let (status, _) = server
        .call(
            Method::GET,
            "/api/v1/checkpoints",
            &Auth::Bearer(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert!(String::from_utf8_lossy(&received[0]).contains("oncall@example.com"));
    // The new user is an admin now, and logs in with the password the
    // admin set, not the first one.
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/session",
            &Auth::None,
            Some(json!({"email": "new@example.com", "password": "a long enough password"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let new = Auth::Cookie(
        server
            .log_in(("new@example.com", "a fresh password for new"))
            .await,
    );
    let (_, session) = server
        .call(Method::GET, "/api/v1/session", &new, None)
        .await;
    assert_eq!(session["user"]["role"], "admin", "{session}");
}

#[tokio::test]
async fn a_transaction_made_in_the_steps_editor_shows_its_step_timings() {
    let server = TestServer::start(BackendKind::Sqlite).await;
    let shop = serve_app(
        axum::Router::new()
            .route(
                "/",
                axum::routing::get(|| async {
                    axum::response::Html(
                        "<!doctype html><title>Shop</title><a id=go href=/welcome>Enter</a>",
                    )
                }),
            )
            .route(
                "/welcome",
                axum::routing::get(|| async {
                    axum::response::Html("<!doctype html><h1>Welcome in</h1>")
                }),
            ),
    )
    .await;
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        log_in_with_the_form(&browser, &server).await?;
        click(&browser, Locator::Css("a[href='/monitors/new']")).await?;
        browser
            .wait()
            .for_element(Locator::Css("form.monitor-form"))
            .await?;
        browser
            .find(Locator::Css("#field-type"))
            .await?
            .select_by_value("transaction")
            .await?;
        type_into(
            &browser,
            Locator::Css("[data-field=name]"),
            "enter the shop",
        )
        .await?;
        let every = browser.find(Locator::Css("[data-field=every]")).await?;
        every.clear().await?;
        every.send_keys("1h").await?;
        for (index, (action, target)) in [
            ("navigate", format!("{shop}/")),
            ("click", "#go".to_owned()),
            ("assert_text", "Welcome in".to_owned()),
        ]
        .iter()
        .enumerate()
        {
            click(&browser, Locator::XPath("//button[.='Add step']")).await?;
            browser
                .find(Locator::Css(&format!("#step-{index}-action")))
                .await?
                .select_by_value(action)
                .await?;
            type_into(
                &browser,
                Locator::Css(&format!("#step-{index}-target")),
                target,
            )
            .await?;
        }
        click(&browser, Locator::XPath("//button[.='Try it now']")).await?;
        let tried = text_when(&browser, "[data-testid=tried]", |s| !s.is_empty()).await?;
        assert!(tried.starts_with("up"), "{tried}");
        click(&browser, Locator::Css("button[type=submit]")).await?;
        text_when(&browser, "h1", |s| s.starts_with("enter the shop")).await?;
        click(&browser, Locator::XPath("//button[.='Run now']")).await?;
        let steps = text_when(&browser, "[data-testid=step-timings]", |s| {
            s.matches("passed").count() == 3
        })
        .await?;
        assert!(steps.contains(" ms"), "{steps}");
        keep_screenshot(&browser, "transaction").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (_, list) = server
        .call(Method::GET, "/api/v1/monitors", &admin, None)
        .await;
    assert_eq!(
        list[0]["steps"],
        json!([{"navigate": format!("{shop}/")}, {"click": "#go"}, {"assert_text": "Welcome in"}]),
        "the editor saves the steps as the API writes them"
    );
}

#[tokio::test]
async fn alert_policies_and_maintenance_windows_are_edited_in_forms() {
    let server = TestServer::start(BackendKind::Sqlite).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    for (name, tags) in [("shop", json!(["web"])), ("db", json!([]))] {
        server
            .create_monitor(
                &admin,
                json!({"name": name, "type": "http", "url": server.url("/healthz"),
                       "every": "1h", "tags": tags}),
            )
            .await;
    }
    let (hooks, received) = super::channels::receiver().await;
    let slack = format!("{hooks}/slack/T000/B000/XXXX");
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        log_in_with_the_form(&browser, &server).await?;
        click(&browser, Locator::Css("a[href='/alerting']")).await?;
        browser
            .wait()
            .for_element(Locator::XPath("//button[.='New policy']"))
            .await?
            .click()
            .await?;
        type_into(&browser, Locator::Css("#policy-name"), "on-call").await?;
        let after = browser.find(Locator::Css("#level-0-after")).await?;
        after.clear().await?;
        after.send_keys("soon").await?;
        type_into(
            &browser,
            Locator::Css("#level-0-email"),
            "ops@example.com, dev@example.com",
        )
        .await?;
        // A channel beside e-mail: its settings come from the channel table.
        browser
            .find(Locator::Css("#level-0-add-channel"))
            .await?
            .select_by_value("slack")
            .await?;
        type_into(
            &browser,
            Locator::Css("#level-0-slack-0-webhook_url"),
            "hooks.slack.com/services/T000",
        )
        .await?;
        click(&browser, Locator::XPath("//button[.='Save policy']")).await?;
        // The API's word on the level's `after`, next to it; nothing saved.
        let refused = text_when(&browser, "#level-0-after-error", |s| !s.is_empty()).await?;
        assert!(!refused.is_empty());
        let after = browser.find(Locator::Css("#level-0-after")).await?;
        after.clear().await?;
        after.send_keys("2 confirmed errors").await?;
        click(&browser, Locator::XPath("//button[.='Save policy']")).await?;
        // Then on the Slack target's URL, under that field.
        let refused = text_when(&browser, "#level-0-slack-0-webhook_url-error", |s| {
            !s.is_empty()
        })
        .await?;
        assert!(refused.contains("URL"), "{refused}");
        let url = browser
            .find(Locator::Css("#level-0-slack-0-webhook_url"))
            .await?;
        url.clear().await?;
        url.send_keys(&slack).await?;
        // "Send a test" goes through the outbox to the receiver.
        click(
            &browser,
            Locator::XPath("//fieldset[@data-channel='slack']//button[.='Send a test']"),
        )
        .await?;
        let tested = text_when(&browser, "[data-testid=channel-test]", |s| !s.is_empty()).await?;
        assert!(tested.starts_with("sent"), "{tested}");
        // Classes are picked from the server's list, each said in words.
        let classes = text_when(&browser, "#level-0-classes", |s| {
            s.contains("confirmed_outage")
        })
        .await?;
        assert!(
            classes.contains("confirmed_outage confirmed outage, real users affected"),
            "{classes}"
        );
        click(
            &browser,
            Locator::Css("#level-0-classes input[value=confirmed_outage]"),
        )
        .await?;
        keep_screenshot(&browser, "alert-policy-form").await?;
        click(&browser, Locator::XPath("//button[.='Save policy']")).await?;
        let row = text_when(&browser, "tr[data-policy=on-call]", |s| !s.is_empty()).await?;
        assert!(
            row.contains("after 2 confirmed errors: ops@example.com, dev@example.com, Slack"),
            "{row}"
        );
        let (_, saved) = server
            .call(Method::GET, "/api/v1/alert-policies", &admin, None)
            .await;
        assert_eq!(
            saved[0]["levels"][0]["classes"],
            json!(["confirmed_outage"])
        );

        click(&browser, Locator::XPath("//button[.='New window']")).await?;
        type_into(&browser, Locator::Css("#window-name"), "sunday deploy").await?;
        // Monitors and tags are picked from those that exist.
        click(
            &browser,
            Locator::XPath("//fieldset[@id='window-tags']//label[contains(., 'web')]/input"),
        )
        .await?;
        let offered = browser
            .find(Locator::Css("#window-monitors"))
            .await?
            .text()
            .await?;
        assert!(
            offered.contains("db") && offered.contains("shop"),
            "{offered}"
        );
        click(
            &browser,
            Locator::XPath("//label[contains(., 'Recurring')]/input"),
        )
        .await?;
        type_into(&browser, Locator::Css("#window-cron"), "0 2 * * 0").await?;
        type_into(&browser, Locator::Css("#window-duration"), "30m").await?;
        click(&browser, Locator::XPath("//button[.='Save window']")).await?;
        let row = text_when(&browser, "tr[data-window='sunday deploy']", |s| {
            !s.is_empty()
        })
        .await?;
        assert!(
            row.contains("0 2 * * 0 UTC, for 30m") && row.contains("tag web"),
            "{row}"
        );
        // Its next three Sundays, in the viewer's zone.
        let next = browser
            .find_all(Locator::Css(
                "tr[data-window='sunday deploy'] ul.upcoming li",
            ))
            .await?;
        assert_eq!(next.len(), 3, "{row}");
        fits_a_phone(&browser, "alerting").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
    let (_, windows) = server
        .call(Method::GET, "/api/v1/maintenance-windows", &admin, None)
        .await;
    assert_eq!(windows[0]["tags"], json!(["web"]), "{windows}");
    let upcoming = windows[0]["upcoming"].as_array().unwrap();
    for span in upcoming {
        let starts =
            chrono::DateTime::parse_from_rfc3339(span["starts_at"].as_str().unwrap()).unwrap();
        assert_eq!(starts.format("%a %H:%M").to_string(), "Sun 02:00", "{span}");
    }
    let (_, policies) = server
        .call(Method::GET, "/api/v1/alert-policies", &admin, None)
        .await;
    assert_eq!(policies.as_array().map(Vec::len), Some(1), "{policies}");
    assert_eq!(
        policies[0]["levels"][0]["email"],
        json!(["ops@example.com", "dev@example.com"])
    );
    assert_eq!(
        policies[0]["levels"][0]["slack"],
        json!([{"webhook_url": slack}])
    );
    let tests = received.lock().unwrap().clone();
    assert_eq!(tests.len(), 1, "one test, to the URL typed: {tests:?}");
    assert_eq!(tests[0].path, "/slack/T000/B000/XXXX");
    super::channels::check_slack(&tests[0].json());
}

#[tokio::test]
async fn a_site_made_with_the_form_shows_its_snippet() {
    let server = TestServer::start(BackendKind::Sqlite).await;
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        log_in_with_the_form(&browser, &server).await?;
        browser
            .wait()
            .for_element(Locator::Css("a[href='/sites/new']"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .for_element(Locator::Css("#site-name"))
            .await?
            .send_keys("shop")
            .await?;
        type_into(
            &browser,
            Locator::Css("#site-origins"),
            "shop.example.com/path",
        )
        .await?;
        click(&browser, Locator::XPath("//button[.='Create site']")).await?;
        let refused = text_when(&browser, "#site-origins-error", |s| !s.is_empty()).await?;
        assert!(!refused.is_empty());
        let origins = browser.find(Locator::Css("#site-origins")).await?;
        origins.clear().await?;
        origins.send_keys("https://shop.example.com").await?;
        click(&browser, Locator::XPath("//button[.='Create site']")).await?;
        text_when(&browser, "h1", |s| s.starts_with("shop")).await?;
        // A new site: its snippet first, waiting for the first page view.
        let snippet = text_when(&browser, "[data-testid=waiting] pre", |s| {
            s.contains("data-site")
        })
        .await?;
        assert!(snippet.contains("/rum.js"), "{snippet}");
        fits_a_phone(&browser, "a new site").await?;
        // One arrives: the page says so by itself, within seconds.
        let key = snippet
            .split("data-site=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_owned();
        let (status, answer) = super::collector::send(
            &server,
            serde_json::to_vec(&super::collector::beacon(&key)).unwrap(),
            Some("https://shop.example.com"),
            super::collector::CHROME,
        )
        .await;
        assert!(status.is_success(), "{status} {answer}");
        text_when(&browser, "[data-metric=page_views] strong", |s| s == "1").await?;
        assert!(
            browser
                .find_all(Locator::Css("[data-testid=waiting]"))
                .await?
                .is_empty()
        );
        Ok::<_, fantoccini::error::CmdError>(snippet)
    };
    let walked = walk.await;
    let _ = browser.close().await;
    let snippet = walked.unwrap();
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (_, sites) = server
        .call(Method::GET, "/api/v1/sites", &admin, None)
        .await;
    assert_eq!(
        sites.as_array().map(Vec::len),
        Some(1),
        "only the valid site was saved"
    );
    assert!(
        snippet.contains(sites[0]["site_key"].as_str().unwrap()),
        "{snippet}"
    );
    assert_eq!(sites[0]["origins"], json!(["https://shop.example.com"]));
}

#[tokio::test]
async fn a_multi_step_api_check_is_made_in_its_editor_and_passes_a_value_on() {
    let server = TestServer::start(BackendKind::Sqlite).await;
    let app = serve_app(
        axum::Router::new()
            .route(
                "/login",
                axum::routing::post(|| async {
                    (
                        [("x-session", "s-42")],
                        axum::Json(json!({"token": "abc123"})),
                    )
                }),
            )
            .route(
                "/me",
                axum::routing::get(
                    |query: axum::extract::Query<std::collections::HashMap<String, String>>,
                     headers: axum::http::HeaderMap| async move {
                        let session = headers.get("x-session").and_then(|v| v.to_str().ok());
                        if query.get("token").map(String::as_str) == Some("abc123")
                            && session == Some("s-42")
                        {
                            axum::Json(json!({"user": {"name": "ada"}})).into_response()
                        } else {
                            StatusCode::UNAUTHORIZED.into_response()
                        }
                    },
                ),
            ),
    )
    .await;
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        log_in_with_the_form(&browser, &server).await?;
        click(&browser, Locator::Css("a[href='/monitors/new']")).await?;
        browser
            .wait()
            .for_element(Locator::Css("#field-type"))
            .await?
            .select_by_value("api")
            .await?;
        type_into(
            &browser,
            Locator::Css("[data-field=name]"),
            "log in and read",
        )
        .await?;
        for (index, (method, url)) in [
            ("POST", format!("{app}/login")),
            ("GET", format!("{app}/me?token={{{{token}}}}")),
        ]
        .iter()
        .enumerate()
        {
            click(&browser, Locator::XPath("//button[.='Add request']")).await?;
            browser
                .find(Locator::Css(&format!("#api-{index}-method")))
                .await?
                .select_by_value(method)
                .await?;
            type_into(&browser, Locator::Css(&format!("#api-{index}-url")), url).await?;
            type_into(
                &browser,
                Locator::Css(&format!("#api-{index}-status")),
                "200",
            )
            .await?;
        }
        // A value from the JSON answer and one from a header, passed on;
        // a condition on the second answer's JSON, wrong at first.
        type_into(
            &browser,
            Locator::Css("#api-0-extract"),
            "token = $.token\nsession = header x-session",
        )
        .await?;
        type_into(
            &browser,
            Locator::Css("#api-1-headers"),
            "X-Session: {{session}}",
        )
        .await?;
        let conditions = browser.find(Locator::Css("#api-1-json")).await?;
        conditions.send_keys("$.user.name == \"bob\"").await?;
        // Tries the check; the answer is the first that differs from `before`.
        let try_it = async |before: &str| {
            click(&browser, Locator::XPath("//button[.='Try it now']")).await?;
            text_when(&browser, "[data-testid=tried]", |s| {
                (s.starts_with("up") || s.starts_with("error")) && s != before
            })
            .await
        };
        let wrong = try_it("").await?;
        assert!(
            wrong.starts_with("error") && wrong.contains("$.user.name"),
            "{wrong}"
        );
        // Select all, type the right one.
        conditions.send_keys("\u{E009}a\u{E000}").await?;
        conditions
            .send_keys("$.user.name == \"ada\"\n$.error missing")
            .await?;
        let tried = try_it(&wrong).await?;
        assert!(tried.starts_with("up"), "{tried}");
        click(&browser, Locator::Css("button[type=submit]")).await?;
        text_when(&browser, "h1", |s| s.starts_with("log in and read")).await?;
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (_, list) = server
        .call(Method::GET, "/api/v1/monitors", &admin, None)
        .await;
    let steps = &list[0]["steps"];
    assert_eq!(steps[0]["method"], "POST", "{list}");
    assert_eq!(
        steps[0]["extract"],
        json!([{"name": "token", "json_path": "$.token"},
               {"name": "session", "header": "x-session"}]),
        "{list}"
    );
    assert_eq!(
        steps[1]["headers"],
        json!({"X-Session": "{{session}}"}),
        "{list}"
    );
    assert_eq!(
        steps[1]["expect"]["json"],
        json!([{"path": "$.user.name", "equals": "ada"},
               {"path": "$.error", "exists": false}]),
        "{list}"
    );
    assert_eq!(
        steps[1]["url"],
        format!("{app}/me?token={{{{token}}}}"),
        "{list}"
    );
    assert_eq!(steps[1]["expect"]["status"], json!([200]), "{list}");
}

/// A monitor of every type, once passing and once failing, against real
/// targets on 127.0.0.1: each `(name, spec)`.
async fn a_monitor_of_every_type_up_and_down() -> Vec<(String, Value)> {
    use super::targets;
    let app = targets::http_app(targets::App::default()).await;
    let app = format!("http://{app}");
    let closed = targets::closed_port().await;
    let dns = targets::dns_server().await.to_string();
    let certificates = targets::certificates(Duration::from_secs(90 * 24 * 3600));
    let tls = targets::tls_server(&certificates).await.port();
    let app_port: u16 = app.rsplit(':').next().unwrap().parse().unwrap();
    let api = |second: u16| {
        json!({"type": "api", "steps": [
            {"name": "page", "url": format!("{app}/ok"), "expect": {"status": [200]}},
            {"name": "health", "url": format!("{app}/health"), "expect": {"status": [second]}},
        ]})
    };
    let journey = |text: &str| {
        json!({"type": "transaction", "steps": [
            {"navigate": format!("{app}/ok")}, {"assert_text": text}]})
    };
    let specs = [
        (
            "http",
            json!({"type": "http", "url": format!("{app}/ok")}),
            json!({"type": "http", "url": format!("http://127.0.0.1:{closed}/")}),
        ),
        (
            "tcp",
            json!({"type": "tcp", "host": "127.0.0.1", "port": app_port}),
            json!({"type": "tcp", "host": "127.0.0.1", "port": closed}),
        ),
        (
            "dns",
            json!({"type": "dns", "host": "shop.test", "resolver": dns, "expect": ["192.0.2.10"]}),
            json!({"type": "dns", "host": "shop.test", "resolver": dns, "expect": ["192.0.2.99"]}),
        ),
        (
            "tls",
            json!({"type": "tls", "host": "127.0.0.1", "port": tls, "check_chain": false}),
            json!({"type": "tls", "host": "127.0.0.1", "port": closed}),
        ),
        (
            "ping",
            json!({"type": "ping", "host": "127.0.0.1", "count": 2}),
            json!({"type": "ping", "host": "192.0.2.1", "count": 1, "timeout": "2s"}),
        ),
        ("api", api(200), api(201)),
        (
            "browser",
            json!({"type": "browser", "url": format!("{app}/ok")}),
            json!({"type": "browser", "url": format!("{app}/ok"), "expect": {"text": "Checkout"}}),
        ),
        ("transaction", journey("Add to cart"), journey("Checkout")),
    ];
    let mut monitors = Vec::new();
    for (kind, up, down) in specs {
        for (state, mut spec) in [("up", up), ("down", down)] {
            let name = format!("{kind} {state}");
            spec["name"] = json!(name);
            spec["every"] = json!("1h");
            monitors.push((name, spec));
        }
    }
    monitors
}

/// The console errors the page logged since the last read.
async fn console_errors(browser: &Client) -> Vec<String> {
    use sightline_synthetic::browser::chrome_log::{LogKind, read};
    read(browser, LogKind::Console)
        .await
        .unwrap()
        .into_iter()
        .filter(|entry| entry.level == "SEVERE")
        .map(|entry| entry.message)
        .collect()
}

/// Every monitor type has a page that renders, passing and failing: no
/// error in the console, nothing still loading once its data is in, the
/// steps of multi-step checks and a page's vitals shown, and nothing wider
/// than a phone.
#[tokio::test]
async fn the_page_of_every_monitor_type_renders_up_and_down() {
    let server = TestServer::start(BackendKind::Sqlite).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let mut pages = Vec::new();
    for (name, spec) in a_monitor_of_every_type_up_and_down().await {
        let id = server.create_monitor(&admin, spec).await;
        let (status, results) = server.run_now(&admin, id).await;
        assert_eq!(status, StatusCode::OK, "{name}: {results}");
        let outcome = results[0]["outcome"].as_str().unwrap().to_owned();
        // Ping needs ICMP, which a machine may refuse: then both fail, and
        // say why.
        if !name.starts_with("ping") {
            let expected = if name.ends_with("up") { "up" } else { "error" };
            assert_eq!(outcome, expected, "{name}: {results}");
        }
        pages.push((name, id, outcome));
    }
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        log_in_with_the_form(&browser, &server).await?;
        console_errors(&browser).await;
        for (name, id, outcome) in &pages {
            browser
                .goto(&server.url(&format!("/monitors/{id}")))
                .await?;
            let heading = text_when(&browser, "h1", |s| s.starts_with(name.as_str())).await?;
            assert!(!heading.is_empty());
            // Its results are in: the table shows the run.
            let first = text_when(&browser, "table.results tbody tr", |s| !s.is_empty()).await?;
            assert!(first.contains(outcome.as_str()), "{name}: {first}");
            let loading = browser.find_all(Locator::Css(".loading")).await?;
            assert!(loading.is_empty(), "{name}: still loading");
            if name.starts_with("api") || name.starts_with("transaction") {
                let steps =
                    text_when(&browser, "[data-testid=step-timings]", |s| !s.is_empty()).await?;
                let shown = if name.ends_with("up") { "up" } else { "error" };
                let shown = if name.starts_with("transaction") && shown == "up" {
                    "passed"
                } else if name.starts_with("transaction") {
                    "failed"
                } else {
                    shown
                };
                assert!(steps.contains(shown), "{name}: {steps}");
            }
            if name.starts_with("browser") {
                let vitals =
                    text_when(&browser, "[data-testid=page-vitals]", |s| s.contains("LCP")).await?;
                assert!(vitals.contains(" ms"), "{name}: {vitals}");
                let rated = browser
                    .find_all(Locator::Css("[data-testid=page-vitals] .card.good"))
                    .await?;
                assert!(!rated.is_empty(), "{name}: no vital rated good: {vitals}");
            }
            // The chart is drawn.
            browser
                .wait()
                .for_element(Locator::Css(".chart canvas"))
                .await?;
            // What the type measures besides time, over the period.
            let measured = match name.split(' ').next().unwrap() {
                "tls" if outcome == "up" => Some("days left"),
                "ping" if outcome == "up" => Some("Round trips and loss"),
                "api" | "transaction" => Some("Each step's time"),
                "dns" if outcome == "up" => Some("192.0.2.10"),
                _ => None,
            };
            if let Some(words) = measured {
                let view =
                    text_when(&browser, "[data-testid=type-chart]", |s| !s.is_empty()).await?;
                assert!(view.contains(words), "{name}: {view}");
            }
            keep_screenshot(&browser, &format!("monitor-{}", name.replace(' ', "-"))).await?;
            fits_a_phone(&browser, name).await?;
            let errors = console_errors(&browser).await;
            assert_eq!(errors, Vec::<String>::new(), "{name}: console errors");

            // The run opens from the results: what it found, by type.
            click(&browser, Locator::Css("table.results tbody tr a")).await?;
            let heading = text_when(&browser, "h1", |s| s.starts_with("Result of")).await?;
            assert!(heading.contains(outcome.as_str()), "{name}: {heading}");
            let shows = |css: &'static str| {
                let browser = &browser;
                async move { text_when(browser, css, |s| !s.is_empty()).await }
            };
            if outcome == "error" {
                let problem = shows("[data-testid=result-problem]").await?;
                assert!(problem.len() > 10, "{name}: {problem}");
            }
            let kind = name.split(' ').next().unwrap();
            match (kind, outcome.as_str()) {
                ("http", "up") => {
                    let conditions = shows("[data-testid=conditions]").await?;
                    assert!(conditions.contains("a 2xx status"), "{name}: {conditions}");
                    assert!(shows("[data-testid=phases]").await?.contains("first byte"));
                }
                ("dns", _) => {
                    let answers = shows("[data-testid=dns-answers]").await?;
                    assert!(answers.contains("192.0.2.10"), "{name}: {answers}");
                }
                ("tls", "up") => {
                    let tls = shows("[data-testid=tls]").await?;
                    assert!(tls.contains("Days left"), "{name}: {tls}");
                    let chain = shows("[data-testid=certificates]").await?;
                    assert!(chain.contains("Sightline Test CA"), "{name}: {chain}");
                }
                ("ping", "up") => {
                    assert!(shows("[data-testid=ping]").await?.contains("Loss"));
                }
                ("tcp", "up") => {
                    assert!(shows("[data-testid=phases]").await?.contains("connect"));
                }
                ("api", _) => {
                    let requests = shows("[data-testid=api-requests]").await?;
                    assert!(requests.contains("2. health"), "{name}: {requests}");
                    let expected = if name.ends_with("up") {
                        "status 200"
                    } else {
                        "status 201"
                    };
                    assert!(requests.contains(expected), "{name}: {requests}");
                    if name.ends_with("down") {
                        // The failed request keeps its body.
                        shows("[data-testid=body-excerpt]").await?;
                    }
                }
                ("browser", _) => {
                    assert!(shows("[data-testid=page-vitals]").await?.contains("LCP"));
                    assert!(shows("[data-testid=waterfall]").await?.contains("/ok"));
                }
                ("transaction", _) => {
                    shows("[data-testid=step-timings]").await?;
                }
                _ => {}
            }
            keep_screenshot(&browser, &format!("result-{}", name.replace(' ', "-"))).await?;
            fits_a_phone(&browser, &format!("{name}'s result")).await?;
            let errors = console_errors(&browser).await;
            assert_eq!(
                errors,
                Vec::<String>::new(),
                "{name}'s result: console errors"
            );
        }
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
}

#[tokio::test]
async fn incidents_are_listed_acknowledged_and_commented_on() {
    let (_smtp, config) = super::alerting::smtp_server();
    let server = TestServer::start_with(BackendKind::Sqlite, config).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let policy = json!({"name": "on-call", "levels": [{"after": "1 confirmed error",
        "email": ["a-rather-long-address-for-the-on-call-rota@example.com"]}]});
    let (status, answer) = server
        .call(Method::POST, "/api/v1/alert-policies", &admin, Some(policy))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    for name in ["database", "queue"] {
        let id = server
            .create_monitor(
                &admin,
                json!({"name": name, "type": "tcp", "host": "127.0.0.1",
                       "port": sightline_store::testing::free_port(), "every": "1h",
                       "alert_policy": "on-call"}),
            )
            .await;
        server.run_now(&admin, id).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, open) = server
            .call(Method::GET, "/api/v1/incidents?open=true", &admin, None)
            .await;
        if open.as_array().map(Vec::len) == Some(2) {
            break;
        }
        assert!(Instant::now() < deadline, "{open}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        log_in_with_the_form(&browser, &server).await?;
        click(&browser, Locator::Css("a[href='/incidents']")).await?;
        let listed = text_when(&browser, "[data-testid=incidents]", |s| {
            s.contains("database") && s.contains("queue")
        })
        .await?;
        assert!(listed.contains("open"), "{listed}");
        readable(&browser, "incidents").await?;
        fits_a_phone(&browser, "incidents").await?;
        keep_screenshot(&browser, "check-incidents").await?;
        click(&browser, Locator::XPath("//a[.='database']")).await?;
        text_when(&browser, "[data-testid=acknowledge]", |s| !s.is_empty()).await?;
        type_into(&browser, Locator::Css("#ack-comment"), "restarting it").await?;
        click(
            &browser,
            Locator::XPath("//button[contains(., 'acknowledge')]"),
        )
        .await?;
        let on_it = text_when(&browser, "[data-testid=acknowledged]", |s| !s.is_empty()).await?;
        assert_eq!(on_it, format!("{} is on it", ADMIN.0));
        type_into(&browser, Locator::Css("#comment-text"), "disk full on db-1").await?;
        click(&browser, Locator::XPath("//button[.='Comment']")).await?;
        let timeline = text_when(&browser, "[data-testid=timeline]", |s| {
            s.contains("disk full on db-1")
        })
        .await?;
        assert!(timeline.contains("acknowledged"), "{timeline}");
        assert!(timeline.contains("restarting it"), "{timeline}");
        // The e-mail it sent, with the receiver's answer.
        let sent = text_when(&browser, "[data-testid=notifications]", |s| {
            s.contains("sent")
        })
        .await?;
        assert!(sent.contains("on-call-rota@example.com"), "{sent}");
        readable(&browser, "incident").await?;
        fits_a_phone(&browser, "incident").await?;
        // Muted for an hour from here: a window over its monitor alone.
        click(
            &browser,
            Locator::XPath("//p[@data-testid='incident-mute']/button[.='Mute 1 h']"),
        )
        .await?;
        let muted = text_when(&browser, "[data-testid=muted]", |s| !s.is_empty()).await?;
        assert!(muted.starts_with("Muted until"), "{muted}");
        keep_screenshot(&browser, "incident-acknowledged").await?;
        // The list filters by state.
        click(&browser, Locator::Css("a[href='/incidents']")).await?;
        click(&browser, Locator::XPath("//a[.='Nobody on it']")).await?;
        let nobody = text_when(&browser, "[data-testid=incidents]", |s| {
            !s.contains("database")
        })
        .await?;
        assert!(nobody.contains("queue"), "{nobody}");
        click(&browser, Locator::XPath("//a[.='Acknowledged']")).await?;
        let acknowledged = text_when(&browser, "[data-testid=incidents]", |s| {
            !s.contains("queue")
        })
        .await?;
        assert!(acknowledged.contains(ADMIN.0), "{acknowledged}");
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
    let (_, windows) = server
        .call(Method::GET, "/api/v1/maintenance-windows", &admin, None)
        .await;
    assert_eq!(windows.as_array().map(Vec::len), Some(1), "{windows}");
    assert_eq!(windows[0]["monitors"], json!(["database"]), "{windows}");
    assert_eq!(windows[0]["active"], true, "{windows}");
    let (_, acknowledged) = server
        .call(
            Method::GET,
            "/api/v1/incidents?state=acknowledged",
            &admin,
            None,
        )
        .await;
    assert_eq!(acknowledged.as_array().map(Vec::len), Some(1));
}

/// The public status page of a shop with weeks of history, an outage, a
/// written incident and maintenance to come, read in Chromium as its
/// visitors would: light and dark, desktop and phone, with the keyboard.
#[tokio::test]
async fn a_status_page_reads_well_in_light_and_dark_on_a_desktop_a_phone_and_by_keyboard() {
    let server = TestServer::start_after(
        BackendKind::Sqlite,
        ServerConfig {
            status_refresh: Duration::from_secs(1),
            ..ServerConfig::default()
        },
        async |store| {
            let site = super::correlation::create_site(store, "shop").await;
            super::correlation::record_past(store, site).await;
        },
    )
    .await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let app = axum::Router::new().fallback(|| async { "fine" });
    let base = serve_app(app).await;
    let mut monitors = Vec::new();
    for (name, path) in [
        ("shop home", "/"),
        ("checkout", "/checkout"),
        ("search api", "/search"),
        ("payments api", "/pay"),
    ] {
        let id = server
            .create_monitor(
                &admin,
                json!({"name": name, "type": "http", "url": format!("{base}{path}"), "every": "1h"}),
            )
            .await;
        monitors.push(id);
    }
    let refused = server
        .create_monitor(
            &admin,
            json!({"name": "mail", "type": "tcp", "host": "127.0.0.1",
                   "port": sightline_store::testing::free_port(), "every": "1h"}),
        )
        .await;
    // Sixty days of history: most days clean, a few with failures.
    let store = &server.store;
    let local = store.ensure_checkpoint("local").await.unwrap();
    let day_ms = 86_400_000;
    let today = store.now().as_millis().div_euclid(day_ms) * day_ms;
    let mut history = Vec::new();
    for (index, id) in monitors.iter().enumerate() {
        for day in 1..60 {
            for hour in 0..24 {
                let at = sightline_core::Timestamp::from(today - day * day_ms + hour * 3_600_000);
                let failed = (day + index as i64) % 17 == 0 && hour < 3 + index as i64;
                history.push(super::status_pages::result(*id, local.id, at, failed));
            }
        }
    }
    for result in &history {
        store.record_check_result(result).await.unwrap();
    }
    while store.roll_check_summaries(store.now(), 5000).await.unwrap() > 0 {}
    for id in &monitors {
        server.run_now(&admin, *id).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        server.run_now(&admin, refused).await;
        let (_, monitor) = server
            .call(
                Method::GET,
                &format!("/api/v1/monitors/{refused}"),
                &admin,
                None,
            )
            .await;
        if monitor["status"] == "down" {
            break;
        }
        assert!(Instant::now() < deadline, "{monitor}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (status, page) = server
        .call(
            Method::POST,
            "/api/v1/status-pages",
            &admin,
            Some(json!({"slug": "shop", "title": "Coffee Shop status",
            "description": "Live status of the shop, its checkout and its API.",
            "groups": [
                {"name": "Website", "components": [
                    {"name": "Store front", "monitors": ["shop home"]},
                    {"name": "Checkout", "monitors": ["checkout"]},
                    {"name": "What visitors see", "site": "shop"}]},
                {"name": "API and e-mail", "components": [
                    {"name": "Public API", "monitors": ["search api", "payments api"]},
                    {"name": "Order e-mails", "monitors": ["mail"]}]}
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{page}");
    let id = page["id"].as_i64().unwrap();
    let (_, incident) = server
        .call(
            Method::POST,
            &format!("/api/v1/status-pages/{id}/incidents"),
            &admin,
            Some(json!({"title": "Order confirmations are delayed",
                        "components": ["Order e-mails"], "state": "identified",
                        "message": "Our mail relay refuses connections; confirmations queue up and will all be sent."})),
        )
        .await;
    assert!(incident["id"].is_i64(), "{incident}");
    let in_a_day = chrono::DateTime::from_timestamp_millis(store.now().as_millis() + 86_400_000)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let later = chrono::DateTime::from_timestamp_millis(store.now().as_millis() + 90_000_000)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    server
        .call(
            Method::POST,
            "/api/v1/maintenance-windows",
            &admin,
            Some(json!({"name": "db upgrade", "monitors": ["checkout"],
                        "starts_at": in_a_day, "ends_at": later})),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let driver = ChromeDriver::start().await;
    for (scheme, extra) in [
        ("light", vec![]),
        ("dark", vec!["--force-dark-mode".to_owned()]),
    ] {
        let profile = tempfile::tempdir().unwrap();
        let browser = driver.session_with(profile.path(), &extra).await;
        let walk = async {
            browser.set_window_size(1280, 800).await?;
            browser.goto(&server.url("/status/shop")).await?;
            let dark = browser
                .execute(
                    "return matchMedia('(prefers-color-scheme: dark)').matches",
                    vec![],
                )
                .await?;
            assert_eq!(dark, json!(scheme == "dark"), "{scheme}");
            let heading = text_when(&browser, "h1", |s| !s.is_empty()).await?;
            assert_eq!(heading, "Coffee Shop status");
            let banner = browser.find(Locator::Css(".banner")).await?.text().await?;
            assert!(
                banner.starts_with("Major outage") || banner.starts_with("Partial outage"),
                "{banner}"
            );
            assert_eq!(console_errors(&browser).await, Vec::<String>::new());
            readable(&browser, &format!("status page, {scheme}")).await?;
            // It weighs under 50 KB and fetches nothing from elsewhere.
            let weight = browser
                .execute(
                    "const n = performance.getEntriesByType('navigation')[0]; \
                     const others = performance.getEntriesByType('resource') \
                       .filter((r) => !r.name.startsWith(location.origin)).map((r) => r.name); \
                     return [n.transferSize, n.decodedBodySize, others];",
                    vec![],
                )
                .await?;
            assert!(weight[0].as_u64().unwrap() < 50_000, "{weight}");
            assert_eq!(weight[2], json!([]), "{weight}");
            // The keyboard reaches each day of a bar, and a focused day
            // shows its figure.
            let mut reached = String::new();
            for _ in 0..40 {
                press(&browser, Key::Tab).await?;
                reached = browser
                    .execute(
                        "const e = document.activeElement; \
                         if (e.tagName !== 'LI') return ''; \
                         const tip = e.querySelector('i').getBoundingClientRect(); \
                         return tip.width > 100 ? e.textContent : 'hidden';",
                        vec![],
                    )
                    .await?
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if !reached.is_empty() {
                    break;
                }
            }
            assert!(
                reached.contains("% up") || reached.contains("no data"),
                "{reached}"
            );
            browser.set_window_size(1280, 1500).await?;
            browser
                .execute(
                    "document.activeElement.blur(); window.scrollTo(0, 0);",
                    vec![],
                )
                .await?;
            keep_screenshot(&browser, &format!("status-page-{scheme}")).await?;
            fits_a_phone(&browser, &format!("status page, {scheme}")).await?;
            browser.set_window_size(390, 1400).await?;
            browser.execute("window.scrollTo(0, 0);", vec![]).await?;
            readable(&browser, &format!("status page on a phone, {scheme}")).await?;
            keep_screenshot(&browser, &format!("status-page-{scheme}-phone")).await?;
            Ok::<_, fantoccini::error::CmdError>(())
        };
        let outcome = walk.await;
        browser.close().await.unwrap();
        outcome.unwrap();
    }
    server.stop().await;
}

/// A status page made in its editor: groups and components picked from the
/// monitors, a preview of what the public will see that follows the edits,
/// then an incident posted, updated and corrected from the page's screen.
#[tokio::test]
async fn a_status_page_is_made_in_its_editor_with_a_preview_and_incidents_posted() {
    let server = TestServer::start_with(
        BackendKind::Sqlite,
        ServerConfig {
            status_refresh: Duration::from_millis(200),
            ..ServerConfig::default()
        },
    )
    .await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    for name in ["shop home", "checkout"] {
        server
            .create_monitor(
                &admin,
                json!({"name": name, "type": "tcp", "host": "127.0.0.1", "port": 9, "every": "1h"}),
            )
            .await;
    }
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        log_in_with_the_form(&browser, &server).await?;
        click(&browser, Locator::Css("a[href='/status-pages']")).await?;
        browser
            .wait()
            .for_element(Locator::Css("a[href='/status-pages/new']"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .for_element(Locator::Css("#page-title"))
            .await?;
        type_into(&browser, Locator::Css("#page-title"), "Shop status").await?;
        type_into(&browser, Locator::Css("#page-slug"), "shop").await?;
        click(&browser, Locator::XPath("//button[.='Add a component']")).await?;
        type_into(&browser, Locator::Css("#component-0-0"), "Store front").await?;
        browser
            .find(Locator::Css(
                "#component-0-0-monitors option[value='shop home']",
            ))
            .await?
            .click()
            .await?;
        // The preview shows the component under its public name.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let shown = browser
                .execute(
                    "const f = document.querySelector('.preview iframe'); \
                     return f ? f.getAttribute('srcdoc') : '';",
                    vec![],
                )
                .await?;
            let shown = shown.as_str().unwrap_or_default();
            if shown.contains("Store front") {
                assert!(
                    !shown.contains("shop home"),
                    "the monitor's own name is private"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the preview never showed the component"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        readable(&browser, "status page editor").await?;
        keep_screenshot(&browser, "status-page-editor").await?;
        click(&browser, Locator::XPath("//button[.='Create page']")).await?;
        browser
            .wait()
            .for_element(Locator::Css("#incident-title"))
            .await?;
        type_into(
            &browser,
            Locator::Css("#incident-title"),
            "Checkout is slow",
        )
        .await?;
        click(
            &browser,
            Locator::XPath("//label[contains(., 'Store front')]/input"),
        )
        .await?;
        type_into(
            &browser,
            Locator::Css("#incident-message"),
            "We are looking into it.",
        )
        .await?;
        click(&browser, Locator::XPath("//button[.='Post incident']")).await?;
        text_when(&browser, "[data-testid=written-incident]", |s| {
            s.contains("We are looking into it.")
        })
        .await?;
        browser
            .find(Locator::Css("[data-testid=written-incident] select"))
            .await?
            .select_by_value("resolved")
            .await?;
        type_into(
            &browser,
            Locator::Css("[data-testid=written-incident] textarea"),
            "Fixed: a slow query.",
        )
        .await?;
        click(&browser, Locator::XPath("//button[.='Post update']")).await?;
        text_when(&browser, "[data-testid=written-incident]", |s| {
            s.contains("Fixed: a slow query.") && s.contains("Resolved")
        })
        .await?;
        fits_a_phone(&browser, "status page editor").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let outcome = walk.await;
    browser.close().await.unwrap();
    outcome.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let page = server
        .http
        .get(server.url("/status/shop"))
        .send()
        .await
        .unwrap();
    let text = page.text().await.unwrap();
    assert!(
        text.contains("Checkout is slow") && text.contains("Fixed: a slow query."),
        "{text}"
    );
    server.stop().await;
}

/// In Chromium: a status page follows a monitor going down within its
/// snapshot interval, answers on its own domain, and a private page asks
/// for its password (refusing a wrong one) before it shows anything.
#[tokio::test]
async fn a_status_page_follows_an_outage_answers_on_its_domain_and_keeps_its_password() {
    let server = TestServer::start_with(
        BackendKind::Sqlite,
        ServerConfig {
            status_refresh: Duration::from_secs(1),
            vault_key: Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned()),
            ..ServerConfig::default()
        },
    )
    .await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let broken = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failing = broken.clone();
    let app = axum::Router::new().fallback(move || {
        let failing = failing.clone();
        async move {
            if failing.load(std::sync::atomic::Ordering::SeqCst) {
                (StatusCode::INTERNAL_SERVER_ERROR, "broken").into_response()
            } else {
                "fine".into_response()
            }
        }
    });
    let base = serve_app(app).await;
    let home = server
        .create_monitor(
            &admin,
            json!({"name": "shop home", "type": "http", "url": format!("{base}/"), "every": "1h"}),
        )
        .await;
    super::status_pages::run_until(&server, &admin, home, "up").await;
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/v1/secrets/STAFF_PASSWORD",
            &admin,
            Some(json!({"value": "staff only"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for page in [
        json!({"slug": "shop", "title": "Coffee Shop status", "domain": "status.coffee.test",
               "groups": [{"name": "Website", "components": [{"name": "Store front", "monitors": ["shop home"]}]}]}),
        json!({"slug": "staff", "title": "Staff status", "password": "{{secrets.STAFF_PASSWORD}}",
               "groups": [{"name": "Website", "components": [{"name": "Store front", "monitors": ["shop home"]}]}]}),
    ] {
        let (status, body) = server
            .call(Method::POST, "/api/v1/status-pages", &admin, Some(page))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver
        .session_with(
            profile.path(),
            &["--host-resolver-rules=MAP status.coffee.test 127.0.0.1".to_owned()],
        )
        .await;
    let walk = async {
        browser.set_window_size(1280, 800).await?;
        browser.goto(&server.url("/status/shop")).await?;
        let banner = text_when(&browser, ".banner", |s| !s.is_empty()).await?;
        assert!(banner.starts_with("All systems operational"), "{banner}");
        // The shop breaks: once the monitor is confirmed down, the page
        // says so within its refresh interval (1 s here).
        broken.store(true, std::sync::atomic::Ordering::SeqCst);
        super::status_pages::run_until(&server, &admin, home, "down").await;
        let down_at = Instant::now();
        loop {
            browser.refresh().await?;
            let banner = browser.find(Locator::Css(".banner")).await?.text().await?;
            if banner.starts_with("Major outage") {
                break;
            }
            assert!(
                down_at.elapsed() < Duration::from_secs(3),
                "still `{banner}` {:?} after the monitor went down",
                down_at.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Its own domain: the page at `/`, its links from there.
        browser
            .goto(&format!("http://status.coffee.test:{port}/"))
            .await?;
        let heading = text_when(&browser, "h1", |s| !s.is_empty()).await?;
        assert_eq!(heading, "Coffee Shop status");
        browser
            .find(Locator::Css("footer a[href='/feed.atom']"))
            .await?;
        // The private page: nothing without its password.
        browser.goto(&server.url("/status/staff")).await?;
        let heading = text_when(&browser, "h1", |s| !s.is_empty()).await?;
        assert_eq!(heading, "Private status page");
        let source = browser.source().await?;
        assert!(!source.contains("Store front"), "{source}");
        type_into(&browser, Locator::Css("#password"), "guess").await?;
        click(&browser, Locator::Css("button[type=submit]")).await?;
        // The refusal replaces the page's invitation to type the password.
        text_when(&browser, "main p", |s| s.contains("not this page's")).await?;
        type_into(&browser, Locator::Css("#password"), "staff only").await?;
        click(&browser, Locator::Css("button[type=submit]")).await?;
        let heading = text_when(&browser, "h1", |s| s == "Staff status").await?;
        assert_eq!(heading, "Staff status");
        let source = browser.source().await?;
        assert!(source.contains("Store front"), "{source}");
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let outcome = walk.await;
    browser.close().await.unwrap();
    outcome.unwrap();
    server.stop().await;
}

/// What a past check of `kind` measured besides its time, `ago_ms` before
/// now: the days left on a certificate that expires in 64 days, a gateway's
/// round trips with a lost packet now and then.
fn past_detail(kind: &str, ago_ms: i64, rng: &mut fastrand::Rng) -> Value {
    match kind {
        "tls" => json!({"days_left": 64 + ago_ms / 86_400_000}),
        "ping" => {
            let average = 0.6 + 0.8 * rng.f64();
            let lost = rng.u32(0..40) == 0;
            json!({"sent": 2, "received": if lost { 1 } else { 2 },
                   "loss_percent": if lost { 50.0 } else { 0.0 },
                   "rtt_min_ms": average * 0.8, "rtt_avg_ms": average, "rtt_max_ms": average * 1.3})
        }
        _ => json!({}),
    }
}

/// A past result for a lived-in store: a response time that follows the
/// day (busier afternoons) with some noise, its phases, and now and then a
/// slow or failed check.
fn past_result(
    monitor_id: i64,
    checkpoint_id: i64,
    at: i64,
    base_ms: f64,
    kind: &str,
    detail: Value,
    rng: &mut fastrand::Rng,
) -> sightline_store::NewCheckResult {
    use sightline_core::Timestamp;
    use sightline_core::monitor::{CheckOutcome, CheckReport, PhaseTimings, Problem, ProblemKind};
    let hour = (at / 3_600_000) % 24;
    let busy = 1.0
        + 0.5
            * (((hour as f64 - 9.0) / 24.0) * std::f64::consts::TAU)
                .sin()
                .max(0.0);
    let total = (base_ms * busy * (0.8 + 0.4 * rng.f64())).round() as i64;
    let roll = rng.u32(0..1000);
    let outcome = match roll {
        0..=2 => CheckOutcome::Error,
        3..=15 => CheckOutcome::Degraded,
        _ => CheckOutcome::Up,
    };
    let problem = match outcome {
        CheckOutcome::Error => Some(match kind {
            "ping" => Problem::new(ProblemKind::Loss, "no answer to 2 echo requests"),
            "dns" => Problem::new(ProblemKind::Timeout, "the resolver did not answer in 5 s"),
            "tcp" | "tls" => Problem::new(ProblemKind::Connect, "connection refused"),
            _ => Problem::new(ProblemKind::Status, "expected a 2xx status, got 502"),
        }),
        CheckOutcome::Degraded => Some(Problem::new(
            ProblemKind::ResponseTime,
            format!(
                "the response took {} ms, over the degraded threshold of 800 ms",
                total * 4
            ),
        )),
        CheckOutcome::Up => None,
    };
    let duration_ms = if outcome == CheckOutcome::Degraded {
        total * 4
    } else {
        total
    };
    // Only the phases the type goes through: a ping has none, a TLS
    // handshake no request, a lookup only its lookup.
    let phases: &[usize] = match kind {
        "ping" => &[],
        "dns" => &[0],
        "tcp" => &[0, 1],
        "tls" => &[0, 1, 2],
        _ => &[0, 1, 2, 3, 4],
    };
    let requests = phases.len() == 5;
    let shares = [0.05, 0.1, 0.2, 0.5, 0.15];
    let share = |phase: usize| {
        phases
            .contains(&phase)
            .then(|| (duration_ms as f64 * shares[phase]).round() as i64)
    };
    let duration_ms = match kind {
        "ping" => detail["rtt_avg_ms"].as_f64().unwrap_or(0.0).round() as i64,
        "dns" | "tcp" | "tls" => (0..5).filter_map(share).sum(),
        _ => duration_ms,
    };
    sightline_store::NewCheckResult {
        monitor_id,
        checkpoint_id,
        due_at: Timestamp::from(at),
        attempt: 0,
        started_at: Timestamp::from(at),
        report: CheckReport {
            outcome,
            problem,
            status_code: requests.then_some(if outcome == CheckOutcome::Error {
                502
            } else {
                200
            }),
            timings: PhaseTimings {
                dns_ms: share(0),
                connect_ms: share(1),
                tls_ms: share(2),
                first_byte_ms: share(3),
                download_ms: share(4),
            },
            duration_ms,
            response_bytes: requests.then_some(24_000),
            detail,
            screenshots: Vec::new(),
        },
        in_maintenance: false,
        confirmed_error: outcome == CheckOutcome::Error,
        downtime_ms: 0,
    }
}

/// An installation that looks lived in: two sites with three weeks of
/// real-looking traffic, two dozen monitors of every type with three weeks
/// of history, and an outage of one host under way. Every screen reads
/// well in light and dark, on a desktop and a phone; these are the
/// screenshots the README shows, under the names it shows them by.
#[tokio::test]
async fn a_lived_in_installation_reads_well_light_and_dark_on_a_desktop_and_a_phone() {
    use super::targets;
    use super::traffic;
    const DAY_MS: i64 = 86_400_000;
    let server = TestServer::start(BackendKind::Sqlite).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let app = targets::http_app(targets::App::default()).await;
    let app_port = app.port();
    let app = format!("http://{app}");
    let dns = targets::dns_server().await.to_string();
    let certificates = targets::certificates(Duration::from_secs(64 * 24 * 3600));
    let tls = targets::tls_server(&certificates).await.port();
    let payments = targets::closed_port().await;
    let store = &server.store;
    let now = store.now().as_millis();
    let mut sites = Vec::new();
    // The third, just added, has no page view yet.
    for (name, origin, views) in [
        ("shop", "https://shop.example.com", 30_000u64),
        ("docs", "https://docs.example.com", 6_000),
        ("blog", "https://blog.example.com", 0),
    ] {
        let (status, site) = server
            .call(
                Method::POST,
                "/api/v1/sites",
                &admin,
                Some(json!({"name": name, "origins": [origin]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{site}");
        let id = site["id"].as_i64().unwrap();
        traffic::fill(store, id, views, (now - 21 * DAY_MS, now)).await;
        traffic::roll(store, id).await;
        sites.push(id);
    }
    let waiting = sites[2];
    let every = |spec: Value, name: &str, tags: &[&str], site: Option<&str>| {
        let mut spec = spec;
        spec["name"] = json!(name);
        spec["every"] = json!("5m");
        spec["tags"] = json!(tags);
        if let Some(site) = site {
            spec["site"] = json!(site);
        }
        spec
    };
    let api = |url: String| {
        json!({"type": "api", "steps": [
            {"name": "list products", "url": format!("{url}/ok"), "expect": {"status": [200]}},
            {"name": "health", "url": format!("{url}/health"), "expect": {"status": [200]}},
        ]})
    };
    let healthy = vec![
        every(
            json!({"type": "http", "url": format!("{app}/ok")}),
            "shop home",
            &["shop", "web"],
            Some("shop"),
        ),
        every(
            json!({"type": "http", "url": format!("{app}/ok?page=search")}),
            "shop search",
            &["shop", "web"],
            Some("shop"),
        ),
        every(
            json!({"type": "http", "url": format!("{app}/ok?page=cart")}),
            "shop cart",
            &["shop", "web"],
            Some("shop"),
        ),
        every(
            json!({"type": "http", "url": format!("{app}/health")}),
            "shop health endpoint",
            &["shop"],
            Some("shop"),
        ),
        every(
            api(app.clone()),
            "shop catalogue API",
            &["shop", "api"],
            Some("shop"),
        ),
        every(
            json!({"type": "browser", "url": format!("{app}/ok")}),
            "shop home in a browser",
            &["shop", "web"],
            Some("shop"),
        ),
        every(
            json!({"type": "transaction", "steps": [{"navigate": format!("{app}/ok")}, {"assert_text": "Add to cart"}]}),
            "shop add to cart journey",
            &["shop", "journeys"],
            Some("shop"),
        ),
        every(
            json!({"type": "http", "url": format!("{app}/ok?page=docs")}),
            "docs home",
            &["docs", "web"],
            Some("docs"),
        ),
        every(
            json!({"type": "http", "url": format!("{app}/ok?page=docs-search")}),
            "docs search",
            &["docs", "web"],
            Some("docs"),
        ),
        every(
            json!({"type": "dns", "host": "shop.test", "resolver": dns, "expect": ["192.0.2.10"]}),
            "shop DNS",
            &["infra", "dns"],
            None,
        ),
        every(
            json!({"type": "dns", "host": "shop.test", "resolver": dns, "record_type": "A"}),
            "docs DNS",
            &["infra", "dns"],
            None,
        ),
        every(
            json!({"type": "tls", "host": "127.0.0.1", "port": tls, "check_chain": false}),
            "shop certificate",
            &["infra", "tls"],
            None,
        ),
        every(
            json!({"type": "tls", "host": "127.0.0.1", "port": tls, "check_chain": false, "warn_days": 90}),
            "docs certificate",
            &["infra", "tls"],
            None,
        ),
        every(
            json!({"type": "tcp", "host": "127.0.0.1", "port": app_port}),
            "load balancer",
            &["infra"],
            None,
        ),
        every(
            json!({"type": "tcp", "host": "127.0.0.1", "port": app_port}),
            "primary database",
            &["infra", "database"],
            None,
        ),
        every(
            json!({"type": "tcp", "host": "127.0.0.1", "port": app_port}),
            "replica database",
            &["infra", "database"],
            None,
        ),
        every(
            json!({"type": "tcp", "host": "127.0.0.1", "port": app_port}),
            "cache",
            &["infra"],
            None,
        ),
        every(
            json!({"type": "ping", "host": "127.0.0.1", "count": 2}),
            "gateway",
            &["infra", "network"],
            None,
        ),
        every(
            json!({"type": "http", "url": format!("{app}/health?service=search")}),
            "search service",
            &["backend"],
            None,
        ),
        every(
            json!({"type": "http", "url": format!("{app}/health?service=mail")}),
            "mail service",
            &["backend"],
            None,
        ),
    ];
    let down = [
        every(
            json!({"type": "http", "url": format!("http://127.0.0.1:{payments}/")}),
            "payments API",
            &["payments", "api"],
            None,
        ),
        every(
            json!({"type": "http", "url": format!("http://127.0.0.1:{payments}/webhooks")}),
            "payments webhooks",
            &["payments"],
            None,
        ),
        every(
            json!({"type": "tcp", "host": "127.0.0.1", "port": payments}),
            "payments port",
            &["payments"],
            None,
        ),
        every(
            api(format!("http://127.0.0.1:{payments}")),
            "payments checkout API",
            &["payments", "api"],
            None,
        ),
    ];
    let local = store.ensure_checkpoint("local").await.unwrap();
    let mut rng = fastrand::Rng::with_seed(20_261_205);
    let mut ids = Vec::new();
    let mut history = Vec::new();
    for (n, spec) in healthy.iter().chain(down.iter()).enumerate() {
        let name = spec["name"].as_str().unwrap().to_owned();
        let id = server.create_monitor(&admin, spec.clone()).await;
        let base = 40.0 + (n as f64 * 37.0) % 300.0;
        // Every half hour for three weeks, up to the last hour.
        let mut at = now - 21 * DAY_MS + (n as i64) * 60_000;
        while at < now - 3_600_000 {
            let kind = spec["type"].as_str().unwrap();
            let detail = past_detail(kind, now - at, &mut rng);
            history.push(past_result(id, local.id, at, base, kind, detail, &mut rng));
            at += 1_800_000;
        }
        ids.push((name, id));
    }
    for result in &history {
        store.record_check_result(result).await.unwrap();
    }
    while store.roll_check_summaries(store.now(), 5000).await.unwrap() > 0 {}
    // Today's checks, for real: the healthy ones pass, the payments host is down.
    for (name, id) in &ids {
        let (status, ran) = server.run_now(&admin, *id).await;
        assert_eq!(status, StatusCode::OK, "{name}: {ran}");
    }
    let id_of = |wanted: &str| ids.iter().find(|(name, _)| name == wanted).unwrap().1;

    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), None).await;
    let walk = async {
        log_in_with_the_form(&browser, &server).await?;
        let outage = text_when(&browser, "[data-testid=open-incidents] li.outage", |s| {
            !s.is_empty()
        })
        .await?;
        assert!(outage.contains("4 monitors down"), "{outage}");
        text_when(&browser, "tr[data-monitor='shop home'] .badge", |s| {
            s == "up"
        })
        .await?;
        // The README's screenshots, by the names it shows them under: each
        // screen light, and with `-dark` in dark.
        let screens = [
            ("overview", "/".to_owned()),
            ("overview-by-site", "/?group=site".to_owned()),
            (
                "monitor",
                format!("/monitors/{}?range=7d", id_of("shop home")),
            ),
            (
                "monitor-tls",
                format!("/monitors/{}?range=7d", id_of("shop certificate")),
            ),
            (
                "monitor-ping",
                format!("/monitors/{}?range=7d", id_of("gateway")),
            ),
            (
                "monitor-form",
                format!("/monitors/{}/edit", id_of("shop home in a browser")),
            ),
            (
                "rum",
                format!("/sites/{}?range=7d&metric=lcp&percentile=75", sites[0]),
            ),
            ("site-waiting", format!("/sites/{waiting}")),
            ("incidents", "/incidents".to_owned()),
        ];
        let charted =
            |name: &str| ["monitor", "monitor-tls", "monitor-ping", "rum"].contains(&name);
        for theme in ["light", "dark"] {
            browser
                .execute(
                    "localStorage.setItem('sightline-theme', arguments[0])",
                    vec![json!(theme)],
                )
                .await?;
            for (name, path) in &screens {
                // A large desktop window, for screenshots that show a screen whole.
                browser.set_window_size(1440, 1200).await?;
                browser.goto(&server.url(path)).await?;
                text_when(&browser, "h1", |s| !s.is_empty()).await?;
                browser
                    .wait()
                    .for_element(Locator::Css("main section, main h1"))
                    .await?;
                if charted(name) {
                    browser
                        .wait()
                        .for_element(Locator::Css(".chart canvas"))
                        .await?;
                }
                if name.starts_with("monitor-") && *name != "monitor-form" {
                    text_when(&browser, "[data-testid=type-chart] h2", |s| !s.is_empty()).await?;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                assert!(
                    browser.find_all(Locator::Css(".loading")).await?.is_empty(),
                    "{name}: still loading"
                );
                readable(&browser, &format!("{name}, {theme}")).await?;
                let file = match theme {
                    "light" => name.to_string(),
                    _ => format!("{name}-dark"),
                };
                keep_screenshot(&browser, &file).await?;
                fits_a_phone(&browser, &format!("{name}, {theme}")).await?;
            }
        }
        // A phone's view of the overview and of a down monitor's result.
        browser
            .goto(&server.url(&format!("/monitors/{}", id_of("payments checkout API"))))
            .await?;
        text_when(&browser, "table.results tbody tr", |s| !s.is_empty()).await?;
        click(&browser, Locator::Css("table.results tbody tr a")).await?;
        text_when(&browser, "[data-testid=result-problem]", |s| !s.is_empty()).await?;
        keep_screenshot(&browser, "result-dark").await?;
        browser.set_window_size(390, 844).await?;
        keep_screenshot(&browser, "result-phone-dark").await?;
        browser.goto(&server.url("/")).await?;
        text_when(&browser, "[data-testid=open-incidents]", |s| !s.is_empty()).await?;
        keep_screenshot(&browser, "overview-phone-dark").await?;
        // And a monitor's page on a phone, light.
        browser
            .execute("localStorage.setItem('sightline-theme', 'light')", vec![])
            .await?;
        browser
            .goto(&server.url(&format!("/monitors/{}?range=7d", id_of("shop home"))))
            .await?;
        browser
            .wait()
            .for_element(Locator::Css(".chart canvas"))
            .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        keep_screenshot(&browser, "monitor-phone").await?;
        browser.set_window_size(1280, 800).await?;
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked = walk.await;
    let _ = browser.close().await;
    walked.unwrap();
}
