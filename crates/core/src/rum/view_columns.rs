//! An hour of page views stored column by column: each dimension as a
//! dictionary of its values and one small code per page view, each metric
//! as one code per page view that holds the value's sketch bucket and
//! rating.
//!
//! Questions no rollup is keyed by (two filters and a breakdown, or a
//! filter on a value no pair covers) would otherwise read every raw page
//! view of the period, each a wide row of some 300 bytes; the columns of a
//! question cost a byte or two per page view each, and only the columns it
//! names are read. What a page view adds to an aggregate is exactly what it
//! adds from these codes (the sketch bucket and rating are worked out when
//! the hour is written), so answers are the same as from the raw rows.

use super::aggregate::{Aggregate, PreparedMetrics};
use super::dimension::Dimension;
use super::metric::{Metric, MetricSet, Rating};
use super::page_view::PageView;
use super::sketch::{SketchDecodeError, SketchPoint};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The first byte of every stored column; a change of encoding gets a new one.
const FORMAT_VERSION: u8 = 1;

/// Which column of an hour's page views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewColumn {
    /// The values of a dimension.
    Dimension(Dimension),
    /// The measurements of a metric.
    Metric(Metric),
    /// The minute of the hour each page view was received in: what places
    /// a page view in a bucket shorter than an hour.
    Minute,
}

/// The stored name of [`ViewColumn::Minute`] (no dimension or metric has it).
const MINUTE_NAME: &str = "minute";

/// One minute and one hour, in milliseconds.
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

impl ViewColumn {
    /// The stored name: the dimension's or the metric's (no two share one).
    pub fn name(self) -> &'static str {
        match self {
            ViewColumn::Dimension(dimension) => dimension.name(),
            ViewColumn::Metric(metric) => metric.name(),
            ViewColumn::Minute => MINUTE_NAME,
        }
    }

    /// The column a stored name stands for.
    pub fn from_name(name: &str) -> Option<ViewColumn> {
        if name == MINUTE_NAME {
            return Some(ViewColumn::Minute);
        }
        Dimension::from_name(name)
            .map(ViewColumn::Dimension)
            .or_else(|| Metric::from_name(name).map(ViewColumn::Metric))
    }

    /// The columns a question reads: those of its filters and group, of
    /// the metrics it shows, and the minutes when it is asked per minute.
    pub fn needed(
        filters: &[(Dimension, String)],
        group: Option<Dimension>,
        metrics: MetricSet,
        by_minute: bool,
    ) -> Vec<ViewColumn> {
        let mut columns: Vec<ViewColumn> = filters
            .iter()
            .map(|(dimension, _)| *dimension)
            .chain(group)
            .map(ViewColumn::Dimension)
            .collect();
        columns.extend(metrics.iter().map(ViewColumn::Metric));
        if by_minute {
            columns.push(ViewColumn::Minute);
        }
        columns.sort_by_key(|column| column.name());
        columns.dedup();
        columns
    }
}

#[derive(Serialize, Deserialize)]
struct StoredDimension {
    dictionary: Vec<String>,
    codes: Vec<u32>,
}

#[derive(Serialize, Deserialize)]
struct StoredMetric {
    codes: Vec<u32>,
}

#[derive(Serialize, Deserialize)]
struct StoredMinutes {
    minutes: Vec<u8>,
}

/// Builds the columns of an hour's page views.
#[derive(Debug, Default)]
pub struct ViewColumnsWriter {
    views: usize,
    minutes: Vec<u8>,
    dimensions: [DictionaryBuilder; Dimension::ALL.len()],
    metrics: [Vec<u32>; Metric::ALL.len()],
}

#[derive(Debug, Default)]
struct DictionaryBuilder {
    codes_by_value: HashMap<String, u32>,
    dictionary: Vec<String>,
    codes: Vec<u32>,
}

impl DictionaryBuilder {
    fn push(&mut self, value: &str) {
        let code = match self.codes_by_value.get(value) {
            Some(code) => *code,
            None => {
                let code = self.dictionary.len() as u32;
                self.codes_by_value.insert(value.to_owned(), code);
                self.dictionary.push(value.to_owned());
                code
            }
        };
        self.codes.push(code);
    }
}

