//! Full-page browser checks: a page loaded in a real browser the way a
//! visitor loads it, and the conditions on what that cost. The rules live
//! here, beside the HTTP ones, so that every checkpoint judges a page alike;
//! the checkpoint only measures.

use super::report::{Problem, ProblemKind, Verdict};
use super::validate_http_url;
use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// Load a page in a headless browser and measure it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrowserCheck {
    /// The page (`https://shop.example.com/`).
    pub url: String,
    /// What the page load must stay within.
    #[serde(default, skip_serializing_if = "BrowserExpect::is_unset")]
    pub expect: BrowserExpect,
    /// When to keep a screenshot of the page with the result.
    #[serde(default, skip_serializing_if = "Screenshot::is_default")]
    pub screenshot: Screenshot,
}

/// When a screenshot is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Screenshot {
    /// When the check fails (the default): what the page showed then.
    #[default]
    OnError,
    /// After every run.
    Always,
    /// Never.
    Never,
}

impl Screenshot {
    pub(super) fn is_default(&self) -> bool {
        *self == Screenshot::OnError
    }
}

/// The error conditions of a page load.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrowserExpect {
    /// The load event must have finished within this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_load_ms: Option<u64>,
    /// The Largest Contentful Paint must come within this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lcp_ms: Option<u64>,
    /// The page with everything it loads must weigh at most this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_page_bytes: Option<u64>,
    /// Text the rendered page must show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A CSS selector that must match an element of the rendered page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element: Option<String>,
    /// Kinds of requests that must not fail; the schema (and so the API's
    /// help) reads [`NO_FAILED_REQUESTS_HELP`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = request_kinds_schema)]
    pub no_failed_requests: Vec<String>,
}

/// What `no_failed_requests` is for, as the API and the form say it.
const NO_FAILED_REQUESTS_HELP: &str = "Kinds of requests that must not fail (`document`, \
     `script`, `css`, `img`, `font`, `fetch`, or `any`): an error status or no answer.";

/// The schema of `no_failed_requests`: a list of [`REQUEST_KINDS`], so that
/// the type catalogue offers them as choices.
fn request_kinds_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(REQUEST_KINDS.iter().copied())),
        )
        .description(Some(NO_FAILED_REQUESTS_HELP))
        .build()
}

/// The request kinds `no_failed_requests` may name.
pub const REQUEST_KINDS: &[&str] = &["any", "document", "script", "css", "img", "font", "fetch"];

impl BrowserExpect {
    fn is_unset(&self) -> bool {
        *self == BrowserExpect::default()
    }

    /// What a page load measured, judged against these conditions.
    pub fn assess(&self, page: &PageFacts) -> Verdict {
        let mut verdict = Verdict::default();
        let over = |what: &str, value: f64, limit: u64, unit: &str| {
            Problem::new(
                ProblemKind::Page,
                format!("{what} took {value:.0} {unit}, more than {limit} {unit}"),
            )
        };
        if let (Some(limit), Some(load)) = (self.max_load_ms, page.load_ms)
            && load > limit as f64
        {
            verdict.fail(over("the page load", load, limit, "ms"));
        }
        if let Some(limit) = self.max_lcp_ms {
            match page.lcp_ms {
                Some(lcp) if lcp > limit as f64 => {
                    verdict.fail(over("the largest contentful paint", lcp, limit, "ms"));
                }
                Some(_) => {}
                None => verdict.fail(Problem::new(
                    ProblemKind::Page,
                    "the page painted no largest contentful paint",
                )),
            }
        }
        if let Some(limit) = self.max_page_bytes
            && page.page_bytes > limit
        {
            verdict.fail(Problem::new(
                ProblemKind::Page,
                format!(
                    "the page weighs {} bytes, more than {limit}",
                    page.page_bytes
                ),
            ));
        }
        if let (Some(text), Some(false)) = (&self.text, page.text_found) {
            verdict.fail(Problem::new(
                ProblemKind::Body,
                format!("the page does not show `{text}`"),
            ));
        }
        if let (Some(selector), Some(false)) = (&self.element, page.element_found) {
            verdict.fail(Problem::new(
                ProblemKind::Body,
                format!("no element of the page matches `{selector}`"),
            ));
        }
        let watched = |kind: &str| {
            self.no_failed_requests
                .iter()
                .any(|watched| watched == "any" || watched == kind)
        };
        if let Some(failed) = page
            .failed_requests
            .iter()
            .find(|request| watched(&request.kind))
        {
            let answer = match &failed.failure {
                RequestFailure::Status(status) => format!("status {status}"),
                RequestFailure::NoAnswer(error) => format!("no answer ({error})"),
            };
            verdict.fail(Problem::new(
                ProblemKind::Page,
                format!("{} request {} failed: {answer}", failed.kind, failed.url),
            ));
        }
        verdict
    }
}

/// What a page load measured, as far as the conditions need it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageFacts {
    /// Until the load event finished.
    pub load_ms: Option<f64>,
    /// Largest Contentful Paint, if the page painted one.
    pub lcp_ms: Option<f64>,
    /// Bytes of the page and everything it loaded.
    pub page_bytes: u64,
    /// Whether the expected text was shown (`None`: not asked).
    pub text_found: Option<bool>,
    /// Whether the expected element was there (`None`: not asked).
    pub element_found: Option<bool>,
    /// The requests that failed.
    pub failed_requests: Vec<FailedRequest>,
}

