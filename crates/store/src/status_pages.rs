//! Status pages (named documents, the slug their name), the incidents
//! people write on them with their updates, and what a page's daily bars
//! are made of: the monitors' daily summaries and outages.

use crate::backend::{read, write};
use crate::check_summaries::{DAY_MS, UptimeCounts};
use crate::named_documents::{NamedDocument, Stored};
use crate::{Result, Store, StoreError};
use sightline_core::status_page::IncidentState;
use sightline_core::{StatusPageSpec, Timestamp, ValidationError};

/// A stored status page.
pub type StatusPage = Stored<StatusPageSpec>;

impl NamedDocument for StatusPageSpec {
    const TABLE: &'static str = "status_pages";
    const WHAT: &'static str = "status page";
    fn name(&self) -> &str {
        &self.slug
    }
    fn parse(document: serde_json::Value) -> std::result::Result<Self, ValidationError> {
        Self::from_json(document)
    }
    fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// An incident written on a status page, with its updates, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusIncident {
    /// Stable id.
    pub id: i64,
    /// The page it is on.
    pub page_id: i64,
    /// Its headline (`Checkout is slow`).
    pub title: String,
    /// The names of the components it affects.
    pub components: Vec<String>,
    /// Set when the server opened it for a confirmed outage: which one.
    pub auto_key: Option<String>,
    /// When it was posted.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When an update said it was resolved (and none reopened it since).
    pub resolved_at: Option<Timestamp>,
    /// What was said, oldest first.
    pub updates: Vec<StatusUpdate>,
}

impl StatusIncident {
    /// Where it stands: the state of its latest update.
    pub fn state(&self) -> IncidentState {
        self.updates
            .last()
            .map_or(IncidentState::Investigating, |update| update.state)
    }
}

/// One update of a written incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    /// Stable id.
    pub id: i64,
    /// The incident's state as of this update.
    pub state: IncidentState,
    /// What it says.
    pub message: String,
    /// Who wrote it (an e-mail address), or none when the server did.
    pub author: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// What a new incident starts with.
#[derive(Debug, Clone)]
pub struct NewStatusIncident<'a> {
    /// The page it goes on.
    pub page_id: i64,
    /// Its headline.
    pub title: &'a str,
    /// The names of the components it affects.
    pub components: &'a [String],
    /// For one the server opens: what it is about, so that it is opened once.
    pub auto_key: Option<&'a str>,
    /// Its first update.
    pub state: IncidentState,
    /// What the first update says.
    pub message: &'a str,
    /// Who posts it.
    pub author: Option<&'a str>,
}

#[derive(sqlx::FromRow)]
struct IncidentRow {
    id: i64,
    page_id: i64,
    title: String,
    components: String,
    auto_key: Option<String>,
    created_at: i64,
    updated_at: i64,
    resolved_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct UpdateRow {
    id: i64,
    incident_id: i64,
    state: String,
    message: String,
    author: Option<String>,
    at: i64,
}

const INCIDENT_COLUMNS: &str =
    "id, page_id, title, components, auto_key, created_at, updated_at, resolved_at";
const UPDATE_COLUMNS: &str = "id, incident_id, state, message, author, at";

fn assemble(incidents: Vec<IncidentRow>, updates: Vec<UpdateRow>) -> Result<Vec<StatusIncident>> {
    let mut assembled = Vec::with_capacity(incidents.len());
    for row in incidents {
        let components: Vec<String> =
            serde_json::from_str(&row.components).map_err(|e| StoreError::Corrupt {
                what: "status incident",
                id: row.id,
                reason: e.to_string(),
            })?;
        assembled.push(StatusIncident {
            id: row.id,
            page_id: row.page_id,
            title: row.title,
            components,
            auto_key: row.auto_key,
            created_at: row.created_at.into(),
            updated_at: row.updated_at.into(),
            resolved_at: row.resolved_at.map(Timestamp::from),
            updates: Vec::new(),
        });
    }
    for row in updates {
        let state = row.state.parse().map_err(|reason| StoreError::Corrupt {
            what: "status incident update",
            id: row.id,
            reason,
        })?;
        if let Some(incident) = assembled.iter_mut().find(|i| i.id == row.incident_id) {
            incident.updates.push(StatusUpdate {
                id: row.id,
                state,
                message: row.message,
                author: row.author,
                at: row.at.into(),
            });
        }
    }
    for incident in &mut assembled {
        incident
            .updates
            .sort_by_key(|update| (update.at, update.id));
    }
    Ok(assembled)
}

/// A monitor's day as its daily summary has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorDay {
    /// The monitor.
    pub monitor_id: i64,
    /// The day's first millisecond (UTC).
    pub day: Timestamp,
    /// Its checks, confirmed errors and downtime.
    pub counts: UptimeCounts,
}

