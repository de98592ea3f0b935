//! Monitors: what to check, stored as the user's validated document.

use crate::backend::{read, write};
use crate::{Result, Store, StoreError};
use sightline_core::{MonitorSpec, Timestamp};

/// A stored monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    /// Stable id.
    pub id: i64,
    /// What the user configured.
    pub spec: MonitorSpec,
    /// The linked RUM site, resolved from `spec.settings.site`.
    pub site_id: Option<i64>,
    /// Current status (`unknown` until the first confirmed result).
    pub status: String,
    /// Since when it has had that status.
    pub status_since: Option<Timestamp>,
    /// When the monitor was created.
    pub created_at: Timestamp,
    /// When its configuration last changed.
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(crate) struct MonitorRow {
    id: i64,
    spec: String,
    site_id: Option<i64>,
    status: String,
    status_since: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl Monitor {
    /// The status people see: `paused` while it is disabled (its stored
    /// status is kept for when it runs again), else the stored one.
    pub fn shown_status(&self) -> &str {
        if self.spec.settings.enabled {
            &self.status
        } else {
            "paused"
        }
    }
}

impl TryFrom<MonitorRow> for Monitor {
    type Error = StoreError;

    fn try_from(row: MonitorRow) -> Result<Self> {
        let corrupt = |reason: String| StoreError::Corrupt {
            what: "monitor",
            id: row.id,
            reason,
        };
        let document = serde_json::from_str(&row.spec).map_err(|e| corrupt(e.to_string()))?;
        let spec = MonitorSpec::from_json(document).map_err(|e| corrupt(e.to_string()))?;
        Ok(Monitor {
            id: row.id,
            spec,
            site_id: row.site_id,
            status: row.status,
            status_since: row.status_since.map(Timestamp::from),
            created_at: row.created_at.into(),
            updated_at: row.updated_at.into(),
        })
    }
}

pub(crate) const MONITOR_COLUMNS: &str =
    "id, spec, site_id, status, status_since, created_at, updated_at";

fn name_taken(spec: &MonitorSpec) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    StoreError::conflict_on("name", move || {
        format!("a monitor named `{}` already exists", spec.settings.name)
    })
}

impl Store {
    /// The id of the site a spec links to, or an error naming the field.
    async fn linked_site_id(&self, spec: &MonitorSpec) -> Result<Option<i64>> {
        let Some(name) = &spec.settings.site else {
            return Ok(None);
        };
        match self.site_by_name(name).await {
            Ok(site) => Ok(Some(site.id)),
            Err(StoreError::NotFound(_)) => Err(StoreError::UnknownReference {
                field: "site",
                message: format!("there is no site named `{name}`"),
            }),
            Err(error) => Err(error),
        }
    }

    /// Stores a validated monitor.
    pub async fn create_monitor(&self, spec: &MonitorSpec) -> Result<Monitor> {
        let site_id = self.linked_site_id(spec).await?;
        let now = self.now().as_millis();
        let sql = format!(
            "INSERT INTO monitors (name, monitor_type, enabled, spec, site_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {MONITOR_COLUMNS}"
        );
        let row: MonitorRow = write!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(&spec.settings.name)
                .bind(spec.check.type_name())
                .bind(spec.settings.enabled)
                .bind(spec.to_json().to_string())
                .bind(site_id)
                .bind(now)
                .fetch_one(pool)
                .await
        })
        .map_err(name_taken(spec))?;
        row.try_into()
    }

    /// Every monitor, by name.
    pub async fn list_monitors(&self) -> Result<Vec<Monitor>> {
        let sql = format!("SELECT {MONITOR_COLUMNS} FROM monitors ORDER BY name");
        let rows: Vec<MonitorRow> = read!(self.backend, |pool| sqlx::query_as(&sql)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(Monitor::try_from).collect()
    }

    /// The monitors alerting has to look at: those down and those with an
    /// open incident. A few among thousands, so a pass after every batch of
    /// results does not read every monitor: each half of the union is read
    /// from its own partial index.
    pub async fn monitors_down_or_in_incident(&self) -> Result<Vec<Monitor>> {
        let sql = format!(
            "SELECT {MONITOR_COLUMNS} FROM monitors WHERE id IN (\
             SELECT id FROM monitors WHERE status = 'down' \
             UNION SELECT monitor_id FROM incidents WHERE closed_at IS NULL) ORDER BY name"
        );
        let rows: Vec<MonitorRow> = read!(self.backend, |pool| sqlx::query_as(&sql)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(Monitor::try_from).collect()
    }

    /// One monitor by id.
    pub async fn monitor(&self, id: i64) -> Result<Monitor> {
        let sql = format!("SELECT {MONITOR_COLUMNS} FROM monitors WHERE id = $1");
        let row: Option<MonitorRow> = read!(self.backend, |pool| {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
        })?;
        row.ok_or(StoreError::NotFound("monitor"))?.try_into()
    }

    /// Replaces a monitor's configuration; its history stays. Its schedule
    /// starts afresh from the new settings.
    pub async fn update_monitor(&self, id: i64, spec: &MonitorSpec) -> Result<Monitor> {
        let site_id = self.linked_site_id(spec).await?;
        let now = self.now().as_millis();
        let sql = format!(
            "UPDATE monitors SET name = $1, monitor_type = $2, enabled = $3, spec = $4, site_id = $5, updated_at = $6, next_due_at = NULL \
             WHERE id = $7 RETURNING {MONITOR_COLUMNS}"
        );
        // A paused monitor's outage ends when it is paused.
        let row: Option<MonitorRow> = write!(self.backend, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let row: Option<MonitorRow> = sqlx::query_as(&sql)
                    .bind(&spec.settings.name)
                    .bind(spec.check.type_name())
                    .bind(spec.settings.enabled)
                    .bind(spec.to_json().to_string())
                    .bind(site_id)
                    .bind(now)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                crate::outages::sync_outages!(tx, [id], now);
                tx.commit().await?;
                Ok::<_, sqlx::Error>(row)
            }
            .await
        })
        .map_err(name_taken(spec))?;
        row.ok_or(StoreError::NotFound("monitor"))?.try_into()
    }

    /// Removes a monitor with its results; its incidents stay, closed, under
    /// its name.
    pub async fn delete_monitor(&self, id: i64) -> Result<()> {
        let now = self.now().as_millis();
        let deleted = write!(self.backend, |pool| {
            async {
                let mut tx = pool.begin().await?;
                // Its incidents stay, under its name; an open one closes, so
                // that links in messages sent about it still open.
                let name: Option<String> =
                    sqlx::query_scalar("SELECT name FROM monitors WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(name) = name else {
                    return Ok::<_, sqlx::Error>(0);
                };
                sqlx::query(
                    "INSERT INTO incident_events (incident_id, at, kind, message) \
                     SELECT id, $1, 'closed', 'monitor deleted' FROM incidents \
                     WHERE monitor_id = $2 AND closed_at IS NULL",
                )
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE incidents SET closed_at = COALESCE(closed_at, $1), subject = $2 \
                     WHERE monitor_id = $3",
                )
                .bind(now)
                .bind(format!("monitor {name}"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let deleted = sqlx::query("DELETE FROM monitors WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(deleted)
            }
            .await
        })?;
        if deleted == 0 {
            return Err(StoreError::NotFound("monitor"));
        }
        Ok(())
    }
}
