//! What the browser's network said of each request: the HTTP status it
//! got, or the error it failed with. Resource Timing tells a cross-origin
//! request's status only when the server allows it
//! (`Timing-Allow-Origin`), and says 0 otherwise; the DevTools network
//! events in Chromium's performance log tell every request's.

use super::chrome_log::LogEntry;
use serde::Deserialize;
use std::collections::HashMap;

/// How one request ended, as the network saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkOutcome {
    /// An answer came, with this status.
    Answered(u16),
    /// No answer: `net::ERR_CONNECTION_REFUSED`, a blocked request, …
    Failed(String),
    /// Given up by the page itself (a navigation away, an aborted fetch):
    /// neither an answer nor the server's failure.
    Cancelled,
}

/// The outcome of every request the log told of, by URL (each URL of a
/// redirect chain gets the chain's end).
#[derive(Debug, Default)]
pub struct NetworkOutcomes {
    by_url: HashMap<String, NetworkOutcome>,
}

#[derive(Deserialize)]
struct Logged {
    message: Event,
}

#[derive(Deserialize)]
struct Event {
    method: String,
    #[serde(default)]
    params: serde_json::Value,
}

/// One request as the events build it up.
#[derive(Default)]
struct Exchange {
    urls: Vec<String>,
    outcome: Option<NetworkOutcome>,
}

impl NetworkOutcomes {
    /// Reads the `Network.*` events of a performance log.
    pub fn from_log(entries: &[LogEntry]) -> Self {
        let mut exchanges: HashMap<String, Exchange> = HashMap::new();
        let mut order = Vec::new();
        for entry in entries {
            let Ok(Logged { message: event }) = serde_json::from_str::<Logged>(&entry.message)
            else {
                continue;
            };
            let params = &event.params;
            let Some(id) = params["requestId"].as_str() else {
                continue;
            };
            let exchange = exchanges.entry(id.to_owned()).or_insert_with(|| {
                order.push(id.to_owned());
                Exchange::default()
            });
            let text = |value: &serde_json::Value| value.as_str().map(str::to_owned);
            match event.method.as_str() {
                "Network.requestWillBeSent" => {
                    if let Some(url) = text(&params["request"]["url"]) {
                        exchange.urls.push(url);
                    }
                }
                "Network.responseReceived" => {
                    if let Some(status) = params["response"]["status"].as_u64() {
                        let status = u16::try_from(status).unwrap_or(u16::MAX);
                        exchange.outcome = Some(NetworkOutcome::Answered(status));
                    }
                    if exchange.urls.is_empty() {
                        exchange.urls.extend(text(&params["response"]["url"]));
                    }
                }
                "Network.loadingFailed" => {
                    // A request that failed after its answer began (the
                    // body cut off) keeps its status beside the error.
                    let cancelled = params["canceled"].as_bool() == Some(true)
                        && params["blockedReason"].is_null();
                    exchange.outcome = Some(if cancelled {
                        NetworkOutcome::Cancelled
                    } else {
                        let error = text(&params["errorText"])
                            .filter(|error| !error.is_empty())
                            .or_else(|| text(&params["blockedReason"]))
                            .unwrap_or_else(|| "the request failed".to_owned());
                        NetworkOutcome::Failed(error)
                    });
                }
                _ => {}
            }
        }
        let mut by_url = HashMap::new();
        for id in order {
            let Exchange { urls, outcome } = exchanges.remove(&id).unwrap_or_default();
            let Some(outcome) = outcome else { continue };
            for url in urls {
                by_url.insert(url, outcome.clone());
            }
        }
        NetworkOutcomes { by_url }
    }

    /// How the request for `url` ended, if the log told.
    pub fn get(&self, url: &str) -> Option<&NetworkOutcome> {
        self.by_url.get(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(method: &str, params: serde_json::Value) -> LogEntry {
        LogEntry {
            level: "INFO".to_owned(),
            message: json!({"message": {"method": method, "params": params}}).to_string(),
            timestamp: 0.0,
        }
    }

    #[test]
    fn statuses_failures_redirects_and_cancellations_are_told_apart() {
        let log = [
            entry(
                "Network.requestWillBeSent",
                json!({"requestId": "1", "request": {"url": "https://cdn.example/a.js"}}),
            ),
            entry(
                "Network.responseReceived",
                json!({"requestId": "1", "response": {"url": "https://cdn.example/a.js", "status": 200}}),
            ),
            entry(
                "Network.requestWillBeSent",
                json!({"requestId": "2", "request": {"url": "http://x.example/old"}}),
            ),
            entry(
                "Network.requestWillBeSent",
                json!({"requestId": "2", "request": {"url": "https://x.example/new"},
                       "redirectResponse": {"status": 301}}),
            ),
            entry(
                "Network.responseReceived",
                json!({"requestId": "2", "response": {"status": 404}}),
            ),
            entry(
                "Network.requestWillBeSent",
                json!({"requestId": "3", "request": {"url": "http://127.0.0.1:9/gone.css"}}),
            ),
            entry(
                "Network.loadingFailed",
                json!({"requestId": "3", "errorText": "net::ERR_CONNECTION_REFUSED", "canceled": false}),
            ),
            entry(
                "Network.requestWillBeSent",
                json!({"requestId": "4", "request": {"url": "https://x.example/poll"}}),
            ),
            entry(
                "Network.loadingFailed",
                json!({"requestId": "4", "errorText": "net::ERR_ABORTED", "canceled": true}),
            ),
            entry("Page.frameStoppedLoading", json!({"frameId": "F"})),
            LogEntry {
                level: "INFO".to_owned(),
                message: "not json".to_owned(),
                timestamp: 0.0,
            },
        ];
        let outcomes = NetworkOutcomes::from_log(&log);
        assert_eq!(
            outcomes.get("https://cdn.example/a.js"),
            Some(&NetworkOutcome::Answered(200))
        );
        // Both ends of the redirect chain end where it ended.
        assert_eq!(
            outcomes.get("http://x.example/old"),
            Some(&NetworkOutcome::Answered(404))
        );
        assert_eq!(
            outcomes.get("https://x.example/new"),
            Some(&NetworkOutcome::Answered(404))
        );
        assert_eq!(
            outcomes.get("http://127.0.0.1:9/gone.css"),
            Some(&NetworkOutcome::Failed(
                "net::ERR_CONNECTION_REFUSED".to_owned()
            ))
        );
        assert_eq!(
            outcomes.get("https://x.example/poll"),
            Some(&NetworkOutcome::Cancelled)
        );
        assert_eq!(outcomes.get("https://never.example/"), None);
    }
}
