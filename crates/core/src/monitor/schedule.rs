//! When a monitor runs: a fixed interval or a cron expression.

use crate::ValidationError;
use crate::duration_text;
use std::str::FromStr;
use std::time::Duration;

/// The shortest interval a monitor may run at.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// The longest interval a monitor may run at.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// A validated schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every so often, spread by per-monitor jitter.
    Every(Duration),
    /// On a cron expression (minutes resolution or seconds with six fields), UTC.
    Cron(Box<croner::Cron>),
}

impl Schedule {
    /// Builds the schedule from the `every` and `cron` settings: exactly one of
    /// them, or neither for the default of one minute.
    pub fn from_settings(
        every: Option<Duration>,
        cron: Option<&str>,
    ) -> Result<Self, ValidationError> {
        match (every, cron) {
            (Some(_), Some(_)) => Err(ValidationError::new(
                "cron",
                "give either `every` or `cron`, not both",
            )),
            (None, Some(expression)) => croner::Cron::from_str(expression)
                .map(|cron| Schedule::Cron(Box::new(cron)))
                .map_err(|e| {
                    ValidationError::new(
                        "cron",
                        format!("`{expression}` is not a cron expression: {e}"),
                    )
                }),
            (every, None) => {
                let interval = every.unwrap_or(Duration::from_secs(60));
                if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
                    return Err(ValidationError::new(
                        "every",
                        format!(
                            "must be between {} and {}",
                            duration_text::format(MIN_INTERVAL),
                            duration_text::format(MAX_INTERVAL)
                        ),
                    ));
                }
                Ok(Schedule::Every(interval))
            }
        }
    }
}

/// Due times this far behind the clock were missed (the server was down),
/// not merely picked up a little late by a busy scheduler.
pub const MISSED_AFTER: Duration = Duration::from_secs(10);

/// After downtime, monitors whose next slot is far off run once within this
/// window, each at its own deterministic point in it, instead of all at once.
pub const CATCH_UP_WINDOW: Duration = Duration::from_secs(60);

impl Schedule {
    /// The monitor's fixed offset within its interval, so that many
    /// monitors on one interval start spread over it, and each always at the
    /// same point (comparable results, predictable load).
    pub fn offset_ms(monitor_id: i64, period_ms: i64) -> i64 {
        if period_ms <= 0 {
            return 0;
        }
        // splitmix64: consecutive ids land far apart.
        let mut z = (monitor_id as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z % period_ms as u64) as i64
    }

    /// The first due time strictly after `after`.
    pub fn next_due(&self, monitor_id: i64, after: crate::Timestamp) -> crate::Timestamp {
        match self {
            Schedule::Every(interval) => {
                let period = interval.as_millis() as i64;
                let offset = Self::offset_ms(monitor_id, period);
                let slots = (after.as_millis() - offset).div_euclid(period) + 1;
                crate::Timestamp::from(slots * period + offset)
            }
            Schedule::Cron(cron) => {
                let after_time =
                    chrono::DateTime::from_timestamp_millis(after.as_millis()).unwrap_or_default();
                match cron.find_next_occurrence(&after_time, false) {
                    Ok(next) => crate::Timestamp::from(next.timestamp_millis()),
                    // An expression with no future occurrence never runs again.
                    Err(_) => crate::Timestamp::from(i64::MAX),
                }
            }
        }
    }

    /// What to do with a due time when the scheduler gets to it at `now`:
    /// run it (and the next due time), or, when it was missed while the
    /// server was down, skip it and resume without a storm: at the next slot,
    /// or sooner (within [`CATCH_UP_WINDOW`], spread by monitor) when that
    /// slot is far off.
    pub fn on_due(
        &self,
        monitor_id: i64,
        due: crate::Timestamp,
        now: crate::Timestamp,
    ) -> DueDecision {
        let missed = now.as_millis() - due.as_millis() > MISSED_AFTER.as_millis() as i64;
        if !missed {
            return DueDecision {
                run: true,
                next: self.next_due(monitor_id, due.max(now.minus(MISSED_AFTER))),
            };
        }
        DueDecision {
            run: false,
            next: self.first_due(monitor_id, now),
        }
    }

