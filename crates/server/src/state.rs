//! The one cloneable application state every handler and middleware shares.

use crate::login_limit::{LoginLimiter, LoginLimits};
use crate::metrics::Metrics;
use sightline_store::Store;
use std::sync::Arc;
use std::time::Duration;

/// How the HTTP application behaves; filled from the command line, the
/// environment and the config file by the binary.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// How long a session lasts without use (it slides with use).
    pub session_lifetime: Duration,
    /// Mark the session cookie `Secure`. Only turn off for plain-HTTP
    /// deployments reached by a name other than localhost.
    pub secure_cookies: bool,
    /// Login rate limits.
    pub login_limits: LoginLimits,
    /// The URL people and pages reach this server at, for the RUM snippet.
    pub public_url: String,
    /// Requests handled at once; more are answered 503 at once instead of
    /// queueing without bound.
    pub max_concurrent_requests: usize,
    /// A request (body included) that takes longer than this is answered 408.
    pub request_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            session_lifetime: Duration::from_secs(14 * 24 * 3600),
            secure_cookies: true,
            login_limits: LoginLimits::default(),
            public_url: "http://127.0.0.1:8080".to_owned(),
            max_concurrent_requests: 512,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Shared by every request.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Behaviour settings.
    pub config: Arc<ServerConfig>,
    /// Request metrics.
    pub metrics: Arc<Metrics>,
    /// Login attempt limits.
    pub login_limiter: Arc<LoginLimiter>,
    /// Permits for requests in flight.
    pub request_permits: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// State for a server on `store` with `config`.
    pub fn new(store: Store, config: ServerConfig) -> Self {
        Self {
            login_limiter: Arc::new(LoginLimiter::new(config.login_limits)),
            request_permits: Arc::new(tokio::sync::Semaphore::new(
                config.max_concurrent_requests.max(1),
            )),
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            store,
        }
    }
}
