//! Transaction checks: a user journey walked step by step in a fresh
//! headless Chromium from the pool. Every step is timed; the first that
//! fails ends the journey with its number, action and reason, and a
//! screenshot of what the page showed.

use super::browser::{WorkLimit, browser_failed, capture_in_time, note_browser_start};
use super::net::elapsed_ms;
use super::{Deadline, Prober, Variables};
use crate::browser::{attach, capture};
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, Locator};
use serde::Serialize;
use serde_json::json;
use sightline_core::monitor::{
    CheckOutcome, CheckReport, ElementQuery, Key, NamedKey, PhaseTimings, Problem, ProblemKind,
    Screenshot, ScreenshotCapture, StepAction, TransactionCheck,
};
use std::future::Future;
use std::time::{Duration, Instant};

/// How long before the journey's end a navigation gives up by itself.
const NAVIGATION_MARGIN: Duration = Duration::from_millis(300);

/// How often a step looks again for what it waits for.
const POLL: Duration = Duration::from_millis(100);

/// How a step went, as the result shows it.
#[derive(Debug, Serialize)]
struct StepRecord {
    /// From 1.
    number: usize,
    /// The step's own name, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// The action's key (`click`).
    action: &'static str,
    /// The action in words (`click \`#login\``).
    description: String,
    /// `passed`, `failed`, or `not_run` after a failure.
    status: &'static str,
    /// How long it took.
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<i64>,
    /// The page's URL when it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// What the journey collected while it walked.
#[derive(Default)]
struct Journey {
    steps: Vec<StepRecord>,
    screenshots: Vec<ScreenshotCapture>,
    /// Values filled in from the vault (typed, or in a URL): hidden in
    /// screenshots.
    used_secrets: Vec<String>,
    problem: Option<Problem>,
}

/// Walks the journey and reports every step.
pub(crate) async fn run(
    prober: &Prober,
    check: &TransactionCheck,
    variables: &Variables<'_>,
    deadline: &Deadline,
) -> CheckReport {
    let pool = match &prober.inner.browsers {
        Ok(pool) => pool,
        Err(reason) => return CheckReport::failed(Problem::new(ProblemKind::Setup, reason), 0),
    };
    let asked = Instant::now();
    let done = pool
        .run(deadline.remaining(), async |browser| {
            let browser_start_ms = elapsed_ms(asked);
            let mut journey = Journey::default();
            walk(browser, check, variables, deadline, &mut journey).await;
            let failed_at = journey
                .steps
                .iter()
                .find(|step| step.status == "failed")
                .map(|step| step.number);
            let wanted = match check.screenshot {
                Screenshot::Never => false,
                Screenshot::OnError => journey.problem.is_some(),
                Screenshot::Always => true,
            };
            if wanted {
                let label = match failed_at {
                    Some(number) => format!("the page when step {number} failed"),
                    None if journey.problem.is_some() => "the page when the check failed".into(),
                    None => "the page at the end of the journey".into(),
                };
                let step = failed_at.map(|number| number as u32);
                let hidden = &journey.used_secrets;
                if let Some(shot) = capture_in_time(browser, deadline, label, step, hidden).await {
                    journey.screenshots.push(shot);
                }
            }
            let mut report = report(journey, failed_at);
            note_browser_start(&mut report, browser_start_ms);
            report
        })
        .await;
    match done {
        Ok(report) => report,
        Err(error) => browser_failed(error, deadline, "walking the journey"),
    }
}

fn report(journey: Journey, failed_at: Option<usize>) -> CheckReport {
    let mut report = match journey.problem {
        Some(problem) => CheckReport::failed(problem, 0),
        None => CheckReport {
            outcome: CheckOutcome::Up,
            problem: None,
            status_code: None,
            timings: PhaseTimings::default(),
            duration_ms: 0,
            response_bytes: None,
            detail: serde_json::Value::Null,
            screenshots: Vec::new(),
        },
    };
    // The journey's time: its steps', without the browser's start.
    report.duration_ms = journey
        .steps
        .iter()
        .filter_map(|step| step.duration_ms)
        .sum();
    report.detail = json!({
        "steps": journey.steps,
        "failed_step": failed_at,
    });
    attach(&mut report, journey.screenshots);
    report
}

/// Runs the steps in order until one fails or the time runs out, keeping
/// back a little of it for the screenshot.
async fn walk(
    browser: &Client,
    check: &TransactionCheck,
    variables: &Variables<'_>,
    deadline: &Deadline,
    journey: &mut Journey,
) {
    let limit = WorkLimit::before(deadline);
    if let Err(problem) = limit.apply(browser, NAVIGATION_MARGIN).await {
        journey.problem = Some(problem);
        return;
    }
    for (index, step) in check.steps.iter().enumerate() {
        let number = index + 1;
        let action = match step.action() {
            Ok(action) => action,
            Err(error) => {
                journey.problem = Some(Problem::new(
                    ProblemKind::Setup,
                    format!("step {number}: {}", error.message),
                ));
                return;
            }
        };
        let mut record = StepRecord {
            number,
            name: step.name.clone(),
            action: action.name(),
            description: action.describe(),
            status: "not_run",
            duration_ms: None,
            url: None,
            error: None,
        };
        if journey.problem.is_some() {
            journey.steps.push(record);
            continue;
        }
        let started = Instant::now();
        let wait = step.wait().min(limit.left());
        let outcome = match tokio::time::timeout(
            limit.left(),
            perform(browser, action, number, wait, limit, variables, journey),
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(_) => Err(Failure::from(deadline.expired("walking the journey"))),
        };
        record.duration_ms = Some(started.elapsed().as_millis() as i64);
        // A browser still busy with a navigation cut off may not answer.
        let asked = Duration::from_secs(1).min(deadline.remaining());
        record.url = match tokio::time::timeout(asked, browser.current_url()).await {
            Ok(Ok(url)) => Some(url.into()),
            _ => None,
        };
        match outcome {
            Ok(()) => record.status = "passed",
            Err(failure) => {
                record.status = "failed";
                let place = match &step.name {
                    Some(name) => format!("step {number} (`{name}`: {})", record.description),
                    None => format!("step {number} ({})", record.description),
                };
                journey.problem = Some(Problem::new(
                    failure.kind,
                    format!("{place}: {}", failure.reason),
                ));
                record.error = Some(failure.reason);
            }
        }
        journey.steps.push(record);
    }
}

/// Why a step failed.
struct Failure {
    kind: ProblemKind,
    reason: String,
}

impl Failure {
    fn new(reason: impl Into<String>) -> Self {
        Failure {
            kind: ProblemKind::Step,
            reason: reason.into(),
        }
    }
}

impl From<Problem> for Failure {
    fn from(problem: Problem) -> Self {
        Failure {
            kind: problem.kind,
            reason: problem.message,
        }
    }
}

/// Does one step's action, waiting up to `wait` for what it needs.
async fn perform(
    browser: &Client,
    action: StepAction<'_>,
    number: usize,
    wait: Duration,
    limit: WorkLimit,
    variables: &Variables<'_>,
    journey: &mut Journey,
) -> Result<(), Failure> {
    let place = format!("step {number}");
    match action {
        StepAction::Navigate(url_template) => {
            let url = variables.fill_url(url_template, &place)?;
            journey
                .used_secrets
                .extend(variables.secret_values(url_template));
            // The browser gives up on the page itself a moment before the
            // journey's time runs out.
            limit.apply(browser, NAVIGATION_MARGIN).await?;
            browser.goto(&url).await.map_err(|error| {
                if error.is_timeout() {
                    Failure {
                        kind: ProblemKind::Timeout,
                        reason: "the page did not finish loading before the check's time ran out"
                            .to_owned(),
                    }
                } else {
                    Failure::new(format!("the page did not load: {error}"))
                }
            })?;
            // The document's own status: WebDriver loads error pages as
            // happily as any other.
            let status = browser
                .execute(
                    "const n = performance.getEntriesByType('navigation')[0]; \
                     return n && n.responseStatus ? n.responseStatus : 0;",
                    Vec::new(),
                )
                .await
                .ok()
                .and_then(|status| status.as_u64())
                .unwrap_or(0);
            if status >= 400 {
                return Err(Failure::new(format!("the page answered HTTP {status}")));
            }
            Ok(())
        }
        StepAction::Click(target) => {
            retry(wait, target, || async move {
                let element = find(browser, target).await?;
                element.click().await.map_err(Miss::from)
            })
            .await
        }
        StepAction::Type(typed) => {
            let text = variables.fill(&typed.text, &place)?;
            journey
                .used_secrets
                .extend(variables.secret_values(&typed.text));
            let text = &text;
            retry(wait, &typed.into, || async move {
                let field = find(browser, &typed.into).await?;
                field.clear().await.map_err(Miss::from)?;
                field.send_keys(text).await.map_err(Miss::from)
            })
            .await
        }
        StepAction::Select(select) => {
            retry(wait, &select.from, || async move {
                let list = find(browser, &select.from).await?;
                if list.select_by_label(&select.option).await.is_ok() {
                    return Ok(());
                }
                list.select_by_value(&select.option).await.map_err(|error| {
                    if error.is_no_such_element() {
                        Miss::Final(format!(
                            "`{}` has no option `{}` (by text or value)",
                            select.from, select.option
                        ))
                    } else {
                        Miss::from(error)
                    }
                })
            })
            .await
        }
        StepAction::Press(key) => {
            let focused = browser
                .active_element()
                .await
                .map_err(|error| Failure::new(format!("no element has the focus: {error}")))?;
            focused
                .send_keys(&key_text(key))
                .await
                .map_err(|error| Failure::new(format!("the key was not taken: {error}")))
        }
        StepAction::WaitForElement(target) => {
            retry(wait, target, || async move {
                find(browser, target).await.map(drop)
            })
            .await
        }
        StepAction::WaitForText(text) => until(wait, || async move {
            Ok(page_text(browser).await?.contains(text))
        })
        .await
        .map_err(|()| {
            Failure::new(format!(
                "the page did not show `{text}` within {}",
                seconds(wait)
            ))
        }),
        StepAction::AssertText(text) => until(wait, || async move {
            Ok(page_text(browser).await?.contains(text))
        })
        .await
        .map_err(|()| Failure {
            kind: ProblemKind::Body,
            reason: format!("the page does not show `{text}`"),
        }),
        StepAction::AssertNoText(text) => until(wait, || async move {
            Ok(!page_text(browser).await?.contains(text))
        })
        .await
        .map_err(|()| Failure {
            kind: ProblemKind::Body,
            reason: format!("the page shows `{text}`"),
        }),
        StepAction::AssertUrl(expected) => {
            let matched = until(wait, || async move {
                let url = browser.current_url().await.map_err(Miss::from)?;
                Ok(expected.holds(url.as_str()))
            })
            .await;
            if matched.is_ok() {
                return Ok(());
            }
            Err(Failure::new(match browser.current_url().await {
                Ok(url) => format!("the URL is {url}"),
                Err(error) => format!("the browser did not tell its URL: {error}"),
            }))
        }
        StepAction::Screenshot(label) => {
            let shot = capture(browser, label, Some(number as u32), &journey.used_secrets)
                .await
                .ok_or_else(|| Failure::new("the browser could not take the screenshot"))?;
            journey.screenshots.push(shot);
            Ok(())
        }
    }
}

/// Why an element could not be used yet, or at all.
enum Miss {
    /// Not there (yet), not visible, covered, stale: worth another look.
    Again(String),
    /// Looking again will not help (a selector the browser rejects).
    Final(String),
}

impl From<CmdError> for Miss {
    fn from(error: CmdError) -> Self {
        if error.is_invalid_selector() || error.is_invalid_argument() {
            Miss::Final(error.to_string())
        } else {
            Miss::Again(error.to_string())
        }
    }
}

/// Finds the element `target` names (CSS, or XPath).
async fn find(browser: &Client, target: &str) -> Result<Element, Miss> {
    let locator = match ElementQuery::parse(target) {
        ElementQuery::Css(css) => Locator::Css(css),
        ElementQuery::XPath(xpath) => Locator::XPath(xpath),
    };
    browser.find(locator).await.map_err(|error| {
        if error.is_no_such_element() {
            Miss::Again(format!("no element matches `{target}`"))
        } else if error.is_invalid_selector() {
            Miss::Final(format!(
                "`{target}` is not a selector the browser takes (CSS, or XPath starting with /)"
            ))
        } else {
            Miss::from(error)
        }
    })
}

/// Tries `attempt` until it succeeds or `wait` has passed; the failure is
/// the last reason given.
async fn retry<F: Future<Output = Result<(), Miss>>>(
    wait: Duration,
    target: &str,
    mut attempt: impl FnMut() -> F,
) -> Result<(), Failure> {
    let give_up = Instant::now() + wait;
    loop {
        match attempt().await {
            Ok(()) => return Ok(()),
            Err(Miss::Final(reason)) => return Err(Failure::new(reason)),
            Err(Miss::Again(reason)) => {
                if Instant::now() >= give_up {
                    let reason = if reason.starts_with("no element") {
                        reason
                    } else {
                        format!("`{target}` could not be used: {reason}")
                    };
                    return Err(Failure::new(format!("{reason} (waited {})", seconds(wait))));
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Asks `holds` until it says yes or `wait` has passed.
async fn until<F: Future<Output = Result<bool, Miss>>>(
    wait: Duration,
    mut holds: impl FnMut() -> F,
) -> Result<(), ()> {
    let give_up = Instant::now() + wait;
    loop {
        match holds().await {
            Ok(true) => return Ok(()),
            Err(Miss::Final(_)) => return Err(()),
            Ok(false) | Err(Miss::Again(_)) => {}
        }
        if Instant::now() >= give_up {
            return Err(());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The text the page shows.
async fn page_text(browser: &Client) -> Result<String, Miss> {
    let body = browser
        .find(Locator::Css("body"))
        .await
        .map_err(Miss::from)?;
    body.text().await.map_err(Miss::from)
}

/// What WebDriver sends for a key.
fn key_text(key: Key) -> String {
    use fantoccini::key::Key as Wd;
    let wd = match key {
        Key::Char(c) => return c.to_string(),
        Key::Named(NamedKey::Enter) => Wd::Enter,
        Key::Named(NamedKey::Tab) => Wd::Tab,
        Key::Named(NamedKey::Escape) => Wd::Escape,
        Key::Named(NamedKey::Backspace) => Wd::Backspace,
        Key::Named(NamedKey::Delete) => Wd::Delete,
        Key::Named(NamedKey::Space) => Wd::Space,
        Key::Named(NamedKey::ArrowUp) => Wd::Up,
        Key::Named(NamedKey::ArrowDown) => Wd::Down,
        Key::Named(NamedKey::ArrowLeft) => Wd::Left,
        Key::Named(NamedKey::ArrowRight) => Wd::Right,
        Key::Named(NamedKey::Home) => Wd::Home,
        Key::Named(NamedKey::End) => Wd::End,
        Key::Named(NamedKey::PageUp) => Wd::PageUp,
        Key::Named(NamedKey::PageDown) => Wd::PageDown,
    };
    char::from(wd).to_string()
}

fn seconds(wait: Duration) -> String {
    sightline_core::duration_text::format(wait)
}
