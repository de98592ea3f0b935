//! The one cloneable application state every handler and middleware shares.

use crate::login_limit::{LoginLimiter, LoginLimits};
use crate::metrics::Metrics;
use sightline_alerting::{Deliverer, Engine, Mailer, OutboxConfig, SmtpSettings, Templates};
use sightline_rum::enrich::{Enricher, GeoIp};
use sightline_rum::writer::WriterTask;
use sightline_rum::{Collector, CollectorConfig};
use sightline_store::Store;
use sightline_synthetic::{Prober, ProberConfig, Synthetic, SyntheticConfig, Vault};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
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
    /// How long connections may wait or take, and how many may be open.
    pub connections: crate::ConnectionLimits,
    /// When set, `/metrics` answers only requests bearing this token (for a
    /// server reachable by people who should not read its figures).
    pub metrics_token: Option<String>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A MaxMind-format country database for page views' countries.
    pub geoip_db: Option<PathBuf>,
    /// The RUM collector's queue and rate limits.
    pub collector: CollectorConfig,
    /// How long raw page views are kept (rollups are kept beyond).
    pub rum_retention: Duration,
    /// How long the audit log keeps its entries.
    pub audit_retention: Duration,
    /// Single sign-on through an OpenID provider, when configured.
    pub oidc: Option<crate::OidcConfig>,
    /// How synthetic monitoring runs in this process.
    pub synthetic: SyntheticConfig,
    /// What the check runners trust beyond the system's roots.
    pub prober: ProberConfig,
    /// The vault key (32 bytes, base64); without it no secret can be stored.
    pub vault_key: Option<String>,
    /// The SMTP server e-mail goes through; without it e-mail waits in the outbox.
    pub smtp: Option<SmtpSettings>,
    /// How the outbox is worked.
    pub outbox: OutboxConfig,
    /// How long a status page's snapshot stands before it is rebuilt: how
    /// late a page may be, and how often a crowd on it reaches the database.
    pub status_refresh: Duration,
    /// How often the alerting engine looks when no result wakes it: how
    /// late a time-based level (`after: 15m`) or a site's silence is seen.
    /// Status pages that open incidents by themselves look as often.
    pub alerting_every: Duration,
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
            connections: crate::ConnectionLimits::default(),
            metrics_token: None,
            trusted_proxies: Vec::new(),
            geoip_db: None,
            collector: CollectorConfig::default(),
            rum_retention: Duration::from_secs(30 * 24 * 3600),
            audit_retention: crate::DEFAULT_AUDIT_RETENTION,
            oidc: None,
            synthetic: SyntheticConfig::default(),
            prober: ProberConfig::default(),
            vault_key: None,
            smtp: None,
            outbox: OutboxConfig::default(),
            status_refresh: Duration::from_secs(5),
            alerting_every: Duration::from_secs(5),
        }
    }
}

/// Shared by every request. One reference-counted pointer, because the
/// router clones the state for every request and every layer: cloning a
/// dozen counters per request showed up in collector profiles.
#[derive(Debug, Clone)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// What [`AppState`] points to.
#[derive(Debug)]
pub struct SharedState {
    /// The database.
    pub store: Store,
    /// Behaviour settings.
    pub config: Arc<ServerConfig>,
    /// Request metrics.
    pub metrics: Arc<Metrics>,
    /// Login attempt limits.
    pub login_limiter: Arc<LoginLimiter>,
    /// Browsers known to have logged in to an account.
    pub device_cookies: crate::device_cookie::DeviceCookies,
    /// Signs and checks the acknowledgement links of alert e-mails.
    pub ack_links: sightline_alerting::AckLinks,
    /// Permits for requests in flight.
    pub request_permits: Arc<tokio::sync::Semaphore>,
    /// The RUM collector.
    pub collector: Arc<Collector>,
    /// The scheduler, local checkpoint and result path of synthetic monitoring.
    pub synthetic: Arc<Synthetic>,
    /// Tells the outbox sender that there is something to send.
    pub outbox: Arc<tokio::sync::Notify>,
    /// Public status pages' snapshots.
    pub status_pages: Arc<crate::status::StatusBoard>,
    /// Sign-in through the OpenID provider, when configured.
    pub sso: Option<Arc<crate::oidc::SingleSignOn>>,
    /// Tells the alerting engine and the outbox sender to stop.
    alerting_stop: tokio::sync::watch::Sender<bool>,
    /// The engine's and the sender's tasks, awaited at shutdown.
    alerting_tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The collector's page-view writer, awaited at shutdown.
    writer_task: Arc<Mutex<Option<WriterTask>>>,
}

