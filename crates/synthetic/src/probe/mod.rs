//! Check runners: one function per monitor type, each turning a monitor's
//! settings into a [`CheckReport`] with its timing breakdown.
//!
//! A [`Prober`] holds what checks share (the resolver, the TLS roots, the
//! ICMP sockets) and is cheap to clone; every checkpoint (the local one,
//! a remote agent, `sightline check`) runs checks through one.

mod api;
mod browser;
mod dns;
pub(crate) mod http;
mod net;
mod ping;
mod tcp;
mod tls;
mod tls_config;
mod transaction;

pub use tls_config::TlsSetupError;

use crate::browser::{BrowserConfig, BrowserPool};
use crate::secrets::Secrets;
use hickory_resolver::TokioResolver;
use net::elapsed_ms;
use rustls::pki_types::CertificateDer;
use sightline_core::monitor::{CheckReport, CheckSpec, Problem, ProblemKind, template};
use sightline_core::{Clock, MonitorSpec};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tls_config::TlsSettings;

/// Why a prober cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ProberError {
    /// The TLS settings could not be built.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// The system's resolver configuration could not be read.
    #[error("cannot read the system's DNS settings: {0}")]
    Resolver(String),
}

/// What a prober may be told beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct ProberConfig {
    /// Root certificates trusted in addition to the system's (a private CA).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// The browsers of browser checks.
    pub browser: BrowserConfig,
}

/// Runs checks. Clones share one resolver, TLS setup and ICMP sockets.
#[derive(Debug, Clone)]
pub struct Prober {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    resolver: TokioResolver,
    tls: TlsSettings,
    clock: Arc<dyn Clock>,
    user_agent: String,
    icmp: ping::IcmpClients,
    /// The browser pool, or why this checkpoint has none.
    browsers: Result<BrowserPool, String>,
}

impl Prober {
    /// A prober on the system's DNS settings and trusted roots (plus any
    /// given), reading time from `clock`.
    pub fn new(config: ProberConfig, clock: Arc<dyn Clock>) -> Result<Self, ProberError> {
        let resolver = TokioResolver::builder_tokio()
            .and_then(|builder| builder.build())
            .map_err(|e| ProberError::Resolver(e.to_string()))?;
        Ok(Prober {
            inner: Arc::new(Inner {
                resolver,
                tls: TlsSettings::new(&config.extra_roots)?,
                clock,
                user_agent: format!(
                    "Sightline/{} (synthetic monitoring)",
                    env!("CARGO_PKG_VERSION")
                ),
                icmp: ping::IcmpClients::default(),
                browsers: BrowserPool::new(config.browser).map_err(|error| error.to_string()),
            }),
        })
    }

    /// Runs one check of `spec`, filling `{{secrets.NAME}}` from `secrets`
    /// and masking their values in everything the report says.
    pub async fn run(&self, spec: &MonitorSpec, secrets: &Secrets) -> CheckReport {
        let start = Instant::now();
        let deadline = Deadline::after(spec.timeout());
        let variables = Variables::new(self.inner.clock.as_ref(), secrets);
        let mut report = match &spec.check {
            CheckSpec::Http(check) => http::run(self, check, &variables, &deadline).await,
            CheckSpec::Api(check) => api::run(self, check, variables, &deadline).await,
            CheckSpec::Tcp(check) => tcp::run(self, check, &deadline).await,
            CheckSpec::Dns(check) => dns::run(check, &deadline).await,
            CheckSpec::Tls(check) => tls::run(self, check, &deadline).await,
            CheckSpec::Ping(check) => ping::run(self, check, &deadline).await,
            CheckSpec::Browser(check) => browser::run(self, check, &deadline).await,
            CheckSpec::Transaction(check) => {
                transaction::run(self, check, &variables, &deadline).await
            }
        };
        // A runner that timed what a user waits for (a page's load, a
        // journey's steps) keeps its time; the others' is the whole run.
        if report.duration_ms == 0 {
            report.duration_ms = elapsed_ms(start);
        }
        secrets.mask_report(&mut report);
        report
    }

    /// Whether this process may send ICMP echo requests; the error says what
    /// the system refused and how to allow it. Checked when a ping monitor
    /// is configured, so that it fails there and not silently later.
    pub fn ping_available(&self) -> Result<(), String> {
        self.inner.icmp.available()
    }

