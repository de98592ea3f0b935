//! What one run of a check found: the result model every check type and every
//! checkpoint (local or remote agent) reports in.

use serde::{Deserialize, Serialize};

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    /// Every condition held.
    Up,
    /// It worked, but worse than a "degraded" threshold (slow, certificate
    /// expiring soon).
    Degraded,
    /// A condition failed.
    Error,
}

impl CheckOutcome {
    /// The stable name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutcome::Up => "up",
            CheckOutcome::Degraded => "degraded",
            CheckOutcome::Error => "error",
        }
    }

    /// The outcome with this stable name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "up" => Some(CheckOutcome::Up),
            "degraded" => Some(CheckOutcome::Degraded),
            "error" => Some(CheckOutcome::Error),
            _ => None,
        }
    }
}

/// Why a check was not up, as a stable machine name that alert rules and the
/// UI can group by; the words for people are in [`Problem::message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The check did not finish within its timeout.
    Timeout,
    /// The name did not resolve.
    Dns,
    /// No connection could be made.
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// The server broke the protocol (not HTTP, connection reset mid-answer).
    Protocol,
    /// Unexpected HTTP status.
    Status,
    /// The body did not contain, or did contain, what it should (not).
    Body,
    /// A response header did not match.
    Header,
    /// A value in a JSON body did not match, or the body was not JSON.
    Json,
    /// Slower than a response-time threshold.
    ResponseTime,
    /// Too many redirects, or a redirect that cannot be followed.
    Redirect,
    /// A TCP server's greeting did not contain what was expected.
    Banner,
    /// DNS answers did not contain what was expected.
    Records,
    /// The certificate is expiring, expired, untrusted or for another name.
    Certificate,
    /// Too many echo requests went unanswered.
    Loss,
    /// A multi-step check could not build a request (an unknown variable, a
    /// value that cannot be extracted).
    Step,
    /// The check cannot run here at all (no ICMP permission, bad settings).
    Setup,
    /// A page loaded in a browser broke a condition (too slow, too heavy,
    /// a request failed).
    Page,
}

impl ProblemKind {
    /// Every kind, for parsing stored names.
    pub const ALL: [ProblemKind; 18] = [
        ProblemKind::Timeout,
        ProblemKind::Dns,
        ProblemKind::Connect,
        ProblemKind::Tls,
        ProblemKind::Protocol,
        ProblemKind::Status,
        ProblemKind::Body,
        ProblemKind::Header,
        ProblemKind::Json,
        ProblemKind::ResponseTime,
        ProblemKind::Redirect,
        ProblemKind::Banner,
        ProblemKind::Records,
        ProblemKind::Certificate,
        ProblemKind::Loss,
        ProblemKind::Step,
        ProblemKind::Setup,
        ProblemKind::Page,
    ];

    /// The kind with this stable name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Timeout => "timeout",
            ProblemKind::Dns => "dns",
            ProblemKind::Connect => "connect",
            ProblemKind::Tls => "tls",
            ProblemKind::Protocol => "protocol",
            ProblemKind::Status => "status",
            ProblemKind::Body => "body",
            ProblemKind::Header => "header",
            ProblemKind::Json => "json",
            ProblemKind::ResponseTime => "response_time",
            ProblemKind::Redirect => "redirect",
            ProblemKind::Banner => "banner",
            ProblemKind::Records => "records",
            ProblemKind::Certificate => "certificate",
            ProblemKind::Loss => "loss",
            ProblemKind::Step => "step",
            ProblemKind::Setup => "setup",
            ProblemKind::Page => "page",
        }
    }
}

/// Why a check was degraded or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable machine name.
    pub kind: ProblemKind,
    /// What happened, in words (`expected status 200, got 503`).
    pub message: String,
}

