//! Answering RUM questions over a period: from daily and hourly rollups for
//! what they cover, and from the minute rollups of the hour not rolled yet;
//! for filter combinations no rollup is keyed by, and for the hour not yet
//! rolled when no minute rollup answers, from the page view columns (of
//! whole hours, and of the open hour's minutes); and from raw page views
//! for the rest (the last minute or so, partial minutes at the edges,
//! buckets finer than a minute).
//!
//! Every question is the same one underneath: the aggregates of the page
//! views matching the filters, per time bucket (or for the whole period)
//! and per value of a grouping dimension (or for all together).

use crate::rollup::{DAY_MS, HOUR_MS, KeyShape, MINUTE_MS};
use sightline_core::Timestamp;
use sightline_core::rum::{Aggregate, Dimension, MetricSet, ViewColumn};
use sightline_store::{
    ColumnGrain, MeasurementScan, RollupQuery, RollupSelection, RollupSide, Store, StoreError,
    VIEW_SEGMENT_MS,
};
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
    let reach = to.min(until);
    if reach <= from {
        // Nothing rolled inside the period (`until` may be `i64::MIN`).
        return None;
    }
    let (start, end) = (ceil(from, bucket), floor(reach, bucket));
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
    metrics: MetricSet,
) -> Result<Cells, StoreError> {
    let reads = reads(store, site_id, scope, bucket_ms, group).await?;
    let asked = Asked::new(scope, group, bucket_ms, metrics);
    run(reads, store, site_id, &asked).await
}

/// The values of `group` with the most page views in scope, most first
/// (ties in value order), with their aggregates.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// At most the `limit` asked for.
    pub top: Vec<(String, Aggregate)>,
    /// How many values had page views in scope, in all.
    pub values: usize,
}

/// The `limit` values of `group` with the most page views in scope.
///
/// Rollup cells are ranked by their page-view counts first (a column, read
/// without the sketches), and only the top values' aggregates are read and
/// merged: a breakdown of 500 pages over 30 days reads the sketches of 10
/// pages, not of 500. Raw page views are folded whole, as for any question.
pub async fn top_values(
    store: &Store,
    site_id: i64,
    scope: &Scope,
    group: Dimension,
    limit: usize,
    metrics: MetricSet,
) -> Result<Ranking, StoreError> {
    let reads = reads(store, site_id, scope, None, Some(group)).await?;
    let asked = Asked::new(scope, Some(group), None, metrics);
    // Rollup reads whose cells carry the group's value are ranked first;
    // the others (raw page views, a group fixed by a filter) are read whole.
    let mut ranked = Vec::new();
    let mut direct = Vec::new();
    for read in reads {
        match read {
            Read::Rollups(span) => match group_side(&span.plan) {
                Some(side) => ranked.push((span, side)),
                None => direct.push(Read::Rollups(span)),
            },
            other @ (Read::Columns { .. } | Read::Raw { .. }) => direct.push(other),
        }
    }
    let counting: Vec<_> = ranked
        .iter()
        .map(|(span, side)| {
            let (store, span, side) = (store.clone(), span.clone(), *side);
            tokio::spawn(async move { span.counts(&store, site_id, side).await })
        })
        .collect();
    let mut cells = run(direct, store, site_id, &asked).await?;
    let mut counts: std::collections::HashMap<String, u64> = cells
        .iter()
        .map(|((_, value), aggregate)| (value.clone(), aggregate.page_views()))
        .collect();
    for part in joined(counting).await? {
        for (value, count) in part {
            *counts.entry(value).or_default() += count;
        }
    }
    let values = counts.len();
    let mut ranked_values: Vec<(String, u64)> = counts.into_iter().collect();
    ranked_values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked_values.truncate(limit);
    let top: Arc<Vec<String>> =
        Arc::new(ranked_values.into_iter().map(|(value, _)| value).collect());
    let narrowed = ranked
        .into_iter()
        .map(|(span, side)| {
            Read::Rollups(RollupSpan {
                only: Some((side, Arc::clone(&top))),
                ..span
            })
        })
        .collect();
    merge_cells(&mut cells, run(narrowed, store, site_id, &asked).await?);
    let from = scope.from.as_millis();
    Ok(Ranking {
        top: top
            .iter()
            .map(|value| {
                let aggregate = cells.remove(&(from, value.clone())).unwrap_or_default();
                (value.clone(), aggregate)
            })
            .collect(),
        values,
    })
}

/// What every read of one question shares.
#[derive(Clone)]
struct Asked {
    scope: Arc<Scope>,
    group: Option<Dimension>,
    bucketing: Bucketing,
    /// The metrics the answer shows: the others are not read.
    metrics: MetricSet,
}