impl ViewColumnsWriter {
    /// Adds one page view.
    pub fn add(&mut self, view: &PageView) {
        self.views += 1;
        let minute = view.at.as_millis().rem_euclid(HOUR_MS) / MINUTE_MS;
        self.minutes.push(minute as u8);
        for (dimension, builder) in Dimension::ALL.iter().zip(&mut self.dimensions) {
            builder.push(view.dimensions.get(*dimension));
        }
        for (metric, codes) in Metric::ALL.iter().zip(&mut self.metrics) {
            let code = view.metrics.get(*metric).map_or(ABSENT, |value| {
                SketchPoint::of(value)
                    .map_or(ABSENT, |point| measurement_code(point, metric.rate(value)))
            });
            codes.push(code);
        }
    }

    /// How many page views were added.
    pub fn views(&self) -> usize {
        self.views
    }

    /// The stored columns: every dimension, the minutes, and every metric
    /// some page view measured; none for an hour without page views.
    pub fn finish(self) -> Vec<(ViewColumn, Vec<u8>)> {
        let mut columns = Vec::new();
        if self.views == 0 {
            return columns;
        }
        for (dimension, builder) in Dimension::ALL.into_iter().zip(self.dimensions) {
            let stored = StoredDimension {
                dictionary: builder.dictionary,
                codes: builder.codes,
            };
            columns.push((ViewColumn::Dimension(dimension), encode(&stored)));
        }
        let minutes = StoredMinutes {
            minutes: self.minutes,
        };
        columns.push((ViewColumn::Minute, encode(&minutes)));
        for (metric, codes) in Metric::ALL.into_iter().zip(self.metrics) {
            if codes.iter().any(|code| *code != ABSENT) {
                columns.push((ViewColumn::Metric(metric), encode(&StoredMetric { codes })));
            }
        }
        columns
    }
}

fn encode<T: Serialize>(stored: &T) -> Vec<u8> {
    let mut bytes = vec![FORMAT_VERSION];
    // Serializing vectors of strings and integers into memory cannot fail.
    bytes.extend(postcard::to_allocvec(stored).unwrap_or_default());
    bytes
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, SketchDecodeError> {
    let Some((&FORMAT_VERSION, body)) = bytes.split_first() else {
        return Err(SketchDecodeError::new("unknown page view column format"));
    };
    postcard::from_bytes(body).map_err(|e| SketchDecodeError::new(&e.to_string()))
}

/// No measurement.
const ABSENT: u32 = 0;

/// A measurement's code: 0 when absent, else one more than the bucket
/// (zigzag, one more again so that 0 is the zero point) shifted past two
/// bits of rating.
fn measurement_code(point: SketchPoint, rating: Option<Rating>) -> u32 {
    let bucket = match point {
        SketchPoint::Zero => 0,
        SketchPoint::Bucket(key) => ((key << 1) ^ (key >> 31)) as u32 + 1,
    };
    let rating = match rating {
        None => 0,
        Some(Rating::Good) => 1,
        Some(Rating::NeedsImprovement) => 2,
        Some(Rating::Poor) => 3,
    };
    ((bucket << 2) | rating) + 1
}

fn measurement_of(code: u32) -> Option<(SketchPoint, Option<Rating>)> {
    let code = code.checked_sub(1)?;
    let rating = match code & 3 {
        1 => Some(Rating::Good),
        2 => Some(Rating::NeedsImprovement),
        3 => Some(Rating::Poor),
        _ => None,
    };
    let point = match code >> 2 {
        0 => SketchPoint::Zero,
        bucket => {
            let zigzag = bucket - 1;
            SketchPoint::Bucket(((zigzag >> 1) as i32) ^ -((zigzag & 1) as i32))
        }
    };
    Some((point, rating))
}

/// The columns of one hour that a question read, decoded.
#[derive(Debug, Default)]
pub struct HourColumns {
    views: Option<usize>,
    minutes: Option<Vec<u8>>,
    dimensions: HashMap<Dimension, StoredDimension>,
    metrics: Vec<(Metric, Vec<u32>)>,
}

impl std::fmt::Debug for StoredDimension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredDimension")
            .field("values", &self.dictionary.len())
            .field("views", &self.codes.len())
            .finish()
    }
}

impl HourColumns {
    /// How many page views the hour holds (0 before a column is added).
    pub fn views(&self) -> usize {
        self.views.unwrap_or(0)
    }

