//! What loading a page in a real browser cost: the same metrics, by the same
//! names and definitions, as the RUM script sends for real visitors (so the
//! synthetic and real-user views of a page compare), plus total blocking
//! time and the waterfall of every request.

use super::chrome_log::{self, LogKind};
use super::network::{NetworkOutcome, NetworkOutcomes};
use serde::{Deserialize, Serialize};
use sightline_core::rum::{Metric, MetricValues};
use std::collections::HashMap;

/// The script run in the page once it has loaded.
const MEASURE: &str = include_str!("measure.js");

/// One request of the page, as its resource timing tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Request {
    /// The URL requested.
    pub url: String,
    /// `document`, `img`, `script`, `link`, `fetch`, `xmlhttprequest`, …
    pub kind: String,
    /// The HTTP status, as the browser's network got it; `None` when
    /// nothing told it (a request still open, or one the log missed):
    /// unknown, not failed.
    #[serde(default)]
    pub status: Option<u16>,
    /// Why it got no answer (`net::ERR_CONNECTION_REFUSED`, a blocked
    /// request), as the browser's network said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Bytes over the network, headers included (0 from the cache).
    pub transfer_bytes: u64,
    /// The body's bytes as sent (compressed).
    pub body_bytes: u64,
    /// When it started, ms after the navigation began.
    pub start_ms: f64,
    /// DNS lookup.
    pub dns_ms: f64,
    /// TCP connect (TLS included).
    pub connect_ms: f64,
    /// TLS handshake.
    pub tls_ms: f64,
    /// Request sent until the first byte of the answer.
    pub wait_ms: f64,
    /// First to last byte of the answer.
    pub download_ms: f64,
    /// Start to end.
    pub duration_ms: f64,
}

impl Request {
    /// Whether it failed: an HTTP error status, or no answer at all.
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.status.is_some_and(|status| status >= 400)
    }

    /// Takes the status or the error the network events told of it.
    fn learn(&mut self, outcomes: &NetworkOutcomes) {
        match outcomes.get(&self.url) {
            Some(NetworkOutcome::Answered(status)) => {
                self.status = Some(*status);
                self.error = None;
            }
            Some(NetworkOutcome::Failed(error)) => {
                self.status = None;
                self.error = Some(error.clone());
            }
            Some(NetworkOutcome::Cancelled) | None => {}
        }
    }
}

/// What a page load cost.
#[derive(Debug, Clone, PartialEq)]
pub struct PageLoad {
    /// The page-load metrics the RUM script also measures (`ttfb`, `fcp`,
    /// `lcp`, `cls`, `load`, …); INP needs a real visitor's input and is
    /// never measured here.
    pub metrics: MetricValues,
    /// What long tasks after the first contentful paint took beyond 50 ms
    /// each.
    pub total_blocking_time_ms: f64,
    /// Every request, the document first.
    pub requests: Vec<Request>,
}

impl PageLoad {
    /// The page's weight: bytes over the network (the body size where the
    /// transfer size is not told).
    pub fn page_bytes(&self) -> u64 {
        self.requests
            .iter()
            .map(|request| request.transfer_bytes.max(request.body_bytes))
            .sum()
    }
}

/// Why a page load could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// The browser could not load the page.
    #[error("the page did not load: {0}")]
    Navigate(String),
    /// The measuring script failed or answered nonsense.
    #[error("the page load could not be measured: {0}")]
    Script(String),
}

#[derive(Deserialize)]
struct Measured {
    metrics: HashMap<String, Option<f64>>,
    total_blocking_time_ms: f64,
    requests: Vec<Request>,
}

/// Loads `url` in `browser` the way a visitor does and measures it: each
/// request's status comes from the browser's network events where the
/// session keeps them (see [`chrome_log`]), from Resource Timing otherwise.
pub async fn measure_page_load(
    browser: &fantoccini::Client,
    url: &str,
) -> Result<PageLoad, MeasureError> {
    browser
        .goto(url)
        .await
        .map_err(|error| MeasureError::Navigate(error.to_string()))?;
    let answer = browser
        .execute_async(MEASURE, Vec::new())
        .await
        .map_err(|error| MeasureError::Script(error.to_string()))?;
    let measured: Measured =
        serde_json::from_value(answer).map_err(|error| MeasureError::Script(error.to_string()))?;
    let mut metrics = MetricValues::default();
    for metric in Metric::ALL {
        let value = measured
            .metrics
            .get(metric.name())
            .copied()
            .flatten()
            .filter(|value| value.is_finite() && *value >= 0.0);
        metrics.set(metric, value);
    }
    let mut requests = measured.requests;
    // A session that keeps no performance log answers with an error; the
    // statuses Resource Timing told are all there is then.
    if let Ok(log) = chrome_log::read(browser, LogKind::Performance).await {
        let outcomes = NetworkOutcomes::from_log(&log);
        for request in &mut requests {
            request.learn(&outcomes);
        }
    }
    Ok(PageLoad {
        metrics,
        total_blocking_time_ms: measured.total_blocking_time_ms,
        requests,
    })
}
