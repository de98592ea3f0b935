//! Command-line arguments and how settings are resolved: a flag beats its
//! `SIGHTLINE_*` environment variable, which beats the config file
//! (`--config`), which beats the built-in default.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use serde::Deserialize;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Sightline: real-user and synthetic monitoring in one self-hosted server.
#[derive(Debug, Parser)]
#[command(name = "sightline", version, about)]
pub struct Cli {
    /// Settings every command shares.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the data is.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// YAML config file (a `server:` section with the settings below).
    #[arg(long, env = "SIGHTLINE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Database URL: `postgres://…` for PostgreSQL; default SQLite in the data directory.
    #[arg(long, env = "SIGHTLINE_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Directory for the SQLite database and blobs [default: ./sightline-data].
    #[arg(long, env = "SIGHTLINE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

/// The commands.
#[derive(Debug, Subcommand)]
// Parsed once at start; boxing the largest would only complicate its use.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the server: API, UI, RUM collector, scheduler, local checkpoint, alerting.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check one URL now and print the result with its timing breakdown;
    /// exits non-zero when the check fails.
    Check(CheckArgs),
    /// Make the configuration match a YAML file of sites, monitors and
    /// maintenance windows (create and update; delete too with --prune).
    Apply {
        /// The YAML file.
        file: PathBuf,
        /// Also delete what the file does not name.
        #[arg(long)]
        prune: bool,
        /// Show what would change without changing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run a remote checkpoint: lease this checkpoint's due checks from a
    /// server, run them here, report the results (kept on disk while the
    /// server cannot be reached).
    Agent(AgentArgs),
    /// Copy the SQLite database to FILE while the server keeps running (a
    /// consistent snapshot of every committed write). For PostgreSQL, use
    /// pg_dump.
    Backup {
        /// Where to write the backup; must not exist.
        file: PathBuf,
    },
    /// Put a backup made by `backup` back as the SQLite database of an empty
    /// data directory, then start the server on it.
    Restore {
        /// The backup file.
        file: PathBuf,
    },
    /// Write the configuration as a YAML file `apply` reads back unchanged.
    Export {
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Settings of `agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The server's URL (`https://sightline.example.com`).
    #[arg(long, env = "SIGHTLINE_SERVER")]
    pub server: url::Url,
    /// A token bound to this checkpoint (`sightline token add NAME --checkpoint NAME`).
    #[arg(long, env = "SIGHTLINE_AGENT_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The checkpoint this agent is (`eu-west`).
    #[arg(long, env = "SIGHTLINE_CHECKPOINT")]
    pub checkpoint: String,
    /// Where results wait while the server cannot be reached [default: ./sightline-agent-spool].
    #[arg(long, env = "SIGHTLINE_SPOOL_DIR")]
    pub spool_dir: Option<PathBuf>,
    /// The spool's bound in megabytes; past it the oldest results are dropped [default: 256].
    #[arg(long, env = "SIGHTLINE_SPOOL_MB")]
    pub spool_mb: Option<u64>,
    /// Checks run at once at most [default: 256].
    #[arg(long, env = "SIGHTLINE_CHECK_CONCURRENCY")]
    pub check_concurrency: Option<usize>,
    /// Where the browsers of browser checks are.
    #[command(flatten)]
    pub browser: BrowserArgs,
}

/// The browser flags `serve` and `agent` share.
#[derive(Debug, Default, Args)]
pub struct BrowserArgs {
    /// The Chromium binary browser checks run in [default: /usr/bin/chromium].
    #[arg(long, env = "SIGHTLINE_CHROMIUM")]
    pub chromium: Option<PathBuf>,
    /// The chromedriver binary, same major version as Chromium [default: /usr/bin/chromedriver].
    #[arg(long, env = "SIGHTLINE_CHROMEDRIVER")]
    pub chromedriver: Option<PathBuf>,
    /// Browser checks run at once [default: 2].
    #[arg(long, env = "SIGHTLINE_BROWSER_SESSIONS")]
    pub browser_sessions: Option<usize>,
}

/// Settings of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The URL to request (`https://shop.example.com/`).
    pub url: String,
    /// Give up after this long [default: 30s].
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Accepted status code (repeatable); any 2xx when not given.
    #[arg(long = "status")]
    pub status: Vec<u16>,
    /// Text the body must contain.
    #[arg(long)]
    pub contains: Option<String>,
    /// Do not verify the server's certificate.
    #[arg(long)]
    pub insecure: bool,
    /// Print the full result as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Settings of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SIGHTLINE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The URL people and pages reach this server at [default: http://LISTEN].
    #[arg(long, env = "SIGHTLINE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Send the session cookie without `Secure`, for plain-HTTP deployments
    /// reached by a name other than localhost.
    #[arg(long, env = "SIGHTLINE_INSECURE_COOKIES")]
    pub insecure_cookies: Option<bool>,
    /// How long an unused session lasts, e.g. `14d` [default: 14d].
    #[arg(long, env = "SIGHTLINE_SESSION_LIFETIME", value_parser = parse_duration)]
    pub session_lifetime: Option<Duration>,
    /// Log format: `text` or `json` [default: text].
    #[arg(long, env = "SIGHTLINE_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// A MaxMind-format country database for RUM page views [default: none, country "unknown"].
    #[arg(long, env = "SIGHTLINE_GEOIP_DB")]
    pub geoip_db: Option<PathBuf>,
    /// Proxies whose X-Forwarded-For is believed, comma-separated (`10.0.0.0/8,127.0.0.1`).
    #[arg(long, env = "SIGHTLINE_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    pub trusted_proxies: Option<Vec<IpNet>>,
    /// RUM beacons per second one site may send [default: 2000].
    #[arg(long, env = "SIGHTLINE_RUM_SITE_RATE")]
    pub rum_site_rate: Option<NonZeroU32>,
    /// RUM beacons per minute one client address may send [default: 120].
    #[arg(long, env = "SIGHTLINE_RUM_ADDRESS_RATE")]
    pub rum_address_rate: Option<NonZeroU32>,
    /// How long raw RUM page views are kept, e.g. `30days` [default: 30days].
    #[arg(long, env = "SIGHTLINE_RUM_RETENTION", value_parser = parse_duration)]
    pub rum_retention: Option<Duration>,
    /// How long raw check results are kept; hourly and daily summaries stay [default: 90days].
    #[arg(long, env = "SIGHTLINE_RESULT_RETENTION", value_parser = parse_duration)]
    pub result_retention: Option<Duration>,
    /// How long screenshots of browser checks are kept [default: 30days].
    #[arg(long, env = "SIGHTLINE_SCREENSHOT_RETENTION", value_parser = parse_duration)]
    pub screenshot_retention: Option<Duration>,
    /// How long the audit log keeps who changed what [default: 365days].
    #[arg(long, env = "SIGHTLINE_AUDIT_RETENTION", value_parser = parse_duration)]
    pub audit_retention: Option<Duration>,
    /// Checks the local checkpoint runs at once at most [default: 256].
    #[arg(long, env = "SIGHTLINE_CHECK_CONCURRENCY")]
    pub check_concurrency: Option<usize>,
    /// A checkpoint that makes no contact for this long is offline: an
    /// incident of its own, and its checks move to the monitors' other
    /// checkpoints [default: 1m].
    #[arg(long, env = "SIGHTLINE_CHECKPOINT_OFFLINE_AFTER", value_parser = parse_duration)]
    pub checkpoint_offline_after: Option<Duration>,
    /// How old a status page's snapshot may grow before it is rebuilt: how
    /// late a page may be, and how often its crowd reaches the database
    /// [default: 5s].
    #[arg(long, env = "SIGHTLINE_STATUS_REFRESH", value_parser = parse_duration)]
    pub status_refresh: Option<Duration>,
    /// Where the browsers of browser checks are.
    #[command(flatten)]
    pub browser: BrowserArgs,
    /// A bearer token `/metrics` requires, and with which it serves the
    /// metrics of what is monitored [default: none: the server's own
    /// metrics are public, and those of monitors and sites need a user's
    /// API token].
    #[arg(long, env = "SIGHTLINE_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// How long a client has to send a request's headers, from its first
    /// byte (or from connecting, for a first request) [default: 10s].
    #[arg(long, env = "SIGHTLINE_HEADER_TIMEOUT", value_parser = parse_duration)]
    pub header_timeout: Option<Duration>,
    /// How long a kept-alive connection may wait for its next request
    /// [default: 30s].
    #[arg(long, env = "SIGHTLINE_KEEP_ALIVE_TIMEOUT", value_parser = parse_duration)]
    pub keep_alive_timeout: Option<Duration>,
    /// Connections open at once at most; more are refused with 503 at once
    /// [default: 10000, less when the file descriptor limit is lower].
    #[arg(long, env = "SIGHTLINE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// The vault key for check secrets: 32 random bytes in base64
    /// (`openssl rand -base64 32`). Prefer the environment variable.
    #[arg(long, env = "SIGHTLINE_VAULT_KEY", hide_env_values = true)]
    pub vault_key: Option<String>,
    /// SMTP server for alert e-mail [default: none; e-mail waits in the outbox].
    #[arg(long, env = "SIGHTLINE_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// SMTP port [default: 587 for starttls, 465 for tls, 25 for plain].
    #[arg(long, env = "SIGHTLINE_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// `starttls`, `tls` or `plain` [default: starttls].
    #[arg(long, env = "SIGHTLINE_SMTP_SECURITY")]
    pub smtp_security: Option<SmtpSecurityArg>,
    /// SMTP login name.
    #[arg(long, env = "SIGHTLINE_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// SMTP password. Prefer the environment variable.
    #[arg(long, env = "SIGHTLINE_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
    /// The sender of alert e-mail [default: `Sightline <sightline@SMTP_HOST>`].
    #[arg(long, env = "SIGHTLINE_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// The OpenID provider's issuer URL: turns single sign-on on.
    #[arg(long, env = "SIGHTLINE_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// This server's client id at the OpenID provider.
    #[arg(long, env = "SIGHTLINE_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// This server's client secret at the OpenID provider. Prefer the
    /// environment variable.
    #[arg(long, env = "SIGHTLINE_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// The provider's name on the login screen [default: the issuer's host].
    #[arg(long, env = "SIGHTLINE_OIDC_NAME")]
    pub oidc_name: Option<String>,
    /// Scopes to ask for, space-separated [default: `openid email profile`].
    #[arg(long, env = "SIGHTLINE_OIDC_SCOPES")]
    pub oidc_scopes: Option<String>,
    /// E-mail domains allowed to sign in, comma-separated [default: any].
    #[arg(long, env = "SIGHTLINE_OIDC_ALLOWED_DOMAINS", value_delimiter = ',')]
    pub oidc_allowed_domains: Option<Vec<String>>,
    /// The claim whose values give the role, e.g. `groups` [default: none;
    /// new people are viewers].
    #[arg(long, env = "SIGHTLINE_OIDC_ROLE_CLAIM")]
    pub oidc_role_claim: Option<String>,
    /// Values of the role claim that make an admin, comma-separated.
    #[arg(long, env = "SIGHTLINE_OIDC_ADMIN_VALUES", value_delimiter = ',')]
    pub oidc_admin_values: Option<Vec<String>>,
    /// Values of the role claim that make an editor, comma-separated.
    #[arg(long, env = "SIGHTLINE_OIDC_EDITOR_VALUES", value_delimiter = ',')]
    pub oidc_editor_values: Option<Vec<String>>,
    /// Turns password login off for everyone but this admin's e-mail (with
    /// single sign-on on).
    #[arg(long, env = "SIGHTLINE_BREAK_GLASS_ADMIN")]
    pub break_glass_admin: Option<String>,
}

/// How the SMTP connection is protected, as written on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurityArg {
    /// Upgrade with STARTTLS (required).
    Starttls,
    /// TLS from the first byte.
    Tls,
    /// No encryption.
    Plain,
}