    /// Decodes one stored column; every column of an hour must be of the
    /// same page views.
    pub fn add(&mut self, column: ViewColumn, bytes: &[u8]) -> Result<(), SketchDecodeError> {
        let views = match column {
            ViewColumn::Dimension(dimension) => {
                let stored: StoredDimension = decode(bytes)?;
                if stored
                    .codes
                    .iter()
                    .any(|code| *code as usize >= stored.dictionary.len())
                {
                    return Err(SketchDecodeError::new(
                        "a value code is not in the dictionary",
                    ));
                }
                let views = stored.codes.len();
                self.dimensions.insert(dimension, stored);
                views
            }
            ViewColumn::Metric(metric) => {
                let stored: StoredMetric = decode(bytes)?;
                let views = stored.codes.len();
                self.metrics.push((metric, stored.codes));
                views
            }
            ViewColumn::Minute => {
                let stored: StoredMinutes = decode(bytes)?;
                if stored.minutes.iter().any(|minute| *minute >= 60) {
                    return Err(SketchDecodeError::new("a minute of the hour past 59"));
                }
                let views = stored.minutes.len();
                self.minutes = Some(stored.minutes);
                views
            }
        };
        match self.views {
            Some(known) if known != views => Err(SketchDecodeError::new(
                "columns of one hour hold different numbers of page views",
            )),
            _ => {
                self.views = Some(views);
                Ok(())
            }
        }
    }

    /// The aggregates of the page views that have every filter's value,
    /// per value of `group` (or all under the empty value), of the
    /// `metrics` read. A metric with no column was measured by no page
    /// view; a filtered or grouped dimension must have been read.
    pub fn fold(
        &self,
        filters: &[(Dimension, String)],
        group: Option<Dimension>,
        metrics: MetricSet,
    ) -> Result<Vec<(String, Aggregate)>, SketchDecodeError> {
        Ok(self
            .fold_by(filters, group, metrics, false)?
            .into_iter()
            .map(|(_, value, aggregate)| (value, aggregate))
            .collect())
    }

    /// As [`HourColumns::fold`], per minute of the hour as well (the
    /// minutes must have been read): each aggregate with its minute.
    pub fn fold_minutes(
        &self,
        filters: &[(Dimension, String)],
        group: Option<Dimension>,
        metrics: MetricSet,
    ) -> Result<Vec<(u8, String, Aggregate)>, SketchDecodeError> {
        self.fold_by(filters, group, metrics, true)
    }

