//! What a result changes: whether it needs a confirmation re-run, whether
//! it is a confirmed error and how much downtime that stands for, and the
//! monitor's new status. Only confirmed failures make a monitor `down`.

use sightline_core::monitor::CheckOutcome;
use sightline_core::{MonitorSpec, Timestamp};
use std::time::Duration;

/// The consequences of one result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consequence {
    /// Re-run at once from this checkpoint (by name), as attempt + 1.
    pub confirm_from: Option<String>,
    /// The failure is confirmed and counts against uptime.
    pub confirmed_error: bool,
    /// The downtime it stands for.
    pub downtime: Duration,
    /// The monitor's status after it, if it sets one.
    pub status: Option<&'static str>,
}

/// Judges one result of `spec` run at `checkpoint` for `due_at`.
pub fn consequence(
    monitor_id: i64,
    spec: &MonitorSpec,
    checkpoint: &str,
    due_at: Timestamp,
    attempt: i64,
    outcome: CheckOutcome,
    in_maintenance: bool,
) -> Consequence {
    let mut consequence = Consequence {
        confirm_from: None,
        confirmed_error: false,
        downtime: Duration::ZERO,
        status: None,
    };
    if in_maintenance {
        consequence.status = Some("maintenance");
        return consequence;
    }
    match (outcome, attempt) {
        (CheckOutcome::Up, _) => consequence.status = Some("up"),
        (CheckOutcome::Degraded, _) => consequence.status = Some("degraded"),
        (CheckOutcome::Error, 0) => {
            consequence.confirm_from = Some(confirming_checkpoint(spec, checkpoint));
        }
        (CheckOutcome::Error, _) => {
            consequence.confirmed_error = true;
            consequence.status = Some("down");
            let period = spec
                .schedule()
                .map(|schedule| schedule.period_after(monitor_id, due_at))
                .unwrap_or(Duration::ZERO);
            let sharing = spec.settings.checkpoints.len().max(1) as u32;
            consequence.downtime = period / sharing;
        }
    }
    consequence
}

/// The checkpoint that confirms a failure seen at `failed_at`: the next one
/// in the monitor's list, so that a problem of one location is not taken
/// for an outage; the same one when the monitor has only one.
fn confirming_checkpoint(spec: &MonitorSpec, failed_at: &str) -> String {
    let checkpoints = &spec.settings.checkpoints;
    match checkpoints.iter().position(|name| name == failed_at) {
        Some(index) => checkpoints[(index + 1) % checkpoints.len()].clone(),
        None => failed_at.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(checkpoints: &[&str]) -> MonitorSpec {
        MonitorSpec::from_json(
            json!({"name": "m", "type": "http", "url": "https://x.test/",
            "every": "1m", "checkpoints": checkpoints}),
        )
        .unwrap()
    }

    #[test]
    fn a_failure_is_confirmed_from_another_checkpoint_before_it_counts() {
        let due = Timestamp::from(1_800_000_000_000);
        let two = spec(&["local", "eu-west"]);
        let first = consequence(1, &two, "local", due, 0, CheckOutcome::Error, false);
        assert_eq!(first.confirm_from.as_deref(), Some("eu-west"));
        assert_eq!((first.confirmed_error, first.status), (false, None));
        let confirmed = consequence(1, &two, "eu-west", due, 1, CheckOutcome::Error, false);
        assert!(confirmed.confirmed_error);
        assert_eq!(confirmed.status, Some("down"));
        assert_eq!(
            confirmed.downtime,
            Duration::from_secs(30),
            "shared by two checkpoints"
        );
        let passed = consequence(1, &two, "eu-west", due, 1, CheckOutcome::Up, false);
        assert_eq!((passed.confirmed_error, passed.status), (false, Some("up")));

        let one = spec(&["local"]);
        let first = consequence(1, &one, "local", due, 0, CheckOutcome::Error, false);
        assert_eq!(first.confirm_from.as_deref(), Some("local"));

        let maintenance = consequence(1, &one, "local", due, 0, CheckOutcome::Error, true);
        assert_eq!(maintenance.confirm_from, None);
        assert_eq!(maintenance.status, Some("maintenance"));
    }
}
