//! Screenshots of what a browser check's page shows, with the secrets it
//! used hidden.

use fantoccini::Client;
use sightline_core::monitor::ScreenshotCapture;

/// Hides the given values before a screenshot, in each form a page may
/// show them (as typed, percent-encoded with `%20` or `+`, base64): fields
/// holding one are drawn as discs, as Chromium draws password fields, and
/// text holding one shows dots in its place.
const HIDE_VALUES: &str = r#"
const forms = [];
for (const value of arguments[0]) {
  forms.push(value);
  try {
    const encoded = encodeURIComponent(value);
    forms.push(encoded, encoded.replace(/%20/g, '+'), encodeURI(value));
  } catch (_) {}
  try {
    forms.push(btoa(String.fromCharCode(...new TextEncoder().encode(value))));
  } catch (_) {}
}
const unique = [...new Set(forms.filter((form) => form.length > 0))];
const holds = (text) => unique.some((form) => text.includes(form));
for (const field of document.querySelectorAll('input, textarea')) {
  if (holds(field.value)) {
    field.style.setProperty('-webkit-text-security', 'disc', 'important');
  }
}
const root = document.body || document.documentElement;
const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
const found = [];
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  if (holds(node.nodeValue)) found.push(node);
}
for (const node of found) {
  let text = node.nodeValue;
  for (const form of unique) text = text.split(form).join('\u2022\u2022\u2022');
  node.nodeValue = text;
}
document.title = '';
"#;

/// Takes a screenshot of the viewport. The secrets in `hidden` (those the
/// check typed or put in a URL) are hidden first, in fields and text.
/// `None` when the browser could not take one (it crashed, the page is
/// gone): a missing screenshot must not hide why the check failed.
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
            .execute(HIDE_VALUES, vec![serde_json::Value::Array(values)])
            .await
        {
            // Without the fields hidden the image could show a secret.
            tracing::debug!(%error, "could not hide secrets; no screenshot taken");
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
