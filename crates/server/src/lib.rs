//! Sightline's HTTP application: the JSON API under `/api/v1` with its
//! OpenAPI document, authentication, `/healthz`, `/readyz` and `/metrics`.
//!
//! [`serve`] takes its listener and its shutdown signal from outside (so
//! tests bind port 0 and the binary wires SIGTERM), stops accepting when told,
//! lets in-flight requests finish and then closes the store.
//!
//! This crate owns the JSON request and response shapes; it never writes SQL
//! and never holds domain rules that the core crate should (validation lives
//! there, so the API and the YAML files agree).

mod assets;
mod audit;
mod auth;
mod connections;
mod device_cookie;
mod error;
mod json;
mod login_limit;
mod metrics;
mod monitored_metrics;
mod oidc;
mod routes;
mod same_origin;
mod state;
mod status;

pub use auth::{
    TOKEN_PREFIX, hash_password, mint_token, new_secret, new_site_key, secret_hash, verify_password,
};
pub use connections::ConnectionLimits;
pub use error::{ApiError, ErrorBody};
pub use login_limit::LoginLimits;
pub use oidc::OidcConfig;
pub use sightline_rum::CollectorConfig;
pub use state::{AppState, ServerConfig, SharedState, StartError};

use axum::Router;
use std::future::Future;
use tokio::net::TcpListener;

/// The largest JSON body the API accepts.
pub const API_BODY_LIMIT: usize = 1024 * 1024;

/// The whole application as a router, ready to serve. Layers, from the
/// outside in: tracing, load shedding, metrics; then, for the API, the body
/// limit, the uniform error shape, the request timeout, panic recovery and
/// the auth gate; for beacons (public, with their own body limit and error
/// shapes) only the request timeout and panic recovery.
pub fn router(state: AppState) -> Router {
    let (application, _) = routes::application().split_for_parts();
    let (beacons, _) = routes::beacons().split_for_parts();
    let timeout = || {
        tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout,
        )
    };
    let catch_panic = || tower_http::catch_panic::CatchPanicLayer::custom(error::panic_response);
    let application =
        application
            .fallback(
                |method: axum::http::Method,
                 uri: axum::http::Uri,
                 headers: axum::http::HeaderMap| async move {
                    if uri.path().starts_with("/status/") {
                        routes::status_public::not_found().await
                    } else if uri.path().starts_with("/api/") {
                        axum::response::IntoResponse::into_response(ApiError::NotFound("route"))
                    } else {
                        routes::ui::not_found(&method, &headers)
                    }
                },
            )
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                routes::require_auth,
            ))
            .layer(catch_panic())
            .layer(timeout())
            .layer(axum::middleware::from_fn(error::uniform_error_shape))
            .layer(axum::extract::DefaultBodyLimit::max(API_BODY_LIMIT))
            .layer(compression());
    let beacons = beacons
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(catch_panic())
        .layer(timeout());
    let status_pages = routes::status_public::router()
        .layer(catch_panic())
        .layer(timeout());
    let router = beacons
        .merge(status_pages)
        .merge(application)
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.request_permits.clone(),
            shed_load,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(routes::request_span));
    let app = with_security_headers(router).with_state(state.clone());
    // A page's own domain is recognised before routing, so that its paths
    // route as the page's.
    let domains = axum::middleware::from_fn_with_state(state, routes::status_public::own_domains);
    Router::new().fallback_service(tower::Layer::layer(&domains, app))
}

/// Adds the headers every answer carries: no content-type sniffing, no
/// referrer beyond this origin, and for HTML the UI's
/// Content-Security-Policy (unless a route set its own).
fn with_security_headers(router: Router<AppState>) -> Router<AppState> {
    use axum::http::{HeaderValue, header};
    use tower_http::set_header::SetResponseHeaderLayer;
    fn html_policy(response: &axum::response::Response) -> Option<HeaderValue> {
        let html = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|kind| kind.as_bytes().starts_with(b"text/html"));
        html.then(|| HeaderValue::from_static(routes::ui::CONTENT_SECURITY_POLICY))
    }
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            html_policy as fn(&axum::response::Response) -> Option<HeaderValue>,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

/// Compresses the answers that are not already: JSON compresses about
/// tenfold, and the overview of a thousand monitors is 3.4 MB of it, over
/// a second on a 20 Mbit/s line. At the fastest level, compressing costs
/// less than the time it saves even on the local host.
fn compression() -> tower_http::compression::CompressionLayer {
    tower_http::compression::CompressionLayer::new()
        .quality(tower_http::compression::CompressionLevel::Fastest)
}

