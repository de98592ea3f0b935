//! What a rollup cell holds for a set of page views: how many there were
//! and, per metric, a quantile sketch and the counts of good / needs
//! improvement / poor values. Aggregates merge, so a month is the merge of
//! its days and a day the merge of its hours.

use super::metric::{Metric, MetricSet, MetricValues, Rating};
use super::sketch::{EncodedSketch, QuantileSketch, SketchDecodeError, SketchPoint};
use serde::{Deserialize, Serialize};

/// The summary of some page views.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aggregate {
    page_views: u64,
    /// By position in [`Metric::ALL`]; `None` until a page view measured it.
    metrics: [Option<MetricAggregate>; Metric::ALL.len()],
}

#[derive(Debug, Clone, Default, PartialEq)]
struct MetricAggregate {
    sketch: QuantileSketch,
    /// Good, needs improvement, poor (zero for unrated metrics).
    ratings: [u64; 3],
}

/// Stored form: metrics by their position in [`Metric::ALL`] (which only
/// ever grows at the end), each with its sketch and, for rated metrics, the
/// three rating counts.
#[derive(Serialize, Deserialize)]
struct Encoded {
    page_views: u64,
    metrics: Vec<(u8, EncodedSketch, Vec<u64>)>,
}

const FORMAT_VERSION: u8 = 2;

/// One page view's measurements with each value's sketch point and rating
/// worked out once, for adding the page view to many aggregates (one per
/// rollup key it counts under).
#[derive(Debug, Clone, Default)]
pub struct PreparedMetrics(Vec<(usize, SketchPoint, Option<Rating>)>);

impl PreparedMetrics {
    /// Prepares one page view's measurements.
    pub fn new(metrics: &MetricValues) -> Self {
        Self(
            metrics
                .iter()
                .filter_map(|(metric, value)| {
                    Some((metric.index(), SketchPoint::of(value)?, metric.rate(value)))
                })
                .collect(),
        )
    }

    /// Empties the measurements, to fill them again for the next page view.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Adds a measurement whose sketch point and rating are known.
    pub fn push(&mut self, metric: Metric, point: SketchPoint, rating: Option<Rating>) {
        self.0.push((metric.index(), point, rating));
    }
}

impl Aggregate {
    /// Counts one page view.
    pub fn add(&mut self, metrics: &MetricValues) {
        self.add_prepared(&PreparedMetrics::new(metrics));
    }

    /// Counts one page view whose measurements are prepared.
    pub fn add_prepared(&mut self, metrics: &PreparedMetrics) {
        self.page_views += 1;
        for (metric, point, rating) in &metrics.0 {
            let aggregate = self.metrics[*metric].get_or_insert_default();
            aggregate.sketch.add_point(*point);
            if let Some(rating) = rating {
                aggregate.ratings[rating_index(*rating)] += 1;
            }
        }
    }

    /// Adds another aggregate's page views.
    pub fn merge(&mut self, other: &Aggregate) {
        self.page_views += other.page_views;
        for (ours, theirs) in self.metrics.iter_mut().zip(&other.metrics) {
            let Some(theirs) = theirs else { continue };
            let ours = ours.get_or_insert_default();
            ours.sketch.merge(&theirs.sketch);
            for (count, add) in ours.ratings.iter_mut().zip(theirs.ratings) {
                *count += add;
            }
        }
    }

    /// How many page views.
    pub fn page_views(&self) -> u64 {
        self.page_views
    }

    /// The sketch of one metric, if any page view measured it.
    pub fn sketch(&self, metric: Metric) -> Option<&QuantileSketch> {
        self.metrics[metric.index()]
            .as_ref()
            .map(|aggregate| &aggregate.sketch)
    }

    /// A percentile (0 to 100) of one metric.
    pub fn percentile(&self, metric: Metric, percentile: f64) -> Option<f64> {
        self.sketch(metric)?.quantile(percentile / 100.0)
    }

