//! Checkpoints coming and going: when one counts as offline, which
//! checkpoints run a monitor's checks while some are offline, and which one
//! takes over (or confirms) a check of another.

use crate::Timestamp;
use std::time::Duration;

/// How long a checkpoint may go without contact before it is offline, unless
/// the server is told otherwise. Agents lease work every second or so, so a
/// minute of silence is not a slow lease.
pub const DEFAULT_OFFLINE_AFTER: Duration = Duration::from_secs(60);

/// Whether a checkpoint last heard from at `last_contact` is offline at `now`.
pub fn is_offline(last_contact: Timestamp, now: Timestamp, offline_after: Duration) -> bool {
    now.as_millis() - last_contact.as_millis() > offline_after.as_millis() as i64
}

/// The checkpoints of `named` (a monitor's list) that run its checks: those
/// not offline. None when every one is offline: the monitor is not checked
/// until one comes back, rather than piling up checks that would all run
/// late at once.
pub fn running(named: &[String], offline: impl Fn(&str) -> bool) -> Vec<&str> {
    named
        .iter()
        .map(String::as_str)
        .filter(|name| !offline(name))
        .collect()
}

/// The first checkpoint of `named` after `from`, going round the list, that
/// is not offline and is not `from`: where a failure seen at `from` is
/// confirmed, or where a check of an offline `from` moves. `None` when no
/// other checkpoint of the list is online.
pub fn next_online<'a>(
    named: &'a [String],
    from: &str,
    offline: impl Fn(&str) -> bool,
) -> Option<&'a str> {
    let start = named
        .iter()
        .position(|name| name == from)
        .map_or(0, |at| at + 1);
    (0..named.len())
        .map(|step| named[(start + step) % named.len()].as_str())
        .find(|name| *name != from && !offline(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn a_checkpoint_is_offline_once_it_has_been_silent_too_long() {
        let seen = Timestamp::from(1_000_000);
        let after = Duration::from_secs(60);
        assert!(!is_offline(seen, seen.plus(after), after));
        assert!(is_offline(
            seen,
            seen.plus(after).plus(Duration::from_millis(1)),
            after
        ));
    }

    #[test]
    fn offline_checkpoints_hand_their_checks_to_the_others() {
        let named = names(&["east", "west", "north"]);
        let west_down = |name: &str| name == "west";
        assert_eq!(running(&named, west_down), ["east", "north"]);
        assert!(running(&named, |_| true).is_empty());
        assert_eq!(next_online(&named, "west", west_down), Some("north"));
        assert_eq!(next_online(&named, "east", west_down), Some("north"));
        assert_eq!(next_online(&named, "north", west_down), Some("east"));
        assert_eq!(next_online(&named, "north", |name| name != "north"), None);
        assert_eq!(next_online(&names(&["local"]), "local", |_| false), None);
    }
}
