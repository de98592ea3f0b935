//! Monitor specifications: what a user asks Sightline to check, how often, from
//! where, and what counts as an error.
//!
//! A monitor is one flat document (`name`, `every`, `checkpoints`, … plus
//! `type` and the settings of that type), the same in the API and in the
//! monitors-as-code YAML. [`MonitorSpec::from_json`] is the single entry point
//! that parses and validates it; adding a check type is one module here plus
//! one variant in [`CheckSpec`].

mod api;
mod assess;
mod browser;
pub mod catalogue;
mod dns;
mod http;
mod ping;
mod problems;
mod report;
mod schedule;
mod tcp;
pub mod template;
mod tls;
mod transaction;

pub use api::{ApiCheck, ApiStep, Extraction, JsonAssertion};
pub use assess::{Assessment, CheckedCondition, HttpResponse};
pub use browser::{
    BrowserCheck, BrowserExpect, FailedRequest, PageFacts, REQUEST_KINDS, RequestFailure,
    Screenshot, request_kind,
};
pub use dns::{DnsCheck, DnsRecordType};
pub use http::{HttpAuth, HttpCheck, HttpExpect, HttpHeaderAssertion};
pub use ping::PingCheck;
pub use report::{
    CheckOutcome, CheckReport, PhaseTimings, Problem, ProblemKind, ScreenshotCapture, Verdict,
};
pub use schedule::{
    CATCH_UP_WINDOW, DueDecision, MAX_INTERVAL, MIN_INTERVAL, MISSED_AFTER, Schedule,
};
pub use tcp::TcpCheck;
pub use tls::TlsCheck;
pub use transaction::{
    DEFAULT_STEP_WAIT, ElementQuery, Key, MAX_TRANSACTION_STEPS, NamedKey, STEP_ACTIONS,
    SelectOption, StepAction, TransactionCheck, TransactionStep, TypeText, UrlAssertion, WaitFor,
};

use crate::ValidationError;
use crate::duration_text;
use crate::validation::{at_most, from_json_value, require_text};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The longest time a single check may take.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// A whole monitor as the user writes it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MonitorSpec {
    /// Settings every monitor type shares.
    #[serde(flatten)]
    pub settings: MonitorSettings,
    /// The check itself, tagged by `type`.
    #[serde(flatten)]
    pub check: CheckSpec,
}

/// The settings every monitor has, whatever it checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorSettings {
    /// Unique, human name (`shop home`).
    pub name: String,
    /// Paused monitors keep their configuration and history but do not run.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Run at this interval (10 s to 24 h), e.g. `"1m"`. Default 1 m when no
    /// `cron` is given.
    #[serde(
        default,
        with = "duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, example = "1m")]
    pub every: Option<Duration>,
    /// Run on this cron schedule instead (`"*/5 * * * *"`, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Give up on a check after this long; defaults to the type's own default.
    #[serde(
        default,
        with = "duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, example = "30s")]
    pub timeout: Option<Duration>,
    /// Checkpoints (locations) the monitor runs from.
    #[serde(default = "default_checkpoints")]
    pub checkpoints: Vec<String>,
    /// Down only when at least this many of its checkpoints fail the same
    /// due time ("down when 2 of 4 locations fail"). Unset, one failure is
    /// re-run from another checkpoint and confirmed there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 2)]
    pub down_when_failing: Option<u32>,
    /// Free labels for filtering and grouping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The RUM site this monitor watches, for correlation with real-user traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The alert policy that says who is told when it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_policy: Option<String>,
    /// The monitor (by name) this one depends on: while that one is down,
    /// this one's notifications are held back and named in its incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_checkpoints() -> Vec<String> {
    vec!["local".to_owned()]
}

/// What a monitor checks, by type. Each variant validates its own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
// Specs are configuration, held a few thousand at a time at most: the size
// difference between variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum CheckSpec {
    /// An HTTP(S) request with expectations on status, body, headers and time.
    Http(HttpCheck),
    /// A TCP connection, optionally expecting a greeting banner.
    Tcp(TcpCheck),
    /// A DNS lookup with expected answers.
    Dns(DnsCheck),
    /// A TLS handshake inspecting the certificate.
    Tls(TlsCheck),
    /// ICMP echo requests.
    Ping(PingCheck),
    /// An ordered list of HTTP requests sharing variables.
    Api(ApiCheck),
    /// A page loaded in a real browser and measured.
    Browser(BrowserCheck),
    /// A user journey walked step by step in a real browser.
    Transaction(TransactionCheck),
}