    /// How many values of a rated metric were good, needed improvement, were poor.
    pub fn ratings(&self, metric: Metric) -> Option<[u64; 3]> {
        metric.thresholds()?;
        Some(
            self.metrics[metric.index()]
                .as_ref()
                .map_or([0; 3], |aggregate| aggregate.ratings),
        )
    }

    /// The compact binary form for storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        let metrics = self
            .metrics
            .iter()
            .zip(Metric::ALL)
            .enumerate()
            .filter_map(|(index, (aggregate, metric))| {
                let aggregate = aggregate.as_ref()?;
                let ratings = if metric.thresholds().is_some() {
                    aggregate.ratings.to_vec()
                } else {
                    Vec::new()
                };
                Some((index as u8, aggregate.sketch.encode(), ratings))
            })
            .collect();
        let mut bytes = vec![FORMAT_VERSION];
        bytes.extend(
            postcard::to_allocvec(&Encoded {
                page_views: self.page_views,
                metrics,
            })
            .unwrap_or_default(),
        );
        bytes
    }

    /// Reads the binary form back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SketchDecodeError> {
        Self::from_bytes_with(bytes, MetricSet::ALL)
    }

    /// The aggregate in `bytes` with the sketches of `wanted` only: the
    /// others are checked but not built.
    pub fn from_bytes_with(bytes: &[u8], wanted: MetricSet) -> Result<Self, SketchDecodeError> {
        let Some((&FORMAT_VERSION, body)) = bytes.split_first() else {
            return Err(SketchDecodeError::new("unknown aggregate format"));
        };
        let encoded: Encoded =
            postcard::from_bytes(body).map_err(|e| SketchDecodeError::new(&e.to_string()))?;
        let mut metrics: [Option<MetricAggregate>; Metric::ALL.len()] = Default::default();
        for (index, sketch, ratings) in encoded.metrics {
            let slot = metrics
                .get_mut(usize::from(index))
                .ok_or_else(|| SketchDecodeError::new("unknown metric"))?;
            let ratings = match ratings[..] {
                [] => [0; 3],
                [good, needs_improvement, poor] => [good, needs_improvement, poor],
                _ => return Err(SketchDecodeError::new("ratings are not three counts")),
            };
            if Metric::ALL
                .get(usize::from(index))
                .is_some_and(|metric| wanted.contains(*metric))
            {
                *slot = Some(MetricAggregate {
                    sketch: QuantileSketch::decode(sketch)?,
                    ratings,
                });
            }
        }
        Ok(Self {
            page_views: encoded.page_views,
            metrics,
        })
    }
}

fn rating_index(rating: Rating) -> usize {
    match rating {
        Rating::Good => 0,
        Rating::NeedsImprovement => 1,
        Rating::Poor => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(lcp: f64, cls: f64) -> MetricValues {
        let mut values = MetricValues::default();
        values.set(Metric::Lcp, Some(lcp));
        values.set(Metric::Cls, Some(cls));
        values
    }

    #[test]
    fn aggregates_count_rate_merge_and_store() {
        let mut morning = Aggregate::default();
        morning.add(&view(1200.0, 0.01));
        morning.add(&view(3000.0, 0.3));
        let mut evening = Aggregate::default();
        evening.add(&view(5000.0, 0.15));
        let mut day = Aggregate::from_bytes(&morning.to_bytes()).unwrap();
        day.merge(&Aggregate::from_bytes(&evening.to_bytes()).unwrap());
        assert_eq!(day.page_views(), 3);
        assert_eq!(day.ratings(Metric::Lcp), Some([1, 1, 1]));
        assert_eq!(day.ratings(Metric::Cls), Some([1, 1, 1]));
        assert_eq!(day.ratings(Metric::Inp), Some([0, 0, 0]));
        assert_eq!(day.ratings(Metric::Load), None);
        let p50 = day.percentile(Metric::Lcp, 50.0).unwrap();
        assert!((p50 - 3000.0).abs() <= 30.0, "{p50}");
        assert_eq!(day.percentile(Metric::Inp, 75.0), None);
        assert!(
            morning.to_bytes().len() <= 96,
            "{} bytes",
            morning.to_bytes().len()
        );
    }
}
