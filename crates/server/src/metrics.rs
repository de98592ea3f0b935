//! `/metrics` in Prometheus text format: request counts and latencies by
//! route template and method (never by raw path or a method a client made
//! up, which would grow the label set without end), plus build information;
//! then, for a scraper that may see them, the metrics of what is monitored
//! ([`crate::monitored_metrics`]).

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BeaconLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// A count kept elsewhere (an alerting loop's passes), shown as a counter.
#[derive(Debug, Clone)]
struct SharedCount(Arc<AtomicU64>);

impl prometheus_client::metrics::TypedMetric for SharedCount {
    const TYPE: prometheus_client::metrics::MetricType =
        prometheus_client::metrics::MetricType::Counter;
}

impl prometheus_client::encoding::EncodeMetric for SharedCount {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(
            &self.0.load(Ordering::SeqCst),
            None,
        )
    }

    fn metric_type(&self) -> prometheus_client::metrics::MetricType {
        <Self as prometheus_client::metrics::TypedMetric>::TYPE
    }
}

/// The process's metrics. One registry per server, not a global, so that
/// several servers in one test process do not mix their counts.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    beacons: Family<BeaconLabels, Counter>,
    refused_reports: Family<RefusalLabels, Counter>,
    connections: crate::connections::ConnectionCounts,
    /// The metrics of what is monitored.
    pub monitored: crate::monitored_metrics::MonitoredMetrics,
    status_page_passes: Arc<AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sightline");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .set(1);
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by route template",
            latency.clone(),
        );
        let beacons = Family::<BeaconLabels, Counter>::default();
        registry.register(
            "rum_beacons",
            "RUM beacons by outcome: stored, bot (dropped), or the reason of a rejection",
            beacons.clone(),
        );
        let refused_reports = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "checkpoint_reports_refused",
            "Results a checkpoint reported that were refused, by reason: not_leased (no lease \
             of this checkpoint covers it: a forgery or a bug), running_elsewhere or \
             completed_elsewhere (another checkpoint has the job)",
            refused_reports.clone(),
        );
        let connections = crate::connections::ConnectionCounts::default();
        registry.register(
            "http_connections_open",
            "HTTP connections open now",
            connections.open.clone(),
        );
        registry.register(
            "http_connections_refused",
            "HTTP connections refused at once because as many as allowed were open",
            connections.refused.clone(),
        );
        registry.register(
            "http_connections_timed_out",
            "HTTP connections closed because a request's head came too slowly or the \
             connection was idle too long",
            connections.timed_out.clone(),
        );
        registry.register("build_info", "The running build; always 1", build);
        let status_page_passes = Arc::<AtomicU64>::default();
        registry.register(
            "status_page_passes",
            "Passes completed of the status pages that open incidents by themselves",
            SharedCount(status_page_passes.clone()),
        );
        Self {
            registry,
            requests,
            latency,
            beacons,
            refused_reports,
            connections,
            monitored: Default::default(),
            status_page_passes,
        }
    }
}

impl Metrics {
    /// Shows the passes of the alerting engine and of the outbox sender:
    /// that they are alive, and, to a test, that they have looked again.
    pub fn counting_passes(mut self, engine: Arc<AtomicU64>, outbox: Arc<AtomicU64>) -> Self {
        self.registry.register(
            "alerting_passes",
            "Passes of the alerting engine completed: each looks at every monitor's status, \
             checkpoint and site",
            SharedCount(engine),
        );
        self.registry.register(
            "outbox_passes",
            "Passes of the outbox sender completed: each sends (or tries) every notification due",
            SharedCount(outbox),
        );
        self
    }

    /// Counts one completed pass of the status pages' own incidents.
    pub fn count_status_page_pass(&self) {
        self.status_page_passes.fetch_add(1, Ordering::SeqCst);
    }

    /// The server's own metrics in OpenMetrics text, without the closing
    /// `# EOF` (the metrics of what is monitored may follow).
    pub fn render_own(&self) -> String {
        let mut text = String::new();
        if let Err(error) =
            prometheus_client::encoding::text::encode_registry(&mut text, &self.registry)
        {
            tracing::error!(%error, "encoding metrics");
        }
        text
    }

    /// Counts one beacon by what became of it.
    pub fn count_beacon(&self, outcome: &str) {
        self.beacons
            .get_or_create(&BeaconLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The counters the connection loop keeps.
    pub fn connection_counts(&self) -> crate::connections::ConnectionCounts {
        self.connections.clone()
    }

    /// Counts one refused checkpoint report by its reason (one of a fixed
    /// few, never text from the request).
    pub fn count_refused_report(&self, reason: &'static str) {
        self.refused_reports
            .get_or_create(&RefusalLabels { reason })
            .inc();
    }

    fn observe(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: route.to_owned(),
            })
            .observe(seconds);
    }
}

/// A method as a label: the standard ones by name, anything a client made
/// up as `other`, so that no request text becomes a series of its own.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware that counts and times every request by its route template.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    // A route template (bounded by the routes there are), or `other` for a
    // path no route matched.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    metrics.observe(
        method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
