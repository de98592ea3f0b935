//! Checkpoint ids by name, created on first use and remembered, so that the
//! scheduler and the result path do not ask the database every time; and
//! which checkpoints are offline, read at most once a second.

use sightline_core::checkpoint::DEFAULT_OFFLINE_AFTER;
use sightline_store::{Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a reading of which checkpoints are offline is used.
const PRESENCE_FRESH: Duration = Duration::from_secs(1);

/// Remembers checkpoint ids by name, and which checkpoints are offline.
#[derive(Debug)]
pub struct CheckpointDirectory {
    ids: Mutex<HashMap<String, i64>>,
    offline_after: Duration,
    presence: Mutex<Option<(Instant, Arc<Presence>)>>,
}

impl Default for CheckpointDirectory {
    fn default() -> Self {
        Self::new(DEFAULT_OFFLINE_AFTER)
    }
}

/// Which checkpoints were offline when last read.
#[derive(Debug, Clone, Default)]
pub struct Presence {
    offline: HashSet<String>,
    ids: HashMap<String, i64>,
}

impl Presence {
    /// Whether the checkpoint named so is offline. A name the store does not
    /// know yet is not: it is new.
    pub fn is_offline(&self, name: &str) -> bool {
        self.offline.contains(name)
    }

    /// The ids of the offline checkpoints.
    pub fn offline_ids(&self) -> Vec<i64> {
        self.offline
            .iter()
            .filter_map(|name| self.ids.get(name).copied())
            .collect()
    }

    /// The name of the checkpoint with this id.
    pub fn name_of(&self, id: i64) -> Option<&str> {
        self.ids
            .iter()
            .find(|(_, known)| **known == id)
            .map(|(name, _)| name.as_str())
    }
}

impl CheckpointDirectory {
    /// A directory in which a checkpoint silent for longer than
    /// `offline_after` is offline.
    pub fn new(offline_after: Duration) -> Self {
        CheckpointDirectory {
            ids: Mutex::new(HashMap::new()),
            offline_after,
            presence: Mutex::new(None),
        }
    }

    /// The id of the checkpoint with this name, creating it if need be.
    pub async fn id(&self, store: &Store, name: &str) -> Result<i64, StoreError> {
        if let Some(id) = self.known(name) {
            return Ok(id);
        }
        let checkpoint = store.ensure_checkpoint(name).await?;
        if let Ok(mut ids) = self.ids.lock() {
            ids.insert(name.to_owned(), checkpoint.id);
        }
        Ok(checkpoint.id)
    }

    fn known(&self, name: &str) -> Option<i64> {
        self.ids.lock().ok()?.get(name).copied()
    }

    /// Which checkpoints are offline now (read again once a second).
    pub async fn presence(&self, store: &Store) -> Result<Arc<Presence>, StoreError> {
        if let Ok(cached) = self.presence.lock()
            && let Some((read_at, presence)) = cached.as_ref()
            && read_at.elapsed() < PRESENCE_FRESH
        {
            return Ok(presence.clone());
        }
        let now = store.now();
        let checkpoints = store.list_checkpoints().await?;
        let presence = Arc::new(Presence {
            offline: checkpoints
                .iter()
                .filter(|c| c.is_offline(now, self.offline_after))
                .map(|c| c.name.clone())
                .collect(),
            ids: checkpoints.iter().map(|c| (c.name.clone(), c.id)).collect(),
        });
        if let Ok(mut cached) = self.presence.lock() {
            *cached = Some((Instant::now(), presence.clone()));
        }
        Ok(presence)
    }
}
