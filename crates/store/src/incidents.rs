//! Incidents: a monitor's time down, or a RUM site's real-user traffic
//! gone silent or slow, with its timeline.

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

/// What an incident is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentKind {
    /// A monitor is confirmed down.
    MonitorDown,
    /// A site's real-user traffic stopped while its checks pass.
    RumSilent,
    /// A Core Web Vital of a site is poor for real users.
    RumPerformance,
    /// A checkpoint stopped making contact.
    CheckpointOffline,
}

stored_names!(IncidentKind {
    MonitorDown = "monitor_down",
    RumSilent = "rum_silent",
    RumPerformance = "rum_performance",
    CheckpointOffline = "checkpoint_offline"
});

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Incident {
    /// Stable id.
    pub id: i64,
    /// What it is about.
    #[sqlx(try_from = "String")]
    pub kind: IncidentKind,
    /// The monitor that is down (`MonitorDown`).
    pub monitor_id: Option<i64>,
    /// The site whose real users it is about (the RUM kinds).
    pub site_id: Option<i64>,
    /// The checkpoint that is offline (`CheckpointOffline`).
    pub checkpoint_id: Option<i64>,
    /// How bad it is.
    #[sqlx(try_from = "String")]
    pub severity: Severity,
    /// What failed, in words.
    pub cause: String,
    /// The correlation with real-user traffic, once known.
    pub correlation: Option<String>,
    /// The incident of the monitor this one depends on, while that one is
    /// open: this incident's notifications are held back and the parent's
    /// name it.
    pub held_by: Option<i64>,
    /// When it opened.
    #[sqlx(try_from = "i64")]
    pub opened_at: Timestamp,
    /// When it closed, if it has.
    pub closed_at: Option<i64>,
    /// When someone said they are on it (Unix ms), if anyone has.
    pub acknowledged_at: Option<i64>,
    /// Who said so (an address, or a user's e-mail).
    pub acknowledged_by: Option<String>,
    /// What it was about, once that is gone (`monitor shop home`): a
    /// deleted monitor's incidents stay, closed, under its name.
    pub subject: Option<String>,
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
    /// Who wrote it (an acknowledgement, a comment); none for the engine's.
    pub author: Option<String>,
}

const INCIDENT_COLUMNS: &str = "id, kind, monitor_id, site_id, checkpoint_id, severity, cause, correlation, held_by, opened_at, closed_at, \
     acknowledged_at, acknowledged_by, subject";

impl Store {
    /// Opens an incident for a monitor, with an `opened` event. A monitor has
    /// at most one open incident: opening another returns the open one.
    pub async fn open_incident(
        &self,
        monitor_id: i64,
        severity: Severity,
        cause: &str,
    ) -> Result<Incident> {
        self.open(IncidentKind::MonitorDown, monitor_id, severity, cause)
            .await
    }

    /// Opens an incident of a RUM kind for a site, with an `opened` event. A
    /// site has at most one open incident of each kind: opening another
    /// returns the open one.
    pub async fn open_site_incident(
        &self,
        kind: IncidentKind,
        site_id: i64,
        severity: Severity,
        cause: &str,
    ) -> Result<Incident> {
        debug_assert!(matches!(
            kind,
            IncidentKind::RumSilent | IncidentKind::RumPerformance
        ));
        self.open(kind, site_id, severity, cause).await
    }

    /// Opens an incident for a checkpoint that stopped making contact, with
    /// an `opened` event. A checkpoint has at most one open incident:
    /// opening another returns the open one.
    pub async fn open_checkpoint_incident(
        &self,
        checkpoint_id: i64,
        severity: Severity,
        cause: &str,
    ) -> Result<Incident> {
        self.open(
            IncidentKind::CheckpointOffline,
            checkpoint_id,
            severity,
            cause,
        )
        .await
    }

