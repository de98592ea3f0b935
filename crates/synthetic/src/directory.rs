//! Checkpoint ids by name, created on first use and remembered, so that the
//! scheduler and the result path do not ask the database every time.

use sightline_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;

/// Remembers checkpoint ids by name.
#[derive(Debug, Default)]
pub struct CheckpointDirectory {
    ids: Mutex<HashMap<String, i64>>,
}

impl CheckpointDirectory {
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
}
