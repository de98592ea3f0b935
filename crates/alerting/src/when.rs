//! Times and spans as people on call read them in a message: the clock time
//! in their policy's time zone and how long ago it was ("14:32 CET, 4 min
//! ago"), and how long something lasted ("4 min 12 s").

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use sightline_core::Timestamp;
use std::time::Duration;

/// `at` as a clock time in `zone`, with the day when it is not `now`'s day
/// there, and how long before `now` it was: `14:32 CET, 4 min ago`,
/// `Thu 3 Dec 23:50 CET, 15 h ago`.
pub fn moment(at: Timestamp, now: Timestamp, zone: Tz) -> String {
    let (Some(local), Some(today)) = (
        Utc.timestamp_millis_opt(at.as_millis()).single(),
        Utc.timestamp_millis_opt(now.as_millis()).single(),
    ) else {
        return at.to_rfc3339();
    };
    let local = local.with_timezone(&zone);
    let clock = if local.date_naive() == today.with_timezone(&zone).date_naive() {
        local.format("%H:%M %Z")
    } else {
        local.format("%a %-d %b %H:%M %Z")
    };
    let ago = Duration::from_millis((now.as_millis() - at.as_millis()).max(0) as u64);
    if ago < Duration::from_secs(60) {
        format!("{clock}, just now")
    } else {
        format!("{clock}, {} ago", coarse(ago))
    }
}

/// How long something lasted, to the second under an hour: `45 s`,
/// `4 min 12 s`, `1 h 5 min`, `2 d 3 h`.
pub fn span(length: Duration) -> String {
    let seconds = length.as_secs();
    let (days, hours, minutes, rest) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{rest} s"),
        (0, 0, _) if rest == 0 => format!("{minutes} min"),
        (0, 0, _) => format!("{minutes} min {rest} s"),
        (0, _, 0) => format!("{hours} h"),
        (0, _, _) => format!("{hours} h {minutes} min"),
        (_, 0, _) => format!("{days} d"),
        _ => format!("{days} d {hours} h"),
    }
}

/// A span to the minute (or hour, or day): what "… ago" needs.
fn coarse(length: Duration) -> String {
    let minutes = length.as_secs() / 60;
    match minutes {
        0..60 => format!("{minutes} min"),
        60..2880 => format!("{} h", minutes / 60),
        _ => format!("{} d", minutes / 1440),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> Timestamp {
        Timestamp::from(
            chrono::DateTime::parse_from_rfc3339(rfc3339)
                .unwrap()
                .timestamp_millis(),
        )
    }

    #[test]
    fn moments_are_in_the_zone_with_the_day_when_it_is_another() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let now = at("2026-12-04T13:36:30Z");
        assert_eq!(
            moment(at("2026-12-04T13:32:10Z"), now, paris),
            "14:32 CET, 4 min ago"
        );
        assert_eq!(
            moment(at("2026-12-04T13:36:00Z"), now, chrono_tz::UTC),
            "13:36 UTC, just now"
        );
        assert_eq!(
            moment(at("2026-12-03T22:50:00Z"), now, paris),
            "Thu 3 Dec 23:50 CET, 14 h ago"
        );
        // Summer time is named as such.
        let summer = at("2026-07-01T12:00:00Z");
        assert_eq!(
            moment(summer, summer.plus(Duration::from_secs(3 * 86_400)), paris),
            "Wed 1 Jul 14:00 CEST, 3 d ago"
        );
    }

    #[test]
    fn spans_read_as_people_say_them() {
        let s = Duration::from_secs;
        assert_eq!(span(s(45)), "45 s");
        assert_eq!(span(s(240)), "4 min");
        assert_eq!(span(s(252)), "4 min 12 s");
        assert_eq!(span(s(3600)), "1 h");
        assert_eq!(span(s(3900 + 59)), "1 h 5 min");
        assert_eq!(span(s(2 * 86_400 + 3 * 3600 + 60)), "2 d 3 h");
        assert_eq!(span(s(86_400 + 120)), "1 d");
    }
}