impl Asked {
    fn new(
        scope: &Scope,
        group: Option<Dimension>,
        bucket_ms: Option<i64>,
        metrics: MetricSet,
    ) -> Self {
        Self {
            scope: Arc::new(scope.clone()),
            group,
            bucketing: Bucketing {
                from: scope.from.as_millis(),
                bucket_ms,
            },
            metrics,
        }
    }
}

/// Runs reads at once, one task each, and merges their cells.
async fn run(
    reads: Vec<Read>,
    store: &Store,
    site_id: i64,
    asked: &Asked,
) -> Result<Cells, StoreError> {
    let tasks: Vec<_> = reads
        .into_iter()
        .map(|read| {
            let (store, asked) = (store.clone(), asked.clone());
            tokio::spawn(async move { read.cells(&store, site_id, &asked).await })
        })
        .collect();
    let mut cells = Cells::new();
    for part in joined(tasks).await? {
        merge_cells(&mut cells, part);
    }
    Ok(cells)
}

/// The results of tasks, in order; the first error if any failed.
async fn joined<T>(
    tasks: Vec<tokio::task::JoinHandle<Result<T, StoreError>>>,
) -> Result<Vec<T>, StoreError> {
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        // A task ends only by finishing or panicking: none is ever aborted.
        let result = task
            .await
            .unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()))?;
        results.push(result);
    }
    Ok(results)
}

/// The reads that answer a question: rollups for what they cover, raw page
/// views for the rest, long spans cut into slices.
async fn reads(
    store: &Store,
    site_id: i64,
    scope: &Scope,
    bucket_ms: Option<i64>,
    group: Option<Dimension>,
) -> Result<Vec<Read>, StoreError> {
    let (from, to) = (scope.from.as_millis(), scope.to.as_millis());
    if from >= to {
        return Ok(Vec::new());
    }
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
        // Whole minutes past the rolled hours from minute cells (the hour
        // under way), for shapes that have hourly cells.
        if plan.resolution == HOUR_MS {
            let minutes_until = until(MINUTE_MS).await?;
            let (whole, rest) = carve(raw_ranges, hours_until, minutes_until, MINUTE_MS);
            rolled.extend(
                whole
                    .into_iter()
                    .map(|(start, end)| (MINUTE_MS, start, end)),
            );
            raw_ranges = rest;
        }
        reads.extend(rolled.into_iter().flat_map(|(resolution, start, end)| {
            let plan = Arc::clone(&plan);
            slices(start, end, resolution, parts).map(move |(start, end)| {
                Read::Rollups(RollupSpan {
                    plan: Arc::clone(&plan),
                    resolution,
                    start,
                    end,
                    only: None,
                })
            })
        }));
    }
    // What no rollup answers: whole hours from the page view columns, whole
    // minutes after them from the open hour's segments, the rest (partial
    // hours and minutes, the last minutes not yet written) from raw page
    // views.
    // Hours hold each page view's minute: any bucket of whole minutes is
    // answered from columns.
    let mut grains = Vec::new();
    if fits(VIEW_SEGMENT_MS) {
        let millis = |until: Option<Timestamp>| until.map_or(i64::MIN, Timestamp::as_millis);
        let hours_until = millis(store.view_columns_progress(site_id).await?);
        let minutes_until = millis(store.view_segments_progress(site_id).await?);
        grains = vec![
            (ColumnGrain::Hour, i64::MIN, hours_until),
            // Minutes count only past the hours: those of rolled hours are
            // gone, or left over from a race and not to be read.
            (ColumnGrain::Minute, hours_until, minutes_until),
        ];
    }
    let mut raw = raw_ranges;
    for (grain, after, until) in grains {
        let span = grain.span_ms();
        let (whole, rest) = carve(raw, after, until, span);
        reads.extend(
            whole
                .into_iter()
                .flat_map(|(start, end)| slices(start, end, span, parts))
                .map(|(start, end)| Read::Columns { grain, start, end }),
        );
        raw = rest;
    }
    reads.extend(
        raw.into_iter()
            .flat_map(|(start, end)| slices(start, end, 1, parts))
            .map(|(start, end)| Read::Raw { start, end }),
    );
    Ok(reads)
}

/// Spans of time, `[start, end)` in Unix milliseconds.
type Spans = Vec<(i64, i64)>;

/// Splits `ranges` into the whole buckets of `bucket` in each (past `after`,
/// and rolled: ending by `until`), one span per range, and the non-empty
/// rest around them.
fn carve(ranges: Spans, after: i64, until: i64, bucket: i64) -> (Spans, Spans) {
    let (mut whole, mut rest) = (Vec::new(), Vec::new());
    for (start, end) in ranges {
        match whole_buckets(start.max(after), end, until, bucket) {
            Some((whole_start, whole_end)) => {
                whole.push((whole_start, whole_end));
                rest.extend([(start, whole_start), (whole_end, end)]);
            }
            None => rest.push((start, end)),
        }
    }
    rest.retain(|(start, end)| start < end);
    (whole, rest)
}

