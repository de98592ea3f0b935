//! Answering RUM questions over a period: from daily and hourly rollups for
//! what they cover, and from raw page views for the rest (the hour not yet
//! rolled, partial hours at the edges, buckets finer than an hour, and
//! filter combinations no rollup is keyed by).
//!
//! Every question is the same one underneath: the aggregates of the page
//! views matching the filters, per time bucket (or for the whole period)
//! and per value of a grouping dimension (or for all together).

use crate::rollup::{DAY_MS, HOUR_MS, KeyShape};
use sightline_core::Timestamp;
use sightline_core::rum::{Aggregate, Dimension};
use sightline_store::{RollupRow, RollupSelection, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;

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

/// Which rollup cells answer a question.
struct RollupPlan {
    shape: KeyShape,
    /// The finest buckets with this shape (pairs are daily only).
    resolution: i64,
    /// Which cells of the shape: `None` for all, else a value and, for a
    /// pair, which side it is on.
    selection: Selection,
    /// Where a cell's group value comes from.
    group: GroupFrom,
}

enum Selection {
    All,
    Value(String),
    SecondValue(String),
    Both(String, String),
}

enum GroupFrom {
    /// No group: every cell counts for the empty value.
    Nothing,
    /// The cell's value.
    Value,
    /// The cell's second value.
    SecondValue,
    /// The group's dimension is filtered: its one value.
    Constant(String),
}

fn plan(filters: &[(Dimension, String)], group: Option<Dimension>) -> Option<RollupPlan> {
    let single = |shape, selection, group| RollupPlan {
        shape,
        resolution: HOUR_MS,
        selection,
        group,
    };
    let pair = |selection, group, a: Dimension, b: Dimension| RollupPlan {
        shape: KeyShape::pair(a, b),
        resolution: DAY_MS,
        selection,
        group,
    };
    // A group on a filtered dimension has the filter's value.
    let filtered_group = group.and_then(|group| filters.iter().find(|(d, _)| *d == group));
    if let Some((_, value)) = filtered_group {
        let mut fixed = plan(filters, None)?;
        fixed.group = GroupFrom::Constant(value.clone());
        return Some(fixed);
    }
    match (filters, group) {
        ([], None) => Some(single(KeyShape::Totals, Selection::All, GroupFrom::Nothing)),
        ([(dimension, value)], None) => Some(single(
            KeyShape::Single(*dimension),
            Selection::Value(value.clone()),
            GroupFrom::Nothing,
        )),
        ([(a, a_value), (b, b_value)], None) => {
            let (first, second) = if a.index() < b.index() {
                (a_value, b_value)
            } else {
                (b_value, a_value)
            };
            Some(pair(
                Selection::Both(first.clone(), second.clone()),
                GroupFrom::Nothing,
                *a,
                *b,
            ))
        }
        ([], Some(group)) => Some(single(
            KeyShape::Single(group),
            Selection::All,
            GroupFrom::Value,
        )),
        ([(dimension, value)], Some(group)) => Some(if dimension.index() < group.index() {
            pair(
                Selection::Value(value.clone()),
                GroupFrom::SecondValue,
                *dimension,
                group,
            )
        } else {
            pair(
                Selection::SecondValue(value.clone()),
                GroupFrom::Value,
                *dimension,
                group,
            )
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

/// The whole buckets of length `bucket` inside `[from, to)` that are rolled
/// (end by `until`), as one span.
fn whole_buckets(from: i64, to: i64, until: i64, bucket: i64) -> Option<(i64, i64)> {
    let (start, end) = (ceil(from, bucket), floor(to.min(until), bucket));
    (start < end).then_some((start, end))
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
    if from >= to {
        return Ok(Cells::new());
    }
    let bucketing = Bucketing { from, bucket_ms };
    let fits = |resolution: i64| bucket_ms.is_none_or(|bucket| bucket % resolution == 0);
    let parts = *PARTS;
    let mut raw_ranges = vec![(from, to)];
    let mut reads = Vec::new();
    if let Some(plan) = plan(&scope.filters, group).filter(|plan| fits(plan.resolution)) {
        let plan = Arc::new(plan);
        let until = |resolution| async move {
            Ok::<_, StoreError>(
                store
                    .rollup_progress(site_id, resolution)
                    .await?
                    .map_or(i64::MIN, Timestamp::as_millis),
            )
        };
        let (hours_until, days_until) = (until(HOUR_MS).await?, until(DAY_MS).await?);
        // Whole days from daily rollups; for shapes that have them, whole
        // hours around those from hourly ones; the rest from raw page views.
        let mut rolled = Vec::new();
        let (covered, hours) = if plan.resolution == HOUR_MS {
            (whole_buckets(from, to, hours_until, HOUR_MS), true)
        } else {
            (whole_buckets(from, to, days_until, DAY_MS), false)
        };
        if let Some((start, end)) = covered {
            raw_ranges = vec![(from, start), (end, to)];
            let days = if hours && fits(DAY_MS) {
                whole_buckets(start, end, days_until, DAY_MS)
            } else if hours {
                None
            } else {
                Some((start, end))
            };
            match days {
                Some((day_start, day_end)) => {
                    rolled.push((DAY_MS, day_start, day_end));
                    if hours {
                        rolled.push((HOUR_MS, start, day_start));
                        rolled.push((HOUR_MS, day_end, end));
                    }
                }
                None => rolled.push((HOUR_MS, start, end)),
            }
        }
        reads.extend(rolled.into_iter().flat_map(|(resolution, start, end)| {
            let plan = Arc::clone(&plan);
            slices(start, end, resolution, parts).map(move |(start, end)| Read::Rollups {
                plan: Arc::clone(&plan),
                resolution,
                start,
                end,
            })
        }));
    }
    reads.extend(
        raw_ranges
            .into_iter()
            .flat_map(|(start, end)| slices(start, end, 1, parts))
            .map(|(start, end)| Read::Raw { start, end }),
    );
    let scope = Arc::new(scope.clone());
    let tasks: Vec<_> = reads
        .into_iter()
        .map(|read| {
            let (store, scope) = (store.clone(), Arc::clone(&scope));
            tokio::spawn(async move { read.cells(&store, site_id, &scope, group, bucketing).await })
        })
        .collect();
    let mut cells = Cells::new();
    for task in tasks {
        // A task ends only by finishing or panicking: none is ever aborted.
        let part = task
            .await
            .unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()))?;
        merge_cells(&mut cells, part);
    }
    Ok(cells)
}

/// One part of a question's answer, read on its own task so that the parts
/// use every core: the database's work, the decoding and the merging of a
/// month of data all scale with them.
enum Read {
    /// Rollup cells with buckets starting in `[start, end)`.
    Rollups {
        plan: Arc<RollupPlan>,
        resolution: i64,
        start: i64,
        end: i64,
    },
    /// Raw page views received in `[start, end)`.
    Raw { start: i64, end: i64 },
}

impl Read {
    async fn cells(
        self,
        store: &Store,
        site_id: i64,
        scope: &Scope,
        group: Option<Dimension>,
        bucketing: Bucketing,
    ) -> Result<Cells, StoreError> {
        let mut cells = Cells::new();
        match self {
            Read::Rollups {
                plan,
                resolution,
                start,
                end,
            } => {
                for row in read_rollups(store, site_id, resolution, &plan, start, end).await? {
                    let value = match &plan.group {
                        GroupFrom::Nothing => String::new(),
                        GroupFrom::Value => row.value,
                        GroupFrom::SecondValue => row.second_value,
                        GroupFrom::Constant(value) => value.clone(),
                    };
                    cells
                        .entry((bucketing.of(row.bucket_start.as_millis()), value))
                        .or_default()
                        .merge(&row.aggregate);
                }
            }
            Read::Raw { start, end } => {
                cells = store
                    .fold_measurements(
                        site_id,
                        (start.into(), end.into()),
                        &scope.filters,
                        group,
                        cells,
                        move |cells, view| {
                            cells
                                .entry((bucketing.of(view.at.as_millis()), view.group))
                                .or_default()
                                .add(&view.metrics);
                        },
                    )
                    .await?;
            }
        }
        Ok(cells)
    }
}

/// Where a page view's time falls: the start of its bucket, or the start of
/// the period when there are no buckets.
#[derive(Debug, Clone, Copy)]
struct Bucketing {
    from: i64,
    bucket_ms: Option<i64>,
}

impl Bucketing {
    fn of(self, at: i64) -> i64 {
        self.bucket_ms.map_or(self.from, |bucket| floor(at, bucket))
    }
}

/// How many slices a long span is read in: one per core, at most eight.
/// Worked out once: finding the cores reads the process's cgroup files.
static PARTS: std::sync::LazyLock<i64> = std::sync::LazyLock::new(|| {
    std::thread::available_parallelism().map_or(2, |cores| cores.get().min(8)) as i64
});

/// Spans at least this long are read in slices, one per core, at once.
const SLICED_FROM_MS: i64 = HOUR_MS;

/// `[start, end)` in up to `parts` slices of about equal length, each a
/// whole number of `unit`s (the start and end are multiples of it).
fn slices(start: i64, end: i64, unit: i64, parts: i64) -> impl Iterator<Item = (i64, i64)> {
    let parts = if end - start >= SLICED_FROM_MS {
        parts.max(1)
    } else {
        1
    };
    let units = (end - start) / unit;
    let step = ((units + parts - 1) / parts).max(1) * unit;
    (0..parts)
        .map(move |part| (start + part * step, (start + (part + 1) * step).min(end)))
        .filter(|(from, to)| from < to)
}

fn merge_cells(into: &mut Cells, from: Cells) {
    for (key, aggregate) in from {
        match into.entry(key) {
            std::collections::btree_map::Entry::Vacant(vacant) => {
                vacant.insert(aggregate);
            }
            std::collections::btree_map::Entry::Occupied(mut occupied) => {
                occupied.get_mut().merge(&aggregate);
            }
        }
    }
}

async fn read_rollups(
    store: &Store,
    site_id: i64,
    resolution: i64,
    plan: &RollupPlan,
    start: i64,
    end: i64,
) -> Result<Vec<RollupRow>, StoreError> {
    let selection = match &plan.selection {
        Selection::All => RollupSelection::All,
        Selection::Value(value) => RollupSelection::Value(value),
        Selection::SecondValue(value) => RollupSelection::SecondValue(value),
        Selection::Both(value, second) => RollupSelection::Both(value, second),
    };
    store
        .rollups(
            site_id,
            resolution,
            &plan.shape.name(),
            selection,
            start.into(),
            end.into(),
        )
        .await
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