/// A request of the page that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedRequest {
    /// Its kind, by the names of [`REQUEST_KINDS`].
    pub kind: String,
    /// Its URL.
    pub url: String,
    /// How it failed.
    pub failure: RequestFailure,
}

/// How a request of the page failed. A request whose status nobody told
/// (a cross-origin one, to Resource Timing) has not failed: its status is
/// unknown.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestFailure {
    /// It was answered with this error status (400 or more).
    Status(u16),
    /// It got no answer; the browser's reason (`net::ERR_CONNECTION_REFUSED`).
    NoAnswer(String),
}

/// The [`REQUEST_KINDS`] name of a resource timing `initiatorType`.
pub fn request_kind(initiator: &str) -> &'static str {
    match initiator {
        "document" | "navigation" => "document",
        "script" => "script",
        "link" | "css" => "css",
        "img" | "image" | "imageset" => "img",
        "font" => "font",
        "fetch" | "xmlhttprequest" | "beacon" => "fetch",
        _ => "other",
    }
}

impl BrowserCheck {
    /// Checks the settings; the error names the offending field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_http_url("url", &self.url, false)?;
        let expect = &self.expect;
        for (field, value) in [
            ("expect.max_load_ms", expect.max_load_ms),
            ("expect.max_lcp_ms", expect.max_lcp_ms),
            ("expect.max_page_bytes", expect.max_page_bytes),
        ] {
            if value == Some(0) {
                return Err(ValidationError::new(field, "must be more than 0"));
            }
        }
        if expect.text.as_deref() == Some("") {
            return Err(ValidationError::new("expect.text", "must not be empty"));
        }
        if let Some(selector) = &expect.element
            && selector.trim().is_empty()
        {
            return Err(ValidationError::new("expect.element", "must not be empty"));
        }
        for (index, kind) in expect.no_failed_requests.iter().enumerate() {
            if !REQUEST_KINDS.contains(&kind.as_str()) {
                return Err(ValidationError::new(
                    format!("expect.no_failed_requests[{index}]"),
                    format!(
                        "unknown request kind `{kind}`; expected one of {}",
                        REQUEST_KINDS.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::CheckOutcome;
    use crate::validation::from_json_value;
    use serde_json::json;

    fn check(value: serde_json::Value) -> Result<BrowserCheck, ValidationError> {
        let check: BrowserCheck = from_json_value(value)?;
        check.validate()?;
        Ok(check)
    }

    #[test]
    fn settings_are_validated_with_the_field_named() {
        let ok = check(json!({"url": "https://shop.example.com/",
            "expect": {"max_lcp_ms": 2500, "no_failed_requests": ["script", "css"]},
            "screenshot": "always"}))
        .unwrap();
        assert_eq!(ok.screenshot, Screenshot::Always);
        let field = |value| check(value).unwrap_err().field;
        assert_eq!(field(json!({"url": "ftp://x"})), "url");
        assert_eq!(
            field(json!({"url": "https://x/", "expect": {"max_load_ms": 0}})),
            "expect.max_load_ms"
        );
        let error = check(json!({"url": "https://x/",
            "expect": {"no_failed_requests": ["img", "video"]}}))
        .unwrap_err();
        assert_eq!(error.field, "expect.no_failed_requests[1]");
        assert!(
            error.message.contains("unknown request kind `video`"),
            "{error:?}"
        );
        assert_eq!(
            field(json!({"url": "https://x/", "screenshot": "sometimes"})),
            "screenshot"
        );
    }

    #[test]
    fn a_page_load_is_judged_by_every_condition_asked() {
        let expect = BrowserExpect {
            max_load_ms: Some(3000),
            max_lcp_ms: Some(2500),
            max_page_bytes: Some(1_000_000),
            text: Some("Add to cart".into()),
            element: Some("#buy".into()),
            no_failed_requests: vec!["script".into()],
        };
        let good = PageFacts {
            load_ms: Some(1200.0),
            lcp_ms: Some(900.0),
            page_bytes: 400_000,
            text_found: Some(true),
            element_found: Some(true),
            failed_requests: vec![FailedRequest {
                kind: "img".into(),
                url: "https://shop.example.com/missing.png".into(),
                failure: RequestFailure::Status(404),
            }],
        };
        assert_eq!(expect.assess(&good).into_outcome().0, CheckOutcome::Up);
        let problem = |facts: PageFacts| expect.assess(&facts).into_outcome().1.unwrap().message;
        assert_eq!(
            problem(PageFacts {
                lcp_ms: Some(4100.0),
                ..good.clone()
            }),
            "the largest contentful paint took 4100 ms, more than 2500 ms"
        );
        assert_eq!(
            problem(PageFacts {
                page_bytes: 2_000_000,
                ..good.clone()
            }),
            "the page weighs 2000000 bytes, more than 1000000"
        );
        assert_eq!(
            problem(PageFacts {
                element_found: Some(false),
                ..good.clone()
            }),
            "no element of the page matches `#buy`"
        );
        let mut broken = good.clone();
        broken.failed_requests.push(FailedRequest {
            kind: "script".into(),
            url: "https://shop.example.com/app.js".into(),
            failure: RequestFailure::NoAnswer("net::ERR_CONNECTION_REFUSED".into()),
        });
        assert_eq!(
            problem(broken),
            "script request https://shop.example.com/app.js failed: no answer (net::ERR_CONNECTION_REFUSED)"
        );
    }
}
