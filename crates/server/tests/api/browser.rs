//! Real pages in real headless Chromium, driven through chromedriver: the
//! snippet loads the script, the beacons arrive, and the page views carry
//! plausible measurements, the right browser, OS and device, and the
//! single-page app's routes as pages of their own; a page that opts out is
//! not measured.

use super::*;
use sightline_core::Timestamp;
use sightline_core::rum::{Dimension, Metric};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A chromedriver process on a free port, killed on drop.
pub(super) struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    pub(super) async fn start() -> Self {
        let binary = std::env::var("SIGHTLINE_CHROMEDRIVER")
            .unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {binary} (run `cargo xtask test`, which installs it): {e}")
            });
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{url}/status")).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ChromeDriver { child, url }
    }

    /// A headless Chromium session with a fresh profile.
    pub(super) async fn session(
        &self,
        profile: &std::path::Path,
        user_agent: Option<&str>,
    ) -> fantoccini::Client {
        let extra: Vec<String> = user_agent
            .map(|agent| format!("--user-agent={agent}"))
            .into_iter()
            .collect();
        self.session_with(profile, &extra).await
    }

    /// A session of Chromium started with `extra` arguments besides the
    /// usual ones (`--force-dark-mode`).
    pub(super) async fn session_with(
        &self,
        profile: &std::path::Path,
        extra: &[String],
    ) -> fantoccini::Client {
        let chromium =
            std::env::var("SIGHTLINE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        args.extend(extra.iter().cloned());
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({"binary": chromium, "args": args}),
        );
        // The console, so that a test sees the errors a page threw.
        capabilities.insert(
            sightline_synthetic::browser::chrome_log::LOGGING_PREFS.to_owned(),
            json!({"browser": "ALL"}),
        );
        fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("start a Chromium session")
    }
}

impl ChromeDriver {
    /// A session presenting the desktop Chrome User-Agent of the installed
    /// version, as a person's browser would: headless Chromium calls itself
    /// HeadlessChrome, which the collector rightly drops as a robot.
    pub(super) async fn person_session(&self, profile: &std::path::Path) -> fantoccini::Client {
        let major = chromium_major();
        let user_agent = format!(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36"
        );
        self.session(profile, Some(&user_agent)).await
    }
}

/// A RUM site `shop` whose origin is the website of [`start_website`]
/// (known only once it listens, so the site is created first): the site as
/// the API shows it, and the website's address.
pub(super) async fn shop_with_website(server: &TestServer, admin: &Auth) -> (Value, String) {
    let (site, website, ()) = site_served_by(server, admin, async |script, key| {
        (start_website(script, key).await, ())
    })
    .await;
    (site, website)
}