impl CheckSpec {
    /// The type name, as written in `type:`.
    pub fn type_name(&self) -> &'static str {
        match self {
            CheckSpec::Http(_) => "http",
            CheckSpec::Tcp(_) => "tcp",
            CheckSpec::Dns(_) => "dns",
            CheckSpec::Tls(_) => "tls",
            CheckSpec::Ping(_) => "ping",
            CheckSpec::Api(_) => "api",
            CheckSpec::Browser(_) => "browser",
            CheckSpec::Transaction(_) => "transaction",
        }
    }

    /// Every type name a monitor may have.
    pub const TYPE_NAMES: &'static [&'static str] = &[
        "http",
        "tcp",
        "dns",
        "tls",
        "ping",
        "api",
        "browser",
        "transaction",
    ];

    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            CheckSpec::Http(check) => check.validate(),
            CheckSpec::Tcp(check) => check.validate(),
            CheckSpec::Dns(check) => check.validate(),
            CheckSpec::Tls(check) => check.validate(),
            CheckSpec::Ping(check) => check.validate(),
            CheckSpec::Api(check) => check.validate(),
            CheckSpec::Browser(check) => check.validate(),
            CheckSpec::Transaction(check) => check.validate(),
        }
    }

    /// The host name (or address) the check talks to, lower case: monitors
    /// of one host fail together, and their alerts are grouped by it. `None`
    /// when it is only known at run time (an API step URL built from a
    /// variable).
    pub fn host(&self) -> Option<String> {
        let host = match self {
            CheckSpec::Http(http) => url_host(&http.url)?,
            CheckSpec::Tcp(tcp) => tcp.host.clone(),
            CheckSpec::Dns(dns) => dns.host.clone(),
            CheckSpec::Tls(tls) => tls.host.clone(),
            CheckSpec::Ping(ping) => ping.host.clone(),
            CheckSpec::Api(api) => url_host(&api.steps.first()?.url)?,
            CheckSpec::Browser(browser) => url_host(&browser.url)?,
            CheckSpec::Transaction(transaction) => url_host(transaction.start_url()?)?,
        };
        Some(host.trim_end_matches('.').to_ascii_lowercase())
    }

    /// The host and port it talks to (`shop.example.com:443`), or the host
    /// alone where no port applies (DNS, ping): what a message groups the
    /// incidents of one outage under.
    pub fn endpoint(&self) -> Option<String> {
        let port = match self {
            CheckSpec::Http(http) => url_port(&http.url),
            CheckSpec::Tcp(tcp) => Some(tcp.port),
            CheckSpec::Tls(tls) => Some(tls.port),
            CheckSpec::Dns(_) | CheckSpec::Ping(_) => None,
            CheckSpec::Api(api) => api.steps.first().and_then(|step| url_port(&step.url)),
            CheckSpec::Browser(browser) => url_port(&browser.url),
            CheckSpec::Transaction(transaction) => transaction.start_url().and_then(url_port),
        };
        let host = self.host()?;
        Some(match port {
            Some(port) if host.contains(':') => format!("[{host}]:{port}"),
            Some(port) => format!("{host}:{port}"),
            None => host,
        })
    }

    /// How long a check of this type may take when the monitor does not say.
    pub fn default_timeout(&self) -> Duration {
        match self {
            CheckSpec::Api(_) | CheckSpec::Browser(_) => Duration::from_secs(60),
            CheckSpec::Transaction(_) => Duration::from_secs(120),
            CheckSpec::Ping(_) => Duration::from_secs(10),
            _ => Duration::from_secs(30),
        }
    }
}

fn url_port(url: &str) -> Option<u16> {
    url::Url::parse(url).ok()?.port_or_known_default()
}

fn url_host(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    Some(url.host_str()?.trim_matches(['[', ']']).to_owned())
}

/// The most tags a monitor may carry.
pub const MAX_TAGS: usize = 32;
/// The most checkpoints a monitor may run from.
pub const MAX_CHECKPOINTS: usize = 32;
/// The longest URL a check may request (longer ones most servers refuse).
pub const MAX_URL_CHARS: usize = 8_192;
/// The most headers a request of a check may set.
pub const MAX_HEADERS: usize = 50;
/// The longest header value a check may send.
pub const MAX_HEADER_VALUE_CHARS: usize = 8_192;
/// Keys of the flat document that belong to [`MonitorSettings`]; every other
/// key belongs to the check.
const SETTINGS_KEYS: &[&str] = &[
    "name",
    "enabled",
    "every",
    "cron",
    "timeout",
    "checkpoints",
    "down_when_failing",
    "tags",
    "site",
    "alert_policy",
    "depends_on",
];