/// A network (`10.0.0.0/8`) or a single address (`127.0.0.1`).
fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is not an IP address or network"))
}

/// User management.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input (prompted on a terminal).
    Add {
        /// Login e-mail.
        email: String,
        /// Make the user an admin (the same as `--role admin`).
        #[arg(long)]
        admin: bool,
        /// `admin`, `editor` or `viewer` (the default).
        #[arg(long, conflicts_with = "admin")]
        role: Option<String>,
    },
    /// List users.
    List,
    /// Remove a user with their sessions and tokens.
    Remove {
        /// Login e-mail.
        email: String,
    },
    /// Set a user's password (read from standard input); ends their sessions.
    Passwd {
        /// Login e-mail.
        email: String,
        /// Revoke the user's API tokens too (a password that leaked may
        /// have made tokens).
        #[arg(long)]
        revoke_tokens: bool,
    },
}

/// Token management.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its secret (shown only this once) on standard output.
    Create {
        /// The user the token acts for.
        #[arg(long)]
        user: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// `admin`, `editor` or `viewer`; no more than the user's own role.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Bind the token to one checkpoint's agent protocol.
        #[arg(long)]
        checkpoint: Option<String>,
        /// Days until it stops working.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List tokens (never their secrets).
    List {
        /// Only this user's tokens.
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by id.
    Revoke {
        /// The token's id, as `token list` shows it.
        id: i64,
    },
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    sightline_core::duration_text::parse(text)
}

/// The config file. Unknown keys are errors, so a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    server: ServerSection,
    // Declared configuration: read and applied by `serve` at start (see
    // `as_code`), skipped here.
    #[serde(default, rename = "sites")]
    _sites: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "monitors")]
    _monitors: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "maintenance_windows")]
    _maintenance_windows: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    insecure_cookies: Option<bool>,
    #[serde(default, with = "sightline_core::duration_text::option")]
    session_lifetime: Option<Duration>,
    log_format: Option<LogFormat>,
    geoip_db: Option<PathBuf>,
    trusted_proxies: Option<Vec<String>>,
    rum_site_rate: Option<NonZeroU32>,
    rum_address_rate: Option<NonZeroU32>,
    #[serde(default, with = "sightline_core::duration_text::option")]
    rum_retention: Option<Duration>,
    #[serde(default, with = "sightline_core::duration_text::option")]
    result_retention: Option<Duration>,
    #[serde(default, with = "sightline_core::duration_text::option")]
    screenshot_retention: Option<Duration>,
    #[serde(default, with = "sightline_core::duration_text::option")]
    audit_retention: Option<Duration>,
    check_concurrency: Option<usize>,
    #[serde(default, with = "sightline_core::duration_text::option")]
    checkpoint_offline_after: Option<Duration>,
    #[serde(default, with = "sightline_core::duration_text::option")]
    status_refresh: Option<Duration>,
    chromium: Option<PathBuf>,
    chromedriver: Option<PathBuf>,
    browser_sessions: Option<usize>,
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_security: Option<SmtpSecurityArg>,
    smtp_username: Option<String>,
    smtp_password: Option<String>,
    smtp_from: Option<String>,
    oidc_issuer: Option<String>,
    oidc_client_id: Option<String>,
    oidc_client_secret: Option<String>,
    oidc_name: Option<String>,
    oidc_scopes: Option<String>,
    oidc_allowed_domains: Option<Vec<String>>,
    oidc_role_claim: Option<String>,
    oidc_admin_values: Option<Vec<String>>,
    oidc_editor_values: Option<Vec<String>>,
    break_glass_admin: Option<String>,
    metrics_token: Option<String>,
    #[serde(default, with = "sightline_core::duration_text::option")]
    header_timeout: Option<Duration>,
    #[serde(default, with = "sightline_core::duration_text::option")]
    keep_alive_timeout: Option<Duration>,
    max_connections: Option<usize>,
}

