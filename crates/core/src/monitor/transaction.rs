//! Transaction checks: a user journey (log in, search, add to cart, pay)
//! walked step by step in a real browser. The steps and their rules live
//! here; the checkpoint drives the browser.

use super::browser::Screenshot;
use super::validate_http_url;
use crate::ValidationError;
use crate::duration_text;
use crate::validation::require_text;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The most steps one transaction may have.
pub const MAX_TRANSACTION_STEPS: usize = 100;

/// How long a step waits for its element or text when it does not say.
pub const DEFAULT_STEP_WAIT: Duration = Duration::from_secs(10);

/// A journey through a site in a headless browser, one step after another.
/// The first step navigates; text typed may be a vault secret
/// (`{{secrets.NAME}}`), which is never stored, shown or logged in clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionCheck {
    /// The steps, in order.
    pub steps: Vec<TransactionStep>,
    /// When to keep a screenshot: at the failing step (`on_error`, the
    /// default), also at the end of a passing run (`always`), or only at
    /// `screenshot` steps (`never`).
    #[serde(default, skip_serializing_if = "Screenshot::is_default")]
    pub screenshot: Screenshot,
}

/// One step: a name to show, exactly one action, and how long it may wait.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionStep {
    /// What the step does, in words (`log in`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Go to this URL (absolute, or a path on the current site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub navigate: Option<String>,
    /// Click the element: a CSS selector, or an XPath when it starts with
    /// `/` or `(`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click: Option<String>,
    /// Type text into a field.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_text: Option<TypeText>,
    /// Choose an option of a `<select>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<SelectOption>,
    /// Press a key (`Enter`, `Tab`, `Escape`, an arrow, or one character)
    /// in the focused element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub press: Option<String>,
    /// Wait until an element is there or a text is shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for: Option<WaitFor>,
    /// The page must show this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assert_text: Option<String>,
    /// The page must not show this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assert_no_text: Option<String>,
    /// The page's URL must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assert_url: Option<UrlAssertion>,
    /// Take a screenshot with this label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screenshot: Option<String>,
    /// How long the step waits for its element or text (default 10 s; never
    /// past the monitor's timeout).
    #[serde(
        default,
        with = "duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, example = "10s")]
    pub timeout: Option<Duration>,
}

/// Text typed into a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypeText {
    /// The field: a CSS selector or an XPath.
    pub into: String,
    /// The text; `{{secrets.NAME}}` types a vault secret.
    pub text: String,
}

/// An option chosen in a `<select>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectOption {
    /// The `<select>`: a CSS selector or an XPath.
    pub from: String,
    /// The option's visible text or its value.
    pub option: String,
}

/// What a `wait_for` step waits for: exactly one of the two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitFor {
    /// An element (CSS selector or XPath) that must appear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element: Option<String>,
    /// A text the page must come to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A condition on the page's URL: exactly one of the three.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UrlAssertion {
    /// The whole URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    /// A part of it (`/account`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// A regular expression it must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
}

impl UrlAssertion {
    /// Whether `url` meets the condition (`equals` ignores a trailing `/`).
    pub fn holds(&self, url: &str) -> bool {
        if let Some(equals) = &self.equals {
            return url.trim_end_matches('/') == equals.trim_end_matches('/');
        }
        if let Some(part) = &self.contains {
            return url.contains(part.as_str());
        }
        if let Some(pattern) = &self.matches {
            return regex::Regex::new(pattern).is_ok_and(|regex| regex.is_match(url));
        }
        false
    }
}

