//! What a result changes: whether it needs a confirmation re-run, whether
//! it is a confirmed error and how much downtime that stands for, and the
//! monitor's new status. Only confirmed failures make a monitor `down`:
//! confirmed by a re-run from another checkpoint, or, for a monitor whose
//! checkpoints must agree, by enough of them failing the same due time.

use sightline_core::checkpoint;
use sightline_core::monitor::CheckOutcome;
use sightline_core::{MonitorSpec, Timestamp};
use sightline_store::{DueTimeResult, DueTimeVerdict};
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
    /// The monitor's checkpoints must agree: the due time is judged from
    /// all their results together ([`agreement`]) once this one is stored.
    pub judged_together: bool,
}

/// One finished check: which monitor, where, for which due time, and what
/// it found.
#[derive(Debug, Clone, Copy)]
pub struct Ran<'a> {
    /// The monitor's id.
    pub monitor_id: i64,
    /// Its settings.
    pub spec: &'a MonitorSpec,
    /// The checkpoint that ran it.
    pub checkpoint: &'a str,
    /// The due time it answers.
    pub due_at: Timestamp,
    /// 0 for the scheduled run, 1 and up for confirmations.
    pub attempt: i64,
    /// What it found.
    pub outcome: CheckOutcome,
}

/// Judges one result. `offline` says which checkpoints are offline: a
/// failure is confirmed from the next online checkpoint of the monitor.
pub fn consequence(
    ran: &Ran<'_>,
    in_maintenance: bool,
    offline: impl Fn(&str) -> bool,
) -> Consequence {
    let mut consequence = Consequence {
        confirm_from: None,
        confirmed_error: false,
        downtime: Duration::ZERO,
        status: None,
        judged_together: false,
    };
    if in_maintenance {
        consequence.status = Some("maintenance");
        return consequence;
    }
    if ran.spec.failures_needed() > 1 && ran.attempt == 0 {
        consequence.judged_together = true;
        return consequence;
    }
    match (ran.outcome, ran.attempt) {
        (CheckOutcome::Up, _) => consequence.status = Some("up"),
        (CheckOutcome::Degraded, _) => consequence.status = Some("degraded"),
        (CheckOutcome::Error, 0) => {
            let checkpoints = &ran.spec.settings.checkpoints;
            let elsewhere = checkpoint::next_online(checkpoints, ran.checkpoint, offline);
            consequence.confirm_from = Some(elsewhere.unwrap_or(ran.checkpoint).to_owned());
        }
        (CheckOutcome::Error, _) => {
            consequence.confirmed_error = true;
            consequence.status = Some("down");
            let sharing = ran.spec.settings.checkpoints.len().max(1) as u32;
            consequence.downtime = period(ran.spec, ran.monitor_id, ran.due_at) / sharing;
        }
    }
    consequence
}

/// The schedule period the due time stands for.
fn period(spec: &MonitorSpec, monitor_id: i64, due_at: Timestamp) -> Duration {
    spec.schedule()
        .map(|schedule| schedule.period_after(monitor_id, due_at))
        .unwrap_or(Duration::ZERO)
}