/// Settings after every source has had its say.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The database URL to connect to.
    pub database_url: String,
    /// Where SQLite and blobs live.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The externally visible URL.
    pub public_url: String,
    /// Send cookies without `Secure`.
    pub insecure_cookies: bool,
    /// Session lifetime.
    pub session_lifetime: Duration,
    /// Log format.
    pub log_format: LogFormat,
    /// Country database.
    pub geoip_db: Option<PathBuf>,
    /// Proxies whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// RUM beacons per second per site.
    pub rum_site_rate: Option<NonZeroU32>,
    /// RUM beacons per minute per client address.
    pub rum_address_rate: Option<NonZeroU32>,
    /// How long raw page views are kept.
    pub rum_retention: Duration,
    /// How long raw check results are kept.
    pub result_retention: Duration,
    /// How long screenshots of browser checks are kept.
    pub screenshot_retention: Duration,
    /// How long the audit log keeps its entries.
    pub audit_retention: Duration,
    /// Checks run at once by the local checkpoint.
    pub check_concurrency: usize,
    /// How long a checkpoint may go without contact before it is offline.
    pub checkpoint_offline_after: Duration,
    /// How old a status page's snapshot may grow.
    pub status_refresh: Duration,
    /// The vault key, from the flag or the environment only (never the file).
    pub vault_key: Option<String>,
    /// The token `/metrics` requires, if any.
    pub metrics_token: Option<String>,
    /// Connection timeouts and cap.
    pub connections: sightline_server::ConnectionLimits,
    /// The config file, whose declared sites, monitors and windows `serve`
    /// applies at start.
    pub config_file: Option<PathBuf>,
    /// Where alert e-mail goes, if anywhere.
    pub smtp: Option<sightline_alerting::SmtpSettings>,
    /// Single sign-on through an OpenID provider, if configured.
    pub oidc: Option<sightline_server::OidcConfig>,
    /// The browsers of browser checks.
    pub browser: sightline_synthetic::browser::BrowserConfig,
}

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl Settings {
    /// Resolves settings from flags and environment (already merged by
    /// clap), the config file and defaults.
    pub fn resolve(global: &GlobalArgs, serve: Option<&ServeArgs>) -> Result<Self> {
        let file = match &global.config {
            Some(path) => read_config_file(path)?,
            None => ConfigFile::default(),
        };
        let server = file.server;
        let smtp = smtp_settings(serve, &server);
        let oidc = oidc_settings(serve, &server)?;
        let browser = browser_config(serve.map(|s| &s.browser), &server)?;
        let data_dir = global
            .data_dir
            .clone()
            .or(server.data_dir)
            .unwrap_or_else(|| PathBuf::from("sightline-data"));
        let database_url = match global.database_url.clone().or(server.database_url) {
            Some(url) => url,
            None => format!("sqlite://{}", data_dir.join("sightline.db").display()),
        };
        let listen = serve
            .and_then(|s| s.listen)
            .or(server.listen)
            .unwrap_or_else(|| {
                DEFAULT_LISTEN
                    .parse()
                    .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)))
            });
        let public_url = serve
            .and_then(|s| s.public_url.clone())
            .or(server.public_url)
            .unwrap_or_else(|| format!("http://{listen}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            bail!("public_url `{public_url}` must start with http:// or https://");
        }
        Ok(Settings {
            smtp,
            oidc,
            database_url,
            data_dir,
            listen,
            public_url,
            insecure_cookies: serve
                .and_then(|s| s.insecure_cookies)
                .or(server.insecure_cookies)
                .unwrap_or(false),
            session_lifetime: serve
                .and_then(|s| s.session_lifetime)
                .or(server.session_lifetime)
                .unwrap_or(Duration::from_secs(14 * 24 * 3600)),
            log_format: serve
                .and_then(|s| s.log_format)
                .or(server.log_format)
                .unwrap_or(LogFormat::Text),
            geoip_db: serve.and_then(|s| s.geoip_db.clone()).or(server.geoip_db),
            trusted_proxies: match serve.and_then(|s| s.trusted_proxies.clone()) {
                Some(networks) => networks,
                None => server
                    .trusted_proxies
                    .unwrap_or_default()
                    .iter()
                    .map(|text| {
                        parse_network(text)
                            .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))
                    })
                    .collect::<Result<_>>()?,
            },
            rum_site_rate: serve.and_then(|s| s.rum_site_rate).or(server.rum_site_rate),
            rum_address_rate: serve
                .and_then(|s| s.rum_address_rate)
                .or(server.rum_address_rate),
            rum_retention: serve
                .and_then(|s| s.rum_retention)
                .or(server.rum_retention)
                .unwrap_or(Duration::from_secs(30 * 24 * 3600)),
            result_retention: serve
                .and_then(|s| s.result_retention)
                .or(server.result_retention)
                .unwrap_or(Duration::from_secs(90 * 24 * 3600)),
            screenshot_retention: serve
                .and_then(|s| s.screenshot_retention)
                .or(server.screenshot_retention)
                .unwrap_or(Duration::from_secs(30 * 24 * 3600)),
            audit_retention: serve
                .and_then(|s| s.audit_retention)
                .or(server.audit_retention)
                .unwrap_or(sightline_server::DEFAULT_AUDIT_RETENTION),
            check_concurrency: serve
                .and_then(|s| s.check_concurrency)
                .or(server.check_concurrency)
                .unwrap_or(256),
            checkpoint_offline_after: serve
                .and_then(|s| s.checkpoint_offline_after)
                .or(server.checkpoint_offline_after)
                .unwrap_or(sightline_core::checkpoint::DEFAULT_OFFLINE_AFTER),
            status_refresh: serve
                .and_then(|s| s.status_refresh)
                .or(server.status_refresh)
                .unwrap_or(Duration::from_secs(5)),
            vault_key: serve.and_then(|s| s.vault_key.clone()),
            metrics_token: serve
                .and_then(|s| s.metrics_token.clone())
                .or(server.metrics_token)
                .filter(|token| !token.is_empty()),
            connections: connection_limits(
                serve,
                &server.header_timeout,
                &server.keep_alive_timeout,
                server.max_connections,
            )?,
            config_file: global.config.clone(),
            browser,
        })
    }

    /// Whether the database is the embedded SQLite file.
    pub fn uses_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