    fn fold_by(
        &self,
        filters: &[(Dimension, String)],
        group: Option<Dimension>,
        metrics: MetricSet,
        by_minute: bool,
    ) -> Result<Vec<(u8, String, Aggregate)>, SketchDecodeError> {
        let Some(views) = self.views else {
            return Ok(Vec::new());
        };
        let minutes = match (&self.minutes, by_minute) {
            (Some(minutes), true) => Some(minutes),
            (None, true) => {
                return Err(SketchDecodeError::new("the minute column was not read"));
            }
            (_, false) => None,
        };
        let column = |dimension: Dimension| {
            self.dimensions.get(&dimension).ok_or_else(|| {
                SketchDecodeError::new(&format!("the {} column was not read", dimension.name()))
            })
        };
        let mut wanted = Vec::with_capacity(filters.len());
        for (dimension, value) in filters {
            let stored = column(*dimension)?;
            // A value no page view of the hour has: nothing matches.
            let Some(code) = stored.dictionary.iter().position(|known| known == value) else {
                return Ok(Vec::new());
            };
            wanted.push((&stored.codes, code as u32));
        }
        let group = group.map(column).transpose()?;
        let metric_codes: Vec<(Metric, &Vec<u32>)> = self
            .metrics
            .iter()
            .filter(|(metric, _)| metrics.contains(*metric))
            .map(|(metric, codes)| (*metric, codes))
            .collect();
        let values = group.map_or(1, |stored| stored.dictionary.len());
        let mut aggregates: Vec<Option<Aggregate>> =
            vec![None; values * if by_minute { 60 } else { 1 }];
        let mut prepared = PreparedMetrics::default();
        for view in 0..views {
            if wanted.iter().any(|(codes, code)| codes[view] != *code) {
                continue;
            }
            prepared.clear();
            for (metric, codes) in &metric_codes {
                if let Some((point, rating)) = measurement_of(codes[view]) {
                    prepared.push(*metric, point, rating);
                }
            }
            let mut slot = group.map_or(0, |stored| stored.codes[view] as usize);
            if let Some(minutes) = minutes {
                slot += minutes[view] as usize * values;
            }
            aggregates[slot]
                .get_or_insert_default()
                .add_prepared(&prepared);
        }
        Ok(aggregates
            .into_iter()
            .enumerate()
            .filter_map(|(slot, aggregate)| {
                let (minute, code) = (slot / values, slot % values);
                let value =
                    group.map_or_else(String::new, |stored| stored.dictionary[code].clone());
                Some((minute as u8, value, aggregate?))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::rum::MetricValues;

    fn view(page: &str, country: &str, lcp: Option<f64>, cls: f64) -> PageView {
        let mut view = PageView {
            site_id: 1,
            at: Timestamp::from_millis(0),
            dimensions: Default::default(),
            metrics: MetricValues::default(),
        };
        view.dimensions.set(Dimension::Page, page);
        view.dimensions.set(Dimension::Country, country);
        view.dimensions.set(Dimension::Browser, "Chrome");
        view.metrics.set(Metric::Lcp, lcp);
        view.metrics.set(Metric::Cls, Some(cls));
        view
    }

    fn stored(views: &[PageView], read: &[ViewColumn]) -> HourColumns {
        let mut writer = ViewColumnsWriter::default();
        for view in views {
            writer.add(view);
        }
        assert_eq!(writer.views(), views.len());
        let mut columns = HourColumns::default();
        for (column, bytes) in writer.finish() {
            if read.contains(&column) {
                columns.add(column, &bytes).unwrap();
            }
        }
        columns
    }

    #[test]
    fn measurement_codes_round_trip_every_point_and_rating() {
        let ratings = [
            None,
            Some(Rating::Good),
            Some(Rating::NeedsImprovement),
            Some(Rating::Poor),
        ];
        for key in (-2000..2000).chain([i32::MAX >> 3, i32::MIN >> 3]) {
            for rating in ratings {
                let point = SketchPoint::Bucket(key);
                let code = measurement_code(point, rating);
                assert_ne!(code, ABSENT);
                assert_eq!(measurement_of(code), Some((point, rating)), "{key}");
            }
        }
        for rating in ratings {
            let code = measurement_code(SketchPoint::Zero, rating);
            assert_eq!(measurement_of(code), Some((SketchPoint::Zero, rating)));
        }
        assert_eq!(measurement_of(ABSENT), None);
    }

    #[test]
    fn folding_columns_equals_adding_the_page_views() {
        let views: Vec<PageView> = (0..1000)
            .map(|i| {
                let page = ["/", "/cart", "/checkout"][i % 3];
                let country = ["US", "DE", "GB", "FR", "IN"][i % 5];
                let lcp = (i % 7 != 0).then_some(300.0 + 11.0 * i as f64);
                view(page, country, lcp, (i % 40) as f64 / 100.0)
            })
            .collect();
        let all = ViewColumn::needed(
            &[(Dimension::Country, String::new())],
            Some(Dimension::Page),
            MetricSet::ALL,
            true,
        );
        let columns = stored(&views, &all);
        let filters = vec![(Dimension::Country, "DE".to_owned())];
        let mut folded = columns
            .fold(&filters, Some(Dimension::Page), MetricSet::ALL)
            .unwrap();
        folded.sort_by(|a, b| a.0.cmp(&b.0));
        let mut expected: Vec<(String, Aggregate)> = Vec::new();
        for view in views
            .iter()
            .filter(|view| view.dimensions.get(Dimension::Country) == "DE")
        {
            let page = view.dimensions.get(Dimension::Page).to_owned();
            match expected.iter_mut().find(|(value, _)| *value == page) {
                Some((_, aggregate)) => aggregate.add(&view.metrics),
                None => {
                    let mut aggregate = Aggregate::default();
                    aggregate.add(&view.metrics);
                    expected.push((page, aggregate));
                }
            }
        }
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(folded, expected);
        assert_eq!(folded.iter().map(|(_, a)| a.page_views()).sum::<u64>(), 200);
        // A value no page view has matches nothing; no group is one cell.
        let unknown = vec![(Dimension::Country, "NZ".to_owned())];
        assert!(
            columns
                .fold(&unknown, None, MetricSet::ALL)
                .unwrap()
                .is_empty()
        );
        let totals = columns
            .fold(&[], None, MetricSet::of(&[Metric::Lcp]))
            .unwrap();
        assert_eq!(totals.len(), 1);
        assert_eq!(totals[0].1.page_views(), 1000);
        assert!(totals[0].1.sketch(Metric::Cls).is_none());
    }

    #[test]
    fn folding_by_minute_places_each_page_view_in_its_minute() {
        let hour = 1_795_046_400_000;
        let views: Vec<PageView> = (0..600)
            .map(|i| {
                let mut view = view(["/", "/cart"][i % 2], "US", Some(500.0 + i as f64), 0.1);
                // Ten page views a minute, the last of each minute a
                // millisecond before the next.
                let offset = (i / 10) as i64 * MINUTE_MS + (i % 10) as i64 * 6_000;
                view.at = Timestamp::from_millis(hour + offset + (i % 10 == 9) as i64 * 5_999);
                view
            })
            .collect();
        let read = ViewColumn::needed(&[], Some(Dimension::Page), MetricSet::ALL, true);
        let columns = stored(&views, &read);
        let folded = columns
            .fold_minutes(&[], Some(Dimension::Page), MetricSet::ALL)
            .unwrap();
        assert_eq!(folded.len(), 120);
        for (minute, page, aggregate) in &folded {
            assert_eq!(aggregate.page_views(), 5, "minute {minute} {page}");
        }
        assert_eq!(folded.iter().map(|(minute, _, _)| *minute).max(), Some(59));
        // Without the minutes read, asking per minute is an error, not a guess.
        let without = stored(&views, &[ViewColumn::Dimension(Dimension::Page)]);
        assert!(
            without
                .fold_minutes(&[], Some(Dimension::Page), MetricSet::ALL)
                .is_err()
        );
        // A minute past 59 does not decode.
        let mut broken = HourColumns::default();
        let bad = encode(&StoredMinutes { minutes: vec![60] });
        assert!(broken.add(ViewColumn::Minute, &bad).is_err());
    }

    #[test]
    fn columns_are_small_and_unreadable_ones_are_errors() {
        let views: Vec<PageView> = (0..10_000)
            .map(|i| {
                view(
                    &format!("/p/{}", i % 300),
                    "US",
                    Some(1000.0 + i as f64),
                    0.05,
                )
            })
            .collect();
        let mut writer = ViewColumnsWriter::default();
        views.iter().for_each(|view| writer.add(view));
        let columns = writer.finish();
        let size = |wanted: ViewColumn| {
            columns
                .iter()
                .find(|(column, _)| *column == wanted)
                .map(|(_, bytes)| bytes.len())
        };
        // Two bytes a page view at most for a value of hundreds, one for a handful.
        assert!(size(ViewColumn::Dimension(Dimension::Page)).unwrap() < 25_000);
        assert!(size(ViewColumn::Dimension(Dimension::Country)).unwrap() < 10_100);
        assert!(size(ViewColumn::Metric(Metric::Lcp)).unwrap() < 20_100);
        // Metrics nobody measured take no room.
        assert_eq!(size(ViewColumn::Metric(Metric::Inp)), None);

        let mut hour = HourColumns::default();
        let page = ViewColumn::Dimension(Dimension::Page);
        assert!(hour.add(page, b"").is_err());
        assert!(hour.add(page, &[FORMAT_VERSION, 0xff, 0xff]).is_err());
        let lying = encode(&StoredDimension {
            dictionary: vec!["/".to_owned()],
            codes: vec![0, 1],
        });
        assert!(hour.add(page, &lying).is_err());
        let short = encode(&StoredMetric {
            codes: vec![ABSENT],
        });
        hour.add(ViewColumn::Metric(Metric::Lcp), &short).unwrap();
        let other = encode(&StoredMetric {
            codes: vec![ABSENT, ABSENT],
        });
        assert!(hour.add(ViewColumn::Metric(Metric::Cls), &other).is_err());
        // A filter on a column that was not read is an error, not an empty answer.
        let filters = [(Dimension::Os, "iOS".to_owned())];
        assert!(hour.fold(&filters, None, MetricSet::ALL).is_err());
    }
}
