//! The audit log: who created, changed or deleted what in the
//! configuration, when, from where, with the object before and after.
//! Entries outlive the people who made them and go only by retention.

use crate::backend::{read, write};
use crate::{Result, Store, StoreError};
use serde_json::Value;
use sightline_core::Timestamp;

/// A change to record. `before` and `after` are the object as the API shows
/// it (absent for a creation and a deletion respectively); the caller has
/// already left out anything secret.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// The user who made the change, while the account exists.
    pub actor_id: Option<i64>,
    /// Who made it, as they were known then: an e-mail address, or
    /// `command line` for the CLI run on the server.
    pub actor: String,
    /// How they proved it: `session`, `token`, `command line`.
    pub credential: String,
    /// The client's address, when the change came over the network.
    pub address: Option<String>,
    /// `created`, `changed` or `deleted`.
    pub action: String,
    /// What kind of object: `monitor`, `site`, `user`…
    pub kind: String,
    /// The object's id (or a secret's name), when it has one.
    pub object_id: Option<String>,
    /// The object's name when the change was made.
    pub object_name: Option<String>,
    /// The object before the change.
    pub before: Option<Value>,
    /// The object after the change.
    pub after: Option<Value>,
}

/// A recorded change.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Stable id; later entries have larger ids.
    pub id: i64,
    /// When the change was made.
    pub at: Timestamp,
    /// The change itself.
    pub entry: NewAuditEntry,
}

/// Which entries to read: every filter given must match.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only this kind of object.
    pub kind: Option<String>,
    /// Only this object (with `kind`).
    pub object_id: Option<String>,
    /// Only changes by this actor (an e-mail address).
    pub actor: Option<String>,
    /// Only entries older than this id: the next page.
    pub before_id: Option<i64>,
    /// At most this many, newest first.
    pub limit: u32,
}

const COLUMNS: &str = "id, at, actor_id, actor, credential, address, action, kind, object_id, object_name, before_json, after_json";

impl Store {
    /// Records a change, stamped with the store's clock.
    pub async fn record_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry> {
        let now = self.now().as_millis();
        let json = |value: &Option<Value>| value.as_ref().map(Value::to_string);
        let sql = format!(
            "INSERT INTO audit_log (at, actor_id, actor, credential, address, action, kind, object_id, object_name, before_json, after_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {COLUMNS}"
        );
        let row: AuditRow = write!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(now)
                .bind(entry.actor_id)
                .bind(&entry.actor)
                .bind(&entry.credential)
                .bind(&entry.address)
                .bind(&entry.action)
                .bind(&entry.kind)
                .bind(&entry.object_id)
                .bind(&entry.object_name)
                .bind(json(&entry.before))
                .bind(json(&entry.after))
                .fetch_one(pool)
                .await
        })?;
        row.try_into()
    }

    /// Entries matching `query`, newest first.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log \
             WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR object_id = $2) \
               AND ($3 IS NULL OR actor = $3) AND ($4 IS NULL OR id < $4) \
             ORDER BY id DESC LIMIT $5"
        );
        let rows: Vec<AuditRow> = read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(&query.kind)
                .bind(&query.object_id)
                .bind(&query.actor)
                .bind(query.before_id)
                .bind(i64::from(query.limit))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(AuditEntry::try_from).collect()
    }

    /// Deletes the entries made before `cutoff` (retention); answers how many.
    pub async fn delete_audit_before(&self, cutoff: Timestamp) -> Result<u64> {
        Ok(write!(self.backend, |pool| {
            sqlx::query("DELETE FROM audit_log WHERE at < $1")
                .bind(cutoff.as_millis())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?)
    }
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    actor_id: Option<i64>,
    actor: String,
    credential: String,
    address: Option<String>,
    action: String,
    kind: String,
    object_id: Option<String>,
    object_name: Option<String>,
    before_json: Option<String>,
    after_json: Option<String>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self> {
        let parse = |text: Option<String>| -> Result<Option<Value>> {
            text.map(|text| {
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                    what: "audit entry",
                    id: row.id,
                    reason: e.to_string(),
                })
            })
            .transpose()
        };
        Ok(AuditEntry {
            id: row.id,
            at: Timestamp::from_millis(row.at),
            entry: NewAuditEntry {
                actor_id: row.actor_id,
                actor: row.actor,
                credential: row.credential,
                address: row.address,
                action: row.action,
                kind: row.kind,
                object_id: row.object_id,
                object_name: row.object_name,
                before: parse(row.before_json)?,
                after: parse(row.after_json)?,
            },
        })
    }
}