/// Connection timeouts and cap: flags (or their environment variables),
/// then the file, then defaults; the cap's default stays well under the
/// process's file descriptor limit (raised to its maximum at start).
fn connection_limits(
    flags: Option<&ServeArgs>,
    header_timeout: &Option<Duration>,
    keep_alive_timeout: &Option<Duration>,
    max_connections: Option<usize>,
) -> Result<sightline_server::ConnectionLimits> {
    let defaults = sightline_server::ConnectionLimits::default();
    let limits = sightline_server::ConnectionLimits {
        header_timeout: flags
            .and_then(|f| f.header_timeout)
            .or(*header_timeout)
            .unwrap_or(defaults.header_timeout),
        keep_alive_timeout: flags
            .and_then(|f| f.keep_alive_timeout)
            .or(*keep_alive_timeout)
            .unwrap_or(defaults.keep_alive_timeout),
        max_connections: flags
            .and_then(|f| f.max_connections)
            .or(max_connections)
            .unwrap_or_else(|| defaults.max_connections.min(descriptor_budget())),
    };
    if limits.header_timeout.is_zero() || limits.keep_alive_timeout.is_zero() {
        bail!("header_timeout and keep_alive_timeout must be longer than 0");
    }
    if limits.max_connections == 0 {
        bail!("max_connections must be at least 1");
    }
    Ok(limits)
}