impl Problem {
    /// A problem of `kind`.
    pub fn new(kind: ProblemKind, message: impl Into<String>) -> Self {
        Problem {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

/// Where the time of a network check went, in milliseconds. Phases a check
/// type does not have (or did not reach) stay `None`. Read from a JSON
/// object only (serde would take its fields as an array too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct PhaseTimings {
    /// Name resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_ms: Option<i64>,
    /// TCP connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<i64>,
    /// TLS handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ms: Option<i64>,
    /// Request sent until the first response byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_ms: Option<i64>,
    /// First to last response byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_ms: Option<i64>,
}

impl Serialize for PhaseTimings {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PhaseTimings::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for PhaseTimings {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOnly;
        impl<'de> serde::de::Visitor<'de> for ObjectOnly {
            type Value = PhaseTimings;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of phase timings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<PhaseTimings, A::Error> {
                PhaseTimings::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(ObjectOnly)
    }
}

impl PhaseTimings {
    /// Adds another request's phases to these (a redirect chain, the steps
    /// of a multi-step check).
    pub fn add(&mut self, other: &PhaseTimings) {
        fn sum(into: &mut Option<i64>, more: Option<i64>) {
            if let Some(more) = more {
                *into = Some(into.unwrap_or(0) + more);
            }
        }
        sum(&mut self.dns_ms, other.dns_ms);
        sum(&mut self.connect_ms, other.connect_ms);
        sum(&mut self.tls_ms, other.tls_ms);
        sum(&mut self.first_byte_ms, other.first_byte_ms);
        sum(&mut self.download_ms, other.download_ms);
    }
}

/// Everything one run of a check found. The runner fills it in; the
/// checkpoint adds where and when it ran and reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckReport {
    /// How it went.
    pub outcome: CheckOutcome,
    /// Why it was degraded or failed; `None` when up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
    /// The (last) HTTP status, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 65535)]
    pub status_code: Option<u16>,
    /// Timing breakdown.
    #[serde(default)]
    pub timings: PhaseTimings,
    /// How long the check took, in milliseconds, as its user would wait:
    /// a page's load (navigation start to the end of its load event), a
    /// journey's steps (a browser's start-up is
    /// `detail.browser_start_ms`), the whole run for the other types. A
    /// runner leaves 0 for the prober to time the whole run.
    pub duration_ms: i64,
    /// Response size in bytes, where there is a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_bytes: Option<i64>,
    /// Type-specific detail (redirects, certificate, answers, steps) as JSON.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Screenshots taken during the run (browser checks), stored beside the
    /// result and listed in `detail.screenshots`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub screenshots: Vec<ScreenshotCapture>,
}

/// A screenshot a browser check took: PNG bytes and what it shows. Its
/// place in [`CheckReport::screenshots`] (from 1) is its number.
#[derive(Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScreenshotCapture {
    /// What it shows (`failed at step 3`, `after login`).
    pub label: String,
    /// The step of a transaction it was taken at, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u32>,
    /// The image, PNG (base64 in JSON).
    #[serde(with = "png_base64")]
    #[schema(value_type = String, format = Byte, pattern = "^iVBORw0KGgo")]
    pub png: Vec<u8>,
}

impl std::fmt::Debug for ScreenshotCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreenshotCapture")
            .field("label", &self.label)
            .field("step", &self.step)
            .field("png_bytes", &self.png.len())
            .finish()
    }
}

impl ScreenshotCapture {
    /// What `detail.screenshots` says of it, numbered from 1.
    pub fn summary(&self, number: usize) -> serde_json::Value {
        serde_json::json!({
            "number": number,
            "label": self.label,
            "step": self.step,
            "bytes": self.png.len(),
        })
    }
}

/// Screenshots cross the agent protocol as base64 in JSON.
mod png_base64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(png: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(png))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|error| serde::de::Error::custom(format!("not base64: {error}")))
    }
}

impl CheckReport {
    /// A report of a check that failed before it got anywhere.
    pub fn failed(problem: Problem, duration_ms: i64) -> Self {
        CheckReport {
            outcome: CheckOutcome::Error,
            problem: Some(problem),
            status_code: None,
            timings: PhaseTimings::default(),
            duration_ms,
            response_bytes: None,
            detail: serde_json::Value::Null,
            screenshots: Vec::new(),
        }
    }
}

/// The verdict of a set of conditions: up, or degraded or failed with the
/// first problem found. Errors win over degradations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// The first error found.
    pub error: Option<Problem>,
    /// The first degradation found.
    pub degraded: Option<Problem>,
}

impl Verdict {
    /// Records an error; the first one is kept.
    pub fn fail(&mut self, problem: Problem) {
        self.error.get_or_insert(problem);
    }

    /// Records a degradation; the first one is kept.
    pub fn degrade(&mut self, problem: Problem) {
        self.degraded.get_or_insert(problem);
    }

    /// The outcome and the problem to show with it.
    pub fn into_outcome(self) -> (CheckOutcome, Option<Problem>) {
        match (self.error, self.degraded) {
            (Some(error), _) => (CheckOutcome::Error, Some(error)),
            (None, Some(degraded)) => (CheckOutcome::Degraded, Some(degraded)),
            (None, None) => (CheckOutcome::Up, None),
        }
    }
}

#[cfg(test)]
mod timing_tests {
    use super::*;

    #[test]
    fn timings_are_an_object_and_nothing_else() {
        let read = |value: serde_json::Value| serde_json::from_value::<PhaseTimings>(value);
        let timings = read(serde_json::json!({"dns_ms": 1, "connect_ms": 2})).unwrap();
        assert_eq!(
            (timings.dns_ms, timings.connect_ms, timings.tls_ms),
            (Some(1), Some(2), None)
        );
        assert_eq!(
            serde_json::to_value(timings).unwrap(),
            serde_json::json!({"dns_ms": 1, "connect_ms": 2})
        );
        assert!(read(serde_json::json!([1, 2, 3, 4, 5])).is_err());
        assert!(read(serde_json::json!({"dns": 1})).is_err());
    }
}
