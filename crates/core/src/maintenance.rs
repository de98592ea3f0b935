//! Maintenance windows: periods during which checks still run and their
//! results are recorded, but failures do not count as errors, change no
//! status and alert nobody.

use crate::validation::{from_json_value, require_text};
use crate::{Timestamp, ValidationError, duration_text};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::time::Duration;

/// The longest a (recurring) window may last.
pub const MAX_WINDOW: Duration = Duration::from_secs(7 * 86_400);

/// A maintenance window: one-off (`starts_at` to `ends_at`) or recurring
/// (`cron` start times, each lasting `duration`), for the monitors it names,
/// the monitors with the tags it names, or every monitor when it names none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindowSpec {
    /// Unique, human name (`nightly deploy`).
    pub name: String,
    /// Monitors it covers, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monitors: Vec<String>,
    /// Monitors it covers, by tag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Start of a one-off window (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// End of a one-off window (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// Start times of a recurring window (`0 2 * * 0`, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// How long each recurring window lasts (`30m`).
    #[serde(
        default,
        with = "duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, example = "30m")]
    pub duration: Option<Duration>,
}

fn parse_time(field: &str, text: &str) -> Result<Timestamp, ValidationError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|time| Timestamp::from(time.timestamp_millis()))
        .map_err(|e| {
            ValidationError::new(
                field,
                format!("`{text}` is not an RFC 3339 time like 2026-12-01T02:00:00Z ({e})"),
            )
        })
}

