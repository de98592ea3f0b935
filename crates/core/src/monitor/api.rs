//! Multi-step API checks: HTTP requests in order, sharing variables.

use super::http::HttpExpect;
use super::{Headers, validate_headers, validate_http_url, validate_method, validate_regex};
use crate::ValidationError;
use crate::validation::require_text;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A user journey through an API: each step may use the variables earlier
/// steps extracted (`{{token}}`), the built-ins (`{{timestamp}}`,
/// `{{uuid}}`) and vault secrets (`{{secrets.NAME}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiCheck {
    /// Variables defined before the first step.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    /// The requests, in order.
    pub steps: Vec<ApiStep>,
}

/// One request of a multi-step check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiStep {
    /// What the step does, shown in results (`log in`).
    pub name: String,
    /// Request method; `GET` by default.
    #[serde(default = "default_method")]
    pub method: String,
    /// The URL, placeholders allowed.
    pub url: String,
    /// Request headers, placeholders allowed.
    #[serde(default, skip_serializing_if = "Headers::is_empty")]
    pub headers: Headers,
    /// Request body, placeholders allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Values taken from the response for later steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extract: Vec<Extraction>,
    /// What the response must look like.
    #[serde(default)]
    pub expect: HttpExpect,
}

/// Takes one value from a response into a variable. Exactly one source is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Extraction {
    /// The variable's name, used later as `{{name}}`.
    pub name: String,
    /// A JSON path into the body (`$.data.token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
    /// A response header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// A regular expression on the body; the first capture group is taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

/// A condition on the value at a JSON path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonAssertion {
    /// A JSON path (`$.items[0].id`).
    pub path: String,
    /// The value must equal this JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<serde_json::Value>,
    /// The value must exist (true) or not (false); `true` when no other condition is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
}

fn default_method() -> String {
    "GET".to_owned()
}

/// The most steps one check may have.
pub const MAX_STEPS: usize = 50;

impl ApiCheck {
    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        if self.steps.is_empty() {
            return Err(ValidationError::new("steps", "must have at least one step"));
        }
        if self.steps.len() > MAX_STEPS {
            return Err(ValidationError::new(
                "steps",
                format!("must have at most {MAX_STEPS} steps"),
            ));
        }
        for name in self.variables.keys() {
            validate_variable_name(&format!("variables.{name}"), name)?;
        }
        for (index, step) in self.steps.iter().enumerate() {
            step.validate()
                .map_err(|e| e.within(&format!("steps[{index}]")))?;
        }
        Ok(())
    }
}

impl ApiStep {
    fn validate(&self) -> Result<(), ValidationError> {
        require_text("name", &self.name, 200)?;
        validate_method("method", &self.method)?;
        validate_http_url("url", &self.url, true)?;
        validate_headers("headers", &self.headers)?;
        for (index, extraction) in self.extract.iter().enumerate() {
            extraction
                .validate()
                .map_err(|e| e.within(&format!("extract[{index}]")))?;
        }
        self.expect.validate().map_err(|e| e.within("expect"))
    }
}

impl Extraction {
    fn validate(&self) -> Result<(), ValidationError> {
        validate_variable_name("name", &self.name)?;
        let sources = [
            self.json_path.is_some(),
            self.header.is_some(),
            self.regex.is_some(),
        ];
        if sources.iter().filter(|set| **set).count() != 1 {
            return Err(ValidationError::new(
                "",
                "give exactly one of `json_path`, `header` or `regex`",
            ));
        }
        if let Some(path) = &self.json_path {
            validate_json_path("json_path", path)?;
        }
        if let Some(pattern) = &self.regex {
            validate_regex("regex", pattern)?;
        }
        Ok(())
    }
}

fn validate_variable_name(field: &str, name: &str) -> Result<(), ValidationError> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64;
    if !valid {
        return Err(ValidationError::new(
            field,
            format!(
                "`{name}` is not a variable name (letters, digits and _, starting with a letter)"
            ),
        ));
    }
    if matches!(name, "timestamp" | "uuid" | "secrets") {
        return Err(ValidationError::new(
            field,
            format!("`{name}` is a built-in variable"),
        ));
    }
    Ok(())
}

pub(super) fn validate_json_path(field: &str, path: &str) -> Result<(), ValidationError> {
    serde_json_path::JsonPath::parse(path)
        .map(|_| ())
        .map_err(|e| ValidationError::new(field, format!("`{path}` is not a JSON path: {e}")))
}
