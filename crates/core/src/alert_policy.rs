//! Alert policies: who is told when a monitor goes down, after how long,
//! how often they are reminded, and whether they hear of the recovery.

use crate::validation::{from_json_value, require_text};
use crate::{Email, IncidentClass, ValidationError, duration_text};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// The shortest reminder interval.
pub const MIN_REMINDER: Duration = Duration::from_secs(60);

/// An alert policy: escalation levels, reminders, recovery notices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertPolicySpec {
    /// Unique, human name (`on-call`), as monitors refer to it.
    pub name: String,
    /// Who is told, level by level.
    pub levels: Vec<EscalationLevel>,
    /// Remind every recipient told so far this often while the monitor is
    /// down; no reminders when absent.
    #[serde(
        default,
        with = "duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, example = "30m")]
    pub remind_every: Option<Duration>,
    /// Tell everyone who was told when the monitor recovers; on by default.
    #[serde(default = "yes")]
    pub notify_recovery: bool,
}

fn yes() -> bool {
    true
}

/// One level of escalation: when it is reached and whom it tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationLevel {
    /// `1 confirmed error`, `3 confirmed errors`, or a time down (`15m`).
    #[schema(value_type = String, example = "1 confirmed error")]
    pub after: Escalation,
    /// E-mail addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email: Vec<String>,
    /// Webhook URLs (JSON, Slack-compatible `text`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook: Vec<String>,
    /// Only incidents of these classes reach this level (`confirmed_outage`,
    /// `synthetic_failure`, `rum_silent`, `rum_performance`, `checkpoint_offline`, `down`); all
    /// classes when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<IncidentClass>,
}

impl EscalationLevel {
    /// Whether an incident of `class` reaches this level.
    pub fn routes(&self, class: IncidentClass) -> bool {
        self.classes.is_empty() || self.classes.contains(&class)
    }
}

/// When an escalation level is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escalation {
    /// After this many confirmed errors in a row.
    ConfirmedErrors(u32),
    /// After the monitor has been down this long.
    Down(Duration),
}

impl Escalation {
    /// Parses `N confirmed error(s)` or a duration.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let words: Vec<&str> = text.split_whitespace().collect();
        if let [count, "confirmed", "error" | "errors"] = words.as_slice() {
            let count: u32 = count
                .parse()
                .map_err(|_| format!("`{count}` is not a number of errors"))?;
            if count == 0 {
                return Err("needs at least 1 confirmed error".to_owned());
            }
            return Ok(Escalation::ConfirmedErrors(count));
        }
        duration_text::parse(text)
            .map(Escalation::Down)
            .map_err(|_| {
                format!("`{text}` is neither `N confirmed errors` nor a duration like `15m`")
            })
    }
}

impl std::fmt::Display for Escalation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Escalation::ConfirmedErrors(1) => f.write_str("1 confirmed error"),
            Escalation::ConfirmedErrors(count) => write!(f, "{count} confirmed errors"),
            Escalation::Down(duration) => f.write_str(&duration_text::format(*duration)),
        }
    }
}

impl Serialize for Escalation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Escalation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Escalation::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl AlertPolicySpec {
    /// Parses and validates a policy from a JSON (or YAML-turned-JSON) document.
    pub fn from_json(value: serde_json::Value) -> Result<Self, ValidationError> {
        crate::validation::within_bounds(&value)?;
        let spec: AlertPolicySpec = from_json_value(value)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks the rules the types do not express.
    pub fn validate(&self) -> Result<(), ValidationError> {
        require_text("name", &self.name, 100)?;
        if self.levels.is_empty() {
            return Err(ValidationError::new(
                "levels",
                "must have at least one level",
            ));
        }
        for (index, level) in self.levels.iter().enumerate() {
            level
                .validate()
                .map_err(|e| e.within(&format!("levels[{index}]")))?;
        }
        if let Some(every) = self.remind_every {
            if every < MIN_REMINDER {
                return Err(ValidationError::new(
                    "remind_every",
                    format!("must be at least {}", duration_text::format(MIN_REMINDER)),
                ));
            }
        }
        Ok(())
    }
}

impl EscalationLevel {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.email.is_empty() && self.webhook.is_empty() {
            return Err(ValidationError::new(
                "",
                "name at least one recipient (`email` or `webhook`)",
            ));
        }
        for (index, address) in self.email.iter().enumerate() {
            Email::parse(address)
                .map_err(|e| ValidationError::new(format!("email[{index}]"), e.message))?;
        }
        for (index, url) in self.webhook.iter().enumerate() {
            let field = format!("webhook[{index}]");
            let parsed = url::Url::parse(url)
                .map_err(|e| ValidationError::new(&field, format!("`{url}` is not a URL ({e})")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ValidationError::new(
                    &field,
                    format!("`{url}` must start with http:// or https://"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn levels_read_and_write_the_words_people_use() {
        let document = json!({"name": "on-call", "remind_every": "30m", "levels": [
            {"after": "1 confirmed error", "email": ["ops@example.com"]},
            {"after": "3 confirmed errors", "webhook": ["https://hooks.example.com/x"]},
            {"after": "15m", "email": ["cto@example.com"]}
        ]});
        let spec = AlertPolicySpec::from_json(document.clone()).unwrap();
        assert_eq!(spec.levels[0].after, Escalation::ConfirmedErrors(1));
        assert_eq!(spec.levels[1].after, Escalation::ConfirmedErrors(3));
        assert_eq!(
            spec.levels[2].after,
            Escalation::Down(Duration::from_secs(900))
        );
        assert!(spec.notify_recovery);
        let written = serde_json::to_value(&spec).unwrap();
        assert_eq!(written["levels"], document["levels"]);
        assert_eq!(AlertPolicySpec::from_json(written).unwrap(), spec);
    }

    #[test]
    fn errors_name_the_field() {
        let error = |document| AlertPolicySpec::from_json(document).unwrap_err();
        assert_eq!(error(json!({"name": "p", "levels": []})).field, "levels");
        let bad_after =
            error(json!({"name": "p", "levels": [{"after": "soon", "email": ["a@b.co"]}]}));
        assert_eq!(bad_after.field, "levels[0].after");
        assert_eq!(
            error(json!({"name": "p", "levels": [{"after": "5m"}]})).field,
            "levels[0]"
        );
        assert_eq!(
            error(json!({"name": "p", "levels": [{"after": "5m", "email": ["nobody"]}]})).field,
            "levels[0].email[0]"
        );
        assert_eq!(
            error(json!({"name": "p", "levels": [{"after": "5m", "webhook": ["ftp://x"]}]})).field,
            "levels[0].webhook[0]"
        );
        assert_eq!(
            error(json!({"name": "p", "remind_every": "10s", "levels": [{"after": "5m", "email": ["a@b.co"]}]})).field,
            "remind_every"
        );
    }
}
