//! Full-page browser checks: the page is loaded in a fresh headless
//! Chromium from the pool and measured; core's rules judge the result.

use super::{Deadline, Prober};
use crate::browser::{BrowserError, PageLoad, measure_page_load};
use fantoccini::Locator;
use serde_json::json;
use sightline_core::monitor::{
    BrowserCheck, CheckReport, FailedRequest, PageFacts, PhaseTimings, Problem, ProblemKind,
    request_kind,
};
use sightline_core::rum::Metric;
use std::ops::Not;

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
    let found = pool
        .run(deadline.remaining(), async |browser| {
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
                                format!(
                                    "`{selector}` is not a CSS selector the browser takes: {error}"
                                ),
                            )
                        })?
                        .is_empty()
                        .not(),
                ),
                None => None,
            };
            Ok::<_, Problem>(Found {
                load,
                text_found,
                element_found,
            })
        })
        .await;
    let found = match found {
        Ok(Ok(found)) => found,
        Ok(Err(problem)) => return CheckReport::failed(problem, 0),
        // The pool keeps the time limit itself, so that a browser cut off
        // is stopped whole.
        Err(BrowserError::TimedOut(_)) => {
            return CheckReport::failed(deadline.expired("loading the page in the browser"), 0);
        }
        Err(error) => {
            return CheckReport::failed(Problem::new(ProblemKind::Setup, error.to_string()), 0);
        }
    };
    report(check, found)
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
                status: request.status,
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
        status_code: document
            .map(|document| document.status)
            .filter(|status| *status > 0),
        timings,
        duration_ms: 0,
        response_bytes: Some(facts.page_bytes as i64),
        detail: json!({
            "metrics": metrics,
            "total_blocking_time_ms": load.total_blocking_time_ms,
            "requests": load.requests,
        }),
    }
}