impl MonitorSpec {
    /// Parses and validates a monitor from a JSON (or YAML-turned-JSON)
    /// document. The error names the offending field.
    pub fn from_json(value: serde_json::Value) -> Result<Self, ValidationError> {
        crate::validation::within_bounds(&value)?;
        let serde_json::Value::Object(document) = value else {
            return Err(ValidationError::new("", "a monitor must be an object"));
        };
        let (settings, check): (serde_json::Map<_, _>, serde_json::Map<_, _>) = document
            .into_iter()
            .partition(|(key, _)| SETTINGS_KEYS.contains(&key.as_str()));
        let settings: MonitorSettings = from_json_value(settings.into())?;
        let check = parse_check(check)?;
        let spec = MonitorSpec { settings, check };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks every rule that the types alone do not express.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let settings = &self.settings;
        require_text("name", &settings.name, 200)?;
        let schedule = self.schedule()?;
        let timeout = self.timeout();
        if timeout < Duration::from_secs(1) || timeout > MAX_TIMEOUT {
            return Err(ValidationError::new(
                "timeout",
                format!(
                    "must be between 1s and {}",
                    duration_text::format(MAX_TIMEOUT)
                ),
            ));
        }
        if let Schedule::Every(interval) = schedule
            && timeout > interval
        {
            return Err(ValidationError::new(
                "timeout",
                format!(
                    "must not be longer than the interval ({})",
                    duration_text::format(interval)
                ),
            ));
        }
        if settings.checkpoints.is_empty() {
            return Err(ValidationError::new(
                "checkpoints",
                "must name at least one checkpoint",
            ));
        }
        for (index, checkpoint) in settings.checkpoints.iter().enumerate() {
            validate_checkpoint_name(checkpoint)
                .map_err(|e| e.within(&format!("checkpoints[{index}]")))?;
            if settings.checkpoints[..index].contains(checkpoint) {
                return Err(ValidationError::new(
                    format!("checkpoints[{index}]"),
                    format!("`{checkpoint}` is named twice"),
                ));
            }
        }
        if let Some(failing) = settings.down_when_failing {
            let named = settings.checkpoints.len();
            if failing == 0 || failing as usize > named {
                return Err(ValidationError::new(
                    "down_when_failing",
                    format!(
                        "must be between 1 and the number of checkpoints ({named}), not {failing}"
                    ),
                ));
            }
        }
        at_most("checkpoints", &settings.checkpoints, MAX_CHECKPOINTS)?;
        at_most("tags", &settings.tags, MAX_TAGS)?;
        for (index, tag) in settings.tags.iter().enumerate() {
            require_text(&format!("tags[{index}]"), tag, 64)?;
        }
        if let Some(site) = &settings.site {
            require_text("site", site, 100)?;
        }
        if let Some(policy) = &settings.alert_policy {
            require_text("alert_policy", policy, 100)?;
        }
        if let Some(parent) = &settings.depends_on {
            require_text("depends_on", parent, 200)?;
            if parent.trim() == settings.name.trim() {
                return Err(ValidationError::new(
                    "depends_on",
                    "a monitor cannot depend on itself",
                ));
            }
        }
        self.check.validate()
    }

    /// How many of its checkpoints must fail the same due time for the
    /// monitor to be down; 1 (one failure, confirmed by a re-run elsewhere)
    /// unless `down_when_failing` says more.
    pub fn failures_needed(&self) -> usize {
        self.settings.down_when_failing.unwrap_or(1).max(1) as usize
    }

    /// Whether this monitor and `other` tend to fail together: they check
    /// the same host, or one depends on the other.
    pub fn is_related(&self, other: &MonitorSpec) -> bool {
        let host = self.check.host();
        let same_host = host.is_some() && host == other.check.host();
        let parent = self.settings.depends_on.as_deref() == Some(other.settings.name.as_str());
        let child = other.settings.depends_on.as_deref() == Some(self.settings.name.as_str());
        same_host || parent || child
    }

