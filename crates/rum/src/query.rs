//! Answering RUM questions over a period: from daily and hourly rollups for
//! what they cover, and from raw page views for the rest (the hour not yet
//! rolled, the partial hours at the edges, and filter combinations no rollup
//! is keyed by).

use crate::rollup::{DAY_MS, HOUR_MS, pair_dimension, pair_value};
use sightline_core::Timestamp;
use sightline_core::rum::{Aggregate, Dimension};
use sightline_store::{Store, StoreError};

/// A period and the filters (combined with AND) a question is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// Start, inclusive.
    pub from: Timestamp,
    /// End, exclusive.
    pub to: Timestamp,
    /// Each dimension must have this value.
    pub filters: Vec<(Dimension, String)>,
}

/// The rollup key that holds exactly the page views matching the filters, if one does.
fn rollup_key(filters: &[(Dimension, String)]) -> Option<(String, String)> {
    match filters {
        [] => Some((String::new(), String::new())),
        [(dimension, value)] => Some((dimension.name().to_owned(), value.clone())),
        [(Dimension::Page, page), (other, value)] | [(other, value), (Dimension::Page, page)]
            if *other != Dimension::Page =>
        {
            Some((pair_dimension(*other), pair_value(page, value)))
        }
        _ => None,
    }
}

fn ceil(at: i64, bucket: i64) -> i64 {
    at.div_euclid(bucket) * bucket
        + if at.rem_euclid(bucket) == 0 {
            0
        } else {
            bucket
        }
}

fn floor(at: i64, bucket: i64) -> i64 {
    at.div_euclid(bucket) * bucket
}

/// Everything the page views in the scope add up to.
pub async fn aggregate(
    store: &Store,
    site_id: i64,
    scope: &Scope,
) -> Result<Aggregate, StoreError> {
    let (from, to) = (scope.from.as_millis(), scope.to.as_millis());
    let mut total = Aggregate::default();
    if from >= to {
        return Ok(total);
    }
    let mut raw_ranges = vec![(from, to)];
    if let Some((dimension, value)) = rollup_key(&scope.filters) {
        let hours_until = store
            .rollup_progress(site_id, HOUR_MS)
            .await?
            .map_or(i64::MIN, Timestamp::as_millis);
        let days_until = store
            .rollup_progress(site_id, DAY_MS)
            .await?
            .map_or(i64::MIN, Timestamp::as_millis);
        let rolled_start = ceil(from, HOUR_MS);
        let rolled_end = floor(to.min(hours_until), HOUR_MS);
        if rolled_start < rolled_end {
            raw_ranges = vec![(from, rolled_start), (rolled_end, to)];
            let day_start = ceil(rolled_start, DAY_MS);
            let day_end = floor(rolled_end, DAY_MS).min(days_until);
            let mut hour_ranges = vec![(rolled_start, rolled_end)];
            if day_start < day_end {
                hour_ranges = vec![(rolled_start, day_start), (day_end, rolled_end)];
                merge_rollups(
                    store,
                    site_id,
                    DAY_MS,
                    &dimension,
                    &value,
                    (day_start, day_end),
                    &mut total,
                )
                .await?;
            }
            for range in hour_ranges {
                merge_rollups(
                    store, site_id, HOUR_MS, &dimension, &value, range, &mut total,
                )
                .await?;
            }
        }
    }
    for (start, end) in raw_ranges {
        if start < end {
            let views = store
                .matching_page_views(site_id, start.into(), end.into(), &scope.filters)
                .await?;
            for view in &views {
                total.add(&view.metrics);
            }
        }
    }
    Ok(total)
}

async fn merge_rollups(
    store: &Store,
    site_id: i64,
    resolution: i64,
    dimension: &str,
    value: &str,
    (start, end): (i64, i64),
    total: &mut Aggregate,
) -> Result<(), StoreError> {
    if start >= end {
        return Ok(());
    }
    for row in store
        .rollups(
            site_id,
            resolution,
            dimension,
            Some(value),
            start.into(),
            end.into(),
        )
        .await?
    {
        total.merge(&row.aggregate);
    }
    Ok(())
}
