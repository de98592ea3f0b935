//! Full-page browser checks: the page is loaded in a fresh headless
//! Chromium from the pool and measured; core's rules judge the result.

use super::net::elapsed_ms;
use super::{Deadline, Prober};
use crate::browser::{BrowserError, PageLoad, attach, capture, measure_page_load};
use fantoccini::Locator;
use fantoccini::wd::TimeoutConfiguration;
use serde_json::json;
use sightline_core::monitor::{
    BrowserCheck, CheckOutcome, CheckReport, FailedRequest, PageFacts, PhaseTimings, Problem,
    ProblemKind, RequestFailure, Screenshot, ScreenshotCapture, request_kind,
};
use sightline_core::rum::Metric;
use std::future::Future;
use std::ops::Not;
use std::time::{Duration, Instant};

/// What the browser found: the load and the answers to the conditions
/// that need the rendered page.
struct Found {
    load: PageLoad,
    text_found: Option<bool>,
    element_found: Option<bool>,
}

/// Loads the page, measures it and judges it.
pub(crate) async fn run(prober: &Prober, check: &BrowserCheck, deadline: &Deadline) -> CheckReport {
    let pool = match &prober.inner.browsers {
        Ok(pool) => pool,
        Err(reason) => return CheckReport::failed(Problem::new(ProblemKind::Setup, reason), 0),
    };
    let asked = Instant::now();
    let done = pool
        .run(deadline.remaining(), async |browser| {
            let browser_start_ms = elapsed_ms(asked);
            let inspected = within_soft_limit(
                browser,
                deadline,
                "loading the page in the browser",
                inspect(browser, check),
            )
            .await;
            let mut report = match inspected {
                Ok(found) => report(check, found),
                Err(problem) => CheckReport::failed(problem, 0),
            };
            note_browser_start(&mut report, browser_start_ms);
            let wanted = match check.screenshot {
                Screenshot::Always => true,
                Screenshot::OnError => report.outcome == CheckOutcome::Error,
                Screenshot::Never => false,
            };
            if wanted {
                let label = if report.outcome == CheckOutcome::Error {
                    "the page when the check failed"
                } else {
                    "the page once loaded"
                };
                let shots = capture_in_time(browser, deadline, label, None, &[])
                    .await
                    .into_iter()
                    .collect();
                attach(&mut report, shots);
            }
            report
        })
        .await;
    match done {
        Ok(report) => report,
        Err(error) => browser_failed(error, deadline, "loading the page in the browser"),
    }
}

/// Keeps how long waiting for and starting the browser took in the
/// report's detail: a phase of its own, apart from the page's time.
pub(super) fn note_browser_start(report: &mut CheckReport, browser_start_ms: i64) {
    if !report.detail.is_object() {
        report.detail = json!({});
    }
    report.detail["browser_start_ms"] = json!(browser_start_ms);
}

/// Until when a browser check's work may go: a little before its deadline,
/// the rest (a quarter, at most 5 s) kept back for the screenshot, so that
/// a page that hangs is shown as it hung before the pool's hard limit
/// stops the browser.
#[derive(Debug, Clone, Copy)]
pub(super) struct WorkLimit {
    end: Instant,
}

impl WorkLimit {
    pub(super) fn before(deadline: &Deadline) -> Self {
        let remaining = deadline.remaining();
        let reserve = (remaining / 4).min(Duration::from_secs(5));
        WorkLimit {
            end: Instant::now() + remaining.saturating_sub(reserve),
        }
    }

