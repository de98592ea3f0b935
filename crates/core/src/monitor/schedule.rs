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
