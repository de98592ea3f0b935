//! A monitor's outages, and the downtime of any period from them.
//!
//! An outage runs from the first failure of a failing streak that was
//! confirmed to the result that ends it: the next passing one (or a
//! maintenance window, or pausing the monitor). It follows the monitor's
//! status: every write that may change a status brings the outages in
//! line in the same transaction ([`sync_outages`]), so an outage is open
//! exactly while an enabled monitor is `down`.
//!
//! Downtime over `[from, to)` is the outages' overlap with it, up to now:
//! never more than the period, whatever the schedule, the checkpoints or
//! the runs asked for by hand (a run-now result is a sample, not an
//! interval).

use crate::backend::read;
use crate::{Result, Store};
use sightline_core::Timestamp;
use std::collections::HashMap;

/// Brings the outages of monitors `$ids` (a slice of ids) in line with
/// their status, inside the transaction `$tx`: closes the open outage of
/// each that is no longer down (when its new status began), and opens one
/// for each down without one, from the first failure of its failing
/// streak (the first error after its last passing result and after its
/// last outage ended).
macro_rules! sync_outages {
    ($tx:expr, $ids:expr, $now:expr) => {
        for chunk in $ids.chunks($crate::check_jobs::ROWS_PER_STATEMENT) {
            let mut close = sqlx::QueryBuilder::new(
                "UPDATE monitor_outages SET ended_at = (SELECT CASE \
                 WHEN m.enabled AND m.status_since >= monitor_outages.started_at \
                 THEN m.status_since ELSE ",
            );
            close.push_bind($now);
            close.push(
                " END FROM monitors m WHERE m.id = monitor_outages.monitor_id) \
                 WHERE ended_at IS NULL AND monitor_id IN (SELECT id FROM monitors \
                 WHERE (status <> 'down' OR NOT enabled) AND id IN (",
            );
            let mut ids = close.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            close.push("))");
            close.build().execute(&mut *$tx).await?;

            let mut open = sqlx::QueryBuilder::new(
                "INSERT INTO monitor_outages (monitor_id, started_at) \
                 SELECT m.id, COALESCE((SELECT MIN(r.started_at) FROM check_results r \
                 WHERE r.monitor_id = m.id AND r.outcome = 'error' \
                 AND r.started_at <= m.status_since AND r.started_at > COALESCE((\
                 SELECT MAX(b.at) FROM (\
                 SELECT MAX(p.started_at) AS at FROM check_results p WHERE p.monitor_id = m.id \
                 AND p.outcome <> 'error' AND p.started_at <= m.status_since \
                 UNION ALL SELECT MAX(o.ended_at) AS at FROM monitor_outages o \
                 WHERE o.monitor_id = m.id) b), -1)), m.status_since) \
                 FROM monitors m WHERE m.status = 'down' AND m.enabled \
                 AND m.status_since IS NOT NULL AND NOT EXISTS (SELECT 1 FROM monitor_outages o \
                 WHERE o.monitor_id = m.id AND o.ended_at IS NULL) AND m.id IN (",
            );
            let mut ids = open.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            open.push(")");
            open.build().execute(&mut *$tx).await?;
        }
    };
}

pub(crate) use sync_outages;

/// One outage as stored.
#[derive(sqlx::FromRow)]
pub(crate) struct Outage {
    pub(crate) monitor_id: i64,
    pub(crate) started_at: i64,
    pub(crate) ended_at: Option<i64>,
}

impl Outage {
    /// How much of `[from, to)` it covers, an open one lasting until `now`.
    pub(crate) fn down_ms(&self, from: i64, to: i64, now: i64) -> i64 {
        (self.ended_at.unwrap_or(now).min(to) - self.started_at.max(from)).max(0)
    }
}

impl Store {
    /// The outages (of one monitor, or of all) that overlap `[from, to)`.
    pub(crate) async fn outages_overlapping(
        &self,
        monitor_id: Option<i64>,
        from: i64,
        to: i64,
    ) -> Result<Vec<Outage>> {
        Ok(read!(self.backend, |pool| {
            sqlx::query_as(
                "SELECT monitor_id, started_at, ended_at FROM monitor_outages \
                 WHERE ($1 IS NULL OR monitor_id = $1) \
                 AND started_at < $2 AND (ended_at IS NULL OR ended_at > $3)",
            )
            .bind(monitor_id)
            .bind(to)
            .bind(from)
            .fetch_all(pool)
            .await
        })?)
    }

    /// Each monitor's downtime in `[from, to)`, up to now, from its
    /// outages: monitors without any are left out.
    pub async fn downtime(&self, from: Timestamp, to: Timestamp) -> Result<HashMap<i64, i64>> {
        let now = self.now().as_millis();
        let (from, to) = (from.as_millis(), to.as_millis().min(now));
        let mut downtime: HashMap<i64, i64> = HashMap::new();
        if to <= from {
            return Ok(downtime);
        }
        for outage in self.outages_overlapping(None, from, to).await? {
            *downtime.entry(outage.monitor_id).or_default() += outage.down_ms(from, to, now);
        }
        Ok(downtime)
    }

    /// One monitor's downtime in `[from, to)`, up to now.
    pub async fn monitor_downtime(
        &self,
        monitor_id: i64,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<i64> {
        let now = self.now().as_millis();
        let (from, to) = (from.as_millis(), to.as_millis().min(now));
        if to <= from {
            return Ok(0);
        }
        let outages = self.outages_overlapping(Some(monitor_id), from, to).await?;
        Ok(outages.iter().map(|o| o.down_ms(from, to, now)).sum())
    }
}
