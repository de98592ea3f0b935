//! HTTP(S) uptime checks.

use super::api::{JsonAssertion, validate_json_path};
use super::{
    Headers, validate_headers, validate_http_url, validate_method, validate_regex,
    validate_status_codes,
};
use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// One HTTP request and what its answer must look like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// The URL to request (`https://shop.example.com/`); may hold
    /// `{{secrets.NAME}}` (an API key in the query).
    pub url: String,
    /// Request method; `GET` by default.
    #[serde(default = "default_method")]
    pub method: String,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "Headers::is_empty")]
    pub headers: Headers,
    /// Request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Credentials sent with the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
    /// Follow redirects (up to `max_redirects`); on by default.
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    /// The most redirects followed before the check fails.
    #[serde(default = "default_max_redirects")]
    pub max_redirects: u8,
    /// Verify the server's certificate; on by default.
    #[serde(default = "yes")]
    pub verify_tls: bool,
    /// What the response must look like.
    #[serde(default, skip_serializing_if = "HttpExpect::is_unset")]
    pub expect: HttpExpect,
}

/// Credentials for an HTTP request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "scheme", rename_all = "snake_case", deny_unknown_fields)]
pub enum HttpAuth {
    /// HTTP basic authentication.
    Basic {
        /// User name.
        username: String,
        /// Password, or a `{{secrets.NAME}}` reference to the vault.
        password: String,
    },
    /// A bearer token.
    Bearer {
        /// The token, or a `{{secrets.NAME}}` reference to the vault.
        token: String,
    },
}

/// The error conditions of an HTTP response: of an HTTP check, and of each
/// step of a multi-step API check.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpExpect {
    /// Accepted status codes; any 2xx (after redirects) when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<u16>,
    /// Text the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// Text the body must not contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_not_contains: Option<String>,
    /// A regular expression the body must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_matches: Option<String>,
    /// Assertions on response headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HttpHeaderAssertion>,
    /// Conditions on values in a JSON body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json: Vec<JsonAssertion>,
    /// Slower than this (milliseconds) is "degraded".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_response_ms: Option<u64>,
    /// Slower than this (milliseconds) is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_ms: Option<u64>,
}

/// A condition on one response header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpHeaderAssertion {
    /// Header name, case-insensitive.
    pub name: String,
    /// The value must equal this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    /// The value must contain this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// The value must match this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
    /// The header must be absent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub absent: bool,
}

fn yes() -> bool {
    true
}

fn default_method() -> String {
    "GET".to_owned()
}

fn default_max_redirects() -> u8 {
    10
}

impl HttpCheck {
    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        validate_http_url("url", &self.url, true)?;
        validate_method("method", &self.method)?;
        validate_headers("headers", &self.headers)?;
        if self.max_redirects > 30 {
            return Err(ValidationError::new("max_redirects", "must be at most 30"));
        }
        if let Some(HttpAuth::Basic { username, .. }) = &self.auth
            && username.contains(':')
        {
            return Err(ValidationError::new(
                "auth.username",
                "must not contain `:`",
            ));
        }
        self.expect.validate().map_err(|e| e.within("expect"))
    }
}

impl HttpExpect {
    /// Whether no condition is set (any 2xx passes).
    pub fn is_unset(&self) -> bool {
        *self == HttpExpect::default()
    }

    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        validate_status_codes("status", &self.status)?;
        if let Some(pattern) = &self.body_matches {
            validate_regex("body_matches", pattern)?;
        }
        for (index, assertion) in self.headers.iter().enumerate() {
            assertion
                .validate()
                .map_err(|e| e.within(&format!("headers[{index}]")))?;
        }
        for (index, assertion) in self.json.iter().enumerate() {
            validate_json_path("path", &assertion.path)
                .map_err(|e| e.within(&format!("json[{index}]")))?;
        }
        validate_response_times(self.degraded_response_ms, self.max_response_ms)
    }
}

/// Checks the pair of response-time thresholds.
fn validate_response_times(
    degraded_ms: Option<u64>,
    max_ms: Option<u64>,
) -> Result<(), ValidationError> {
    for (field, value) in [
        ("degraded_response_ms", degraded_ms),
        ("max_response_ms", max_ms),
    ] {
        if value == Some(0) {
            return Err(ValidationError::new(field, "must be greater than 0"));
        }
    }
    if let (Some(degraded), Some(max)) = (degraded_ms, max_ms)
        && degraded >= max
    {
        return Err(ValidationError::new(
            "degraded_response_ms",
            "must be lower than max_response_ms",
        ));
    }
    Ok(())
}

impl HttpHeaderAssertion {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut headers = Headers::new();
        headers.insert(self.name.clone(), String::new());
        validate_headers("", &headers)
            .map_err(|_| ValidationError::new("name", "is not a valid header name"))?;
        let conditions = [
            self.equals.is_some(),
            self.contains.is_some(),
            self.matches.is_some(),
            self.absent,
        ];
        if conditions.iter().filter(|set| **set).count() != 1 {
            return Err(ValidationError::new(
                "",
                "give exactly one of `equals`, `contains`, `matches` or `absent`",
            ));
        }
        if let Some(pattern) = &self.matches {
            validate_regex("matches", pattern)?;
        }
        Ok(())
    }
}