/// A span a monitor was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutageSpan {
    /// The monitor.
    pub monitor_id: i64,
    /// From the first failure of the confirmed streak.
    pub started_at: Timestamp,
    /// To the result that ended it; none while it lasts.
    pub ended_at: Option<Timestamp>,
}

impl Store {
    /// Posts an incident with its first update. One the server opens
    /// (`auto_key`) is posted once: `None` when it was already.
    pub async fn create_status_incident(
        &self,
        new: &NewStatusIncident<'_>,
    ) -> Result<Option<StatusIncident>> {
        let now = self.now().as_millis();
        let components = serde_json::to_string(new.components).unwrap_or_else(|_| "[]".into());
        let resolved_at = (new.state == IncidentState::Resolved).then_some(now);
        let insert = "INSERT INTO status_incidents (page_id, title, components, auto_key, created_at, updated_at, resolved_at) \
             VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (page_id, auto_key) DO NOTHING RETURNING id";
        let id: Option<i64> = write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let id: Option<i64> = sqlx::query_scalar(insert)
                .bind(new.page_id)
                .bind(new.title)
                .bind(&components)
                .bind(new.auto_key)
                .bind(now)
                .bind(resolved_at)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|error| match &error {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::NotFound("status page")
                    }
                    _ => StoreError::Database(error),
                })?;
            if let Some(id) = id {
                sqlx::query(
                    "INSERT INTO status_incident_updates (incident_id, state, message, author, at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(new.state.as_str())
                .bind(new.message)
                .bind(new.author)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            id
        });
        match id {
            Some(id) => Ok(Some(self.status_incident(id).await?)),
            None => Ok(None),
        }
    }

    /// One written incident with its updates.
    pub async fn status_incident(&self, id: i64) -> Result<StatusIncident> {
        let select = format!("SELECT {INCIDENT_COLUMNS} FROM status_incidents WHERE id = $1");
        let updates =
            format!("SELECT {UPDATE_COLUMNS} FROM status_incident_updates WHERE incident_id = $1");
        let (incident, updates): (Option<IncidentRow>, Vec<UpdateRow>) =
            read!(self.backend, |pool| {
                (
                    sqlx::query_as(&select)
                        .bind(id)
                        .fetch_optional(pool)
                        .await?,
                    sqlx::query_as(&updates).bind(id).fetch_all(pool).await?,
                )
            });
        let incident = incident.ok_or(StoreError::NotFound("status incident"))?;
        Ok(assemble(vec![incident], updates)?.remove(0))
    }

    /// A page's incidents still open, and those posted since `since`,
    /// newest first.
    pub async fn status_incidents(
        &self,
        page_id: i64,
        since: Timestamp,
    ) -> Result<Vec<StatusIncident>> {
        let filter =
            "page_id = $1 AND (resolved_at IS NULL OR created_at >= $2 OR resolved_at >= $2)";
        let select = format!(
            "SELECT {INCIDENT_COLUMNS} FROM status_incidents WHERE {filter} ORDER BY created_at DESC, id DESC"
        );
        let updates = format!(
            "SELECT {UPDATE_COLUMNS} FROM status_incident_updates WHERE incident_id IN \
             (SELECT id FROM status_incidents WHERE {filter})"
        );
        let since = since.as_millis();
        let (incidents, updates): (Vec<IncidentRow>, Vec<UpdateRow>) =
            read!(self.backend, |pool| {
                (
                    sqlx::query_as(&select)
                        .bind(page_id)
                        .bind(since)
                        .fetch_all(pool)
                        .await?,
                    sqlx::query_as(&updates)
                        .bind(page_id)
                        .bind(since)
                        .fetch_all(pool)
                        .await?,
                )
            });
        assemble(incidents, updates)
    }

    /// Changes an incident's title and the components it affects.
    pub async fn edit_status_incident(
        &self,
        id: i64,
        title: &str,
        components: &[String],
    ) -> Result<StatusIncident> {
        let now = self.now().as_millis();
        let components = serde_json::to_string(components).unwrap_or_else(|_| "[]".into());
        let changed = write!(self.backend, |pool| {
            sqlx::query(
                "UPDATE status_incidents SET title = $1, components = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(title)
            .bind(&components)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if changed == 0 {
            return Err(StoreError::NotFound("status incident"));
        }
        self.status_incident(id).await
    }

    /// Adds an update: the incident takes its state (resolved, or open
    /// again).
    pub async fn add_status_update(
        &self,
        id: i64,
        state: IncidentState,
        message: &str,
        author: Option<&str>,
    ) -> Result<StatusIncident> {
        let now = self.now().as_millis();
        let resolved_at = (state == IncidentState::Resolved).then_some(now);
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE status_incidents SET updated_at = $1, \
                 resolved_at = CASE WHEN $2 IS NULL THEN NULL ELSE COALESCE(resolved_at, $2) END \
                 WHERE id = $3",
            )
            .bind(now)
            .bind(resolved_at)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(StoreError::NotFound("status incident"));
            }
            sqlx::query(
                "INSERT INTO status_incident_updates (incident_id, state, message, author, at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(state.as_str())
            .bind(message)
            .bind(author)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        self.status_incident(id).await
    }

    /// Resolves an incident with a last update, unless it is resolved
    /// already: of several processes doing so at once, one does. The
    /// incident when this call resolved it.
    pub async fn resolve_status_incident_once(
        &self,
        id: i64,
        message: &str,
    ) -> Result<Option<StatusIncident>> {
        let now = self.now().as_millis();
        let resolved = write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE status_incidents SET resolved_at = $1, updated_at = $1 \
                 WHERE id = $2 AND resolved_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed > 0 {
                sqlx::query(
                    "INSERT INTO status_incident_updates (incident_id, state, message, author, at) \
                     VALUES ($1, $2, $3, NULL, $4)",
                )
                .bind(id)
                .bind(IncidentState::Resolved.as_str())
                .bind(message)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            changed > 0
        });
        if !resolved {
            return Ok(None);
        }
        Ok(Some(self.status_incident(id).await?))
    }

    /// Corrects what an update says (its state and time stay).
    pub async fn edit_status_update(
        &self,
        incident_id: i64,
        update_id: i64,
        message: &str,
    ) -> Result<StatusIncident> {
        let now = self.now().as_millis();
        let changed = write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE status_incident_updates SET message = $1 WHERE id = $2 AND incident_id = $3",
            )
            .bind(message)
            .bind(update_id)
            .bind(incident_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("UPDATE status_incidents SET updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(incident_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            changed
        });
        if changed == 0 {
            return Err(StoreError::NotFound("status incident update"));
        }
        self.status_incident(incident_id).await
    }

    /// Removes a written incident and its updates.
    pub async fn delete_status_incident(&self, id: i64) -> Result<()> {
        let deleted = write!(self.backend, |pool| {
            sqlx::query("DELETE FROM status_incidents WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if deleted == 0 {
            return Err(StoreError::NotFound("status incident"));
        }
        Ok(())
    }

    /// The daily summaries of some monitors for the days starting in
    /// `[from, to)`, in one query: the history of a page's bars, kept for
    /// years after raw results expired.
    pub async fn monitor_days(
        &self,
        monitor_ids: &[i64],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<MonitorDay>> {
        if monitor_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Ids are numbers: written into the statement, they cannot change it.
        let ids: Vec<String> = monitor_ids.iter().map(i64::to_string).collect();
        let sql = format!(
            "SELECT monitor_id, bucket_start, checks, confirmed_errors, degraded, downtime_ms \
             FROM check_summaries WHERE resolution_ms = $1 AND bucket_start >= $2 \
             AND bucket_start < $3 AND monitor_id IN ({})",
            ids.join(", ")
        );
        #[derive(sqlx::FromRow)]
        struct Row {
            monitor_id: i64,
            bucket_start: i64,
            checks: i64,
            confirmed_errors: i64,
            degraded: i64,
            downtime_ms: i64,
        }
        let rows: Vec<Row> = read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(DAY_MS)
                .bind(from.as_millis())
                .bind(to.as_millis())
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|row| MonitorDay {
                monitor_id: row.monitor_id,
                day: row.bucket_start.into(),
                counts: UptimeCounts {
                    checks: row.checks,
                    confirmed_errors: row.confirmed_errors,
                    degraded: row.degraded,
                    downtime_ms: row.downtime_ms,
                },
            })
            .collect())
    }

    /// The spans some monitors were down that overlap `[from, to)`.
    pub async fn outage_spans(
        &self,
        monitor_ids: &[i64],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<OutageSpan>> {
        let outages = self
            .outages_overlapping(None, from.as_millis(), to.as_millis())
            .await?;
        Ok(outages
            .into_iter()
            .filter(|outage| monitor_ids.contains(&outage.monitor_id))
            .map(|outage| OutageSpan {
                monitor_id: outage.monitor_id,
                started_at: outage.started_at.into(),
                ended_at: outage.ended_at.map(Timestamp::from),
            })
            .collect())
    }
}

/// Someone following a page by e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSubscriber {
    /// Stable id.
    pub id: i64,
    /// The page.
    pub page_id: i64,
    /// Where the mail goes.
    pub email: String,
    /// When they opened their confirmation link; none until then.
    pub confirmed_at: Option<Timestamp>,
}

