//! Answering RUM questions over a period: from daily and hourly rollups for
//! what they cover, and from raw page views for the rest (the hour not yet
//! rolled, partial hours at the edges, buckets finer than an hour, and
//! filter combinations no rollup is keyed by).
//!
//! Every question is the same one underneath: the aggregates of the page
//! views matching the filters, per time bucket (or for the whole period)
//! and per value of a grouping dimension (or for all together).

use crate::rollup::{DAY_MS, HOUR_MS, PAIR_SEPARATOR, pair_dimension, pair_value};
use sightline_core::Timestamp;
use sightline_core::rum::{Aggregate, Dimension, PageView};
use sightline_store::{Store, StoreError};
use std::collections::BTreeMap;

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

/// Aggregates by (bucket start, group value). Without buckets the start is
/// the scope's `from`; without a group the value is empty.
pub type Cells = BTreeMap<(i64, String), Aggregate>;

/// Which rollup cells answer a question, and how to read a cell's value.
struct RollupPlan {
    dimension: String,
    /// Only this value (a single cell per bucket).
    exact_value: Option<String>,
    /// Keep values of a pair that match, and the group value they stand for.
    select: fn(&str, &str) -> Option<String>,
    /// The argument `select` compares with.
    wanted: String,
}

fn whole(value: &str, _: &str) -> Option<String> {
    Some(value.to_owned())
}

fn nothing(_: &str, _: &str) -> Option<String> {
    Some(String::new())
}

/// `PAGE\x1fVALUE` cells of one page, grouped by VALUE.
fn second_of_page(value: &str, page: &str) -> Option<String> {
    let (cell_page, other) = value.split_once(PAIR_SEPARATOR)?;
    (cell_page == page).then(|| other.to_owned())
}

/// `PAGE\x1fVALUE` cells of one VALUE, grouped by PAGE.
fn page_of_second(value: &str, wanted: &str) -> Option<String> {
    let (page, other) = value.split_once(PAIR_SEPARATOR)?;
    (other == wanted).then(|| page.to_owned())
}

fn plan(filters: &[(Dimension, String)], group: Option<Dimension>) -> Option<RollupPlan> {
    let exact = |dimension: String, value: String| RollupPlan {
        dimension,
        exact_value: Some(value),
        select: nothing,
        wanted: String::new(),
    };
    match (filters, group) {
        ([], None) => Some(exact(String::new(), String::new())),
        ([(dimension, value)], None) => Some(exact(dimension.name().to_owned(), value.clone())),
        ([(Dimension::Page, page), (other, value)], None)
        | ([(other, value), (Dimension::Page, page)], None)
            if *other != Dimension::Page =>
        {
            Some(exact(pair_dimension(*other), pair_value(page, value)))
        }
        ([], Some(group)) => Some(RollupPlan {
            dimension: group.name().to_owned(),
            exact_value: None,
            select: whole,
            wanted: String::new(),
        }),
        ([(Dimension::Page, page)], Some(group)) if group != Dimension::Page => Some(RollupPlan {
            dimension: pair_dimension(group),
            exact_value: None,
            select: second_of_page,
            wanted: page.clone(),
        }),
        ([(filter, value)], Some(Dimension::Page)) if *filter != Dimension::Page => {
            Some(RollupPlan {
                dimension: pair_dimension(*filter),
                exact_value: None,
                select: page_of_second,
                wanted: value.clone(),
            })
        }
        // Grouping by the filtered dimension: one group, named by its value.
        ([(filter, value)], Some(group)) if *filter == group => Some(RollupPlan {
            dimension: group.name().to_owned(),
            exact_value: Some(value.clone()),
            select: whole,
            wanted: String::new(),
        }),
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

/// The aggregates of the page views in scope, per bucket of `bucket_ms`
/// (aligned to the epoch) or for the whole period, and per value of
/// `group` or all together.
pub async fn aggregate_cells(
    store: &Store,
    site_id: i64,
    scope: &Scope,
    bucket_ms: Option<i64>,
    group: Option<Dimension>,
) -> Result<Cells, StoreError> {
    let (from, to) = (scope.from.as_millis(), scope.to.as_millis());
    let mut cells = Cells::new();
    if from >= to {
        return Ok(cells);
    }
    let bucket_of = |at: i64| bucket_ms.map_or(from, |bucket| floor(at, bucket));
    let fits = |resolution: i64| bucket_ms.is_none_or(|bucket| bucket % resolution == 0);
    let mut raw_ranges = vec![(from, to)];
    if let Some(plan) = plan(&scope.filters, group).filter(|_| fits(HOUR_MS)) {
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
            let mut hour_ranges = vec![(rolled_start, rolled_end)];
            let day_start = ceil(rolled_start, DAY_MS);
            let day_end = floor(rolled_end, DAY_MS).min(days_until);
            if fits(DAY_MS) && day_start < day_end {
                hour_ranges = vec![(rolled_start, day_start), (day_end, rolled_end)];
                merge_rollups(
                    store,
                    site_id,
                    DAY_MS,
                    &plan,
                    (day_start, day_end),
                    &bucket_of,
                    &mut cells,
                )
                .await?;
            }
            for range in hour_ranges {
                merge_rollups(
                    store, site_id, HOUR_MS, &plan, range, &bucket_of, &mut cells,
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
            add_views(&views, group, &bucket_of, &mut cells);
        }
    }
    Ok(cells)
}

fn add_views(
    views: &[PageView],
    group: Option<Dimension>,
    bucket_of: &(dyn Fn(i64) -> i64 + Sync),
    cells: &mut Cells,
) {
    for view in views {
        let value = group.map_or_else(String::new, |group| view.dimensions.get(group).to_owned());
        cells
            .entry((bucket_of(view.at.as_millis()), value))
            .or_default()
            .add(&view.metrics);
    }
}

async fn merge_rollups(
    store: &Store,
    site_id: i64,
    resolution: i64,
    plan: &RollupPlan,
    (start, end): (i64, i64),
    bucket_of: &(dyn Fn(i64) -> i64 + Sync),
    cells: &mut Cells,
) -> Result<(), StoreError> {
    if start >= end {
        return Ok(());
    }
    let rows = store
        .rollups(
            site_id,
            resolution,
            &plan.dimension,
            plan.exact_value.as_deref(),
            start.into(),
            end.into(),
        )
        .await?;
    for row in rows {
        if let Some(value) = (plan.select)(&row.value, &plan.wanted) {
            cells
                .entry((bucket_of(row.bucket_start.as_millis()), value))
                .or_default()
                .merge(&row.aggregate);
        }
    }
    Ok(())
}

/// Everything the page views in the scope add up to.
pub async fn aggregate(
    store: &Store,
    site_id: i64,
    scope: &Scope,
) -> Result<Aggregate, StoreError> {
    let cells = aggregate_cells(store, site_id, scope, None, None).await?;
    Ok(cells.into_values().next().unwrap_or_default())
}
