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

/// One condition of a check, as it was judged: what was expected, what was
/// found, and whether it held. A failed result lists every condition, not
/// only the first that failed, so that "why is it down?" has a whole answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckedCondition {
    /// What was expected, in words (`status 200`, `$.ok equals true`).
    pub expected: String,
    /// What the response had.
    pub found: String,
    /// Whether the condition held.
    pub passed: bool,
    /// When it did not hold: whether that fails the check or only degrades it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub degrades: bool,
}

/// A verdict and the conditions it was built from.
#[derive(Debug, Default)]
pub struct Assessment {
    /// The outcome and the first problem of each severity.
    pub verdict: Verdict,
    /// Every condition, in the order the monitor lists them.
    pub conditions: Vec<CheckedCondition>,
}

impl Assessment {
    /// Records a condition; one that does not hold fails the check, or
    /// only degrades it when `degrades`.
    fn record(
        &mut self,
        expected: String,
        found: String,
        problem: Option<Problem>,
        degrades: bool,
    ) {
        self.conditions.push(CheckedCondition {
            expected,
            found,
            passed: problem.is_none(),
            degrades,
        });
        match problem {
            Some(problem) if degrades => self.verdict.degrade(problem),
            Some(problem) => self.verdict.fail(problem),
            None => {}
        }
    }
}

impl HttpExpect {
    /// Judges a response. With no expected status, any 2xx is up, and so is
    /// a 3xx when redirects are not followed (the redirect is the answer).
    pub fn assess(&self, response: &HttpResponse<'_>, follows_redirects: bool) -> Verdict {
        self.judge(response, follows_redirects).verdict
    }

    /// Judges a response as [`HttpExpect::assess`] does, keeping every
    /// condition with what was found.
    pub fn judge(&self, response: &HttpResponse<'_>, follows_redirects: bool) -> Assessment {
        let mut assessment = Assessment::default();
        let (expected, problem) = self.status_problem(response.status, follows_redirects);
        assessment.record(
            expected,
            format!("status {}", response.status),
            problem,
            false,
        );
        self.assess_body(response, &mut assessment);
        for assertion in &self.headers {
            let (expected, found, problem) = assertion.judge(response);
            assessment.record(expected, found, problem, false);
        }
        if !self.json.is_empty() {
            match response.json() {
                Ok(document) => {
                    for assertion in &self.json {
                        let (expected, found, problem) = assertion.judge(&document);
                        assessment.record(expected, found, problem, false);
                    }
                }
                Err(problem) => {
                    let found = problem.message.clone();
                    assessment.record("a JSON body".to_owned(), found, Some(problem), false);
                }
            }
        }
        let took = format!("{} ms", response.elapsed_ms);
        if let Some(limit) = self.max_response_ms {
            let problem = (response.elapsed_ms > limit as i64)
                .then(|| slow(response.elapsed_ms, limit, "limit"));
            assessment.record(
                format!("a response within {limit} ms"),
                took.clone(),
                problem,
                false,
            );
        }
        if let Some(limit) = self.degraded_response_ms {
            let problem = (response.elapsed_ms > limit as i64)
                .then(|| slow(response.elapsed_ms, limit, "degraded threshold"));
            assessment.record(
                format!("a response within {limit} ms (else degraded)"),
                took,
                problem,
                true,
            );
        }
        assessment
    }

    /// What status is expected, and the problem when `status` is not it.
    fn status_problem(&self, status: u16, follows_redirects: bool) -> (String, Option<Problem>) {
        let accepted = if self.status.is_empty() {
            (200..300).contains(&status) || !follows_redirects && (300..400).contains(&status)
        } else {
            self.status.contains(&status)
        };
        let expected = match self.status.as_slice() {
            [] if follows_redirects => "a 2xx status".to_owned(),
            [] => "a 2xx or 3xx status".to_owned(),
            [only] => format!("status {only}"),
            many => {
                let names: Vec<String> = many.iter().map(u16::to_string).collect();
                format!("status {}", names.join(" or "))
            }
        };
        let problem = (!accepted).then(|| {
            Problem::new(
                ProblemKind::Status,
                format!("expected {expected}, got {status}"),
            )
        });
        (expected, problem)
    }