    async fn open(
        &self,
        kind: IncidentKind,
        subject: i64,
        severity: Severity,
        cause: &str,
    ) -> Result<Incident> {
        let now = self.now().as_millis();
        let (column, conflict, subject_name) = match kind {
            IncidentKind::MonitorDown => ("monitor_id", "(monitor_id)", "monitor"),
            IncidentKind::CheckpointOffline => ("checkpoint_id", "(checkpoint_id)", "checkpoint"),
            IncidentKind::RumSilent | IncidentKind::RumPerformance => {
                ("site_id", "(site_id, kind)", "site")
            }
        };
        let insert = format!(
            "INSERT INTO incidents (kind, {column}, severity, cause, opened_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT {conflict} WHERE closed_at IS NULL DO NOTHING RETURNING {INCIDENT_COLUMNS}"
        );
        let open = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE kind = $1 AND {column} = $2 AND closed_at IS NULL"
        );
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let created: Option<Incident> = sqlx::query_as(&insert)
                .bind(kind.as_str())
                .bind(subject)
                .bind(severity.as_str())
                .bind(cause)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|error| match &error {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::NotFound(subject_name)
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
                        .bind(kind.as_str())
                        .bind(subject)
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
                 RETURNING id, incident_id, at, kind, message, author",
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

    /// Sets what the correlation with real-user traffic says about an
    /// incident, with a `classified` event when it changes. Returns whether
    /// it changed.
    pub async fn set_incident_correlation(
        &self,
        incident_id: i64,
        severity: Severity,
        correlation: &str,
        message: &str,
    ) -> Result<bool> {
        let now = self.now().as_millis();
        let updated = write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE incidents SET severity = $1, correlation = $2 WHERE id = $3 \
                 AND (correlation IS NULL OR correlation <> $2 OR severity <> $1)",
            )
            .bind(severity.as_str())
            .bind(correlation)
            .bind(incident_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM incidents WHERE id = $1")
                .bind(incident_id)
                .fetch_optional(&mut *tx)
                .await?;
            if changed == 1 {
                sqlx::query("INSERT INTO incident_events (incident_id, at, kind, message) VALUES ($1, $2, 'classified', $3)")
                    .bind(incident_id)
                    .bind(now)
                    .bind(message)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(exists.map(|_| changed == 1))
        })?;
        updated.ok_or(StoreError::NotFound("incident"))
    }

