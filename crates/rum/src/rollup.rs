//! Rolling raw page views into hourly and daily aggregates, and the hour
//! under way into minute aggregates until its hourly ones replace them.
//!
//! Keys: every bucket holds the site's totals and each dimension on its
//! own; daily buckets also hold every pair of two dimensions. That answers,
//! from rollups, every question with up to two filters, or one filter and a
//! breakdown, over whole days, and every question with up to one filter (or
//! a breakdown alone) over whole hours. Pairs are daily only: an hourly
//! pair of the page with, say, the country holds a handful of page views,
//! and hourly pairs would take more room than the raw page views. Keying by
//! every dimension at once would be as large as the raw data.
//!
//! The roll runs in any number of processes at once: each bucket is written
//! in one transaction together with the move of the progress marker, and a
//! process that finds the marker moved gives the bucket up.

use sightline_core::Timestamp;
use sightline_core::rum::{Aggregate, Dimension, PageView, PreparedMetrics, ViewColumnsWriter};
use sightline_store::{ColumnGrain, RollupCell, Store, StoreError, VIEW_SEGMENT_MS};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// One minute: the open hour's rollups, until its hour's replace them (the
/// span of a minute of page view columns too).
pub const MINUTE_MS: i64 = VIEW_SEGMENT_MS;
/// One hour, the finest rollup kept.
pub const HOUR_MS: i64 = 3_600_000;
/// One day (UTC).
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// How long after an hour ends before it is rolled, so that page views
/// received in its last moments are committed first.
pub const SETTLE_DELAY: Duration = Duration::from_secs(30);

/// How long after a minute ends before its page views are written as a
/// segment of the open hour. Shorter than [`SETTLE_DELAY`]: a page view
/// committed later than this is missing from the segment only until its
/// hour's whole columns replace the minutes.
pub const SEGMENT_SETTLE_DELAY: Duration = Duration::from_secs(10);

/// Buckets rolled per site per pass, so a long backlog does not hold the
/// loop; the next pass continues.
const BUCKETS_PER_PASS: usize = 48;

/// Minute segments written per site per pass: an hour and a little more.
const SEGMENTS_PER_PASS: usize = 70;

/// What a rollup key is made of: nothing (the totals), one dimension, or
/// two (a pair, the first earlier in [`Dimension::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyShape {
    /// The site's totals.
    Totals,
    /// One dimension.
    Single(Dimension),
    /// Two dimensions.
    Pair(Dimension, Dimension),
}

impl KeyShape {
    /// The name stored in the `dimension` column.
    pub fn name(self) -> String {
        match self {
            KeyShape::Totals => String::new(),
            KeyShape::Single(dimension) => dimension.name().to_owned(),
            KeyShape::Pair(first, second) => format!("{}|{}", first.name(), second.name()),
        }
    }

    /// The pair of two different dimensions, in stored order.
    pub fn pair(a: Dimension, b: Dimension) -> KeyShape {
        if a.index() < b.index() {
            KeyShape::Pair(a, b)
        } else {
            KeyShape::Pair(b, a)
        }
    }

    /// The keys of hourly buckets: totals and single dimensions.
    pub fn hourly() -> Vec<KeyShape> {
        let mut shapes = vec![KeyShape::Totals];
        shapes.extend(Dimension::ALL.map(KeyShape::Single));
        shapes
    }

    /// The keys of daily buckets: the hourly ones and every pair.
    pub fn daily() -> Vec<KeyShape> {
        let mut shapes = KeyShape::hourly();
        for (index, first) in Dimension::ALL.iter().enumerate() {
            for second in &Dimension::ALL[index + 1..] {
                shapes.push(KeyShape::Pair(*first, *second));
            }
        }
        shapes
    }
}

/// Aggregates page views under a set of key shapes.
///
/// Page views are kept compact (interned dimension values, prepared
/// metrics) for a while; then, shape by shape, they are sorted by their key
/// and each run of equal keys is added to one aggregate while it is hot in
/// the cache. Adding each page view to dozens of aggregates scattered over
/// memory, as they arrive, is several times slower. Every
/// [`VIEWS_PER_FOLD`] page views the runs are merged into the aggregates
/// so far and the page views dropped, so that a day of a busy site (tens of
/// millions) takes the memory of one fold, not of the day.
pub struct KeyedAggregates {
    shapes: Vec<KeyShape>,
    values: HashMap<String, u32>,
    names: Vec<String>,
    views: Vec<([u32; Dimension::ALL.len()], PreparedMetrics)>,
    /// The aggregates of the page views folded so far, by shape (its
    /// position in `shapes`) and key (both interned values in one integer).
    folded: BTreeMap<(usize, u64), Aggregate>,
}