/// How a step finds an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementQuery<'a> {
    /// A CSS selector.
    Css(&'a str),
    /// An XPath expression.
    XPath(&'a str),
}

impl<'a> ElementQuery<'a> {
    /// XPath when it starts with `/` or `(` (no CSS selector does), CSS
    /// otherwise.
    pub fn parse(text: &'a str) -> Self {
        let trimmed = text.trim_start();
        if trimmed.starts_with('/') || trimmed.starts_with('(') {
            ElementQuery::XPath(text)
        } else {
            ElementQuery::Css(text)
        }
    }
}

/// A step's one action, borrowed from its settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepAction<'a> {
    /// Go to a URL.
    Navigate(&'a str),
    /// Click an element.
    Click(&'a str),
    /// Type into a field.
    Type(&'a TypeText),
    /// Choose an option.
    Select(&'a SelectOption),
    /// Press a key.
    Press(Key),
    /// Wait for an element.
    WaitForElement(&'a str),
    /// Wait for a text.
    WaitForText(&'a str),
    /// The page shows a text.
    AssertText(&'a str),
    /// The page does not show a text.
    AssertNoText(&'a str),
    /// The URL matches.
    AssertUrl(&'a UrlAssertion),
    /// Take a screenshot.
    Screenshot(&'a str),
}

/// The action names, as keys of a step.
pub const STEP_ACTIONS: &[&str] = &[
    "navigate",
    "click",
    "type",
    "select",
    "press",
    "wait_for",
    "assert_text",
    "assert_no_text",
    "assert_url",
    "screenshot",
];

impl StepAction<'_> {
    /// The action's name, as the step's key.
    pub fn name(&self) -> &'static str {
        match self {
            StepAction::Navigate(_) => "navigate",
            StepAction::Click(_) => "click",
            StepAction::Type(_) => "type",
            StepAction::Select(_) => "select",
            StepAction::Press(_) => "press",
            StepAction::WaitForElement(_) | StepAction::WaitForText(_) => "wait_for",
            StepAction::AssertText(_) => "assert_text",
            StepAction::AssertNoText(_) => "assert_no_text",
            StepAction::AssertUrl(_) => "assert_url",
            StepAction::Screenshot(_) => "screenshot",
        }
    }

    /// The action in words, for results and messages. Typed text is never
    /// part of it: it may be a secret.
    pub fn describe(&self) -> String {
        match self {
            StepAction::Navigate(url) => format!("navigate to {url}"),
            StepAction::Click(element) => format!("click `{element}`"),
            StepAction::Type(typed) => format!("type into `{}`", typed.into),
            StepAction::Select(select) => {
                format!("select `{}` in `{}`", select.option, select.from)
            }
            StepAction::Press(key) => format!("press {}", key.name()),
            StepAction::WaitForElement(element) => format!("wait for `{element}`"),
            StepAction::WaitForText(text) => format!("wait for the text `{text}`"),
            StepAction::AssertText(text) => format!("assert the page shows `{text}`"),
            StepAction::AssertNoText(text) => format!("assert the page does not show `{text}`"),
            StepAction::AssertUrl(url) => match (&url.equals, &url.contains, &url.matches) {
                (Some(equals), _, _) => format!("assert the URL is {equals}"),
                (_, Some(part), _) => format!("assert the URL contains `{part}`"),
                (_, _, Some(pattern)) => format!("assert the URL matches `{pattern}`"),
                _ => "assert the URL".to_owned(),
            },
            StepAction::Screenshot(label) => format!("screenshot `{label}`"),
        }
    }
}

/// A key a `press` step may press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A named key.
    Named(NamedKey),
    /// One printable character.
    Char(char),
}

/// The keys known by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedKey {
    /// Enter.
    Enter,
    /// Tab.
    Tab,
    /// Escape.
    Escape,
    /// Backspace.
    Backspace,
    /// Delete.
    Delete,
    /// Space.
    Space,
    /// Arrow up.
    ArrowUp,
    /// Arrow down.
    ArrowDown,
    /// Arrow left.
    ArrowLeft,
    /// Arrow right.
    ArrowRight,
    /// Home.
    Home,
    /// End.
    End,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
}

impl NamedKey {
    /// Every named key with its name.
    pub const ALL: [(&'static str, NamedKey); 14] = [
        ("Enter", NamedKey::Enter),
        ("Tab", NamedKey::Tab),
        ("Escape", NamedKey::Escape),
        ("Backspace", NamedKey::Backspace),
        ("Delete", NamedKey::Delete),
        ("Space", NamedKey::Space),
        ("ArrowUp", NamedKey::ArrowUp),
        ("ArrowDown", NamedKey::ArrowDown),
        ("ArrowLeft", NamedKey::ArrowLeft),
        ("ArrowRight", NamedKey::ArrowRight),
        ("Home", NamedKey::Home),
        ("End", NamedKey::End),
        ("PageUp", NamedKey::PageUp),
        ("PageDown", NamedKey::PageDown),
    ];
}

impl Key {
    /// The key named `text`: a name of [`NamedKey::ALL`] (any case) or one
    /// printable character.
    pub fn parse(text: &str) -> Option<Key> {
        if let Some((_, key)) = NamedKey::ALL
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
        {
            return Some(Key::Named(*key));
        }
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_control() => Some(Key::Char(c)),
            _ => None,
        }
    }

    /// Its name, as written.
    pub fn name(&self) -> String {
        match self {
            Key::Named(key) => NamedKey::ALL
                .iter()
                .find(|(_, named)| named == key)
                .map_or_else(String::new, |(name, _)| (*name).to_owned()),
            Key::Char(c) => format!("`{c}`"),
        }
    }
}

impl TransactionStep {
    /// The step's action; an error when it has none or several.
    pub fn action(&self) -> Result<StepAction<'_>, ValidationError> {
        let mut actions = Vec::new();
        if let Some(url) = &self.navigate {
            actions.push(StepAction::Navigate(url));
        }
        if let Some(element) = &self.click {
            actions.push(StepAction::Click(element));
        }
        if let Some(typed) = &self.type_text {
            actions.push(StepAction::Type(typed));
        }
        if let Some(select) = &self.select {
            actions.push(StepAction::Select(select));
        }
        if let Some(key) = &self.press {
            let parsed = Key::parse(key).ok_or_else(|| {
                let names: Vec<&str> = NamedKey::ALL.iter().map(|(name, _)| *name).collect();
                ValidationError::new(
                    "press",
                    format!(
                        "unknown key `{key}`; expected one character or one of {}",
                        names.join(", ")
                    ),
                )
            })?;
            actions.push(StepAction::Press(parsed));
        }
        if let Some(wait) = &self.wait_for {
            match (&wait.element, &wait.text) {
                (Some(element), None) => actions.push(StepAction::WaitForElement(element)),
                (None, Some(text)) => actions.push(StepAction::WaitForText(text)),
                _ => {
                    return Err(ValidationError::new(
                        "wait_for",
                        "give exactly one of `element` or `text`",
                    ));
                }
            }
        }
        if let Some(text) = &self.assert_text {
            actions.push(StepAction::AssertText(text));
        }
        if let Some(text) = &self.assert_no_text {
            actions.push(StepAction::AssertNoText(text));
        }
        if let Some(url) = &self.assert_url {
            actions.push(StepAction::AssertUrl(url));
        }
        if let Some(label) = &self.screenshot {
            actions.push(StepAction::Screenshot(label));
        }
        match actions.as_slice() {
            [action] => Ok(*action),
            [] => Err(ValidationError::new(
                "",
                format!(
                    "give the step an action: one of {}",
                    STEP_ACTIONS.join(", ")
                ),
            )),
            [..] => Err(ValidationError::new(
                "",
                format!(
                    "a step does one thing; this one has {}",
                    actions
                        .iter()
                        .map(|action| format!("`{}`", action.name()))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            )),
        }
    }

    /// How long the step waits for its element or text.
    pub fn wait(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_STEP_WAIT)
    }

    fn validate(&self, first: bool) -> Result<(), ValidationError> {
        if let Some(name) = &self.name {
            require_text("name", name, 200)?;
        }
        let action = self.action()?;
        if first && !matches!(action, StepAction::Navigate(_)) {
            return Err(ValidationError::new(
                "",
                "the first step must `navigate` to the page the journey starts on",
            ));
        }
        let element = |field: &str, text: &str| {
            if text.trim().is_empty() {
                Err(ValidationError::new(field, "must not be empty"))
            } else {
                Ok(())
            }
        };
        match action {
            StepAction::Navigate(url) => {
                if first || !url.starts_with('/') {
                    validate_http_url("navigate", url, true)?;
                }
            }
            StepAction::Click(target) => element("click", target)?,
            StepAction::Type(typed) => element("type.into", &typed.into)?,
            StepAction::Select(select) => {
                element("select.from", &select.from)?;
                element("select.option", &select.option)?;
            }
            StepAction::WaitForElement(target) => element("wait_for.element", target)?,
            StepAction::WaitForText(text) => element("wait_for.text", text)?,
            StepAction::AssertText(text) => element("assert_text", text)?,
            StepAction::AssertNoText(text) => element("assert_no_text", text)?,
            StepAction::AssertUrl(url) => {
                let given = [&url.equals, &url.contains, &url.matches]
                    .iter()
                    .filter(|value| value.is_some())
                    .count();
                if given != 1 {
                    return Err(ValidationError::new(
                        "assert_url",
                        "give exactly one of `equals`, `contains` or `matches`",
                    ));
                }
                if let Some(pattern) = &url.matches {
                    super::validate_regex("assert_url.matches", pattern)?;
                }
            }
            StepAction::Screenshot(label) => require_text("screenshot", label, 200)?,
            StepAction::Press(_) => {}
        }
        if let Some(timeout) = self.timeout
            && (timeout.is_zero() || timeout > super::MAX_TIMEOUT)
        {
            return Err(ValidationError::new(
                "timeout",
                "must be more than 0 and at most 5m",
            ));
        }
        Ok(())
    }
}

impl TransactionCheck {
    /// Checks the steps; the error names the step and field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.steps.is_empty() {
            return Err(ValidationError::new("steps", "must have at least one step"));
        }
        if self.steps.len() > MAX_TRANSACTION_STEPS {
            return Err(ValidationError::new(
                "steps",
                format!("must have at most {MAX_TRANSACTION_STEPS} steps"),
            ));
        }
        for (index, step) in self.steps.iter().enumerate() {
            step.validate(index == 0)
                .map_err(|e| e.within(&format!("steps[{index}]")))?;
        }
        Ok(())
    }

    /// The URL the journey starts on.
    pub fn start_url(&self) -> Option<&str> {
        self.steps.first()?.navigate.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::from_json_value;
    use serde_json::json;

    fn check(value: serde_json::Value) -> Result<TransactionCheck, ValidationError> {
        let check: TransactionCheck = from_json_value(value)?;
        check.validate()?;
        Ok(check)
    }

    #[test]
    fn a_journey_reads_as_written() {
        let journey = check(json!({"steps": [
            {"navigate": "https://shop.example.com/login"},
            {"name": "user", "type": {"into": "#user", "text": "alice"}},
            {"type": {"into": "#password", "text": "{{secrets.SHOP_PASSWORD}}"}},
            {"click": "//button[text()='Log in']"},
            {"wait_for": {"text": "Welcome"}, "timeout": "5s"},
            {"select": {"from": "#country", "option": "Germany"}},
            {"press": "enter"},
            {"assert_url": {"contains": "/account"}},
            {"navigate": "/cart"},
            {"assert_no_text": "Error"},
            {"screenshot": "the cart"}
        ]}))
        .unwrap();
        let actions: Vec<StepAction> = journey
            .steps
            .iter()
            .map(|step| step.action().unwrap())
            .collect();
        assert_eq!(actions[3].describe(), "click `//button[text()='Log in']`");
        assert_eq!(
            ElementQuery::parse("//button[text()='Log in']"),
            ElementQuery::XPath("//button[text()='Log in']")
        );
        assert_eq!(ElementQuery::parse("#user"), ElementQuery::Css("#user"));
        assert_eq!(actions[6], StepAction::Press(Key::Named(NamedKey::Enter)));
        // The typed text is not in the words shown: it may be a secret.
        assert_eq!(actions[2].describe(), "type into `#password`");
        assert_eq!(journey.steps[4].wait(), Duration::from_secs(5));
        assert_eq!(journey.steps[1].wait(), DEFAULT_STEP_WAIT);
        assert_eq!(journey.start_url(), Some("https://shop.example.com/login"));
    }

    #[test]
    fn mistakes_are_named_with_their_step() {
        let error = |value| check(value).unwrap_err();
        let start = json!({"navigate": "https://x/"});
        let e = error(json!({"steps": [{"click": "#a"}]}));
        assert_eq!(e.field, "steps[0]");
        assert!(
            e.message.contains("the first step must `navigate`"),
            "{e:?}"
        );
        let e = error(json!({"steps": [start, {"click": "#a", "press": "Enter"}]}));
        assert_eq!(e.field, "steps[1]");
        assert!(
            e.message.contains("this one has `click` and `press`"),
            "{e:?}"
        );
        let e = error(json!({"steps": [start, {"name": "nothing"}]}));
        assert!(e.message.contains("give the step an action"), "{e:?}");
        let e = error(json!({"steps": [start, {"press": "Hyper"}]}));
        assert_eq!(e.field, "steps[1].press");
        assert!(e.message.contains("unknown key `Hyper`"), "{e:?}");
        let e = error(json!({"steps": [start, {"clik": "#a"}]}));
        assert!(e.message.contains("clik"), "{e:?}");
        let e = error(json!({"steps": [start, {"assert_url": {}}]}));
        assert_eq!(e.field, "steps[1].assert_url");
        let e = error(json!({"steps": [start, {"wait_for": {"element": "#a", "text": "b"}}]}));
        assert_eq!(e.field, "steps[1].wait_for");
        let e = error(json!({"steps": [{"navigate": "/relative"}]}));
        assert_eq!(e.field, "steps[0].navigate");
        assert_eq!(error(json!({"steps": []})).field, "steps");
    }
}