/// File descriptors the connections may use: the process's limit, raised
/// to its maximum first, less what the database, checks and browsers need.
fn descriptor_budget() -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
    let current = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    usize::try_from(current.saturating_sub(512))
        .unwrap_or(usize::MAX)
        .max(64)
}

/// Where the browsers of browser checks are, and how many may run: flags
/// (or their environment variables), then the file's `server:` section.
fn browser_config(
    flags: Option<&BrowserArgs>,
    file: &ServerSection,
) -> Result<sightline_synthetic::browser::BrowserConfig> {
    let defaults = sightline_synthetic::browser::BrowserConfig::default();
    let sessions = flags
        .and_then(|f| f.browser_sessions)
        .or(file.browser_sessions)
        .unwrap_or(defaults.sessions);
    if sessions == 0 {
        bail!("browser_sessions must be at least 1");
    }
    Ok(sightline_synthetic::browser::BrowserConfig {
        chromium: flags
            .and_then(|f| f.chromium.clone())
            .or(file.chromium.clone())
            .unwrap_or(defaults.chromium),
        chromedriver: flags
            .and_then(|f| f.chromedriver.clone())
            .or(file.chromedriver.clone())
            .unwrap_or(defaults.chromedriver),
        sessions,
        profiles: defaults.profiles,
    })
}