    /// When the monitor runs.
    pub fn schedule(&self) -> Result<Schedule, ValidationError> {
        Schedule::from_settings(self.settings.every, self.settings.cron.as_deref())
    }

    /// How long one check may take: as set, or the type's default, but
    /// never longer than the interval.
    pub fn timeout(&self) -> Duration {
        self.settings.timeout.unwrap_or_else(|| {
            let default = self.check.default_timeout();
            match self.schedule() {
                Ok(Schedule::Every(interval)) => default.min(interval),
                _ => default,
            }
        })
    }

    /// The document as JSON, in the same flat shape [`MonitorSpec::from_json`] reads.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Every vault secret the settings name (`{{secrets.NAME}}`), with the
    /// field it is named in (`steps[1].type.text`), in document order: what
    /// must exist before the monitor may be saved.
    pub fn secret_references(&self) -> Vec<SecretReference> {
        let mut references = Vec::new();
        collect_secret_references(&self.to_json(), String::new(), &mut references);
        references
    }

    /// Refuses settings naming a vault secret that is not among `known`,
    /// naming the field.
    pub fn validate_secrets(
        &self,
        known: &std::collections::BTreeSet<String>,
    ) -> Result<(), ValidationError> {
        match self
            .secret_references()
            .into_iter()
            .find(|reference| !known.contains(&reference.name))
        {
            Some(missing) => Err(missing.not_in_vault()),
            None => Ok(()),
        }
    }
}

/// A vault secret named in a monitor's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretReference {
    /// The field path it is named in.
    pub field: String,
    /// The secret's name.
    pub name: String,
}

impl SecretReference {
    /// The error of naming a secret the vault does not hold.
    pub fn not_in_vault(&self) -> ValidationError {
        ValidationError::new(
            self.field.clone(),
            format!(
                "`{{{{secrets.{}}}}}` names no secret in the vault; store it first (PUT /api/v1/secrets/{})",
                self.name, self.name
            ),
        )
    }
}

fn collect_secret_references(
    value: &serde_json::Value,
    path: String,
    references: &mut Vec<SecretReference>,
) {
    match value {
        serde_json::Value::String(text) => {
            for name in template::placeholders(text) {
                if let Some(secret) = name.strip_prefix("secrets.") {
                    references.push(SecretReference {
                        field: path.clone(),
                        name: secret.to_owned(),
                    });
                }
            }
        }
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                collect_secret_references(item, format!("{path}[{index}]"), references);
            }
        }
        serde_json::Value::Object(fields) => {
            for (key, item) in fields {
                let child = crate::validation::join_path(&path, key);
                collect_secret_references(item, child, references);
            }
        }
        _ => {}
    }
}

/// Parses a check's own fields as the variant `type` names.
fn parse_check(
    mut check: serde_json::Map<String, serde_json::Value>,
) -> Result<CheckSpec, ValidationError> {
    let expected = || format!("expected one of {}", CheckSpec::TYPE_NAMES.join(", "));
    let type_name = match check.remove("type") {
        None => {
            return Err(ValidationError::new(
                "type",
                format!("missing; {}", expected()),
            ));
        }
        Some(serde_json::Value::String(name)) => name,
        Some(_) => return Err(ValidationError::new("type", "must be a string")),
    };
    // Each variant is parsed on its own (not through serde's internally
    // tagged enum, which buffers the content and loses the field paths).
    let settings = serde_json::Value::Object(check);
    Ok(match type_name.as_str() {
        "http" => CheckSpec::Http(parse_variant(settings)?),
        "tcp" => CheckSpec::Tcp(parse_variant(settings)?),
        "dns" => CheckSpec::Dns(parse_variant(settings)?),
        "tls" => CheckSpec::Tls(parse_variant(settings)?),
        "ping" => CheckSpec::Ping(parse_variant(settings)?),
        "api" => CheckSpec::Api(parse_variant(settings)?),
        "browser" => CheckSpec::Browser(parse_variant(settings)?),
        "transaction" => CheckSpec::Transaction(parse_variant(settings)?),
        other => {
            return Err(ValidationError::new(
                "type",
                format!("unknown monitor type `{other}`; {}", expected()),
            ));
        }
    })
}