    /// What is left of it.
    pub(super) fn left(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    /// Sets the browser's own script and page-load timeouts to end with it
    /// (the page load `margin` earlier), so that it answers again in time
    /// for the screenshot: a navigation still waiting would hold up every
    /// later command. The page-load timeout counts from each navigation,
    /// so this is set again before each one.
    pub(super) async fn apply(
        &self,
        browser: &fantoccini::Client,
        margin: Duration,
    ) -> Result<(), Problem> {
        let left = self.left();
        let timeouts = TimeoutConfiguration::new(
            Some(left),
            Some(left.saturating_sub(margin)),
            Some(Duration::ZERO),
        );
        browser.update_timeouts(timeouts).await.map_err(|error| {
            Problem::new(
                ProblemKind::Setup,
                format!("the browser refused its time limits: {error}"),
            )
        })
    }
}

/// Takes a screenshot if the browser gives one before the check's hard
/// limit (less a margin for stopping it): a browser too slow to answer
/// must not cost the report of what went wrong.
pub(super) async fn capture_in_time(
    browser: &fantoccini::Client,
    deadline: &Deadline,
    label: impl Into<String>,
    step: Option<u32>,
    hidden: &[String],
) -> Option<ScreenshotCapture> {
    let time = deadline
        .remaining()
        .saturating_sub(Duration::from_millis(300));
    tokio::time::timeout(time, capture(browser, label, step, hidden))
        .await
        .ok()
        .flatten()
}

/// Runs `work` in `browser` within the check's [`WorkLimit`]; running out
/// is a timeout problem naming `phase`.
async fn within_soft_limit<T>(
    browser: &fantoccini::Client,
    deadline: &Deadline,
    phase: &str,
    work: impl Future<Output = Result<T, Problem>>,
) -> Result<T, Problem> {
    let limit = WorkLimit::before(deadline);
    limit.apply(browser, Duration::ZERO).await?;
    match tokio::time::timeout(limit.left(), work).await {
        Ok(done) => done,
        Err(_) => Err(deadline.expired(phase)),
    }
}

/// The report of a check the pool could not run or had to stop.
pub(super) fn browser_failed(error: BrowserError, deadline: &Deadline, phase: &str) -> CheckReport {
    match error {
        // The pool keeps the hard time limit itself, so that a browser cut
        // off is stopped whole.
        BrowserError::TimedOut(_) => CheckReport::failed(deadline.expired(phase), 0),
        error => CheckReport::failed(Problem::new(ProblemKind::Setup, error.to_string()), 0),
    }
}

/// Loads and measures the page, and answers the conditions that need the
/// rendered page.
async fn inspect(browser: &fantoccini::Client, check: &BrowserCheck) -> Result<Found, Problem> {
    let load = measure_page_load(browser, &check.url)
        .await
        .map_err(|error| Problem::new(ProblemKind::Page, error.to_string()))?;
    let text_found = match &check.expect.text {
        Some(text) => {
            let shown = match browser.find(Locator::Css("body")).await {
                Ok(body) => body.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            Some(shown.contains(text.as_str()))
        }
        None => None,
    };
    let element_found = match &check.expect.element {
        Some(selector) => Some(
            browser
                .find_all(Locator::Css(selector))
                .await
                .map_err(|error| {
                    Problem::new(
                        ProblemKind::Setup,
                        format!("`{selector}` is not a CSS selector the browser takes: {error}"),
                    )
                })?
                .is_empty()
                .not(),
        ),
        None => None,
    };
    Ok(Found {
        load,
        text_found,
        element_found,
    })
}

fn report(check: &BrowserCheck, found: Found) -> CheckReport {
    let load = &found.load;
    let facts = PageFacts {
        load_ms: load.metrics.get(Metric::Load),
        lcp_ms: load.metrics.get(Metric::Lcp),
        page_bytes: load.page_bytes(),
        text_found: found.text_found,
        element_found: found.element_found,
        failed_requests: load
            .requests
            .iter()
            .filter(|request| request.failed())
            .map(|request| FailedRequest {
                kind: request_kind(&request.kind).to_owned(),
                url: request.url.clone(),
                failure: match (&request.error, request.status) {
                    (Some(error), _) => RequestFailure::NoAnswer(error.clone()),
                    (None, status) => RequestFailure::Status(status.unwrap_or_default()),
                },
            })
            .collect(),
    };
    let (outcome, problem) = check.expect.assess(&facts).into_outcome();
    let document = load.requests.first();
    let ms = |value: f64| Some(value.round() as i64);
    let timings = document.map_or_else(PhaseTimings::default, |document| PhaseTimings {
        dns_ms: ms(document.dns_ms),
        connect_ms: ms(document.connect_ms - document.tls_ms),
        tls_ms: (document.tls_ms > 0.0).then(|| document.tls_ms.round() as i64),
        first_byte_ms: ms(document.wait_ms),
        download_ms: ms(document.download_ms),
    });
    let metrics: serde_json::Map<String, serde_json::Value> = load
        .metrics
        .iter()
        .map(|(metric, value)| (metric.name().to_owned(), json!(value)))
        .collect();
    CheckReport {
        outcome,
        problem,
        status_code: document.and_then(|document| document.status),
        timings,
        // The page's own time, navigation start to the end of its load
        // event, as a visitor would wait for it; without a load event the
        // prober times the whole run.
        duration_ms: facts.load_ms.map_or(0, |load| load.round().max(1.0) as i64),
        response_bytes: Some(facts.page_bytes as i64),
        detail: json!({
            "metrics": metrics,
            "total_blocking_time_ms": load.total_blocking_time_ms,
            "requests": load.requests,
        }),
        screenshots: Vec::new(),
    }
}
