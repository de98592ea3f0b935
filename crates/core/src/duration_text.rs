//! Durations written the way people write them in configuration: `30s`, `5m`,
//! `1h 30m`. Used with `#[serde(with = "...")]` on every duration field so that
//! the API, the YAML files and `export` agree on one spelling.

use serde::{Deserialize, Deserializer, Serializer};
use std::time::Duration;

/// Parses a human duration (`"90s"`, `"1m 30s"`).
pub fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("expected a duration such as \"30s\" or \"5m\" ({e})"))
}

/// Formats a duration the way [`parse`] reads it back.
pub fn format(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// Serializes a duration as text.
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*duration))
}

/// Deserializes a duration from text.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// The same for optional durations.
pub mod option {
    use super::*;

    /// Serializes an optional duration as text or null.
    pub fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => serializer.serialize_str(&format(*duration)),
            None => serializer.serialize_none(),
        }
    }

    /// Deserializes an optional duration from text or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| parse(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for text in ["10s", "1m", "1h 30m", "1day"] {
            let duration = parse(text).unwrap();
            assert_eq!(parse(&format(duration)).unwrap(), duration);
        }
        assert_eq!(format(Duration::from_secs(90)), "1m 30s");
    }

    #[test]
    fn rejects_nonsense() {
        assert!(parse("soon").unwrap_err().contains("expected a duration"));
        assert!(parse("10").is_err());
    }
}
