//! The channels an escalation level can tell beside e-mail: what each is
//! called in policies (API and YAML alike), which settings it takes, and the
//! rules those settings follow.
//!
//! This table is the one place a channel's settings are described: policies
//! are validated against it, the OpenAPI document lists its fields from it
//! and the UI builds its forms from it (`GET /api/v1/alert-channels`). The
//! alerting crate has one notifier per entry, which turns a message into
//! what that vendor's API expects.
//!
//! Any setting may be, or contain, `{{secrets.NAME}}`: it is filled in from
//! the vault when a message is sent, so the policy and the outbox never hold
//! the secret itself.

use crate::ValidationError;
use crate::monitor::template;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One target's settings, by field name (`webhook_url` → `https://…`).
pub type ChannelSettings = BTreeMap<String, String>;

/// The most targets one level may name per channel.
pub const MAX_TARGETS: usize = 20;

/// The longest value a setting may have.
const MAX_SETTING_CHARS: usize = 2048;

/// A channel: its name in policies and the settings it takes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelKind {
    /// The key in a level (`slack`).
    pub name: &'static str,
    /// How people call it (`Slack`).
    pub label: &'static str,
    /// What a message becomes there, in a few words.
    pub about: &'static str,
    /// The settings of one target, in the order forms show them.
    pub fields: &'static [ChannelField],
}

/// One setting of a channel's target.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelField {
    /// The key in a target (`routing_key`).
    pub name: &'static str,
    /// How forms label it.
    pub label: &'static str,
    /// Whether a target must give it.
    pub required: bool,
    /// What the value is.
    pub form: FieldForm,
}

/// What a setting's value is, which decides how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldForm {
    /// An http or https URL (a webhook, or an API address that overrides the
    /// vendor's).
    Url,
    /// A key or token: one word, best given as `{{secrets.NAME}}`.
    Secret,
    /// A Telegram chat: a number (`-100123`) or a public `@channel`.
    ChatId,
}

const fn field(
    name: &'static str,
    label: &'static str,
    required: bool,
    form: FieldForm,
) -> ChannelField {
    ChannelField {
        name,
        label,
        required,
        form,
    }
}

/// Every channel beside e-mail. Adding one: an entry here and a notifier in
/// the alerting crate's registry.
pub const CHANNELS: &[ChannelKind] = &[
    ChannelKind {
        name: "webhook",
        label: "Webhook",
        about: "a JSON POST of the incidents, signed with HMAC-SHA256 when a secret is given",
        fields: &[
            field("url", "URL", true, FieldForm::Url),
            field("secret", "Signing secret", false, FieldForm::Secret),
        ],
    },
    ChannelKind {
        name: "slack",
        label: "Slack",
        about: "a Block Kit message through an incoming webhook",
        fields: &[field("webhook_url", "Webhook URL", true, FieldForm::Url)],
    },
    ChannelKind {
        name: "teams",
        label: "Microsoft Teams",
        about: "an Adaptive Card through a Workflows webhook",
        fields: &[field(
            "webhook_url",
            "Workflows webhook URL",
            true,
            FieldForm::Url,
        )],
    },
    ChannelKind {
        name: "pagerduty",
        label: "PagerDuty",
        about: "Events API v2: trigger, acknowledge and resolve, one alert per incident",
        fields: &[
            field(
                "routing_key",
                "Integration (routing) key",
                true,
                FieldForm::Secret,
            ),
            field("url", "Events API address", false, FieldForm::Url),
        ],
    },
    ChannelKind {
        name: "opsgenie",
        label: "Opsgenie",
        about: "Alert API v2: create, acknowledge and close, one alert per incident",
        fields: &[
            field("api_key", "API key", true, FieldForm::Secret),
            field(
                "url",
                "API address (EU: https://api.eu.opsgenie.com)",
                false,
                FieldForm::Url,
            ),
        ],
    },
    ChannelKind {
        name: "discord",
        label: "Discord",
        about: "an embed through a channel webhook",
        fields: &[field("webhook_url", "Webhook URL", true, FieldForm::Url)],
    },
    ChannelKind {
        name: "telegram",
        label: "Telegram",
        about: "a message from a bot (Bot API sendMessage)",
        fields: &[
            field("bot_token", "Bot token", true, FieldForm::Secret),
            field("chat_id", "Chat id", true, FieldForm::ChatId),
            field("url", "Bot API address", false, FieldForm::Url),
        ],
    },
];

/// The channel called `name`.
pub fn channel(name: &str) -> Option<&'static ChannelKind> {
    CHANNELS.iter().find(|kind| kind.name == name)
}