impl SharedState {
    /// Who sent a request: the connection's peer, or the client a trusted
    /// proxy names in `X-Forwarded-For`.
    pub fn client_ip(
        &self,
        peer: std::net::SocketAddr,
        headers: &axum::http::HeaderMap,
    ) -> std::net::IpAddr {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok());
        sightline_rum::client_address::client_address(
            peer.ip(),
            forwarded,
            &self.config.trusted_proxies,
        )
    }
}

/// What can keep the application from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The country database does not load.
    #[error(transparent)]
    GeoIp(#[from] sightline_rum::enrich::GeoIpError),
    /// The embedded User-Agent rules do not load.
    #[error(transparent)]
    UserAgentRules(#[from] sightline_rum::enrich::RulesError),
    /// The check runners cannot be set up.
    #[error("cannot set up synthetic checks: {0}")]
    Prober(#[from] sightline_synthetic::ProberError),
    /// The vault key is unusable.
    #[error(transparent)]
    Vault(#[from] sightline_synthetic::VaultError),
    /// The database failed while starting.
    #[error("cannot start synthetic monitoring: {0}")]
    Store(#[from] sightline_store::StoreError),
    /// The alert templates do not compile.
    #[error(transparent)]
    Templates(#[from] sightline_alerting::RenderError),
    /// The SMTP settings are unusable.
    #[error("SMTP settings: {0}")]
    Smtp(#[from] sightline_alerting::SendError),
    /// The single sign-on settings are unusable.
    #[error("single sign-on settings: {0}")]
    SingleSignOn(#[from] crate::oidc::SignInError),
}

impl AppState {
    /// State for a server on `store` with `config`. Starts the RUM
    /// collector's writer and synthetic monitoring (scheduler and local
    /// checkpoint).
    pub async fn new(store: Store, config: ServerConfig) -> Result<Self, StartError> {
        let geo = config.geoip_db.as_deref().map(GeoIp::open).transpose()?;
        let enricher = Enricher::new(geo)?;
        let prober = Prober::new(config.prober.clone(), store.clock())?;
        let vault = config
            .vault_key
            .as_deref()
            .filter(|key| !key.trim().is_empty())
            .map(Vault::from_base64)
            .transpose()?;
        let channel_secrets = vault.clone().map(|vault| VaultSecrets {
            vault,
            store: store.clone(),
        });
        let metrics = Metrics::default();
        let tallies = metrics.monitored.tallies();
        let synthetic = Synthetic::start(
            store.clone(),
            store.clock(),
            prober,
            vault,
            &sightline_synthetic::SyntheticConfig {
                tally: Some(tallies.clone()),
                ..config.synthetic.clone()
            },
        )
        .await?;
        let device_cookies = crate::device_cookie::DeviceCookies::load(&store).await?;
        let ack_key = store
            .server_key("acknowledgement_link", crate::auth::new_secret().as_bytes())
            .await?;
        let ack_links = sightline_alerting::AckLinks::new(&ack_key);
        let status_key = store
            .server_key("status_page_access", crate::auth::new_secret().as_bytes())
            .await?;
        let status_pages = Arc::new(crate::status::StatusBoard::new(
            config.status_refresh,
            &status_key,
        ));
        let sso = config
            .oidc
            .clone()
            .map(|oidc| {
                crate::oidc::SingleSignOn::new(oidc, &config.public_url, store.clock())
                    .map(Arc::new)
            })
            .transpose()?;
        let mailer = config.smtp.as_ref().map(Mailer::new).transpose()?;
        let mut deliverer =
            Deliverer::new(store.clone(), mailer, config.outbox.clone()).with_tally(tallies);
        if let Some(secrets) = channel_secrets {
            deliverer = deliverer.with_secrets(Arc::new(secrets));
        }
        let outbox = deliverer.waker();
        let outbox_passes = deliverer.passes();
        let (alerting_stop, stopping) = tokio::sync::watch::channel(false);
        let deliverer_task = tokio::spawn(deliverer.run(stopping.clone()));
        let engine = Engine::new(
            store.clone(),
            Arc::new(Templates::embedded()?),
            config.public_url.clone(),
            outbox.clone(),
        )
        .with_offline_after(config.synthetic.offline_after)
        .with_rechecks(synthetic.queued_checks())
        .with_ack_links(ack_links.clone());
        let metrics = Arc::new(metrics.counting_passes(engine.passes(), outbox_passes));
        let engine_task = tokio::spawn(engine.run(
            synthetic.coordinator().stored(),
            config.alerting_every,
            stopping,
        ));
        let (collector, writer_task) = Collector::start(store.clone(), enricher, &config.collector);
        Ok(Self(Arc::new(SharedState {
            login_limiter: Arc::new(LoginLimiter::new(config.login_limits)),
            device_cookies,
            ack_links,
            request_permits: Arc::new(tokio::sync::Semaphore::new(
                config.max_concurrent_requests.max(1),
            )),
            metrics,
            collector: Arc::new(collector),
            synthetic: Arc::new(synthetic),
            outbox,
            status_pages,
            sso,
            alerting_stop,
            alerting_tasks: Mutex::new(vec![engine_task, deliverer_task]),
            writer_task: Arc::new(Mutex::new(Some(writer_task))),
            config: Arc::new(config),
            store,
        })))
    }

    /// Stops the background work in order, losing nothing: synthetic
    /// monitoring leases nothing more and stores the results of the checks
    /// under way; the collector stores every queued page view; the alerting
    /// engine and the outbox sender finish the pass under way (within
    /// [`ALERTING_GRACE`]; a send cut off past it keeps its lease and is sent
    /// again once that runs out). The database is closed after.
    pub async fn drain(&self) {
        self.synthetic.shutdown().await;
        self.collector.close();
        let task = self
            .writer_task
            .lock()
            .ok()
            .and_then(|mut task| task.take());
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::error!(%error, "the page-view writer failed");
        }
        let _ = self.alerting_stop.send(true);
        let tasks: Vec<_> = self
            .alerting_tasks
            .lock()
            .map(|mut tasks| tasks.drain(..).collect())
            .unwrap_or_default();
        for mut task in tasks {
            if tokio::time::timeout(ALERTING_GRACE, &mut task)
                .await
                .is_err()
            {
                tracing::warn!(
                    grace = ?ALERTING_GRACE,
                    "alerting still busy when stopping; what it was sending is sent again once its lease runs out"
                );
                task.abort();
            }
        }
    }
}

/// How long the alerting engine and the outbox sender may take to finish
/// the pass under way when the server stops.
pub const ALERTING_GRACE: Duration = Duration::from_secs(15);

/// The vault as the outbox sees it: the secrets a channel's settings name
/// (`{{secrets.PD_KEY}}`), opened when a message that needs them is sent.
#[derive(Debug)]
struct VaultSecrets {
    vault: Vault,
    store: Store,
}

impl sightline_alerting::SecretSource for VaultSecrets {
    fn lookup(
        &self,
        names: std::collections::BTreeSet<String>,
    ) -> sightline_alerting::SecretLookup<'_> {
        Box::pin(async move {
            let secrets = self
                .vault
                .secrets(&self.store)
                .await
                .map_err(|error| error.to_string())?;
            Ok(secrets.only(&names))
        })
    }
}