/// One part of a question's answer, read on its own task so that the parts
/// use every core: the database's work, the decoding and the merging of a
/// month of data all scale with them.
enum Read {
    /// Rollup cells.
    Rollups(RollupSpan),
    /// The page view columns of the hours or minutes starting in
    /// `[start, end)`.
    Columns {
        grain: ColumnGrain,
        start: i64,
        end: i64,
    },
    /// Raw page views received in `[start, end)`.
    Raw { start: i64, end: i64 },
}

/// Rollup cells of one plan and resolution with buckets starting in
/// `[start, end)`; with `only`, just the cells whose value on that side is
/// one of those.
#[derive(Clone)]
struct RollupSpan {
    plan: Arc<RollupPlan>,
    resolution: i64,
    start: i64,
    end: i64,
    only: Option<(RollupSide, Arc<Vec<String>>)>,
}

impl RollupSpan {
    /// The store's question for these cells, reading `metrics` of them.
    fn query<'a>(&'a self, site_id: i64, shape: &'a str, metrics: MetricSet) -> RollupQuery<'a> {
        RollupQuery {
            site_id,
            resolution_ms: self.resolution,
            dimension: shape,
            selection: match &self.plan.selection {
                Selection::All => RollupSelection::All,
                Selection::Value(value) => RollupSelection::Value(value),
                Selection::SecondValue(value) => RollupSelection::SecondValue(value),
                Selection::Both(value, second) => RollupSelection::Both(value, second),
            },
            from: self.start.into(),
            to: self.end.into(),
            metrics,
        }
    }

    /// Page views per value on `side`, from the cells' counts alone.
    async fn counts(
        &self,
        store: &Store,
        site_id: i64,
        side: RollupSide,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let shape = self.plan.shape.name();
        let query = self.query(site_id, &shape, MetricSet::ALL);
        store.rollup_counts(&query, side).await
    }
}

impl Read {
    async fn cells(self, store: &Store, site_id: i64, asked: &Asked) -> Result<Cells, StoreError> {
        let bucketing = asked.bucketing;
        let mut cells = Cells::new();
        match self {
            Read::Rollups(span) => {
                let shape = span.plan.shape.name();
                let query = span.query(site_id, &shape, asked.metrics);
                let only = span
                    .only
                    .as_ref()
                    .map(|(side, values)| (*side, values.as_slice()));
                for row in store.rollups(&query, only).await? {
                    let value = match &span.plan.group {
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
            Read::Columns { grain, start, end } => {
                let scope = Arc::clone(&asked.scope);
                let (group, metrics) = (asked.group, asked.metrics);
                let by_minute = bucketing
                    .bucket_ms
                    .is_some_and(|bucket| bucket % grain.span_ms() != 0);
                let columns = ViewColumn::needed(&scope.filters, group, metrics, by_minute);
                let span = (start.into(), end.into());
                cells = store
                    .fold_view_columns(
                        site_id,
                        grain,
                        span,
                        &columns,
                        cells,
                        move |cells, start, read| {
                            let start = start.as_millis();
                            let folded = if by_minute {
                                read.fold_minutes(&scope.filters, group, metrics)?
                            } else {
                                read.fold(&scope.filters, group, metrics)?
                                    .into_iter()
                                    .map(|(value, aggregate)| (0, value, aggregate))
                                    .collect()
                            };
                            for (minute, value, aggregate) in folded {
                                let at = start + i64::from(minute) * VIEW_SEGMENT_MS;
                                cells
                                    .entry((bucketing.of(at), value))
                                    .or_default()
                                    .merge(&aggregate);
                            }
                            Ok(())
                        },
                    )
                    .await?;
            }
            Read::Raw { start, end } => {
                let scan = MeasurementScan {
                    from: start.into(),
                    to: end.into(),
                    filters: &asked.scope.filters,
                    group: asked.group,
                    metrics: asked.metrics,
                };
                cells = store
                    .fold_measurements(site_id, &scan, cells, move |cells, view| {
                        cells
                            .entry((bucketing.of(view.at.as_millis()), view.group))
                            .or_default()
                            .add(&view.metrics);
                    })
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

/// Which value of a plan's cells is the group value, if one of them is.
fn group_side(plan: &RollupPlan) -> Option<RollupSide> {
    match plan.group {
        GroupFrom::Value => Some(RollupSide::First),
        GroupFrom::SecondValue => Some(RollupSide::Second),
        GroupFrom::Nothing | GroupFrom::Constant(_) => None,
    }
}

/// Everything the page views in the scope add up to.
pub async fn aggregate(
    store: &Store,
    site_id: i64,
    scope: &Scope,
) -> Result<Aggregate, StoreError> {
    let cells = aggregate_cells(store, site_id, scope, None, None, MetricSet::ALL).await?;
    Ok(cells.into_values().next().unwrap_or_default())
}