impl MaintenanceWindowSpec {
    /// Parses and validates a window from a JSON (or YAML-turned-JSON) document.
    pub fn from_json(value: serde_json::Value) -> Result<Self, ValidationError> {
        crate::validation::within_bounds(&value)?;
        let spec: MaintenanceWindowSpec = from_json_value(value)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks the rules the types do not express.
    pub fn validate(&self) -> Result<(), ValidationError> {
        require_text("name", &self.name, 200)?;
        for (index, name) in self.monitors.iter().enumerate() {
            require_text(&format!("monitors[{index}]"), name, 200)?;
        }
        for (index, tag) in self.tags.iter().enumerate() {
            require_text(&format!("tags[{index}]"), tag, 64)?;
        }
        match (&self.starts_at, &self.ends_at, &self.cron, &self.duration) {
            (Some(starts), Some(ends), None, None) => {
                let starts = parse_time("starts_at", starts)?;
                let ends = parse_time("ends_at", ends)?;
                if ends <= starts {
                    return Err(ValidationError::new("ends_at", "must be after starts_at"));
                }
                Ok(())
            }
            (None, None, Some(expression), Some(duration)) => {
                croner::Cron::from_str(expression).map_err(|e| {
                    ValidationError::new(
                        "cron",
                        format!("`{expression}` is not a cron expression: {e}"),
                    )
                })?;
                if duration.is_zero() || *duration > MAX_WINDOW {
                    return Err(ValidationError::new(
                        "duration",
                        format!(
                            "must be more than 0 and at most {}",
                            duration_text::format(MAX_WINDOW)
                        ),
                    ));
                }
                Ok(())
            }
            _ => Err(ValidationError::new(
                "",
                "give either `starts_at` and `ends_at` (one-off) or `cron` and `duration` (recurring)",
            )),
        }
    }

    /// Whether the window covers a monitor with this name and these tags.
    pub fn applies_to(&self, monitor_name: &str, monitor_tags: &[String]) -> bool {
        (self.monitors.is_empty() && self.tags.is_empty())
            || self.monitors.iter().any(|name| name == monitor_name)
            || self.tags.iter().any(|tag| monitor_tags.contains(tag))
    }

    /// The span of the window that is open at `at`, or else the next one
    /// to open after it: what a status page announces. `None` when no span
    /// is to come (a one-off window that ended).
    pub fn current_or_next(&self, at: Timestamp) -> Option<(Timestamp, Timestamp)> {
        if let (Some(starts), Some(ends)) = (&self.starts_at, &self.ends_at) {
            let (starts, ends) = (parse_time("", starts).ok()?, parse_time("", ends).ok()?);
            return (at < ends).then_some((starts, ends));
        }
        let (expression, duration) = (self.cron.as_ref()?, self.duration?);
        let cron = croner::Cron::from_str(expression).ok()?;
        let length = duration.as_millis() as i64;
        let time = chrono::DateTime::from_timestamp_millis(at.as_millis())?;
        if let Ok(start) = cron.find_previous_occurrence(&time, true) {
            let start = start.timestamp_millis();
            if at.as_millis() < start + length {
                return Some((Timestamp::from(start), Timestamp::from(start + length)));
            }
        }
        let next = cron
            .find_next_occurrence(&time, false)
            .ok()?
            .timestamp_millis();
        Some((Timestamp::from(next), Timestamp::from(next + length)))
    }

    /// The window's spans that overlap `[from, to)`, in order, at most
    /// `limit` of them: what a chart shades and what the next occurrences
    /// of a recurring window are.
    pub fn spans(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Vec<(Timestamp, Timestamp)> {
        if let (Some(starts), Some(ends)) = (&self.starts_at, &self.ends_at) {
            return match (parse_time("", starts), parse_time("", ends)) {
                (Ok(starts), Ok(ends)) if starts < to && from < ends && limit > 0 => {
                    vec![(starts, ends)]
                }
                _ => Vec::new(),
            };
        }
        let (Some(expression), Some(duration)) = (&self.cron, self.duration) else {
            return Vec::new();
        };
        let Ok(cron) = croner::Cron::from_str(expression) else {
            return Vec::new();
        };
        let length = duration.as_millis() as i64;
        // A span that started up to `length` before `from` still overlaps it.
        // From a whole second: the occurrences keep the start's fraction.
        let Some(earliest) = chrono::DateTime::from_timestamp_millis(
            (from.as_millis() - length).div_euclid(1000) * 1000,
        ) else {
            return Vec::new();
        };
        cron.iter_after(earliest)
            .map(|start| start.timestamp_millis())
            .take_while(|start| *start < to.as_millis())
            .filter(|start| start + length > from.as_millis())
            .take(limit)
            .map(|start| (Timestamp::from(start), Timestamp::from(start + length)))
            .collect()
    }

    /// Whether the window is open at `at`.
    pub fn covers(&self, at: Timestamp) -> bool {
        if let (Some(starts), Some(ends)) = (&self.starts_at, &self.ends_at) {
            return match (parse_time("", starts), parse_time("", ends)) {
                (Ok(starts), Ok(ends)) => starts <= at && at < ends,
                _ => false,
            };
        }
        let (Some(expression), Some(duration)) = (&self.cron, self.duration) else {
            return false;
        };
        let Ok(cron) = croner::Cron::from_str(expression) else {
            return false;
        };
        let Some(time) = chrono::DateTime::from_timestamp_millis(at.as_millis()) else {
            return false;
        };
        match cron.find_previous_occurrence(&time, true) {
            Ok(start) => at.as_millis() < start.timestamp_millis() + duration.as_millis() as i64,
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> Timestamp {
        parse_time("", text).unwrap()
    }

    #[test]
    fn one_off_and_recurring_windows_cover_their_periods() {
        let once = MaintenanceWindowSpec::from_json(json!({"name": "migration",
            "starts_at": "2026-12-01T02:00:00Z", "ends_at": "2026-12-01T03:00:00Z"}))
        .unwrap();
        assert!(!once.covers(at("2026-12-01T01:59:59Z")));
        assert!(once.covers(at("2026-12-01T02:00:00Z")));
        assert!(!once.covers(at("2026-12-01T03:00:00Z")));

        let nightly = MaintenanceWindowSpec::from_json(json!({"name": "nightly",
            "cron": "0 2 * * *", "duration": "30m", "tags": ["shop"]}))
        .unwrap();
        assert!(nightly.covers(at("2026-12-05T02:29:00Z")));
        assert!(!nightly.covers(at("2026-12-05T02:31:00Z")));
        assert!(!nightly.covers(at("2026-12-05T01:59:00Z")));
        assert!(nightly.applies_to("home", &["shop".to_owned()]));
        assert!(!nightly.applies_to("home", &["blog".to_owned()]));
        assert!(once.applies_to("anything", &[]), "no names: every monitor");
    }

    #[test]
    fn the_span_open_now_or_next_is_announced() {
        let once = MaintenanceWindowSpec::from_json(json!({"name": "migration",
            "starts_at": "2026-12-01T02:00:00Z", "ends_at": "2026-12-01T03:00:00Z"}))
        .unwrap();
        let span = (at("2026-12-01T02:00:00Z"), at("2026-12-01T03:00:00Z"));
        assert_eq!(once.current_or_next(at("2026-11-30T00:00:00Z")), Some(span));
        assert_eq!(once.current_or_next(at("2026-12-01T02:30:00Z")), Some(span));
        assert_eq!(once.current_or_next(at("2026-12-01T03:00:00Z")), None);
        let nightly = MaintenanceWindowSpec::from_json(json!({"name": "nightly",
            "cron": "0 2 * * *", "duration": "30m"}))
        .unwrap();
        assert_eq!(
            nightly.current_or_next(at("2026-12-05T02:10:00Z")),
            Some((at("2026-12-05T02:00:00Z"), at("2026-12-05T02:30:00Z")))
        );
        assert_eq!(
            nightly.current_or_next(at("2026-12-05T02:30:00Z")),
            Some((at("2026-12-06T02:00:00Z"), at("2026-12-06T02:30:00Z")))
        );
    }

    #[test]
    fn the_spans_in_a_period_are_listed_in_order() {
        let nightly = MaintenanceWindowSpec::from_json(json!({"name": "nightly",
            "cron": "0 2 * * *", "duration": "30m"}))
        .unwrap();
        // One open at the start of the period counts; the limit holds.
        let spans = nightly.spans(at("2026-12-05T02:10:00Z"), at("2026-12-08T00:00:00Z"), 10);
        let starts: Vec<_> = spans.iter().map(|(starts, _)| *starts).collect();
        assert_eq!(
            starts,
            [
                at("2026-12-05T02:00:00Z"),
                at("2026-12-06T02:00:00Z"),
                at("2026-12-07T02:00:00Z")
            ]
        );
        assert_eq!(spans[0].1, at("2026-12-05T02:30:00Z"));
        assert_eq!(
            nightly
                .spans(at("2026-12-05T02:30:00Z"), at("2027-12-05T00:00:00Z"), 3)
                .len(),
            3
        );
        let once = MaintenanceWindowSpec::from_json(json!({"name": "migration",
            "starts_at": "2026-12-01T02:00:00Z", "ends_at": "2026-12-01T03:00:00Z"}))
        .unwrap();
        assert_eq!(
            once.spans(at("2026-12-01T02:59:00Z"), at("2026-12-02T00:00:00Z"), 5),
            [(at("2026-12-01T02:00:00Z"), at("2026-12-01T03:00:00Z"))]
        );
        assert!(
            once.spans(at("2026-12-01T03:00:00Z"), at("2026-12-02T00:00:00Z"), 5)
                .is_empty()
        );
    }

    #[test]
    fn a_window_that_never_opens_lists_no_span() {
        let never = MaintenanceWindowSpec::from_json(json!({"name": "leap",
            "cron": "0 0 30 2 *", "duration": "1h"}));
        if let Ok(never) = never {
            assert!(
                never
                    .spans(at("2026-12-05T00:00:00Z"), Timestamp::from(i64::MAX / 2), 3)
                    .is_empty()
            );
        }
    }

    #[test]
    fn errors_name_the_field() {
        let error = |document| MaintenanceWindowSpec::from_json(document).unwrap_err();
        assert_eq!(
            error(json!({"name": "x", "starts_at": "2026-12-01T03:00:00Z", "ends_at": "2026-12-01T02:00:00Z"})).field,
            "ends_at"
        );
        assert_eq!(
            error(json!({"name": "x", "starts_at": "tomorrow", "ends_at": "2026-12-01T02:00:00Z"}))
                .field,
            "starts_at"
        );
        assert_eq!(error(json!({"name": "x", "cron": "0 2 * * *"})).field, "");
        assert_eq!(
            error(json!({"name": "x", "cron": "0 2 * * *", "duration": "30d"})).field,
            "duration"
        );
        assert_eq!(
            error(json!({"name": "x", "cron": "often", "duration": "1h"})).field,
            "cron"
        );
    }
}