    /// Whether this checkpoint can run browser checks; the error says what
    /// is missing. Checked when a browser monitor is configured, so that it
    /// is refused there instead of failing on every check.
    pub fn browser_available(&self) -> Result<(), String> {
        self.inner
            .browsers
            .as_ref()
            .map(|_| ())
            .map_err(Clone::clone)
    }
}

/// The point in time a check must be done by; every phase waits at most
/// until then, and a phase that runs out says which one it was.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: tokio::time::Instant,
    timeout: Duration,
}

impl Deadline {
    fn after(timeout: Duration) -> Self {
        Deadline {
            at: tokio::time::Instant::now() + timeout,
            timeout,
        }
    }

    /// What is left of the time.
    pub fn remaining(&self) -> Duration {
        self.at
            .saturating_duration_since(tokio::time::Instant::now())
    }

    /// Runs one phase; running out of time is a timeout problem naming it.
    pub async fn run<F: Future>(&self, phase: &str, future: F) -> Result<F::Output, Problem> {
        tokio::time::timeout_at(self.at, future)
            .await
            .map_err(|_| self.expired(phase))
    }

    /// The problem of running out of time during `phase`.
    pub fn expired(&self, phase: &str) -> Problem {
        Problem::new(
            ProblemKind::Timeout,
            format!(
                "timed out after {} while {phase}",
                sightline_core::duration_text::format(self.timeout)
            ),
        )
    }
}

/// What a secret put into a URL is encoded as: everything but the
/// characters RFC 3986 leaves unreserved.
const URL_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The values `{{name}}` placeholders are filled with: variables of a
/// multi-step check, built-ins (`timestamp`, `uuid`) and vault secrets.
#[derive(Debug)]
pub(crate) struct Variables<'a> {
    values: BTreeMap<String, String>,
    now_seconds: i64,
    secrets: &'a Secrets,
}

impl<'a> Variables<'a> {
    fn new(clock: &dyn Clock, secrets: &'a Secrets) -> Self {
        Variables {
            values: BTreeMap::new(),
            now_seconds: clock.now().as_millis().div_euclid(1000),
            secrets,
        }
    }

    /// Sets a variable.
    pub fn set(&mut self, name: &str, value: String) {
        self.values.insert(name.to_owned(), value);
    }

    fn lookup(&self, name: &str) -> Option<String> {
        if let Some(secret) = name.strip_prefix("secrets.") {
            return self.secrets.get(secret).map(str::to_owned);
        }
        match name {
            "timestamp" => Some(self.now_seconds.to_string()),
            "uuid" => Some(uuid::Uuid::new_v4().to_string()),
            _ => self.values.get(name).cloned(),
        }
    }

    /// The values of the vault secrets `text` names: what a screenshot
    /// must not show.
    pub fn secret_values(&self, text: &str) -> Vec<String> {
        template::placeholders(text)
            .iter()
            .filter_map(|name| self.secrets.get(name.strip_prefix("secrets.")?))
            .map(str::to_owned)
            .collect()
    }

    /// Fills the placeholders of a URL: a vault secret goes in
    /// percent-encoded as one component (a key with `+`, `&` or a space
    /// arrives as it is stored), other variables as they are (they may be
    /// a base URL or a path taken from an answer).
    pub fn fill_url(&self, text: &str, place: &str) -> Result<String, Problem> {
        template::fill(text, |name| {
            let value = self.lookup(name)?;
            Some(if name.starts_with("secrets.") {
                percent_encoding::utf8_percent_encode(&value, URL_COMPONENT).to_string()
            } else {
                value
            })
        })
        .map_err(|name| unknown(&name, place))
    }

    /// Fills the placeholders of `text`; an unknown name is a problem that
    /// says where it was used.
    pub fn fill(&self, text: &str, place: &str) -> Result<String, Problem> {
        template::fill(text, |name| self.lookup(name)).map_err(|name| unknown(&name, place))
    }
}

/// The problem of a placeholder naming nothing known, said where it was used.
fn unknown(name: &str, place: &str) -> Problem {
    let what = if name.starts_with("secrets.") {
        "no such secret in the vault"
    } else {
        "no such variable"
    };
    Problem::new(
        ProblemKind::Step,
        format!("{place} uses `{{{{{name}}}}}`: {what}"),
    )
}