    fn assess_body(&self, response: &HttpResponse<'_>, assessment: &mut Assessment) {
        if self.body_contains.is_none()
            && self.body_not_contains.is_none()
            && self.body_matches.is_none()
        {
            return;
        }
        let text = response.text();
        let presence = |found: bool| {
            if found {
                "in the body"
            } else {
                "not in the body"
            }
            .to_owned()
        };
        if let Some(needle) = &self.body_contains {
            let found = text.contains(needle.as_str());
            let problem = (!found).then(|| {
                Problem::new(
                    ProblemKind::Body,
                    format!("the body does not contain `{needle}`"),
                )
            });
            assessment.record(
                format!("`{needle}` in the body"),
                presence(found),
                problem,
                false,
            );
        }
        if let Some(needle) = &self.body_not_contains {
            let found = text.contains(needle.as_str());
            let problem = found
                .then(|| Problem::new(ProblemKind::Body, format!("the body contains `{needle}`")));
            assessment.record(
                format!("no `{needle}` in the body"),
                presence(found),
                problem,
                false,
            );
        }
        if let Some(pattern) = &self.body_matches {
            let expected = format!("the body matching /{pattern}/");
            // Validated when the monitor was saved; a pattern that no longer
            // compiles is reported, not ignored.
            match regex::Regex::new(pattern) {
                Ok(regex) => {
                    let matched = regex.is_match(&text);
                    let problem = (!matched).then(|| {
                        Problem::new(
                            ProblemKind::Body,
                            format!("the body does not match /{pattern}/"),
                        )
                    });
                    let found = if matched { "a match" } else { "no match" };
                    assessment.record(expected, found.to_owned(), problem, false);
                }
                Err(e) => assessment.record(
                    expected,
                    "an invalid pattern".to_owned(),
                    Some(Problem::new(ProblemKind::Setup, e.to_string())),
                    false,
                ),
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
    /// What this assertion expects, what the response had, and the problem
    /// when it does not hold.
    fn judge(&self, response: &HttpResponse<'_>) -> (String, String, Option<Problem>) {
        let name = &self.name;
        let value = response.header(name);
        let found = match value {
            Some(value) => format!("`{value}`"),
            None => "no such header".to_owned(),
        };
        let expected = if self.absent {
            format!("no header `{name}`")
        } else {
            let mut parts = Vec::new();
            if let Some(expected) = &self.equals {
                parts.push(format!("equal to `{expected}`"));
            }
            if let Some(needle) = &self.contains {
                parts.push(format!("containing `{needle}`"));
            }
            if let Some(pattern) = &self.matches {
                parts.push(format!("matching /{pattern}/"));
            }
            if parts.is_empty() {
                format!("a header `{name}`")
            } else {
                format!("header `{name}` {}", parts.join(" and "))
            }
        };
        (expected, found, self.problem(response))
    }

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
        if let Some(expected) = &self.equals
            && value != expected
        {
            return fail(format!(
                "header `{name}` is `{value}`, expected `{expected}`"
            ));
        }
        if let Some(needle) = &self.contains
            && !value.contains(needle.as_str())
        {
            return fail(format!(
                "header `{name}` is `{value}`, which does not contain `{needle}`"
            ));
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
    /// What this assertion expects, what the document had there, and the
    /// problem when it does not hold.
    fn judge(&self, document: &serde_json::Value) -> (String, String, Option<Problem>) {
        let path = &self.path;
        let expected = match (&self.equals, self.exists) {
            (Some(expected), _) => format!("{path} equal to {expected}"),
            (None, Some(false)) => format!("no {path}"),
            (None, _) => format!("{path} present"),
        };
        let found = match query_one(path, document) {
            Ok(Some(value)) => {
                let text = value.to_string();
                // A whole object can be long; what matters fits in a line.
                if text.chars().count() > 200 {
                    format!("{}…", text.chars().take(200).collect::<String>())
                } else {
                    text
                }
            }
            Ok(None) => "nothing there".to_owned(),
            Err(problem) => problem.message,
        };
        (expected, found, self.problem(document))
    }

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
