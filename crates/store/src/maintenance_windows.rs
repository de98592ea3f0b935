//! Maintenance windows, stored as the user's validated document.

use crate::backend::{read, write};
use crate::{Result, Store, StoreError};
use sightline_core::{MaintenanceWindowSpec, Timestamp};

/// A stored maintenance window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    /// Stable id.
    pub id: i64,
    /// What the user configured.
    pub spec: MaintenanceWindowSpec,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct WindowRow {
    id: i64,
    spec: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<WindowRow> for MaintenanceWindow {
    type Error = StoreError;

    fn try_from(row: WindowRow) -> Result<Self> {
        let corrupt = |reason: String| StoreError::Corrupt {
            what: "maintenance window",
            id: row.id,
            reason,
        };
        let document = serde_json::from_str(&row.spec).map_err(|e| corrupt(e.to_string()))?;
        let spec =
            MaintenanceWindowSpec::from_json(document).map_err(|e| corrupt(e.to_string()))?;
        Ok(MaintenanceWindow {
            id: row.id,
            spec,
            created_at: row.created_at.into(),
            updated_at: row.updated_at.into(),
        })
    }
}

const COLUMNS: &str = "id, spec, created_at, updated_at";

fn name_taken(spec: &MaintenanceWindowSpec) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    StoreError::conflict_on("name", move || {
        format!("a maintenance window named `{}` already exists", spec.name)
    })
}

fn document(spec: &MaintenanceWindowSpec) -> String {
    serde_json::to_string(spec).unwrap_or_default()
}

impl Store {
    /// Stores a validated maintenance window.
    pub async fn create_maintenance_window(
        &self,
        spec: &MaintenanceWindowSpec,
    ) -> Result<MaintenanceWindow> {
        let now = self.now().as_millis();
        let sql = format!(
            "INSERT INTO maintenance_windows (name, spec, created_at, updated_at) \
             VALUES ($1, $2, $3, $3) RETURNING {COLUMNS}"
        );
        let row: WindowRow = write!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(&spec.name)
                .bind(document(spec))
                .bind(now)
                .fetch_one(pool)
                .await
        })
        .map_err(name_taken(spec))?;
        row.try_into()
    }

    /// Every maintenance window, by name.
    pub async fn list_maintenance_windows(&self) -> Result<Vec<MaintenanceWindow>> {
        let sql = format!("SELECT {COLUMNS} FROM maintenance_windows ORDER BY name");
        let rows: Vec<WindowRow> = read!(self.backend, |pool| sqlx::query_as(&sql)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(MaintenanceWindow::try_from).collect()
    }

    /// One maintenance window by id.
    pub async fn maintenance_window(&self, id: i64) -> Result<MaintenanceWindow> {
        let sql = format!("SELECT {COLUMNS} FROM maintenance_windows WHERE id = $1");
        let row: Option<WindowRow> = read!(self.backend, |pool| {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
        })?;
        row.ok_or(StoreError::NotFound("maintenance window"))?
            .try_into()
    }

    /// Replaces a maintenance window.
    pub async fn update_maintenance_window(
        &self,
        id: i64,
        spec: &MaintenanceWindowSpec,
    ) -> Result<MaintenanceWindow> {
        let now = self.now().as_millis();
        let sql = format!(
            "UPDATE maintenance_windows SET name = $1, spec = $2, updated_at = $3 \
             WHERE id = $4 RETURNING {COLUMNS}"
        );
        let row: Option<WindowRow> = write!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(&spec.name)
                .bind(document(spec))
                .bind(now)
                .bind(id)
                .fetch_optional(pool)
                .await
        })
        .map_err(name_taken(spec))?;
        row.ok_or(StoreError::NotFound("maintenance window"))?
            .try_into()
    }

    /// Removes a maintenance window.
    pub async fn delete_maintenance_window(&self, id: i64) -> Result<()> {
        let deleted = write!(self.backend, |pool| {
            sqlx::query("DELETE FROM maintenance_windows WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        if deleted == 0 {
            return Err(StoreError::NotFound("maintenance window"));
        }
        Ok(())
    }
}