/// Answers 503 at once when every request permit is taken, so that a flood
/// costs memory for nothing but the refused connections.
async fn shed_load(
    axum::extract::State(permits): axum::extract::State<std::sync::Arc<tokio::sync::Semaphore>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match permits.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) => axum::response::IntoResponse::into_response(ApiError::Overloaded),
    }
}

/// The OpenAPI 3 document of the API, as served at `/api/v1/openapi.json`:
/// generated from the handlers' annotations, so it cannot drift from them.
pub fn openapi() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::LazyLock<serde_json::Value> =
        std::sync::LazyLock::new(routes::document);
    &DOCUMENT
}

/// How long the audit log keeps an entry unless configured otherwise: a
/// year, so that "who changed this last spring" has an answer.
pub const DEFAULT_AUDIT_RETENTION: std::time::Duration =
    std::time::Duration::from_secs(365 * 24 * 3600);

/// Serves the application on `listener` until `shutdown` completes, then
/// lets in-flight requests finish and closes the store cleanly.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let store = state.store.clone();
    let limiter = state.login_limiter.clone();
    let collector = state.collector.clone();
    let draining = state.clone();
    let app = router(state);
    let housekeeping_store = store.clone();
    let audit_retention = draining.config.audit_retention;
    let housekeeping = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            limiter.shrink();
            collector.shrink();
            if let Err(error) = housekeeping_store.purge_expired_sessions().await {
                tracing::warn!(%error, "purging expired sessions");
            }
            if let Err(error) = housekeeping_store.purge_expired_oidc_logins().await {
                tracing::warn!(%error, "purging unfinished single sign-ons");
            }
            let cutoff = housekeeping_store.now().minus(audit_retention);
            match housekeeping_store.delete_audit_before(cutoff).await {
                Ok(0) => {}
                Ok(rows) => tracing::info!(rows, "removed audit entries past retention"),
                Err(error) => tracing::warn!(%error, "removing audit entries past retention"),
            }
        }
    });
    // Ignored beacons are counted in memory and stored every few seconds.
    let ignored_collector = draining.collector.clone();
    let ignored_store = store.clone();
    let ignored_counts = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            store_ignored_beacons(&ignored_collector, &ignored_store).await;
        }
    });
    let rum_store = store.clone();
    let retention = draining.config.rum_retention;
    let rum_maintenance = tokio::spawn(async move {
        // Every 10 s, so that the open hour's minutes are written soon
        // after they settle; retention every 30 s.
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut passes: u64 = 0;
        loop {
            tick.tick().await;
            // Planner statistics at start and every hour after.
            if passes.is_multiple_of(360)
                && let Err(error) = rum_store.optimize().await
            {
                tracing::warn!(%error, "refreshing planner statistics");
            }
            passes += 1;
            if let Err(error) = sightline_rum::rollup::roll_all(&rum_store).await {
                tracing::warn!(%error, "rolling up page views");
            }
            if passes % 3 != 1 {
                continue;
            }
            match rum_store
                .delete_page_views_before(rum_store.now().minus(retention))
                .await
            {
                Ok(expired) if expired.is_empty() => {}
                Ok(expired) => tracing::info!(
                    rows = expired.rows,
                    days = ?expired.days,
                    "removed page views past retention"
                ),
                Err(error) => tracing::warn!(%error, "removing page views past retention"),
            }
        }
    });
    // Status pages that open incidents by themselves.
    let auto_state = draining.clone();
    let auto_incidents = tokio::spawn(async move {
        let mut tick = tokio::time::interval(auto_state.config.alerting_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match status::auto_incidents::pass(&auto_state).await {
                Ok(()) => auto_state.metrics.count_status_page_pass(),
                Err(error) => tracing::warn!(%error, "opening status page incidents"),
            }
        }
    });
    let result = connections::serve(
        listener,
        app,
        draining.config.connections,
        draining.metrics.connection_counts(),
        shutdown,
    )
    .await;
    housekeeping.abort();
    ignored_counts.abort();
    auto_incidents.abort();
    // A roll cut short rolls back its transaction; the next start resumes it.
    rum_maintenance.abort();
    // Every beacon answered 2xx is already committed; this only ends the writer.
    draining.drain().await;
    store_ignored_beacons(&draining.collector, &store).await;
    store.close().await;
    result
}

/// Stores the counts of ignored beacons gathered since the last time.
async fn store_ignored_beacons(
    collector: &sightline_rum::Collector,
    store: &sightline_store::Store,
) {
    let counts = collector.take_ignored();
    if let Err(error) = store.add_ignored_beacons(store.now(), &counts).await {
        tracing::warn!(%error, "storing the counts of ignored beacons");
    }
}