/// Every name a level accepts for its recipients, for error messages.
pub fn recipient_names() -> String {
    std::iter::once("email")
        .chain(CHANNELS.iter().map(|kind| kind.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One target as written in a policy: the whole settings object, or, for a
/// channel whose first field is a URL, that URL alone
/// (`webhook: ["https://…"]`). Numbers are taken as text (`chat_id: -100`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WrittenTarget {
    /// The first field alone.
    Short(String),
    /// Field by field.
    Full(BTreeMap<String, WrittenValue>),
}

/// A setting's value as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WrittenValue {
    /// Text.
    Text(String),
    /// A whole number (chat ids).
    Number(i64),
}

impl WrittenTarget {
    /// The settings, field by field (`Short` names the channel's first field).
    pub fn settings(self, kind: &ChannelKind) -> ChannelSettings {
        match self {
            WrittenTarget::Short(value) => {
                BTreeMap::from([(kind.fields[0].name.to_owned(), value)])
            }
            WrittenTarget::Full(fields) => fields
                .into_iter()
                .map(|(name, value)| {
                    let value = match value {
                        WrittenValue::Text(text) => text,
                        WrittenValue::Number(number) => number.to_string(),
                    };
                    (name, value)
                })
                .collect(),
        }
    }
}

/// Checks one target's settings; errors name the field within the target.
pub fn validate_target(
    kind: &ChannelKind,
    settings: &ChannelSettings,
) -> Result<(), ValidationError> {
    for name in settings.keys() {
        if !kind.fields.iter().any(|field| field.name == name) {
            let known: Vec<&str> = kind.fields.iter().map(|field| field.name).collect();
            return Err(ValidationError::new(
                name.as_str(),
                format!(
                    "{} takes no `{name}`; its settings are {}",
                    kind.label,
                    known.join(", ")
                ),
            ));
        }
    }
    for field in kind.fields {
        match settings.get(field.name) {
            None if field.required => {
                return Err(ValidationError::new(
                    field.name,
                    format!("{} needs `{}` ({})", kind.label, field.name, field.label),
                ));
            }
            None => {}
            Some(value) => validate_value(field.form, value)
                .map_err(|e| ValidationError::new(field.name, e))?,
        }
    }
    Ok(())
}

fn validate_value(form: FieldForm, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("must not be blank".to_owned());
    }
    if value.chars().count() > MAX_SETTING_CHARS {
        return Err(format!("must be at most {MAX_SETTING_CHARS} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("must not hold control characters".to_owned());
    }
    let names = template::placeholders(value);
    if let Some(name) = names.iter().find(|name| !is_secret_reference(name)) {
        return Err(format!(
            "`{{{{{name}}}}}` cannot be filled in here: only `{{{{secrets.NAME}}}}` can"
        ));
    }
    // A value that is, or contains, a secret is checked when it is filled in.
    if !names.is_empty() {
        return Ok(());
    }
    match form {
        FieldForm::Url => {
            let parsed = url::Url::parse(value).map_err(|e| format!("is not a URL ({e})"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err("must start with http:// or https://".to_owned());
            }
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err("must name a host".to_owned());
            }
        }
        FieldForm::Secret => {
            if value.chars().any(char::is_whitespace) {
                return Err("must be one word, without spaces".to_owned());
            }
        }
        FieldForm::ChatId => {
            let digits = value.strip_prefix('-').unwrap_or(value);
            let numeric = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
            let channel = value.strip_prefix('@').is_some_and(|name| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if !numeric && !channel {
                return Err("must be a chat number (`-100123`) or a public `@channel`".to_owned());
            }
        }
    }
    Ok(())
}

/// The settings as someone who may not send through them sees them: a
/// URL keeps its scheme and host (`https://hooks.slack.com/…`), a key or
/// token is hidden, a chat and any `{{secrets.NAME}}` stay as written (a
/// vault reference reveals nothing).
pub fn redacted(kind: &ChannelKind, settings: &ChannelSettings) -> ChannelSettings {
    settings
        .iter()
        .map(|(name, value)| {
            let form = kind
                .fields
                .iter()
                .find(|field| field.name == name)
                .map(|field| field.form);
            let referenced = template::placeholders(value)
                .iter()
                .all(|name| is_secret_reference(name))
                && value.trim_start().starts_with("{{")
                && value.trim_end().ends_with("}}");
            let shown = match form {
                _ if referenced => value.clone(),
                Some(FieldForm::ChatId) => value.clone(),
                Some(FieldForm::Url) => match url::Url::parse(value) {
                    Ok(url) => format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or("")),
                    Err(_) => "…".to_owned(),
                },
                _ => "…".to_owned(),
            };
            (name.clone(), shown)
        })
        .collect()
}

fn is_secret_reference(name: &str) -> bool {
    name.strip_prefix("secrets.")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('.'))
}

/// Fills `{{secrets.NAME}}` in every setting from `lookup`; the error is the
/// first name it does not know.
pub fn fill_secrets(
    settings: &ChannelSettings,
    mut lookup: impl FnMut(&str) -> Option<String>,
) -> Result<ChannelSettings, String> {
    settings
        .iter()
        .map(|(name, value)| {
            let filled = template::fill(value, |placeholder| {
                placeholder.strip_prefix("secrets.").and_then(&mut lookup)
            })?;
            Ok((name.clone(), filled))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> ChannelSettings {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_channel_names_its_first_field_and_it_is_required() {
        for kind in CHANNELS {
            assert!(kind.fields[0].required, "{}", kind.name);
            assert!(
                validate_target(kind, &ChannelSettings::new()).is_err(),
                "{} accepted nothing",
                kind.name
            );
        }
    }

    #[test]
    fn settings_are_checked_by_their_form() {
        let telegram = channel("telegram").unwrap();
        let ok = settings(&[("bot_token", "{{secrets.TG}}"), ("chat_id", "-100123")]);
        validate_target(telegram, &ok).unwrap();
        let public = settings(&[("bot_token", "123:abc"), ("chat_id", "@status_news")]);
        validate_target(telegram, &public).unwrap();
        let bad_chat = settings(&[("bot_token", "123:abc"), ("chat_id", "general")]);
        assert_eq!(
            validate_target(telegram, &bad_chat).unwrap_err().field,
            "chat_id"
        );
        let missing = settings(&[("bot_token", "123:abc")]);
        assert_eq!(
            validate_target(telegram, &missing).unwrap_err().field,
            "chat_id"
        );
        let extra = settings(&[("webhook_url", "https://x.example"), ("channel", "#ops")]);
        let slack = channel("slack").unwrap();
        let error = validate_target(slack, &extra).unwrap_err();
        assert_eq!(error.field, "channel");
        assert!(error.message.contains("webhook_url"), "{}", error.message);
        let not_url = settings(&[("webhook_url", "hooks.slack.com/services/x")]);
        assert_eq!(
            validate_target(slack, &not_url).unwrap_err().field,
            "webhook_url"
        );
        let pagerduty = channel("pagerduty").unwrap();
        let spaced = settings(&[("routing_key", "two words")]);
        assert_eq!(
            validate_target(pagerduty, &spaced).unwrap_err().field,
            "routing_key"
        );
        let other_placeholder = settings(&[("routing_key", "{{token}}")]);
        let error = validate_target(pagerduty, &other_placeholder).unwrap_err();
        assert!(error.message.contains("secrets.NAME"), "{}", error.message);
    }

    #[test]
    fn redaction_keeps_hosts_and_vault_references_only() {
        let slack = channel("slack").unwrap();
        let shown = redacted(
            slack,
            &settings(&[("webhook_url", "https://hooks.slack.com/services/T0/B0/xyz")]),
        );
        assert_eq!(shown["webhook_url"], "https://hooks.slack.com/…");
        let telegram = channel("telegram").unwrap();
        let shown = redacted(
            telegram,
            &settings(&[("bot_token", "123:abc"), ("chat_id", "-100")]),
        );
        assert_eq!(
            (shown["bot_token"].as_str(), shown["chat_id"].as_str()),
            ("…", "-100")
        );
        let pagerduty = channel("pagerduty").unwrap();
        let kept = settings(&[("routing_key", "{{secrets.PD}}")]);
        assert_eq!(redacted(pagerduty, &kept), kept);
        let mixed = settings(&[("routing_key", "abc{{secrets.PD}}")]);
        assert_eq!(redacted(pagerduty, &mixed)["routing_key"], "…");
    }

    #[test]
    fn secrets_are_filled_in_where_they_stand() {
        let written = settings(&[("url", "https://x.example/{{secrets.PATH}}/in")]);
        let filled = fill_secrets(&written, |name| (name == "PATH").then(|| "abc".to_owned()));
        assert_eq!(filled.unwrap()["url"], "https://x.example/abc/in");
        let missing = fill_secrets(&written, |_| None).unwrap_err();
        assert_eq!(missing, "secrets.PATH");
    }
}
