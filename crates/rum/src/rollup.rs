//! Rolling raw page views into hourly and daily aggregates.
//!
//! Keys per bucket: the site's totals, each dimension on its own, and the
//! page paired with each other dimension. That answers, from rollups, every
//! query with no filter, one filter, or a page filter plus one other, and
//! every breakdown under one filter on the page; rarer combinations are
//! answered from the raw page views within their retention. Keying by every
//! dimension at once would make rollups as large as the raw data.
//!
//! The roll runs in any number of processes at once: each bucket is written
//! in one transaction together with the move of the progress marker, and a
//! process that finds the marker moved gives the bucket up.

use sightline_core::Timestamp;
use sightline_core::rum::{Aggregate, Dimension, PageView};
use sightline_store::{RollupCell, Store, StoreError};
use std::collections::HashMap;
use std::time::Duration;

/// One hour, the finest rollup.
pub const HOUR_MS: i64 = 3_600_000;
/// One day (UTC).
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Separates the two values of a pair key.
pub const PAIR_SEPARATOR: char = '\u{1f}';

/// How long after an hour ends before it is rolled, so that page views
/// received in its last moments are committed first.
pub const SETTLE_DELAY: Duration = Duration::from_secs(30);

/// Buckets rolled per site per pass, so a long backlog does not hold the
/// loop; the next pass continues.
const BUCKETS_PER_PASS: usize = 48;

/// The rollup key of a dimension paired with the page.
pub fn pair_dimension(other: Dimension) -> String {
    format!("page|{}", other.name())
}

/// The rollup value of a page paired with another dimension's value.
pub fn pair_value(page: &str, other: &str) -> String {
    format!("{page}{PAIR_SEPARATOR}{other}")
}

/// Every (dimension, value) key a page view counts under.
pub fn rollup_keys(view: &PageView) -> Vec<(String, String)> {
    let page = view.dimensions.get(Dimension::Page);
    let mut keys = vec![(String::new(), String::new())];
    for dimension in Dimension::ALL {
        keys.push((
            dimension.name().to_owned(),
            view.dimensions.get(dimension).to_owned(),
        ));
        if dimension != Dimension::Page {
            keys.push((
                pair_dimension(dimension),
                pair_value(page, view.dimensions.get(dimension)),
            ));
        }
    }
    keys
}

/// Aggregates page views by their rollup keys.
pub fn aggregate_by_key<'a>(views: impl IntoIterator<Item = &'a PageView>) -> Vec<RollupCell> {
    let mut cells: HashMap<(String, String), Aggregate> = HashMap::new();
    for view in views {
        for key in rollup_keys(view) {
            cells.entry(key).or_default().add(&view.metrics);
        }
    }
    into_cells(cells)
}

fn floor(at: Timestamp, bucket_ms: i64) -> Timestamp {
    Timestamp::from_millis(at.as_millis().div_euclid(bucket_ms) * bucket_ms)
}

/// Rolls every site's complete hours and days that are not rolled yet.
pub async fn roll_all(store: &Store) -> Result<(), StoreError> {
    for site in store.list_sites().await? {
        roll_site(store, site.id).await?;
    }
    Ok(())
}

/// Where rolling resumes: at the progress marker, or at the bucket of the
/// site's first page view; `None` when there is nothing to roll.
async fn next_bucket(
    store: &Store,
    site_id: i64,
    progress: Option<Timestamp>,
    bucket_ms: i64,
) -> Result<Option<Timestamp>, StoreError> {
    match progress {
        Some(until) => Ok(Some(until)),
        None => Ok(store
            .earliest_page_view(site_id)
            .await?
            .map(|first| floor(first, bucket_ms))),
    }
}

/// Turns aggregates by (dimension, value) into cells to write.
fn into_cells(aggregates: HashMap<(String, String), Aggregate>) -> Vec<RollupCell> {
    aggregates
        .into_iter()
        .map(|((dimension, value), aggregate)| RollupCell {
            dimension,
            value,
            aggregate,
        })
        .collect()
}

/// Rolls one site's complete hours, then its complete days.
pub async fn roll_site(store: &Store, site_id: i64) -> Result<(), StoreError> {
    let settled = store.now().minus(SETTLE_DELAY);
    // Hours, from raw page views.
    let mut progress = store.rollup_progress(site_id, HOUR_MS).await?;
    let Some(mut start) = next_bucket(store, site_id, progress, HOUR_MS).await? else {
        return Ok(());
    };
    for _ in 0..BUCKETS_PER_PASS {
        let end = start.plus(Duration::from_millis(HOUR_MS as u64));
        if end > settled {
            break;
        }
        let views = store.page_views(site_id, start, end, i64::MAX).await?;
        let cells = aggregate_by_key(&views);
        if !store
            .write_rollup_bucket(site_id, HOUR_MS, start, &cells, progress)
            .await?
        {
            return Ok(());
        }
        progress = Some(end);
        start = end;
    }
    // Days, from complete hours.
    let Some(hours_until) = progress else {
        return Ok(());
    };
    let mut day_progress = store.rollup_progress(site_id, DAY_MS).await?;
    let Some(mut day) = next_bucket(store, site_id, day_progress, DAY_MS).await? else {
        return Ok(());
    };
    for _ in 0..BUCKETS_PER_PASS {
        let end = day.plus(Duration::from_millis(DAY_MS as u64));
        if end > hours_until {
            break;
        }
        let mut merged: HashMap<(String, String), Aggregate> = HashMap::new();
        for dimension in dimension_keys() {
            for row in store
                .rollups(site_id, HOUR_MS, &dimension, None, day, end)
                .await?
            {
                merged
                    .entry((dimension.clone(), row.value))
                    .or_default()
                    .merge(&row.aggregate);
            }
        }
        let cells = into_cells(merged);
        if !store
            .write_rollup_bucket(site_id, DAY_MS, day, &cells, day_progress)
            .await?
        {
            return Ok(());
        }
        day_progress = Some(end);
        day = end;
    }
    Ok(())
}

/// Every rollup dimension key.
pub fn dimension_keys() -> Vec<String> {
    let mut keys = vec![String::new()];
    for dimension in Dimension::ALL {
        keys.push(dimension.name().to_owned());
        if dimension != Dimension::Page {
            keys.push(pair_dimension(dimension));
        }
    }
    keys
}
