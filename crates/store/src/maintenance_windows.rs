//! Maintenance windows, stored as named documents.

use crate::named_documents::Stored;
use crate::{Result, Store};
use sightline_core::MaintenanceWindowSpec;

/// A stored maintenance window.
pub type MaintenanceWindow = Stored<MaintenanceWindowSpec>;

impl Store {
    /// Stores a validated maintenance window.
    pub async fn create_maintenance_window(
        &self,
        spec: &MaintenanceWindowSpec,
    ) -> Result<MaintenanceWindow> {
        self.create_document(spec).await
    }

    /// Every maintenance window, by name.
    pub async fn list_maintenance_windows(&self) -> Result<Vec<MaintenanceWindow>> {
        self.list_documents().await
    }

    /// One maintenance window by id.
    pub async fn maintenance_window(&self, id: i64) -> Result<MaintenanceWindow> {
        self.document(id).await
    }

    /// Replaces a maintenance window.
    pub async fn update_maintenance_window(
        &self,
        id: i64,
        spec: &MaintenanceWindowSpec,
    ) -> Result<MaintenanceWindow> {
        self.update_document(id, spec).await
    }

    /// Removes a maintenance window.
    pub async fn delete_maintenance_window(&self, id: i64) -> Result<()> {
        self.delete_document::<MaintenanceWindowSpec>(id).await
    }
}