/// Page views held before they are folded into their keys' aggregates:
/// about 50 MiB of them, and few enough folds that merging costs little
/// beside adding.
pub const VIEWS_PER_FOLD: usize = 1 << 17;

/// The interned id of "no value" (the totals, or the second half of a single).
const NO_VALUE: u32 = 0;

impl KeyedAggregates {
    /// Counts under these shapes.
    pub fn new(shapes: Vec<KeyShape>) -> Self {
        KeyedAggregates {
            shapes,
            values: HashMap::from([(String::new(), NO_VALUE)]),
            names: vec![String::new()],
            views: Vec::new(),
            folded: BTreeMap::new(),
        }
    }

    fn intern(&mut self, value: &str) -> u32 {
        if let Some(id) = self.values.get(value) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.values.insert(value.to_owned(), id);
        self.names.push(value.to_owned());
        id
    }

    /// Counts one page view under every key.
    pub fn add(&mut self, view: &PageView) {
        let ids = Dimension::ALL.map(|dimension| self.intern(view.dimensions.get(dimension)));
        self.views.push((ids, PreparedMetrics::new(&view.metrics)));
        if self.views.len() >= VIEWS_PER_FOLD {
            self.fold();
        }
    }

    /// Adds the page views held to their keys' aggregates and drops them.
    fn fold(&mut self) {
        let mut keyed: Vec<(u64, u32)> = Vec::with_capacity(self.views.len());
        for (position, shape) in self.shapes.iter().enumerate() {
            // Both values in one integer, so the sort touches one array.
            keyed.clear();
            keyed.extend(self.views.iter().enumerate().map(|(index, (ids, _))| {
                let (value, second) = match *shape {
                    KeyShape::Totals => (NO_VALUE, NO_VALUE),
                    KeyShape::Single(dimension) => (ids[dimension.index()], NO_VALUE),
                    KeyShape::Pair(first, second) => (ids[first.index()], ids[second.index()]),
                };
                ((u64::from(value) << 32) | u64::from(second), index as u32)
            }));
            keyed.sort_unstable();
            for run in keyed.chunk_by(|a, b| a.0 == b.0) {
                let mut aggregate = Aggregate::default();
                for (_, index) in run {
                    aggregate.add_prepared(&self.views[*index as usize].1);
                }
                match self.folded.entry((position, run[0].0)) {
                    Entry::Vacant(vacant) => {
                        vacant.insert(aggregate);
                    }
                    Entry::Occupied(mut occupied) => occupied.get_mut().merge(&aggregate),
                }
            }
        }
        self.views.clear();
    }

    /// The cells to write.
    pub fn into_cells(mut self) -> Vec<RollupCell> {
        self.fold();
        let shape_names: Vec<String> = self.shapes.iter().map(|shape| shape.name()).collect();
        let name = |id: u64| self.names[id as usize].clone();
        self.folded
            .into_iter()
            .map(|((position, key), aggregate)| RollupCell {
                dimension: shape_names[position].clone(),
                value: name(key >> 32),
                second_value: name(key & u64::from(u32::MAX)),
                aggregate,
            })
            .collect()
    }
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

/// Rolls one site's complete hours (into columns and hourly cells), then
/// its complete days, and the settled minutes of the hour not rolled yet
/// (into minute columns and minute cells).
pub async fn roll_site(store: &Store, site_id: i64) -> Result<(), StoreError> {
    let now = store.now();
    let settled = now.minus(SETTLE_DELAY);
    let hours = [
        lane(store, site_id, Output::Columns(ColumnGrain::Hour), None).await?,
        lane(store, site_id, Output::Cells(HOUR_MS), None).await?,
    ];
    let [column_hours, cell_hours] =
        roll_spans(store, site_id, hours, settled, BUCKETS_PER_PASS).await?;
    if let Some(hours) = cell_hours {
        // Minute cells of rolled hours are never read again.
        store
            .delete_rollups_before(site_id, MINUTE_MS, hours)
            .await?;
    }
    let minutes_settled = now.minus(SEGMENT_SETTLE_DELAY);
    // Minutes wait for a site's backlog of hours to be within two hours of
    // now, and start past the hours already rolled.
    let caught_up = |hours: Option<Timestamp>| {
        hours.is_none_or(|hours| {
            hours.plus(Duration::from_millis(2 * HOUR_MS as u64)) >= minutes_settled
        })
    };
    let mut minutes = [
        lane(
            store,
            site_id,
            Output::Columns(ColumnGrain::Minute),
            column_hours,
        )
        .await?,
        lane(store, site_id, Output::Cells(MINUTE_MS), cell_hours).await?,
    ];
    for (lane, hours) in minutes.iter_mut().zip([column_hours, cell_hours]) {
        if !caught_up(hours) {
            lane.next = None;
        }
    }
    roll_spans(store, site_id, minutes, minutes_settled, SEGMENTS_PER_PASS).await?;
    let Some(hours_rolled) = cell_hours else {
        return Ok(());
    };
    roll_days(store, site_id, hours_rolled).await?;
    Ok(())
}

/// One way spans of page views are kept, each with a marker of its own.
#[derive(Debug, Clone, Copy)]
enum Output {
    /// Page view columns of this grain (see
    /// [`sightline_core::rum::ViewColumnsWriter`]).
    Columns(ColumnGrain),
    /// Rollup cells of the hourly keys at this resolution (an hour, or a
    /// minute of the hour not rolled yet).
    Cells(i64),
}

impl Output {
    fn span_ms(self) -> i64 {
        match self {
            Output::Columns(grain) => grain.span_ms(),
            Output::Cells(resolution) => resolution,
        }
    }
}

/// An output being built from a span's page views.
enum Fold {
    Columns(ColumnGrain, Box<ViewColumnsWriter>),
    Cells(i64, KeyedAggregates),
}

impl Fold {
    fn new(output: Output) -> Self {
        match output {
            Output::Columns(grain) => Fold::Columns(grain, Box::default()),
            Output::Cells(resolution) => {
                Fold::Cells(resolution, KeyedAggregates::new(KeyShape::hourly()))
            }
        }
    }

