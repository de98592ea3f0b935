//! Chromium's own logs, read through chromedriver: the browser's console
//! (errors a page threw) and the DevTools network events (every response
//! with its real status, cross-origin ones included, which Resource Timing
//! hides without `Timing-Allow-Origin`).
//!
//! A session asks for them with [`LOGGING_PREFS`] in its capabilities;
//! each read takes what was logged since the last one.

use fantoccini::wd::WebDriverCompatibleCommand;
use hyper::http::Method;
use serde::Deserialize;
use serde_json::json;

/// The capability (`goog:loggingPrefs`) that makes Chromium keep the
/// console and the network events for [`read`].
pub const LOGGING_PREFS: &str = "goog:loggingPrefs";

/// The value of [`LOGGING_PREFS`] that keeps both logs.
pub fn logging_prefs() -> serde_json::Value {
    json!({"browser": "ALL", "performance": "ALL"})
}

/// Which of Chromium's logs to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// The console: messages, and errors the page threw.
    Console,
    /// The DevTools events (`Network.*`, `Page.*`).
    Performance,
}

/// One logged line.
#[derive(Debug, Clone, Deserialize)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO`, …
    pub level: String,
    /// The text; for [`LogKind::Performance`], a DevTools event as JSON.
    pub message: String,
    /// When, in Unix milliseconds.
    #[serde(default)]
    pub timestamp: f64,
}

/// chromedriver's log command (`POST /session/{id}/se/log`).
#[derive(Debug)]
struct ReadLog(LogKind);

impl WebDriverCompatibleCommand for ReadLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (Method, Option<String>) {
        let kind = match self.0 {
            LogKind::Console => "browser",
            LogKind::Performance => "performance",
        };
        (Method::POST, Some(json!({ "type": kind }).to_string()))
    }
}

/// What was logged of `kind` since the last read.
pub async fn read(
    browser: &fantoccini::Client,
    kind: LogKind,
) -> Result<Vec<LogEntry>, fantoccini::error::CmdError> {
    let answer = browser.issue_cmd(ReadLog(kind)).await?;
    Ok(serde_json::from_value(answer).unwrap_or_default())
}
