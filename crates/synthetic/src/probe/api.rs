//! Multi-step API checks: requests in order, each filled from the variables
//! before it, judged by its own conditions, and feeding later steps.

use super::http::{FetchOptions, HttpRequest, method};
use super::{Deadline, Prober, Variables};
use serde_json::json;
use sightline_core::monitor::{
    ApiCheck, ApiStep, CheckOutcome, CheckReport, PhaseTimings, Problem,
};

/// Redirects a step follows.
const STEP_REDIRECTS: u8 = 10;

/// Runs the steps until one fails; the report names the failed step.
pub(crate) async fn run(
    prober: &Prober,
    check: &ApiCheck,
    mut variables: Variables<'_>,
    deadline: &Deadline,
) -> CheckReport {
    for (name, value) in &check.variables {
        match variables.fill(value, &format!("variable `{name}`")) {
            Ok(value) => variables.set(name, value),
            Err(problem) => return CheckReport::failed(problem, 0),
        }
    }
    let mut timings = PhaseTimings::default();
    let mut steps = Vec::with_capacity(check.steps.len());
    let mut degraded: Option<Problem> = None;
    let mut last_status = None;
    let mut bytes = 0;
    for (index, step) in check.steps.iter().enumerate() {
        let number = index + 1;
        let name = &step.name;
        let in_step = |problem: Problem| Problem {
            kind: problem.kind,
            message: format!("step {number} (`{name}`): {}", problem.message),
        };
        let request = match request(step, &variables) {
            Ok(request) => request,
            Err(problem) => {
                steps.push(json!({"name": name, "outcome": "error", "problem": problem.message}));
                return finish(
                    Some(in_step(problem)),
                    None,
                    last_status,
                    timings,
                    bytes,
                    steps,
                );
            }
        };
        let options = FetchOptions {
            max_redirects: Some(STEP_REDIRECTS),
            verify_tls: true,
        };
        let asked = request.url.to_string();
        let exchange = match prober.fetch(request, options, deadline).await {
            Ok(exchange) => exchange,
            Err(failure) => {
                timings.add(&failure.timings);
                steps.push(json!({
                    "name": name, "method": step.method, "url": asked, "outcome": "error",
                    "problem": failure.problem.message, "timings": failure.timings,
                }));
                return finish(
                    Some(in_step(failure.problem)),
                    None,
                    last_status,
                    timings,
                    bytes,
                    steps,
                );
            }
        };
        timings.add(&exchange.timings);
        last_status = Some(exchange.status);
        bytes += exchange.body_bytes;
        let response = exchange.response();
        let assessment = step.expect.judge(&response, true);
        let mut record = json!({
            "name": name,
            "method": step.method,
            "url": exchange.final_url.as_str(),
            "status_code": exchange.status,
            "duration_ms": exchange.elapsed_ms,
            "timings": exchange.timings,
            "conditions": assessment.conditions,
        });
        let (outcome, problem) = assessment.verdict.into_outcome();
        record["outcome"] = json!(outcome.as_str());
        exchange.record_into(&mut record, outcome == CheckOutcome::Up);
        if let Some(problem) = &problem {
            record["problem"] = json!(problem.message);
        }
        if outcome == CheckOutcome::Error {
            steps.push(record);
            return finish(
                problem.map(in_step),
                None,
                last_status,
                timings,
                bytes,
                steps,
            );
        }
        if outcome == CheckOutcome::Degraded && degraded.is_none() {
            degraded = problem.map(in_step);
        }
        for extraction in &step.extract {
            match extraction.extract(&response) {
                Ok(value) => variables.set(&extraction.name, value),
                Err(problem) => {
                    record["outcome"] = json!("error");
                    record["problem"] = json!(problem.message);
                    steps.push(record);
                    return finish(
                        Some(in_step(problem)),
                        None,
                        last_status,
                        timings,
                        bytes,
                        steps,
                    );
                }
            }
        }
        steps.push(record);
    }
    finish(None, degraded, last_status, timings, bytes, steps)
}

fn finish(
    error: Option<Problem>,
    degraded: Option<Problem>,
    status_code: Option<u16>,
    timings: PhaseTimings,
    bytes: i64,
    steps: Vec<serde_json::Value>,
) -> CheckReport {
    let (outcome, problem) = match (error, degraded) {
        (Some(error), _) => (CheckOutcome::Error, Some(error)),
        (None, Some(degraded)) => (CheckOutcome::Degraded, Some(degraded)),
        (None, None) => (CheckOutcome::Up, None),
    };
    CheckReport {
        outcome,
        problem,
        status_code,
        timings,
        duration_ms: 0,
        response_bytes: Some(bytes),
        detail: json!({ "steps": steps }),
        screenshots: Vec::new(),
    }
}

fn request(step: &ApiStep, variables: &Variables<'_>) -> Result<HttpRequest, Problem> {
    let url_text = variables.fill_url(&step.url, "the URL")?;
    let url = url::Url::parse(&url_text).map_err(|e| {
        Problem::new(
            sightline_core::monitor::ProblemKind::Step,
            format!("`{url_text}` is not a URL: {e}"),
        )
    })?;
    let mut headers = Vec::with_capacity(step.headers.len());
    for (name, value) in &step.headers {
        headers.push((
            name.clone(),
            variables.fill(value, &format!("header `{name}`"))?,
        ));
    }
    let body = match &step.body {
        Some(body) => Some(variables.fill(body, "the body")?),
        None => None,
    };
    Ok(HttpRequest {
        method: method(&step.method)?,
        url,
        headers,
        body,
    })
}
