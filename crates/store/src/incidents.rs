//! Incidents: a monitor's time down, with its timeline.

use crate::backend::{read, write};
use crate::stored_names::stored_names;
use crate::{Result, Store, StoreError};
use sightline_core::Timestamp;

/// How bad an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Real users are affected.
    Critical,
    /// Something is wrong that may not reach users.
    Warning,
    /// Worth knowing.
    Info,
}

stored_names!(Severity { Critical = "critical", Warning = "warning", Info = "info" });

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Incident {
    /// Stable id.
    pub id: i64,
    /// The monitor that is down.
    pub monitor_id: i64,
    /// How bad it is.
    #[sqlx(try_from = "String")]
    pub severity: Severity,
    /// What failed, in words.
    pub cause: String,
    /// The correlation with real-user traffic, once known.
    pub correlation: Option<String>,
    /// When it opened.
    #[sqlx(try_from = "i64")]
    pub opened_at: Timestamp,
    /// When it closed, if it has.
    pub closed_at: Option<i64>,
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IncidentEvent {
    /// Stable id.
    pub id: i64,
    /// The incident.
    pub incident_id: i64,
    /// When it happened.
    #[sqlx(try_from = "i64")]
    pub at: Timestamp,
    /// A stable machine name (`opened`, `confirmed`, `notified`, `recovered`).
    pub kind: String,
    /// What happened, in words.
    pub message: String,
}

const INCIDENT_COLUMNS: &str = "id, monitor_id, severity, cause, correlation, opened_at, closed_at";

impl Store {
    /// Opens an incident for a monitor, with an `opened` event. A monitor has
    /// at most one open incident: opening another returns the open one.
    pub async fn open_incident(
        &self,
        monitor_id: i64,
        severity: Severity,
        cause: &str,
    ) -> Result<Incident> {
        let now = self.now().as_millis();
        let insert = format!(
            "INSERT INTO incidents (monitor_id, severity, cause, opened_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (monitor_id) WHERE closed_at IS NULL DO NOTHING RETURNING {INCIDENT_COLUMNS}"
        );
        let open = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE monitor_id = $1 AND closed_at IS NULL"
        );
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let created: Option<Incident> = sqlx::query_as(&insert)
                .bind(monitor_id)
                .bind(severity.as_str())
                .bind(cause)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|error| match &error {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::NotFound("monitor")
                    }
                    _ => StoreError::Database(error),
                })?;
            let incident = match created {
                Some(incident) => {
                    sqlx::query("INSERT INTO incident_events (incident_id, at, kind, message) VALUES ($1, $2, 'opened', $3)")
                        .bind(incident.id)
                        .bind(now)
                        .bind(cause)
                        .execute(&mut *tx)
                        .await?;
                    incident
                }
                None => {
                    sqlx::query_as(&open)
                        .bind(monitor_id)
                        .fetch_one(&mut *tx)
                        .await?
                }
            };
            tx.commit().await?;
            Ok(incident)
        })
    }

    /// Adds a line to an incident's timeline.
    pub async fn add_incident_event(
        &self,
        incident_id: i64,
        kind: &str,
        message: &str,
    ) -> Result<IncidentEvent> {
        let now = self.now().as_millis();
        write!(self.backend, |pool| {
            sqlx::query_as(
                "INSERT INTO incident_events (incident_id, at, kind, message) VALUES ($1, $2, $3, $4) \
                 RETURNING id, incident_id, at, kind, message",
            )
            .bind(incident_id)
            .bind(now)
            .bind(kind)
            .bind(message)
            .fetch_one(pool)
            .await
        })
        .map_err(|error| match &error {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound("incident"),
            _ => StoreError::Database(error),
        })
    }

    /// Sets what the correlation with real-user traffic says about an incident.
    pub async fn set_incident_correlation(
        &self,
        incident_id: i64,
        severity: Severity,
        correlation: &str,
    ) -> Result<()> {
        let updated = write!(self.backend, |pool| {
            sqlx::query("UPDATE incidents SET severity = $1, correlation = $2 WHERE id = $3")
                .bind(severity.as_str())
                .bind(correlation)
                .bind(incident_id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound("incident"));
        }
        Ok(())
    }

    /// Closes an incident with a `recovered` event. Closing a closed incident
    /// changes nothing.
    pub async fn close_incident(&self, incident_id: i64, message: &str) -> Result<Incident> {
        let now = self.now().as_millis();
        let close = format!(
            "UPDATE incidents SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL RETURNING {INCIDENT_COLUMNS}"
        );
        let select = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let closed: Option<Incident> = sqlx::query_as(&close)
                .bind(now)
                .bind(incident_id)
                .fetch_optional(&mut *tx)
                .await?;
            let incident = match closed {
                Some(incident) => {
                    sqlx::query("INSERT INTO incident_events (incident_id, at, kind, message) VALUES ($1, $2, 'recovered', $3)")
                        .bind(incident_id)
                        .bind(now)
                        .bind(message)
                        .execute(&mut *tx)
                        .await?;
                    incident
                }
                None => {
                    let existing: Option<Incident> = sqlx::query_as(&select)
                        .bind(incident_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    existing.ok_or(StoreError::NotFound("incident"))?
                }
            };
            tx.commit().await?;
            Ok(incident)
        })
    }

    /// Incidents, newest first: only open ones, or all that opened since `since`.
    pub async fn list_incidents(
        &self,
        open_only: bool,
        since: Timestamp,
        limit: i64,
    ) -> Result<Vec<Incident>> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents \
             WHERE (closed_at IS NULL OR NOT $1) AND opened_at >= $2 ORDER BY opened_at DESC, id DESC LIMIT $3"
        );
        Ok(read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(open_only)
                .bind(since.as_millis())
                .bind(limit)
                .fetch_all(pool)
                .await
        })?)
    }

    /// One incident by id.
    pub async fn incident(&self, id: i64) -> Result<Incident> {
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
        read!(self.backend, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?
        .ok_or(StoreError::NotFound("incident"))
    }

    /// An incident's timeline, oldest first.
    pub async fn incident_events(&self, incident_id: i64) -> Result<Vec<IncidentEvent>> {
        Ok(read!(self.backend, |pool| {
            sqlx::query_as(
                "SELECT id, incident_id, at, kind, message FROM incident_events WHERE incident_id = $1 ORDER BY at, id",
            )
            .bind(incident_id)
            .fetch_all(pool)
            .await
        })?)
    }
}
