//! RUM sites: the websites whose real users are measured.

use crate::backend::{read, write};
use crate::{Result, Store, StoreError};
use sightline_core::{SiteSpec, Timestamp};

/// A stored site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Stable id.
    pub id: i64,
    /// The public key the RUM snippet carries (`data-site`).
    pub site_key: String,
    /// What the user configured.
    pub spec: SiteSpec,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct SiteRow {
    id: i64,
    name: String,
    site_key: String,
    origins: String,
    keep_query_string: bool,
    alert_policy: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<SiteRow> for Site {
    type Error = StoreError;

    fn try_from(row: SiteRow) -> Result<Self> {
        let origins = serde_json::from_str(&row.origins).map_err(|e| StoreError::Corrupt {
            what: "site",
            id: row.id,
            reason: e.to_string(),
        })?;
        Ok(Site {
            id: row.id,
            site_key: row.site_key,
            spec: SiteSpec {
                name: row.name,
                origins,
                keep_query_string: row.keep_query_string,
                alert_policy: row.alert_policy,
            },
            created_at: row.created_at.into(),
            updated_at: row.updated_at.into(),
        })
    }
}

const SITE_COLUMNS: &str =
    "id, name, site_key, origins, keep_query_string, alert_policy, created_at, updated_at";

fn origins_json(spec: &SiteSpec) -> String {
    serde_json::Value::from(spec.origins.clone()).to_string()
}

fn name_taken(spec: &SiteSpec) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    StoreError::conflict_on("name", move || {
        format!("a site named `{}` already exists", spec.name)
    })
}

impl Store {
    /// Creates a site with the key the caller generated.
    pub async fn create_site(&self, spec: &SiteSpec, site_key: &str) -> Result<Site> {
        let now = self.now().as_millis();
        let sql = format!(
            "INSERT INTO sites (name, site_key, origins, keep_query_string, created_at, updated_at, alert_policy) \
             VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING {SITE_COLUMNS}"
        );
        let row: SiteRow = write!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(&spec.name)
                .bind(site_key)
                .bind(origins_json(spec))
                .bind(spec.keep_query_string)
                .bind(now)
                .bind(&spec.alert_policy)
                .fetch_one(pool)
                .await
        })
        .map_err(name_taken(spec))?;
        row.try_into()
    }

    /// Every site, by name.
    pub async fn list_sites(&self) -> Result<Vec<Site>> {
        let sql = format!("SELECT {SITE_COLUMNS} FROM sites ORDER BY name");
        let rows: Vec<SiteRow> = read!(self.backend, |pool| sqlx::query_as(&sql)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(Site::try_from).collect()
    }

    /// One site by id.
    pub async fn site(&self, id: i64) -> Result<Site> {
        self.site_where("id = $1", id).await
    }

    /// One site by its public key, as the collector looks it up.
    pub async fn site_by_key(&self, site_key: &str) -> Result<Site> {
        self.site_where("site_key = $1", site_key.to_owned()).await
    }

    /// One site by name, as monitors refer to it.
    pub async fn site_by_name(&self, name: &str) -> Result<Site> {
        self.site_where("name = $1", name.to_owned()).await
    }

    async fn site_where<T>(&self, condition: &str, value: T) -> Result<Site>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + for<'q> sqlx::Encode<'q, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>
            + Send
            + Clone,
    {
        let sql = format!("SELECT {SITE_COLUMNS} FROM sites WHERE {condition}");
        let row: Option<SiteRow> = read!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(value.clone())
                .fetch_optional(pool)
                .await
        })?;
        row.ok_or(StoreError::NotFound("site"))?.try_into()
    }

    /// Replaces a site's configuration; the key stays.
    pub async fn update_site(&self, id: i64, spec: &SiteSpec) -> Result<Site> {
        let now = self.now().as_millis();
        let sql = format!(
            "UPDATE sites SET name = $1, origins = $2, keep_query_string = $3, updated_at = $4, \
             alert_policy = $6 WHERE id = $5 RETURNING {SITE_COLUMNS}"
        );
        let row: Option<SiteRow> = write!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(&spec.name)
                .bind(origins_json(spec))
                .bind(spec.keep_query_string)
                .bind(now)
                .bind(id)
                .bind(&spec.alert_policy)
                .fetch_optional(pool)
                .await
        })
        .map_err(name_taken(spec))?;
        row.ok_or(StoreError::NotFound("site"))?.try_into()
    }

    /// Removes a site. A site that monitors are linked to is kept: removing
    /// it would silently end their correlation with real-user traffic.
    pub async fn delete_site(&self, id: i64) -> Result<()> {
        write!(self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let linked: Vec<String> =
                sqlx::query_scalar("SELECT name FROM monitors WHERE site_id = $1 ORDER BY name")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
            if !linked.is_empty() {
                return Err(StoreError::Refused(format!(
                    "the site is linked to monitors {}; unlink them first",
                    linked.join(", ")
                )));
            }
            let deleted = sqlx::query("DELETE FROM sites WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 0 {
                return Err(StoreError::NotFound("site"));
            }
            tx.commit().await?;
            Ok(())
        })
    }
}