/// A RUM site `shop` whose only origin is the website `serve` starts, given
/// the script's URL and the site key: the site, the website's address and
/// whatever else `serve` returned.
async fn site_served_by<T>(
    server: &TestServer,
    admin: &Auth,
    serve: impl AsyncFnOnce(String, String) -> (String, T),
) -> (Value, String, T) {
    let (status, site) = server
        .call(
            Method::POST,
            "/api/v1/sites",
            admin,
            Some(json!({"name": "shop"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = site["site_key"].as_str().unwrap().to_owned();
    let (website, extra) = serve(server.url("/rum.js"), key).await;
    let mut spec = site.clone();
    spec["origins"] = json!([website]);
    let path = format!("/api/v1/sites/{}", site["id"]);
    assert_eq!(
        server.call(Method::PUT, &path, admin, Some(spec)).await.0,
        StatusCode::OK
    );
    (site, website, extra)
}

/// The site's stored page views once `enough` accepts them, or as they are
/// after 10 s (beacons travel after the pages are gone).
async fn page_views_when(
    server: &TestServer,
    site_id: i64,
    enough: impl Fn(&[sightline_core::rum::PageView]) -> bool,
) -> Vec<sightline_core::rum::PageView> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let views = server
            .store
            .page_views(
                site_id,
                Timestamp::from_millis(0),
                Timestamp::from_millis(i64::MAX / 2),
                100,
            )
            .await
            .unwrap();
        if enough(&views) || Instant::now() > deadline {
            return views;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The major version of the installed Chromium (`Chromium 156.0.…`).
fn chromium_major() -> String {
    let chromium =
        std::env::var("SIGHTLINE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let output = Command::new(chromium)
        .arg("--version")
        .output()
        .expect("run chromium --version");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.split_whitespace()
        .find_map(|word| {
            word.split('.')
                .next()
                .filter(|major| major.len() >= 2 && major.chars().all(|c| c.is_ascii_digit()))
        })
        .unwrap_or_else(|| panic!("no version in {text}"))
        .to_owned()
}

/// A small website carrying the snippet: a content page, a page that opts
/// out with `data-no-rum`, and a single-page app whose buttons change the
/// route through the History API.
async fn start_website(script_url: String, site_key: String) -> String {
    let snippet = format!(r#"<script async src="{script_url}" data-site="{site_key}"></script>"#);
    let home = format!(
        "<!doctype html><html><head><title>Shop</title>{snippet}</head><body>\
         <div id=late></div><h1 style=\"font-size:64px\">Welcome to the shop</h1><p>{}</p>\
         <script>new PerformanceObserver(function(){{setTimeout(function(){{\
         document.getElementById('late').innerHTML='<p style=\"height:200px;margin:0\">late banner</p>'}},100)}})\
         .observe({{type:'paint',buffered:true}})</script>\
         </body></html>",
        "Fresh coffee, roasted daily. ".repeat(40)
    );
    let app = format!(
        "<!doctype html><html><head><title>App</title>{snippet}</head><body>\
         <h1>App</h1><nav><button id=one>One</button><button id=two>Two</button></nav><main id=view>home</main>\
         <script>\
         function go(name){{history.pushState({{}},'','/app/'+name);\
         setTimeout(function(){{document.getElementById('view').innerHTML='<h2>'+name+'</h2><p>'+'content '.repeat(50)+'</p>'}},50)}}\
         document.getElementById('one').onclick=function(){{go('one')}};\
         document.getElementById('two').onclick=function(){{go('two')}};\
         </script></body></html>"
    );
    // A page that opts out: the snippet is there, the page must not be measured.
    let private = format!(
        "<!doctype html><html data-no-rum><head><title>Account</title>{snippet}</head>\
         <body><h1>Your account</h1></body></html>"
    );
    let router = axum::Router::new()
        .route(
            "/",
            axum::routing::get(move || async move { axum::response::Html(home) }),
        )
        .route(
            "/account",
            axum::routing::get(move || async move { axum::response::Html(private) }),
        )
        .route(
            "/app",
            axum::routing::get(move || async move { axum::response::Html(app) }),
        );
    serve_app(router).await
}

pub(super) async fn real_chromium_page_views_arrive_with_plausible_metrics(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (site, website) = shop_with_website(&server, &admin).await;
    let site_id = site["id"].as_i64().unwrap();

    let major = chromium_major();
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.person_session(profile.path()).await;
    let journey = async {
        browser.goto(&format!("{website}/")).await?;
        tokio::time::sleep(Duration::from_millis(600)).await;
        browser.goto(&format!("{website}/account")).await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        browser.goto(&format!("{website}/app")).await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        browser
            .find(fantoccini::Locator::Css("#one"))
            .await?
            .click()
            .await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        browser
            .find(fantoccini::Locator::Css("#two"))
            .await?
            .click()
            .await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        browser.goto("about:blank").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let journey_result = journey.await;
    let _ = browser.close().await;
    journey_result.unwrap();

    let views = page_views_when(&server, site_id, |views| views.len() >= 4).await;
    let pages: Vec<(&str, &str)> = views
        .iter()
        .map(|view| {
            (
                view.dimensions.get(Dimension::Page),
                view.dimensions.get(Dimension::NavigationType),
            )
        })
        .collect();
    assert_eq!(
        pages,
        [
            ("/", "navigate"),
            ("/app", "navigate"),
            ("/app/one", "soft"),
            ("/app/two", "soft")
        ],
        "the opted-out /account is not among them: {views:#?}"
    );
    for view in &views {
        assert_eq!(view.dimensions.get(Dimension::Browser), "Chrome");
        assert_eq!(
            view.dimensions.get(Dimension::BrowserVersion),
            format!("Chrome {major}")
        );
        assert_eq!(view.dimensions.get(Dimension::Os), "Linux");
        assert_eq!(view.dimensions.get(Dimension::Device), "desktop");
    }
    for hard in &views[..2] {
        for metric in [
            Metric::Ttfb,
            Metric::Fcp,
            Metric::Lcp,
            Metric::DomContentLoaded,
            Metric::Load,
        ] {
            let value = hard
                .metrics
                .get(metric)
                .unwrap_or_else(|| panic!("{metric:?} missing: {hard:#?}"));
            assert!(value > 0.0 && value < 10_000.0, "{metric:?} = {value}");
        }
        let (fcp, lcp) = (
            hard.metrics.get(Metric::Fcp).unwrap(),
            hard.metrics.get(Metric::Lcp).unwrap(),
        );
        assert!(lcp >= fcp, "LCP {lcp} before FCP {fcp}");
        let cls = hard
            .metrics
            .get(Metric::Cls)
            .expect("CLS is always reported");
        assert!((0.0..5.0).contains(&cls), "CLS {cls}");
    }
    assert!(
        views[0].metrics.get(Metric::Cls).unwrap() > 0.0,
        "the late banner shifted the layout"
    );
    for soft in &views[2..] {
        let settle = soft
            .metrics
            .get(Metric::Settle)
            .expect("a soft navigation reports when the DOM settled");
        assert!((40.0..5_000.0).contains(&settle), "settle {settle}");
        assert_eq!(
            soft.metrics.get(Metric::Lcp),
            None,
            "a soft navigation has no LCP of its own"
        );
    }
    server.stop().await;
}

/// Google's web-vitals library, as `cargo xtask test` installs it from the
/// npm registry (never kept in this repository): the reference INP is
/// measured against.
fn web_vitals_script() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/reference/node_modules/web-vitals/dist/web-vitals.iife.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing (run `cargo xtask test`, which installs it): {e}",
            path.display()
        )
    })
}

/// What each page view does, by its number: clicks on buttons whose
/// handlers block for 0 (`fast`), 70 (`medium`) or 160 ms (`slow`), and
/// `type` for keys pressed in a text field.
const INTERACTIONS: [&[&str]; 8] = [
    &["fast"],
    &["fast", "fast"],
    &["slow"],
    &["fast", "medium", "fast"],
    &["type"],
    &["medium", "slow"],
    &["fast"],
    &["slow", "fast", "fast"],
];

/// A website whose pages carry both Sightline's snippet and web-vitals,
/// which reports each page view's INP to `/vitals`; and what it received,
/// as `(view, seq, inp)`.
async fn website_with_web_vitals(
    script_url: String,
    site_key: String,
) -> (String, Arc<std::sync::Mutex<Vec<(u64, u64, f64)>>>) {
    let reference = web_vitals_script();
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = received.clone();
    let page = move |axum::extract::Path(view): axum::extract::Path<u64>| {
        let snippet =
            format!(r#"<script async src="{script_url}" data-site="{site_key}"></script>"#);
        async move {
            axum::response::Html(format!(
                "<!doctype html><html><head><title>View {view}</title>{snippet}\
                 <script src=/web-vitals.js></script></head><body>\
                 <h1>View {view}</h1><button id=fast>Fast</button><button id=medium>Medium</button>\
                 <button id=slow>Slow</button><input id=field>\
                 <script>\
                 function block(ms){{var end=performance.now()+ms;while(performance.now()<end){{}}}}\
                 document.getElementById('medium').onclick=function(){{block(70)}};\
                 document.getElementById('slow').onclick=function(){{block(160)}};\
                 var seq=0;webVitals.onINP(function(m){{navigator.sendBeacon('/vitals',\
                 JSON.stringify({{view:{view},seq:++seq,inp:m.value}}))}},{{reportAllChanges:true}});\
                 </script></body></html>"
            ))
        }
    };
    let router = axum::Router::new()
        .route("/view/{view}", axum::routing::get(page))
        .route(
            "/web-vitals.js",
            axum::routing::get(move || async move {
                ([(header::CONTENT_TYPE, "text/javascript")], reference)
            }),
        )
        .route(
            "/vitals",
            axum::routing::post(move |body: String| async move {
                let report: Value = serde_json::from_str(&body).unwrap();
                kept.lock().unwrap().push((
                    report["view"].as_u64().unwrap(),
                    report["seq"].as_u64().unwrap(),
                    report["inp"].as_f64().unwrap(),
                ));
            }),
        );
    (serve_app(router).await, received)
}

/// INP agrees with web-vitals' own, page view by page view, in the same
/// Chromium: views whose interactions were all fast included.
#[tokio::test]
async fn inp_agrees_with_web_vitals_view_by_view() {
    let server = TestServer::start(BackendKind::Sqlite).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (site, website, reference) = site_served_by(&server, &admin, website_with_web_vitals).await;

    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.person_session(profile.path()).await;
    let walk = async {
        for (view, interactions) in INTERACTIONS.iter().enumerate() {
            browser.goto(&format!("{website}/view/{view}")).await?;
            tokio::time::sleep(Duration::from_millis(400)).await;
            for interaction in *interactions {
                if *interaction == "type" {
                    let field = browser.find(fantoccini::Locator::Css("#field")).await?;
                    field.click().await?;
                    field.send_keys("ok").await?;
                } else {
                    browser
                        .find(fantoccini::Locator::Css(&format!("#{interaction}")))
                        .await?
                        .click()
                        .await?;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        browser.goto("about:blank").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let walked = walk.await;
    let _ = browser.close().await;
    walked.unwrap();

    let site_id = site["id"].as_i64().unwrap();
    let last_view = INTERACTIONS.len() as u64 - 1;
    let views = page_views_when(&server, site_id, |views| {
        let reported = reference.lock().unwrap().iter().map(|r| r.0).max();
        views.len() >= INTERACTIONS.len() && reported == Some(last_view)
    })
    .await;
    assert_eq!(views.len(), INTERACTIONS.len(), "{views:#?}");
    let mut table = vec!["view  interactions          web-vitals  Sightline".to_owned()];
    for (view, interactions) in INTERACTIONS.iter().enumerate() {
        let theirs = reference
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.0 == view as u64)
            .max_by_key(|r| r.1)
            .map(|r| r.2)
            .unwrap_or_else(|| panic!("web-vitals reported no INP for view {view}"));
        let page = format!("/view/{view}");
        let ours = views
            .iter()
            .find(|v| v.dimensions.get(Dimension::Page) == page)
            .unwrap_or_else(|| panic!("no page view of {page}"))
            .metrics
            .get(Metric::Inp);
        table.push(format!(
            "{view:>4}  {:<20}  {theirs:>7} ms  {}",
            interactions.join(", "),
            ours.map_or("none".to_owned(), |ours| format!("{ours:>6} ms"))
        ));
        let ours = ours.unwrap_or_else(|| panic!("no INP for {page}:\n{}", table.join("\n")));
        assert!(
            (ours - theirs).abs() <= (theirs * 0.05).max(1.0),
            "{page}: {ours} vs web-vitals' {theirs}\n{}",
            table.join("\n")
        );
    }
    println!("{}", table.join("\n"));
    server.stop().await;
}
