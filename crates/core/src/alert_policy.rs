//! Alert policies: who is told when a monitor goes down, after how long,
//! how often they are reminded, and whether they hear of the recovery.

use crate::alert_channels::{self, ChannelSettings, WrittenTarget};
use crate::validation::{from_json_value, require_text};
use crate::{Email, IncidentClass, ValidationError, duration_text};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
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
    /// The time zone messages give times in (`Europe/Paris`, `UTC`), as
    /// the people on call read them; UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Europe/Paris")]
    pub time_zone: Option<String>,
}

fn yes() -> bool {
    true
}

/// One level of escalation: when it is reached and whom it tells.
///
/// Beside `email`, each channel of [`crate::alert_channels::CHANNELS`] is a
/// key of its own (`slack: [{webhook_url: …}]`), in the API and YAML alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "WrittenLevel", into = "WrittenLevel")]
pub struct EscalationLevel {
    /// `1 confirmed error`, `3 confirmed errors`, or a time down (`15m`).
    #[schema(value_type = String, example = "1 confirmed error")]
    pub after: Escalation,
    /// E-mail addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email: Vec<String>,
    /// The other channels' targets, by channel name (`slack`, `webhook`…).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub channels: BTreeMap<String, Vec<ChannelSettings>>,
    /// Only incidents of these classes reach this level (`confirmed_outage`,
    /// `synthetic_failure`, `rum_silent`, `rum_performance`, `checkpoint_offline`, `down`); all
    /// classes when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<IncidentClass>,
}

/// A level as written: channel targets in their short or full form, and
/// channel names not yet checked (so that an unknown one is named by
/// [`EscalationLevel::validate`] with its place).
#[derive(Serialize, Deserialize)]
struct WrittenLevel {
    after: Escalation,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    email: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    classes: Vec<IncidentClass>,
    #[serde(flatten)]
    channels: BTreeMap<String, serde_json::Value>,
}

impl TryFrom<WrittenLevel> for EscalationLevel {
    type Error = String;

    fn try_from(written: WrittenLevel) -> Result<Self, String> {
        let mut channels = BTreeMap::new();
        for (name, targets) in written.channels {
            let settings = match alert_channels::channel(&name) {
                Some(kind) => Vec::<WrittenTarget>::deserialize(targets)
                    .map_err(|_| {
                        format!(
                            "`{name}` must be a list of {} targets, each an object of settings",
                            kind.label
                        )
                    })?
                    .into_iter()
                    .map(|target| target.settings(kind))
                    .collect(),
                // Kept, for `validate` to name with its place.
                None => vec![ChannelSettings::new()],
            };
            channels.insert(name, settings);
        }
        Ok(EscalationLevel {
            after: written.after,
            email: written.email,
            channels,
            classes: written.classes,
        })
    }
}

impl From<EscalationLevel> for WrittenLevel {
    fn from(level: EscalationLevel) -> Self {
        let channels = level
            .channels
            .into_iter()
            .map(|(name, targets)| {
                let written: Vec<WrittenTarget> = targets
                    .into_iter()
                    .map(|settings| match settings.get("url") {
                        Some(url) if name == "webhook" && settings.len() == 1 => {
                            WrittenTarget::Short(url.clone())
                        }
                        _ => WrittenTarget::Full(
                            settings
                                .into_iter()
                                .map(|(k, v)| (k, alert_channels::WrittenValue::Text(v)))
                                .collect(),
                        ),
                    })
                    .collect();
                (name, serde_json::to_value(written).unwrap_or_default())
            })
            .collect();
        WrittenLevel {
            after: level.after,
            email: level.email,
            classes: level.classes,
            channels,
        }
    }
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

    /// The time zone messages give times in (UTC when none, or none known,
    /// is named).
    pub fn zone(&self) -> chrono_tz::Tz {
        self.time_zone
            .as_deref()
            .and_then(|zone| zone.parse().ok())
            .unwrap_or(chrono_tz::UTC)
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
        if let Some(zone) = &self.time_zone {
            zone.parse::<chrono_tz::Tz>().map_err(|_| {
                ValidationError::new(
                    "time_zone",
                    format!("`{zone}` is not a time zone; name one as `Europe/Paris` or `UTC`"),
                )
            })?;
        }
        if let Some(every) = self.remind_every
            && every < MIN_REMINDER
        {
            return Err(ValidationError::new(
                "remind_every",
                format!("must be at least {}", duration_text::format(MIN_REMINDER)),
            ));
        }
        Ok(())
    }
}