/// The browsers of an agent, which has flags but no config file.
pub fn agent_browser_config(
    flags: &BrowserArgs,
) -> Result<sightline_synthetic::browser::BrowserConfig> {
    browser_config(Some(flags), &ServerSection::default())
}

/// The SMTP settings from flags, environment and file, when a host is given.
fn smtp_settings(
    serve: Option<&ServeArgs>,
    file: &ServerSection,
) -> Option<sightline_alerting::SmtpSettings> {
    use sightline_alerting::SmtpSecurity;
    let host = serve
        .and_then(|s| s.smtp_host.clone())
        .or(file.smtp_host.clone())?;
    let security = match serve.and_then(|s| s.smtp_security).or(file.smtp_security) {
        Some(SmtpSecurityArg::Plain) => SmtpSecurity::Plain,
        Some(SmtpSecurityArg::Tls) => SmtpSecurity::Tls,
        Some(SmtpSecurityArg::Starttls) | None => SmtpSecurity::Starttls,
    };
    let default_port = match security {
        SmtpSecurity::Plain => 25,
        SmtpSecurity::Starttls => 587,
        SmtpSecurity::Tls => 465,
    };
    Some(sightline_alerting::SmtpSettings {
        port: serve
            .and_then(|s| s.smtp_port)
            .or(file.smtp_port)
            .unwrap_or(default_port),
        security,
        username: serve
            .and_then(|s| s.smtp_username.clone())
            .or(file.smtp_username.clone()),
        password: serve
            .and_then(|s| s.smtp_password.clone())
            .or(file.smtp_password.clone()),
        from: serve
            .and_then(|s| s.smtp_from.clone())
            .or(file.smtp_from.clone())
            .unwrap_or_else(|| format!("Sightline <sightline@{host}>")),
        timeout: Duration::from_secs(30),
        host,
    })
}

