//! Configuration stored as the user's validated document under a unique
//! name (maintenance windows, alert policies): one implementation of
//! create, list, read, replace and delete for every such kind.

use crate::backend::{read, write};
use crate::{Result, Store, StoreError};
use sightline_core::{AlertPolicySpec, MaintenanceWindowSpec, Timestamp, ValidationError};

/// A kind of named document and the table it lives in.
pub trait NamedDocument: Sized {
    /// The table: `id, name UNIQUE, spec, created_at, updated_at`.
    const TABLE: &'static str;
    /// What one is called in errors (`maintenance window`).
    const WHAT: &'static str;
    /// Its unique name.
    fn name(&self) -> &str;
    /// Parses and validates a stored document.
    fn parse(document: serde_json::Value) -> std::result::Result<Self, ValidationError>;
    /// The document as stored.
    fn text(&self) -> String;
}

impl NamedDocument for MaintenanceWindowSpec {
    const TABLE: &'static str = "maintenance_windows";
    const WHAT: &'static str = "maintenance window";
    fn name(&self) -> &str {
        &self.name
    }
    fn parse(document: serde_json::Value) -> std::result::Result<Self, ValidationError> {
        Self::from_json(document)
    }
    fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl NamedDocument for AlertPolicySpec {
    const TABLE: &'static str = "alert_policies";
    const WHAT: &'static str = "alert policy";
    fn name(&self) -> &str {
        &self.name
    }
    fn parse(document: serde_json::Value) -> std::result::Result<Self, ValidationError> {
        Self::from_json(document)
    }
    fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<T> {
    /// Stable id.
    pub id: i64,
    /// What the user configured.
    pub spec: T,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct DocumentRow {
    id: i64,
    spec: String,
    created_at: i64,
    updated_at: i64,
}

impl DocumentRow {
    fn into_stored<T: NamedDocument>(self) -> Result<Stored<T>> {
        let corrupt = |reason: String| StoreError::Corrupt {
            what: T::WHAT,
            id: self.id,
            reason,
        };
        let document = serde_json::from_str(&self.spec).map_err(|e| corrupt(e.to_string()))?;
        let spec = T::parse(document).map_err(|e| corrupt(e.to_string()))?;
        Ok(Stored {
            id: self.id,
            spec,
            created_at: self.created_at.into(),
            updated_at: self.updated_at.into(),
        })
    }
}

const COLUMNS: &str = "id, spec, created_at, updated_at";

fn name_taken<T: NamedDocument>(spec: &T) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    StoreError::conflict_on("name", move || {
        format!("a {} named `{}` already exists", T::WHAT, spec.name())
    })
}

impl Store {
    /// Stores a validated document.
    pub async fn create_document<T: NamedDocument>(&self, spec: &T) -> Result<Stored<T>> {
        let now = self.now().as_millis();
        let sql = format!(
            "INSERT INTO {} (name, spec, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING {COLUMNS}",
            T::TABLE
        );
        let row: DocumentRow = write!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(spec.name())
                .bind(spec.text())
                .bind(now)
                .fetch_one(pool)
                .await
        })
        .map_err(name_taken(spec))?;
        row.into_stored()
    }

    /// Every document of a kind, by name.
    pub async fn list_documents<T: NamedDocument>(&self) -> Result<Vec<Stored<T>>> {
        let sql = format!("SELECT {COLUMNS} FROM {} ORDER BY name", T::TABLE);
        let rows: Vec<DocumentRow> = read!(self.backend, |pool| sqlx::query_as(&sql)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(DocumentRow::into_stored).collect()
    }

    /// One document by id.
    pub async fn document<T: NamedDocument>(&self, id: i64) -> Result<Stored<T>> {
        let sql = format!("SELECT {COLUMNS} FROM {} WHERE id = $1", T::TABLE);
        let row: Option<DocumentRow> = read!(self.backend, |pool| {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
        })?;
        row.ok_or(StoreError::NotFound(T::WHAT))?.into_stored()
    }

    /// Replaces a document.
    pub async fn update_document<T: NamedDocument>(&self, id: i64, spec: &T) -> Result<Stored<T>> {
        let now = self.now().as_millis();
        let sql = format!(
            "UPDATE {} SET name = $1, spec = $2, updated_at = $3 WHERE id = $4 RETURNING {COLUMNS}",
            T::TABLE
        );
        let row: Option<DocumentRow> = write!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(spec.name())
                .bind(spec.text())
                .bind(now)
                .bind(id)
                .fetch_optional(pool)
                .await
        })
        .map_err(name_taken(spec))?;
        row.ok_or(StoreError::NotFound(T::WHAT))?.into_stored()
    }

    /// Removes a document.
    pub async fn delete_document<T: NamedDocument>(&self, id: i64) -> Result<()> {
        let sql = format!("DELETE FROM {} WHERE id = $1", T::TABLE);
        let deleted = write!(self.backend, |pool| {
            sqlx::query(&sql)
                .bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        if deleted == 0 {
            return Err(StoreError::NotFound(T::WHAT));
        }
        Ok(())
    }
}