/// One check type's fields. A misspelt top-level key reaches the check
/// (every key that is not a setting does), so its error lists the settings
/// every monitor has beside the check's own fields: `evry` is then shown
/// `every` among what it could have been.
fn parse_variant<T: serde::de::DeserializeOwned>(
    settings: serde_json::Value,
) -> Result<T, ValidationError> {
    from_json_value(settings).map_err(|mut error| {
        let top_level = !error.field.contains(['.', '[']);
        if top_level && error.message.starts_with("unknown field") {
            let shared: Vec<String> = SETTINGS_KEYS.iter().map(|key| format!("`{key}`")).collect();
            error.message = format!(
                "{}, or one every monitor has: {}",
                error.message,
                shared.join(", ")
            );
        }
        error
    })
}

/// Checkpoint names are short slugs (`local`, `eu-west`), because they appear
/// in URLs of the checkpoint protocol and in agent command lines.
pub fn validate_checkpoint_name(name: &str) -> Result<(), ValidationError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ValidationError::new(
            "",
            format!("`{name}` is not a checkpoint name (1-64 of a-z, 0-9, - and _)"),
        ))
    }
}

/// Header names and values as the user writes them, in a stable order.
pub type Headers = BTreeMap<String, String>;

/// Checks a URL used by an HTTP-based check. Placeholders (`{{name}}`) are
/// allowed where `allow_placeholders` is set, since multi-step checks fill
/// them in at run time.
pub(crate) fn validate_http_url(
    field: &str,
    text: &str,
    allow_placeholders: bool,
) -> Result<(), ValidationError> {
    if text.chars().count() > MAX_URL_CHARS {
        return Err(ValidationError::new(
            field,
            format!("must be at most {MAX_URL_CHARS} characters"),
        ));
    }
    if allow_placeholders && text.contains("{{") {
        let lower = text.trim_start().to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("{{")
        {
            return Ok(());
        }
        return Err(ValidationError::new(
            field,
            format!("`{text}` must start with http://, https:// or a {{{{variable}}}}"),
        ));
    }
    let url = url::Url::parse(text)
        .map_err(|e| ValidationError::new(field, format!("`{text}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ValidationError::new(
            field,
            format!("`{text}` must start with http:// or https://"),
        ));
    }
    if url.host_str().is_none() {
        return Err(ValidationError::new(field, format!("`{text}` has no host")));
    }
    Ok(())
}

/// Checks a host name or IP address for the socket-level checks.
pub(crate) fn validate_host(field: &str, host: &str) -> Result<(), ValidationError> {
    require_text(field, host, 253)?;
    if url::Host::parse(host.trim_start_matches('[').trim_end_matches(']')).is_err()
        || host.contains('/')
        || host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err()
    {
        return Err(ValidationError::new(
            field,
            format!("`{host}` is not a host name or IP address"),
        ));
    }
    Ok(())
}

/// Checks a list of expected HTTP status codes.
pub(crate) fn validate_status_codes(field: &str, codes: &[u16]) -> Result<(), ValidationError> {
    for (index, code) in codes.iter().enumerate() {
        if !(100..=599).contains(code) {
            return Err(ValidationError::new(
                format!("{field}[{index}]"),
                format!("{code} is not an HTTP status code (100-599)"),
            ));
        }
    }
    Ok(())
}

/// Checks that a regular expression compiles.
pub(crate) fn validate_regex(field: &str, pattern: &str) -> Result<(), ValidationError> {
    regex::Regex::new(pattern)
        .map(|_| ())
        .map_err(|e| ValidationError::new(field, format!("is not a valid regular expression: {e}")))
}

/// Checks an HTTP method name.
pub(crate) fn validate_method(field: &str, method: &str) -> Result<(), ValidationError> {
    const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    if METHODS.contains(&method) {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            format!(
                "unknown method `{method}`; expected one of {}",
                METHODS.join(", ")
            ),
        ))
    }
}

/// Checks header names and values.
pub(crate) fn validate_headers(field: &str, headers: &Headers) -> Result<(), ValidationError> {
    if headers.len() > MAX_HEADERS {
        return Err(ValidationError::new(
            field,
            format!("must have at most {MAX_HEADERS} headers"),
        ));
    }
    for (name, value) in headers {
        if name.len() > 256 || value.chars().count() > MAX_HEADER_VALUE_CHARS {
            return Err(ValidationError::new(
                format!("{field}.{name}"),
                format!("a header name may have 256 characters, a value {MAX_HEADER_VALUE_CHARS}"),
            ));
        }
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(ValidationError::new(
                format!("{field}.{name}"),
                "is not a valid header name",
            ));
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(ValidationError::new(
                format!("{field}.{name}"),
                "header values must not contain line breaks",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