const SUBSCRIBER_COLUMNS: &str = "id, page_id, email, confirmed_at";

impl Store {
    /// Asks to follow a page: a new subscriber, not confirmed, whose
    /// confirmation token has this hash; one already asked for gets the new
    /// token; one already confirmed is left as it is (and returned).
    pub async fn add_status_subscriber(
        &self,
        page_id: i64,
        email: &str,
        token_hash: &str,
    ) -> Result<StatusSubscriber> {
        let now = self.now().as_millis();
        let upsert = format!(
            "INSERT INTO status_subscribers (page_id, email, token_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (page_id, email) DO UPDATE SET token_hash = CASE \
             WHEN status_subscribers.confirmed_at IS NULL THEN excluded.token_hash \
             ELSE status_subscribers.token_hash END RETURNING {SUBSCRIBER_COLUMNS}"
        );
        let row: SubscriberRow = write!(self.backend, |pool| {
            sqlx::query_as(&upsert)
                .bind(page_id)
                .bind(email)
                .bind(token_hash)
                .bind(now)
                .fetch_one(pool)
                .await
                .map_err(|error| match &error {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::NotFound("status page")
                    }
                    _ => StoreError::Database(error),
                })?
        });
        Ok(row.into())
    }

    /// Confirms the subscriber whose confirmation token has this hash.
    pub async fn confirm_status_subscriber(
        &self,
        token_hash: &str,
    ) -> Result<Option<StatusSubscriber>> {
        let now = self.now().as_millis();
        let sql = format!(
            "UPDATE status_subscribers SET confirmed_at = COALESCE(confirmed_at, $1) \
             WHERE token_hash = $2 RETURNING {SUBSCRIBER_COLUMNS}"
        );
        let row: Option<SubscriberRow> = write!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(now)
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(Into::into))
    }

    /// One subscriber.
    pub async fn status_subscriber(&self, id: i64) -> Result<Option<StatusSubscriber>> {
        let sql = format!("SELECT {SUBSCRIBER_COLUMNS} FROM status_subscribers WHERE id = $1");
        let row: Option<SubscriberRow> = read!(self.backend, |pool| {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        });
        Ok(row.map(Into::into))
    }

    /// Stops a subscription; whether there was one.
    pub async fn remove_status_subscriber(&self, id: i64) -> Result<bool> {
        let deleted = write!(self.backend, |pool| {
            sqlx::query("DELETE FROM status_subscribers WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted > 0)
    }

    /// A page's confirmed subscribers.
    pub async fn confirmed_status_subscribers(
        &self,
        page_id: i64,
    ) -> Result<Vec<StatusSubscriber>> {
        let sql = format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM status_subscribers \
             WHERE page_id = $1 AND confirmed_at IS NOT NULL ORDER BY id"
        );
        let rows: Vec<SubscriberRow> = read!(self.backend, |pool| {
            sqlx::query_as(&sql).bind(page_id).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

#[derive(sqlx::FromRow)]
struct SubscriberRow {
    id: i64,
    page_id: i64,
    email: String,
    confirmed_at: Option<i64>,
}

impl From<SubscriberRow> for StatusSubscriber {
    fn from(row: SubscriberRow) -> Self {
        StatusSubscriber {
            id: row.id,
            page_id: row.page_id,
            email: row.email,
            confirmed_at: row.confirmed_at.map(Timestamp::from),
        }
    }
}
