//! Checking a failing monitor's relatives at once: when a check fails, the
//! other monitors of the same host, the monitor it depends on and those
//! that depend on it are run now instead of at their next slot. An outage
//! of a host is then found on all its monitors within seconds of the first,
//! so the alerting engine can tell each recipient about all of them in one
//! message, and knows whether a parent is down before it speaks of a child.

use crate::directory::CheckpointDirectory;
use sightline_core::Timestamp;
use sightline_store::{Monitor, NewJob, Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

/// A monitor is re-checked this way at most once in this long, however
/// many of its relatives fail. Measured on the store's clock, as the checks'
/// own schedule is.
const RECHECK_AGAIN_AFTER: Duration = Duration::from_secs(60);

/// Queues checks of the relatives of failing monitors.
#[derive(Debug, Default)]
pub struct RelatedChecks {
    last: Mutex<HashMap<i64, Timestamp>>,
}

impl RelatedChecks {
    /// Queues a check, due `now`, of every enabled relative of the monitors
    /// in `failing` that is not down already, has no check queued and was
    /// not re-checked this way within a minute. Returns how many monitors.
    pub async fn queue(
        &self,
        store: &Store,
        checkpoints: &CheckpointDirectory,
        failing: &[i64],
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let monitors = store.list_monitors().await?;
        let busy: HashSet<i64> = store.monitors_with_jobs().await?.into_iter().collect();
        let chosen: Vec<&Monitor> = relatives(&monitors, failing)
            .into_iter()
            .filter(|monitor| {
                monitor.spec.settings.enabled
                    && monitor.status != "down"
                    && !busy.contains(&monitor.id)
            })
            .filter(|monitor| self.claim(monitor.id, now))
            .collect();
        let mut jobs = Vec::new();
        for monitor in &chosen {
            for name in &monitor.spec.settings.checkpoints {
                jobs.push(NewJob {
                    monitor_id: monitor.id,
                    checkpoint_id: checkpoints.id(store, name).await?,
                    due_at: now,
                    attempt: 0,
                });
            }
        }
        store.enqueue_jobs(&jobs).await?;
        Ok(chosen.len())
    }

    /// Whether `monitor` may be re-checked at `now` (and notes that it is).
    fn claim(&self, monitor: i64, now: Timestamp) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        let since = now.minus(RECHECK_AGAIN_AFTER);
        last.retain(|_, at| *at > since && *at <= now);
        if last.contains_key(&monitor) {
            return false;
        }
        last.insert(monitor, now);
        true
    }
}

/// The monitors related to any in `failing` (not those themselves): same
/// host, the one each depends on, and those depending on each.
pub fn relatives<'a>(monitors: &'a [Monitor], failing: &[i64]) -> Vec<&'a Monitor> {
    let failing: Vec<&Monitor> = monitors
        .iter()
        .filter(|monitor| failing.contains(&monitor.id))
        .collect();
    monitors
        .iter()
        .filter(|candidate| !failing.iter().any(|f| f.id == candidate.id))
        .filter(|candidate| {
            failing
                .iter()
                .any(|failed| failed.spec.is_related(&candidate.spec))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_monitor_is_rechecked_once_a_minute_on_the_stores_clock() {
        let related = RelatedChecks::default();
        let start = Timestamp::from_millis(1_800_000_000_000);
        assert!(related.claim(7, start));
        assert!(!related.claim(7, start.plus(Duration::from_secs(59))));
        assert!(related.claim(8, start.plus(Duration::from_secs(59))));
        // A minute on the store's clock, however little real time passed.
        assert!(related.claim(7, start.plus(RECHECK_AGAIN_AFTER)));
        // A clock set back does not lock a monitor out for longer.
        assert!(related.claim(7, start));
    }
}
