//! Judging an HTTP response against what a monitor expects, and taking values
//! from it for later steps. Pure logic: the runner hands over what it
//! received and gets a verdict back, so every checkpoint judges alike.

use super::api::{Extraction, JsonAssertion};
use super::http::{HttpExpect, HttpHeaderAssertion};
use super::report::{Problem, ProblemKind, Verdict};
use serde_json_path::JsonPath;

/// A received HTTP response, as the conditions see it.
#[derive(Debug, Clone, Copy)]
pub struct HttpResponse<'a> {
    /// Status code.
    pub status: u16,
    /// Headers, names in lower case, in the order received.
    pub headers: &'a [(String, String)],
    /// The body (possibly cut at the runner's size limit).
    pub body: &'a [u8],
    /// From the start of the request until the last byte, in milliseconds.
    pub elapsed_ms: i64,
}

impl HttpResponse<'_> {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.body)
    }

    fn json(&self) -> Result<serde_json::Value, Problem> {
        serde_json::from_slice(self.body)
            .map_err(|e| Problem::new(ProblemKind::Json, format!("the body is not JSON ({e})")))
    }
}

impl HttpExpect {
    /// Judges a response. With no expected status, any 2xx is up, and so is
    /// a 3xx when redirects are not followed (the redirect is the answer).
    pub fn assess(&self, response: &HttpResponse<'_>, follows_redirects: bool) -> Verdict {
        let mut verdict = Verdict::default();
        if let Some(problem) = self.status_problem(response.status, follows_redirects) {
            verdict.fail(problem);
        }
        self.assess_body(response, &mut verdict);
        for assertion in &self.headers {
            if let Some(problem) = assertion.problem(response) {
                verdict.fail(problem);
            }
        }
        if !self.json.is_empty() {
            match response.json() {
                Ok(document) => {
                    for assertion in &self.json {
                        if let Some(problem) = assertion.problem(&document) {
                            verdict.fail(problem);
                        }
                    }
                }
                Err(problem) => verdict.fail(problem),
            }
        }
        if let Some(limit) = self.max_response_ms {
            if response.elapsed_ms > limit as i64 {
                verdict.fail(slow(response.elapsed_ms, limit, "limit"));
            }
        }
        if let Some(limit) = self.degraded_response_ms {
            if response.elapsed_ms > limit as i64 {
                verdict.degrade(slow(response.elapsed_ms, limit, "degraded threshold"));
            }
        }
        verdict
    }

    fn status_problem(&self, status: u16, follows_redirects: bool) -> Option<Problem> {
        let accepted = if self.status.is_empty() {
            (200..300).contains(&status) || !follows_redirects && (300..400).contains(&status)
        } else {
            self.status.contains(&status)
        };
        if accepted {
            return None;
        }
        let expected = match self.status.as_slice() {
            [] if follows_redirects => "a 2xx status".to_owned(),
            [] => "a 2xx or 3xx status".to_owned(),
            [only] => format!("status {only}"),
            many => {
                let names: Vec<String> = many.iter().map(u16::to_string).collect();
                format!("status {}", names.join(" or "))
            }
        };
        Some(Problem::new(
            ProblemKind::Status,
            format!("expected {expected}, got {status}"),
        ))
    }

    fn assess_body(&self, response: &HttpResponse<'_>, verdict: &mut Verdict) {
        if self.body_contains.is_none()
            && self.body_not_contains.is_none()
            && self.body_matches.is_none()
        {
            return;
        }
        let text = response.text();
        if let Some(needle) = &self.body_contains {
            if !text.contains(needle.as_str()) {
                verdict.fail(Problem::new(
                    ProblemKind::Body,
                    format!("the body does not contain `{needle}`"),
                ));
            }
        }
        if let Some(needle) = &self.body_not_contains {
            if text.contains(needle.as_str()) {
                verdict.fail(Problem::new(
                    ProblemKind::Body,
                    format!("the body contains `{needle}`"),
                ));
            }
        }
        if let Some(pattern) = &self.body_matches {
            // Validated when the monitor was saved; a pattern that no longer
            // compiles is reported, not ignored.
            match regex::Regex::new(pattern) {
                Ok(regex) if regex.is_match(&text) => {}
                Ok(_) => verdict.fail(Problem::new(
                    ProblemKind::Body,
                    format!("the body does not match /{pattern}/"),
                )),
                Err(e) => verdict.fail(Problem::new(ProblemKind::Setup, e.to_string())),
            }
        }
    }
}