    fn add(&mut self, view: &PageView) {
        match self {
            Fold::Columns(_, writer) => writer.add(view),
            Fold::Cells(_, aggregates) => aggregates.add(view),
        }
    }
}

/// Where an output stands: its marker, and the next span to write (`None`
/// when there is nothing to write this pass).
struct Lane {
    output: Output,
    progress: Option<Timestamp>,
    next: Option<Timestamp>,
}

/// An output's lane, starting at its marker or, past that, at `after`
/// (spans before it are kept whole by a coarser output already).
async fn lane(
    store: &Store,
    site_id: i64,
    output: Output,
    after: Option<Timestamp>,
) -> Result<Lane, StoreError> {
    let progress = match output {
        Output::Columns(ColumnGrain::Hour) => store.view_columns_progress(site_id).await?,
        Output::Columns(ColumnGrain::Minute) => store.view_segments_progress(site_id).await?,
        Output::Cells(resolution) => store.rollup_progress(site_id, resolution).await?,
    };
    let next = first_unrolled(store, site_id, progress.max(after), output.span_ms()).await?;
    Ok(Lane {
        output,
        progress,
        next,
    })
}

/// Writes up to `most` spans per lane that end by `until`, each with the
/// move of its marker. Lanes go on independently; a
/// span two lanes need is read once for both. A lane whose marker another
/// process moved stops; the next pass goes on from there. Returns how far
/// each lane's output reaches.
async fn roll_spans<const N: usize>(
    store: &Store,
    site_id: i64,
    mut lanes: [Lane; N],
    until: Timestamp,
    most: usize,
) -> Result<[Option<Timestamp>; N], StoreError> {
    let span = Duration::from_millis(lanes[0].output.span_ms() as u64);
    for _ in 0..most {
        let mut starts: Vec<Timestamp> = lanes
            .iter()
            .filter_map(|lane| lane.next)
            .filter(|start| start.plus(span) <= until)
            .collect();
        if starts.is_empty() {
            break;
        }
        starts.sort_unstable();
        starts.dedup();
        for start in starts {
            let end = start.plus(span);
            // Every lane that needs this span is fed from one read of it.
            let outputs: Vec<Fold> = lanes
                .iter()
                .filter(|lane| lane.next == Some(start))
                .map(|lane| Fold::new(lane.output))
                .collect();
            let outputs = store
                .fold_page_views(site_id, start, end, outputs, |outputs, view| {
                    outputs.iter_mut().for_each(|output| output.add(&view));
                })
                .await?;
            let lanes_here = lanes.iter_mut().filter(|lane| lane.next == Some(start));
            for (lane, output) in lanes_here.zip(outputs) {
                let written = match output {
                    Fold::Columns(grain, writer) => {
                        store
                            .write_view_columns(
                                site_id,
                                grain,
                                start,
                                &writer.finish(),
                                lane.progress,
                            )
                            .await?
                    }
                    Fold::Cells(resolution, aggregates) => {
                        let cells = aggregates.into_cells();
                        store
                            .write_rollup_bucket(site_id, resolution, start, &cells, lane.progress)
                            .await?
                    }
                };
                if written {
                    lane.progress = Some(end);
                    lane.next = Some(end);
                } else {
                    lane.next = None;
                }
            }
        }
    }
    Ok(lanes.map(|lane| lane.progress))
}

/// Rolls up to [`BUCKETS_PER_PASS`] complete days that end by `until` (how
/// far the hours are rolled) into daily cells, pairs included.
async fn roll_days(store: &Store, site_id: i64, until: Timestamp) -> Result<(), StoreError> {
    let mut progress = store.rollup_progress(site_id, DAY_MS).await?;
    let Some(mut start) = first_unrolled(store, site_id, progress, DAY_MS).await? else {
        return Ok(());
    };
    for _ in 0..BUCKETS_PER_PASS {
        let end = start.plus(Duration::from_millis(DAY_MS as u64));
        if end > until {
            break;
        }
        let aggregates = KeyedAggregates::new(KeyShape::daily());
        let aggregates = store
            .fold_page_views(site_id, start, end, aggregates, |aggregates, view| {
                aggregates.add(&view);
            })
            .await?;
        let cells = aggregates.into_cells();
        let written = store
            .write_rollup_bucket(site_id, DAY_MS, start, &cells, progress)
            .await?;
        if !written {
            // Another process rolled it; the next pass goes on from there.
            return Ok(());
        }
        progress = Some(end);
        start = end;
    }
    Ok(())
}

/// Where rolling continues: at the progress marker, or at the bucket of
/// the oldest page view kept; `None` when there is nothing to roll.
async fn first_unrolled(
    store: &Store,
    site_id: i64,
    progress: Option<Timestamp>,
    resolution: i64,
) -> Result<Option<Timestamp>, StoreError> {
    Ok(match progress {
        Some(rolled_until) => Some(rolled_until),
        None => store
            .earliest_page_view(site_id)
            .await?
            .map(|first| floor(first, resolution)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_core::rum::Metric;

    fn view(n: usize) -> PageView {
        let mut view = PageView {
            site_id: 1,
            at: Timestamp::from_millis(n as i64),
            dimensions: Default::default(),
            metrics: Default::default(),
        };
        for (index, dimension) in Dimension::ALL.into_iter().enumerate() {
            // Few values for some dimensions, many for others.
            let value = (n / (index + 1)) % (3 + index * 40);
            view.dimensions
                .set(dimension, format!("{}-{value}", dimension.name()));
        }
        for (index, metric) in Metric::ALL.into_iter().enumerate() {
            // Some page views lack some measurements.
            let value = ((n * 7919 + index * 104_729) % 5000) as f64 / 3.0;
            view.metrics
                .set(metric, (!n.is_multiple_of(index + 2)).then_some(value));
        }
        view
    }

    #[test]
    fn folding_in_parts_gives_the_cells_adding_each_page_view_gives() {
        let views = 2 * VIEWS_PER_FOLD + 1_000;
        let shapes = vec![
            KeyShape::Totals,
            KeyShape::Single(Dimension::ALL[0]),
            KeyShape::Single(Dimension::ALL[5]),
            KeyShape::Pair(Dimension::ALL[1], Dimension::ALL[6]),
        ];
        let mut folded = KeyedAggregates::new(shapes.clone());
        let mut expected: BTreeMap<(String, String, String), Aggregate> = BTreeMap::new();
        for n in 0..views {
            let view = view(n);
            folded.add(&view);
            for shape in &shapes {
                let (value, second) = match *shape {
                    KeyShape::Totals => (String::new(), String::new()),
                    KeyShape::Single(dimension) => {
                        (view.dimensions.get(dimension).to_owned(), String::new())
                    }
                    KeyShape::Pair(first, second) => (
                        view.dimensions.get(first).to_owned(),
                        view.dimensions.get(second).to_owned(),
                    ),
                };
                expected
                    .entry((shape.name(), value, second))
                    .or_default()
                    .add(&view.metrics);
            }
        }
        let cells: BTreeMap<(String, String, String), Aggregate> = folded
            .into_cells()
            .into_iter()
            .map(|cell| {
                (
                    (cell.dimension, cell.value, cell.second_value),
                    cell.aggregate,
                )
            })
            .collect();
        assert_eq!(cells.len(), expected.len());
        let totals = &cells[&(KeyShape::Totals.name(), String::new(), String::new())];
        assert_eq!(totals.page_views(), views as u64);
        for (key, aggregate) in &expected {
            assert_eq!(cells.get(key), Some(aggregate), "{key:?}");
        }
    }
}