    /// Holds an incident back behind the incident of the monitor it depends
    /// on (`Some`), or releases it (`None`), with a timeline event saying
    /// why. Returns `false` when it was already so.
    pub async fn set_incident_held(
        &self,
        incident_id: i64,
        held_by: Option<i64>,
        message: &str,
    ) -> Result<bool> {
        let now = self.now().as_millis();
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE incidents SET held_by = $1 WHERE id = $2 AND closed_at IS NULL \
                 AND (held_by IS NULL) <> ($1 IS NULL)",
            )
            .bind(held_by)
            .bind(incident_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 1 {
                sqlx::query("INSERT INTO incident_events (incident_id, at, kind, message) VALUES ($1, $2, $3, $4)")
                    .bind(incident_id)
                    .bind(now)
                    .bind(if held_by.is_some() { "held" } else { "released" })
                    .bind(message)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(changed == 1)
        })
    }

    /// Records that `by` is on an open incident, with an `acknowledged`
    /// event (and their comment). The first acknowledgement stands: a later
    /// one changes nothing and gets the incident as it is. A closed
    /// incident is refused.
    pub async fn acknowledge_incident(
        &self,
        incident_id: i64,
        by: &str,
        comment: Option<&str>,
    ) -> Result<(Incident, bool)> {
        let now = self.now().as_millis();
        let update = format!(
            "UPDATE incidents SET acknowledged_at = $1, acknowledged_by = $2 \
             WHERE id = $3 AND closed_at IS NULL AND acknowledged_at IS NULL RETURNING {INCIDENT_COLUMNS}"
        );
        let select = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
        let message = match comment {
            Some(comment) => format!("{by} is on it: {comment}"),
            None => format!("{by} is on it"),
        };
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let acknowledged: Option<Incident> = sqlx::query_as(&update)
                .bind(now)
                .bind(by)
                .bind(incident_id)
                .fetch_optional(&mut *tx)
                .await?;
            let outcome = match acknowledged {
                Some(incident) => {
                    sqlx::query(
                        "INSERT INTO incident_events (incident_id, at, kind, message, author) \
                         VALUES ($1, $2, 'acknowledged', $3, $4)",
                    )
                    .bind(incident_id)
                    .bind(now)
                    .bind(&message)
                    .bind(by)
                    .execute(&mut *tx)
                    .await?;
                    Ok((incident, true))
                }
                None => {
                    let existing: Option<Incident> = sqlx::query_as(&select)
                        .bind(incident_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    match existing {
                        None => Err(StoreError::NotFound("incident")),
                        Some(incident) if incident.closed_at.is_some() => Err(StoreError::Refused(
                            "the incident is closed: there is nothing left to acknowledge"
                                .to_owned(),
                        )),
                        Some(incident) => Ok((incident, false)),
                    }
                }
            };
            tx.commit().await?;
            Ok::<_, sqlx::Error>(outcome)
        })?
    }

    /// Adds `author`'s comment to an incident's timeline.
    pub async fn comment_on_incident(
        &self,
        incident_id: i64,
        author: &str,
        text: &str,
    ) -> Result<IncidentEvent> {
        let now = self.now().as_millis();
        write!(self.backend, |pool| {
            sqlx::query_as(
                "INSERT INTO incident_events (incident_id, at, kind, message, author) VALUES ($1, $2, 'comment', $3, $4) \
                 RETURNING id, incident_id, at, kind, message, author",
            )
            .bind(incident_id)
            .bind(now)
            .bind(text)
            .bind(author)
            .fetch_one(pool)
            .await
        })
        .map_err(|error| match &error {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound("incident"),
            _ => StoreError::Database(error),
        })
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

    /// Incidents, newest first: only open ones, or all that opened since
    /// `since`; of one monitor, or of everything.
    pub async fn list_incidents(
        &self,
        open_only: bool,
        monitor_id: Option<i64>,
        since: Timestamp,
        limit: i64,
    ) -> Result<Vec<Incident>> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents \
             WHERE (closed_at IS NULL OR NOT $1) AND opened_at >= $2 \
             AND (monitor_id = $4 OR $4 IS NULL) ORDER BY opened_at DESC, id DESC LIMIT $3"
        );
        Ok(read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(open_only)
                .bind(since.as_millis())
                .bind(limit)
                .bind(monitor_id)
                .fetch_all(pool)
                .await
        })?)
    }

    /// Incidents that closed at or after `since`, oldest first: those whose
    /// recovery notice may still be due (it waits while the rest of the
    /// outage is down).
    pub async fn incidents_closed_since(&self, since: Timestamp) -> Result<Vec<Incident>> {
        self.closed_since(since, "").await
    }

    /// Acknowledged incidents that closed at or after `since`: someone was
    /// on their outage, and stays on what of it is still down.
    pub async fn acknowledged_incidents_closed_since(
        &self,
        since: Timestamp,
    ) -> Result<Vec<Incident>> {
        self.closed_since(since, " AND acknowledged_at IS NOT NULL")
            .await
    }

    async fn closed_since(&self, since: Timestamp, condition: &str) -> Result<Vec<Incident>> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE closed_at >= $1{condition} \
             ORDER BY closed_at, id"
        );
        Ok(read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(since.as_millis())
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
                "SELECT id, incident_id, at, kind, message, author FROM incident_events WHERE incident_id = $1 ORDER BY at, id",
            )
            .bind(incident_id)
            .fetch_all(pool)
            .await
        })?)
    }
}