fn slow(elapsed_ms: i64, limit: u64, what: &str) -> Problem {
    Problem::new(
        ProblemKind::ResponseTime,
        format!("the response took {elapsed_ms} ms, over the {what} of {limit} ms"),
    )
}

impl HttpHeaderAssertion {
    fn problem(&self, response: &HttpResponse<'_>) -> Option<Problem> {
        let name = &self.name;
        let fail = |message: String| Some(Problem::new(ProblemKind::Header, message));
        let value = response.header(name);
        if self.absent {
            return match value {
                Some(value) => fail(format!("header `{name}` is present (`{value}`)")),
                None => None,
            };
        }
        let Some(value) = value else {
            return fail(format!("header `{name}` is missing"));
        };
        if let Some(expected) = &self.equals {
            if value != expected {
                return fail(format!(
                    "header `{name}` is `{value}`, expected `{expected}`"
                ));
            }
        }
        if let Some(needle) = &self.contains {
            if !value.contains(needle.as_str()) {
                return fail(format!(
                    "header `{name}` is `{value}`, which does not contain `{needle}`"
                ));
            }
        }
        if let Some(pattern) = &self.matches {
            match regex::Regex::new(pattern) {
                Ok(regex) if regex.is_match(value) => {}
                Ok(_) => {
                    return fail(format!(
                        "header `{name}` is `{value}`, which does not match /{pattern}/"
                    ));
                }
                Err(e) => return Some(Problem::new(ProblemKind::Setup, e.to_string())),
            }
        }
        None
    }
}

/// Finds the one value at a JSON path, `None` when there is none.
fn query_one<'v>(
    path: &str,
    document: &'v serde_json::Value,
) -> Result<Option<&'v serde_json::Value>, Problem> {
    let parsed = JsonPath::parse(path).map_err(|e| {
        Problem::new(
            ProblemKind::Setup,
            format!("`{path}` is not a JSON path: {e}"),
        )
    })?;
    Ok(parsed.query(document).first())
}

impl JsonAssertion {
    fn problem(&self, document: &serde_json::Value) -> Option<Problem> {
        let path = &self.path;
        let found = match query_one(path, document) {
            Ok(found) => found,
            Err(problem) => return Some(problem),
        };
        let fail = |message: String| Some(Problem::new(ProblemKind::Json, message));
        match (found, &self.equals, self.exists) {
            (Some(value), Some(expected), _) if value != expected => {
                fail(format!("{path} is {value}, expected {expected}"))
            }
            (None, Some(expected), _) => fail(format!("{path} is missing, expected {expected}")),
            (Some(value), None, Some(false)) => fail(format!("{path} exists ({value})")),
            (None, None, None | Some(true)) => fail(format!("{path} is missing")),
            _ => None,
        }
    }
}

impl Extraction {
    /// Takes this extraction's value from a response. A JSON string is taken
    /// as its text; any other JSON value as its JSON form.
    pub fn extract(&self, response: &HttpResponse<'_>) -> Result<String, Problem> {
        let name = &self.name;
        let missing = |what: String| {
            Problem::new(
                ProblemKind::Step,
                format!("cannot extract `{name}`: {what}"),
            )
        };
        if let Some(path) = &self.json_path {
            let document = response
                .json()
                .map_err(|problem| missing(problem.message))?;
            return match query_one(path, &document)? {
                Some(serde_json::Value::String(text)) => Ok(text.clone()),
                Some(value) => Ok(value.to_string()),
                None => Err(missing(format!("{path} is not in the body"))),
            };
        }
        if let Some(header) = &self.header {
            return response
                .header(header)
                .map(str::to_owned)
                .ok_or_else(|| missing(format!("there is no `{header}` header")));
        }
        if let Some(pattern) = &self.regex {
            let regex = regex::Regex::new(pattern)
                .map_err(|e| Problem::new(ProblemKind::Setup, e.to_string()))?;
            let text = response.text();
            let captures = regex
                .captures(&text)
                .ok_or_else(|| missing(format!("the body does not match /{pattern}/")))?;
            let value = captures.get(1).or_else(|| captures.get(0));
            return Ok(value.map(|m| m.as_str().to_owned()).unwrap_or_default());
        }
        Err(missing("no source given".to_owned()))
    }
}