    /// The first due time of a monitor that starts (or resumes) at `now`:
    /// its next slot, or, when that is further off than
    /// [`CATCH_UP_WINDOW`], a point within the window that is the monitor's
    /// own, so that monitors starting together do not run together.
    pub fn first_due(&self, monitor_id: i64, now: crate::Timestamp) -> crate::Timestamp {
        let window = CATCH_UP_WINDOW.as_millis() as i64;
        let next = self.next_due(monitor_id, now);
        if next.as_millis() - now.as_millis() <= window {
            return next;
        }
        crate::Timestamp::from(now.as_millis() + 1 + Self::offset_ms(monitor_id, window))
    }

    /// How long one due time stands for: the interval, or for a cron
    /// expression the gap to the following occurrence.
    pub fn period_after(&self, monitor_id: i64, due: crate::Timestamp) -> Duration {
        match self {
            Schedule::Every(interval) => *interval,
            Schedule::Cron(_) => {
                let next = self.next_due(monitor_id, due);
                Duration::from_millis(next.as_millis().saturating_sub(due.as_millis()).max(0) as u64)
            }
        }
    }
}

/// The scheduler's decision about one due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueDecision {
    /// Whether the due time runs now.
    pub run: bool,
    /// The monitor's next due time.
    pub next: crate::Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    const MINUTE: i64 = 60_000;

    #[test]
    fn slots_keep_a_fixed_offset_and_spread_monitors_over_the_interval() {
        let every = Schedule::Every(Duration::from_secs(60));
        let start = Timestamp::from(1_700_000_000_000);
        let first = every.next_due(7, start);
        assert!(first.as_millis() > start.as_millis());
        assert!(first.as_millis() - start.as_millis() <= MINUTE);
        let second = every.next_due(7, first);
        assert_eq!(second.as_millis() - first.as_millis(), MINUTE);
        // 10,000 monitors: no second of the minute gets much more than its share.
        let mut per_second = [0u32; 60];
        for id in 1..=10_000 {
            let due = every.next_due(id, start);
            per_second[((due.as_millis() / 1000) % 60) as usize] += 1;
        }
        let busiest = per_second.iter().max().unwrap();
        assert!(*busiest < 10_000 / 60 * 2, "busiest second has {busiest}");
    }

    #[test]
    fn a_due_time_missed_during_downtime_is_skipped_and_resumed_without_a_storm() {
        let hourly = Schedule::Every(Duration::from_secs(3600));
        let due = hourly.next_due(3, Timestamp::from(1_700_000_000_000));
        // Picked up a little late: it runs.
        let late = hourly.on_due(3, due, due.plus(Duration::from_secs(2)));
        assert!(late.run);
        assert_eq!(late.next.as_millis() - due.as_millis(), 60 * MINUTE);
        // Found after a day of downtime: skipped, and run again within the
        // catch-up window rather than an hour later.
        let now = due.plus(Duration::from_secs(86_400 + 5));
        let missed = hourly.on_due(3, due, now);
        assert!(!missed.run);
        assert!(missed.next.as_millis() > now.as_millis());
        assert!(missed.next.as_millis() <= now.as_millis() + MINUTE);
        // Monitors resume at different points of the window.
        let resumes: std::collections::BTreeSet<i64> = (1..=100)
            .map(|id| hourly.on_due(id, due, now).next.as_millis())
            .collect();
        assert!(resumes.len() > 50);
    }

    #[test]
    fn cron_schedules_run_on_their_occurrences() {
        let cron = Schedule::from_settings(None, Some("*/5 * * * *")).unwrap();
        let start = Timestamp::from(1_700_000_000_000); // 22:13:20 UTC
        let next = cron.next_due(1, start);
        assert_eq!(next.as_millis() % (5 * MINUTE), 0);
        assert!(next.as_millis() - start.as_millis() <= 5 * MINUTE);
        assert_eq!(cron.period_after(1, next), Duration::from_secs(300));
    }
}