impl EscalationLevel {
    fn validate(&self) -> Result<(), ValidationError> {
        let targets: usize = self.channels.values().map(Vec::len).sum();
        if self.email.is_empty() && targets == 0 {
            return Err(ValidationError::new(
                "",
                format!(
                    "name at least one recipient ({})",
                    alert_channels::recipient_names()
                ),
            ));
        }
        if self.email.len() > alert_channels::MAX_TARGETS {
            return Err(ValidationError::new(
                "email",
                format!("at most {} addresses", alert_channels::MAX_TARGETS),
            ));
        }
        for (index, address) in self.email.iter().enumerate() {
            Email::parse(address)
                .map_err(|e| ValidationError::new(format!("email[{index}]"), e.message))?;
        }
        for (name, targets) in &self.channels {
            let Some(kind) = alert_channels::channel(name) else {
                return Err(ValidationError::new(
                    name.as_str(),
                    format!(
                        "`{name}` is not a channel; a level names {}",
                        alert_channels::recipient_names()
                    ),
                ));
            };
            if targets.len() > alert_channels::MAX_TARGETS {
                return Err(ValidationError::new(
                    name.as_str(),
                    format!("at most {} targets", alert_channels::MAX_TARGETS),
                ));
            }
            for (index, settings) in targets.iter().enumerate() {
                alert_channels::validate_target(kind, settings)
                    .map_err(|e| e.within(&format!("{name}[{index}]")))?;
            }
        }
        Ok(())
    }

    /// Every target of this level: e-mail addresses first, then each
    /// channel's targets, as (channel, settings).
    pub fn targets(&self) -> Vec<(&str, ChannelSettings)> {
        let email = self.email.iter().map(|address| {
            (
                "email",
                BTreeMap::from([("address".to_owned(), address.clone())]),
            )
        });
        let others = self.channels.iter().flat_map(|(name, targets)| {
            targets
                .iter()
                .map(move |settings| (name.as_str(), settings.clone()))
        });
        email.chain(others).collect()
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
            "levels[0].webhook[0].url"
        );
        assert_eq!(
            error(json!({"name": "p", "remind_every": "10s", "levels": [{"after": "5m", "email": ["a@b.co"]}]})).field,
            "remind_every"
        );
        let unknown = error(
            json!({"name": "p", "levels": [{"after": "5m", "slak": [{"webhook_url": "https://x.example"}]}]}),
        );
        assert_eq!(unknown.field, "levels[0].slak");
        assert!(unknown.message.contains("telegram"), "{}", unknown.message);
        assert_eq!(
            error(json!({"name": "p", "levels": [{"after": "5m", "telegram": [{"bot_token": "1:a", "chat_id": "x y"}]}]})).field,
            "levels[0].telegram[0].chat_id"
        );
        assert_eq!(
            error(json!({"name": "p", "levels": [{"after": "5m", "pagerduty": [{"url": "https://x.example"}]}]})).field,
            "levels[0].pagerduty[0].routing_key"
        );
        let not_list =
            error(json!({"name": "p", "levels": [{"after": "5m", "slack": "https://x.example"}]}));
        assert!(
            not_list.message.contains("list of Slack targets"),
            "{}",
            not_list.message
        );
    }

    #[test]
    fn every_channel_reads_and_writes_back_the_same() {
        let document = json!({"name": "on-call", "levels": [{
            "after": "1 confirmed error",
            "email": ["ops@example.com"],
            "webhook": ["https://hooks.example.com/x", {"url": "https://hooks.example.com/y", "secret": "{{secrets.HOOK}}"}],
            "slack": [{"webhook_url": "https://hooks.slack.com/services/T/B/x"}],
            "teams": [{"webhook_url": "https://example.webhook.office.com/x"}],
            "pagerduty": [{"routing_key": "{{secrets.PD_KEY}}", "url": "http://127.0.0.1:9/v2/enqueue"}],
            "opsgenie": [{"api_key": "{{secrets.OPSGENIE}}"}],
            "discord": [{"webhook_url": "https://discord.com/api/webhooks/1/x"}],
            "telegram": [{"bot_token": "{{secrets.TG}}", "chat_id": -100123}]
        }]});
        let spec = AlertPolicySpec::from_json(document).unwrap();
        let level = &spec.levels[0];
        assert_eq!(level.channels.len(), 7);
        assert_eq!(level.channels["telegram"][0]["chat_id"], "-100123");
        assert_eq!(level.targets().len(), 9);
        let written = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            written["levels"][0]["webhook"][0],
            "https://hooks.example.com/x"
        );
        assert_eq!(AlertPolicySpec::from_json(written).unwrap(), spec);
    }
}