/// Single sign-on, when an issuer is given by any source; the client id
/// and secret must then be given too.
fn oidc_settings(
    serve: Option<&ServeArgs>,
    file: &ServerSection,
) -> Result<Option<sightline_server::OidcConfig>> {
    macro_rules! pick {
        ($field:ident) => {
            serve.and_then(|s| s.$field.clone()).or(file.$field.clone())
        };
    }
    let Some(issuer) = pick!(oidc_issuer) else {
        return Ok(None);
    };
    let client_id = pick!(oidc_client_id)
        .context("--oidc-client-id (SIGHTLINE_OIDC_CLIENT_ID) is needed with --oidc-issuer")?;
    let client_secret = pick!(oidc_client_secret).context(
        "--oidc-client-secret (SIGHTLINE_OIDC_CLIENT_SECRET) is needed with --oidc-issuer",
    )?;
    let host = url::Url::parse(&issuer)
        .with_context(|| format!("--oidc-issuer `{issuer}` is not a URL"))?
        .host_str()
        .unwrap_or("the identity provider")
        .to_owned();
    let list = |values: Option<Vec<String>>| -> Vec<String> {
        values
            .unwrap_or_default()
            .into_iter()
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
            .collect()
    };
    let break_glass_admin = pick!(break_glass_admin)
        .map(|email| {
            sightline_core::Email::parse(&email)
                .map(|email| email.as_str().to_owned())
                .map_err(|e| anyhow::anyhow!("--break-glass-admin: {}", e.message))
        })
        .transpose()?;
    Ok(Some(sightline_server::OidcConfig {
        name: pick!(oidc_name).unwrap_or(host),
        scopes: pick!(oidc_scopes)
            .unwrap_or_else(|| "openid email profile".to_owned())
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        allowed_domains: list(pick!(oidc_allowed_domains))
            .into_iter()
            .map(|domain| domain.trim_start_matches('@').to_lowercase())
            .collect(),
        role_claim: pick!(oidc_role_claim).filter(|claim| !claim.trim().is_empty()),
        admin_values: list(pick!(oidc_admin_values)),
        editor_values: list(pick!(oidc_editor_values)),
        break_glass_admin,
        issuer,
        client_id,
        client_secret,
    }))
}