/// The verdict on a due time of a monitor whose checkpoints must agree
/// (`down_when_failing`), from the scheduled runs reported so far by the
/// `running` checkpoints that run it: down once enough of them failed (the
/// failures share the period's downtime), else the best status seen. Fewer
/// checkpoints running than the monitor asks to agree lowers the bar to
/// all of them.
pub fn agreement(
    monitor_id: i64,
    spec: &MonitorSpec,
    due_at: Timestamp,
    results: &[DueTimeResult],
    running: usize,
) -> DueTimeVerdict {
    let needed = spec.failures_needed().min(running.max(1));
    let failing: Vec<i64> = results
        .iter()
        .filter(|result| result.outcome == CheckOutcome::Error && !result.in_maintenance)
        .map(|result| result.id)
        .collect();
    let has = |outcome| results.iter().any(|result| result.outcome == outcome);
    let mut verdict = DueTimeVerdict {
        monitor_id,
        due_at,
        confirmed: Vec::new(),
        downtime_ms: 0,
        status: None,
        since: results
            .iter()
            .map(|result| result.started_at)
            .max()
            .unwrap_or(due_at),
    };
    if results.iter().any(|result| result.in_maintenance) {
        verdict.status = Some("maintenance");
    } else if failing.len() >= needed {
        let share = period(spec, monitor_id, due_at) / failing.len() as u32;
        verdict.downtime_ms = share.as_millis() as i64;
        verdict.confirmed = failing;
        verdict.status = Some("down");
    } else if has(CheckOutcome::Degraded) {
        verdict.status = Some("degraded");
    } else if has(CheckOutcome::Up) {
        verdict.status = Some("up");
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(checkpoints: &[&str], extra: serde_json::Value) -> MonitorSpec {
        let mut document = json!({"name": "m", "type": "http", "url": "https://x.test/",
            "every": "1m", "checkpoints": checkpoints});
        document
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        MonitorSpec::from_json(document).unwrap()
    }

    fn ran<'a>(spec: &'a MonitorSpec, at: &'a str, attempt: i64, outcome: CheckOutcome) -> Ran<'a> {
        Ran {
            monitor_id: 1,
            spec,
            checkpoint: at,
            due_at: Timestamp::from(1_800_000_000_000),
            attempt,
            outcome,
        }
    }

    const NONE_OFFLINE: fn(&str) -> bool = |_| false;

    #[test]
    fn a_failure_is_confirmed_from_another_checkpoint_before_it_counts() {
        let two = spec(&["local", "eu-west"], json!({}));
        let first = consequence(
            &ran(&two, "local", 0, CheckOutcome::Error),
            false,
            NONE_OFFLINE,
        );
        assert_eq!(first.confirm_from.as_deref(), Some("eu-west"));
        assert_eq!((first.confirmed_error, first.status), (false, None));
        let confirmed = consequence(
            &ran(&two, "eu-west", 1, CheckOutcome::Error),
            false,
            NONE_OFFLINE,
        );
        assert!(confirmed.confirmed_error);
        assert_eq!(confirmed.status, Some("down"));
        assert_eq!(
            confirmed.downtime,
            Duration::from_secs(30),
            "shared by two checkpoints"
        );
        let passed = consequence(
            &ran(&two, "eu-west", 1, CheckOutcome::Up),
            false,
            NONE_OFFLINE,
        );
        assert_eq!((passed.confirmed_error, passed.status), (false, Some("up")));

        let one = spec(&["local"], json!({}));
        let first = consequence(
            &ran(&one, "local", 0, CheckOutcome::Error),
            false,
            NONE_OFFLINE,
        );
        assert_eq!(first.confirm_from.as_deref(), Some("local"));

        let maintenance = consequence(
            &ran(&one, "local", 0, CheckOutcome::Error),
            true,
            NONE_OFFLINE,
        );
        assert_eq!(maintenance.confirm_from, None);
        assert_eq!(maintenance.status, Some("maintenance"));
    }

    #[test]
    fn a_failure_is_not_confirmed_from_an_offline_checkpoint() {
        let three = spec(&["east", "west", "north"], json!({}));
        let west_offline = |name: &str| name == "west";
        let first = consequence(
            &ran(&three, "east", 0, CheckOutcome::Error),
            false,
            west_offline,
        );
        assert_eq!(first.confirm_from.as_deref(), Some("north"));
        let alone = consequence(
            &ran(&three, "east", 0, CheckOutcome::Error),
            false,
            |name: &str| name != "east",
        );
        assert_eq!(
            alone.confirm_from.as_deref(),
            Some("east"),
            "no other is online"
        );
    }

    fn result(id: i64, outcome: CheckOutcome) -> DueTimeResult {
        DueTimeResult {
            id,
            checkpoint_id: id,
            outcome,
            in_maintenance: false,
            started_at: Timestamp::from(1_800_000_000_000 + id),
        }
    }

    #[test]
    fn checkpoints_that_must_agree_are_judged_together() {
        let four = spec(&["a", "b", "c", "d"], json!({"down_when_failing": 2}));
        let first = consequence(
            &ran(&four, "a", 0, CheckOutcome::Error),
            false,
            NONE_OFFLINE,
        );
        assert!(first.judged_together);
        assert_eq!((first.confirm_from, first.status), (None, None));

        let due = Timestamp::from(1_800_000_000_000);
        let one_failing = [result(1, CheckOutcome::Error), result(2, CheckOutcome::Up)];
        let verdict = agreement(1, &four, due, &one_failing, 4);
        assert_eq!((verdict.status, verdict.confirmed.len()), (Some("up"), 0));
        let only_failures = [result(1, CheckOutcome::Error)];
        assert_eq!(
            agreement(1, &four, due, &only_failures, 4).status,
            None,
            "no verdict yet"
        );

        let two_failing = [
            result(1, CheckOutcome::Error),
            result(2, CheckOutcome::Up),
            result(3, CheckOutcome::Error),
            result(4, CheckOutcome::Up),
        ];
        let verdict = agreement(1, &four, due, &two_failing, 4);
        assert_eq!(verdict.status, Some("down"));
        assert_eq!(verdict.confirmed, [1, 3]);
        assert_eq!(verdict.downtime_ms, 30_000, "the failures share the minute");
        assert_eq!(verdict.since, Timestamp::from(1_800_000_000_004));

        let alone = agreement(1, &four, due, &only_failures, 1);
        assert_eq!(
            alone.status,
            Some("down"),
            "one checkpoint running: its failure is enough"
        );
    }
}
