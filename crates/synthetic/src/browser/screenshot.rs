//! Screenshots of what a browser check's page shows, with the secrets it
//! typed hidden.

use fantoccini::Client;
use sightline_core::monitor::ScreenshotCapture;

/// Hides the fields holding any of the given values: Chromium draws them as
/// discs, as it draws password fields.
const HIDE_FIELDS: &str = r#"
const hidden = arguments[0];
for (const field of document.querySelectorAll('input, textarea')) {
  if (hidden.some((value) => field.value.includes(value))) {
    field.style.setProperty('-webkit-text-security', 'disc', 'important');
  }
}
"#;

/// Takes a screenshot of the viewport. Fields holding one of `hidden` (the
/// secrets the check typed) are drawn as discs first. `None` when the
/// browser could not take one (it crashed, the page is gone): a missing
/// screenshot must not hide why the check failed.
pub async fn capture(
    client: &Client,
    label: impl Into<String>,
    step: Option<u32>,
    hidden: &[String],
) -> Option<ScreenshotCapture> {
    if !hidden.is_empty() {
        let values = hidden
            .iter()
            .map(|value| serde_json::json!(value))
            .collect();
        if let Err(error) = client
            .execute(HIDE_FIELDS, vec![serde_json::Value::Array(values)])
            .await
        {
            // Without the fields hidden the image could show a secret.
            tracing::debug!(%error, "could not hide typed secrets; no screenshot taken");
            return None;
        }
    }
    match client.screenshot().await {
        Ok(png) => Some(ScreenshotCapture {
            label: label.into(),
            step,
            png,
        }),
        Err(error) => {
            tracing::debug!(%error, "taking a screenshot");
            None
        }
    }
}

/// Sets a report's screenshots and lists them in its detail (numbered from
/// 1, as the API serves them).
pub fn attach(report: &mut sightline_core::monitor::CheckReport, shots: Vec<ScreenshotCapture>) {
    if shots.is_empty() {
        return;
    }
    let listed: Vec<serde_json::Value> = shots
        .iter()
        .enumerate()
        .map(|(index, shot)| shot.summary(index + 1))
        .collect();
    match &mut report.detail {
        serde_json::Value::Object(detail) => {
            detail.insert("screenshots".to_owned(), listed.into());
        }
        detail => *detail = serde_json::json!({ "screenshots": listed }),
    }
    report.screenshots = shots;
}