fn read_config_file(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    if text.trim().is_empty() {
        return Ok(ConfigFile::default());
    }
    serde_yaml_ng::from_str(&text)
        .with_context(|| format!("config file {} is invalid", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("sightline").chain(args.iter().copied())).unwrap()
    }

    fn serve_args(cli: &Cli) -> Option<&ServeArgs> {
        match &cli.command {
            Command::Serve(args) => Some(args),
            _ => None,
        }
    }

    #[test]
    fn defaults_are_sqlite_on_localhost() {
        let cli = parse(&["serve"]);
        let settings = Settings::resolve(&cli.global, serve_args(&cli)).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            settings.database_url,
            "sqlite://sightline-data/sightline.db"
        );
        assert!(settings.uses_sqlite());
        assert_eq!(settings.public_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sightline.yaml");
        std::fs::write(
            &path,
            "server:\n  listen: 0.0.0.0:9000\n  public_url: https://mon.example.com\n  session_lifetime: 1h\n",
        )
        .unwrap();
        let config = path.to_str().unwrap();
        let cli = parse(&["serve", "--config", config]);
        let settings = Settings::resolve(&cli.global, serve_args(&cli)).unwrap();
        assert_eq!(settings.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(settings.session_lifetime, Duration::from_secs(3600));
        let cli = parse(&["serve", "--config", config, "--listen", "127.0.0.1:9001"]);
        let settings = Settings::resolve(&cli.global, serve_args(&cli)).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:9001");
        assert_eq!(settings.public_url, "https://mon.example.com");
    }

    #[test]
    fn smtp_settings_default_their_port_and_sender_from_the_security() {
        let cli = parse(&["serve"]);
        assert_eq!(
            Settings::resolve(&cli.global, serve_args(&cli))
                .unwrap()
                .smtp,
            None
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sightline.yaml");
        std::fs::write(
            &path,
            "server:\n  smtp_host: mail.example.com\n  smtp_username: alerts\n",
        )
        .unwrap();
        let config = path.to_str().unwrap();
        let cli = parse(&["serve", "--config", config, "--smtp-security", "tls"]);
        let smtp = Settings::resolve(&cli.global, serve_args(&cli))
            .unwrap()
            .smtp
            .unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("mail.example.com", 465));
        assert_eq!(smtp.security, sightline_alerting::SmtpSecurity::Tls);
        assert_eq!(smtp.username.as_deref(), Some("alerts"));
        assert_eq!(smtp.from, "Sightline <sightline@mail.example.com>");
        let cli = parse(&["serve", "--config", config, "--smtp-port", "2525"]);
        let smtp = Settings::resolve(&cli.global, serve_args(&cli))
            .unwrap()
            .smtp
            .unwrap();
        assert_eq!(
            (smtp.port, smtp.security),
            (2525, sightline_alerting::SmtpSecurity::Starttls)
        );
    }

    #[test]
    fn browser_settings_come_from_flags_then_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sightline.yaml");
        std::fs::write(
            &path,
            "server:\n  chromium: /opt/chromium/chrome\n  browser_sessions: 4\n",
        )
        .unwrap();
        let config = path.to_str().unwrap();
        let cli = parse(&[
            "serve",
            "--config",
            config,
            "--chromium",
            "/usr/local/bin/chromium",
            "--chromedriver",
            "/usr/local/bin/chromedriver",
        ]);
        let browser = Settings::resolve(&cli.global, serve_args(&cli))
            .unwrap()
            .browser;
        assert_eq!(browser.chromium, PathBuf::from("/usr/local/bin/chromium"));
        assert_eq!(
            browser.chromedriver,
            PathBuf::from("/usr/local/bin/chromedriver")
        );
        assert_eq!(browser.sessions, 4);
        let cli = parse(&["serve", "--config", config, "--browser-sessions", "0"]);
        let error = format!(
            "{:#}",
            Settings::resolve(&cli.global, serve_args(&cli)).unwrap_err()
        );
        assert_eq!(error, "browser_sessions must be at least 1");
    }

    #[test]
    fn single_sign_on_comes_from_flags_then_the_file_and_keeps_its_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sightline.yaml");
        std::fs::write(
            &path,
            "server:\n  oidc_issuer: https://id.example.com/realms/ops\n  oidc_client_id: from-file\n  \
             oidc_client_secret: file-secret\n  oidc_allowed_domains: [Example.com, '@example.org']\n  \
             oidc_role_claim: groups\n  oidc_admin_values: [ops-admins]\n  break_glass_admin: Ops@Example.com\n",
        )
        .unwrap();
        let config = path.to_str().unwrap();
        let cli = parse(&["serve", "--config", config, "--oidc-client-id", "from-flag"]);
        let oidc = Settings::resolve(&cli.global, serve_args(&cli))
            .unwrap()
            .oidc
            .unwrap();
        assert_eq!(oidc.client_id, "from-flag");
        assert_eq!(oidc.client_secret, "file-secret");
        assert_eq!(oidc.name, "id.example.com");
        assert_eq!(oidc.scopes, ["openid", "email", "profile"]);
        assert_eq!(oidc.allowed_domains, ["example.com", "example.org"]);
        assert_eq!(oidc.role_claim.as_deref(), Some("groups"));
        assert_eq!(oidc.admin_values, ["ops-admins"]);
        assert!(oidc.editor_values.is_empty());
        assert_eq!(oidc.break_glass_admin.as_deref(), Some("ops@example.com"));
        assert!(!format!("{oidc:?}").contains("file-secret"));
        // No single sign-on without an issuer; an issuer needs the rest.
        let cli = parse(&["serve"]);
        assert!(
            Settings::resolve(&cli.global, serve_args(&cli))
                .unwrap()
                .oidc
                .is_none()
        );
        let cli = parse(&["serve", "--oidc-issuer", "https://id.example.com"]);
        let error = format!(
            "{:#}",
            Settings::resolve(&cli.global, serve_args(&cli)).unwrap_err()
        );
        assert!(error.contains("--oidc-client-id"), "{error}");
    }

    #[test]
    fn a_broken_file_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, "server:\n  listen: 127.0.0.1:8080\n  lisen: oops\n").unwrap();
        let cli = parse(&["migrate", "--config", path.to_str().unwrap()]);
        let error = format!("{:#}", Settings::resolve(&cli.global, None).unwrap_err());
        assert!(error.contains("unknown field `lisen`"), "{error}");
        assert!(error.contains("line 3"), "{error}");
    }
}
