//! What a rollup cell holds for a set of page views: how many there were
//! and, per metric, a quantile sketch and the counts of good / needs
//! improvement / poor values. Aggregates merge, so a month is the merge of
//! its days and a day the merge of its hours.

use super::metric::{Metric, MetricValues, Rating};
use super::sketch::{QuantileSketch, SketchDecodeError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The summary of some page views.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aggregate {
    page_views: u64,
    metrics: BTreeMap<Metric, MetricAggregate>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct MetricAggregate {
    sketch: QuantileSketch,
    /// Good, needs improvement, poor (zero for unrated metrics).
    ratings: [u64; 3],
}

/// Stored form: metrics by their position in [`Metric::ALL`] (which only
/// ever grows at the end).
#[derive(Serialize, Deserialize)]
struct Encoded {
    page_views: u64,
    metrics: Vec<(u8, Vec<u8>, [u64; 3])>,
}

const FORMAT_VERSION: u8 = 1;

impl Aggregate {
    /// Counts one page view.
    pub fn add(&mut self, metrics: &MetricValues) {
        self.page_views += 1;
        for (metric, value) in metrics.iter() {
            let aggregate = self.metrics.entry(metric).or_default();
            aggregate.sketch.add(value);
            if let Some(rating) = metric.rate(value) {
                aggregate.ratings[rating_index(rating)] += 1;
            }
        }
    }

    /// Adds another aggregate's page views.
    pub fn merge(&mut self, other: &Aggregate) {
        self.page_views += other.page_views;
        for (metric, theirs) in &other.metrics {
            let ours = self.metrics.entry(*metric).or_default();
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
        self.metrics.get(&metric).map(|aggregate| &aggregate.sketch)
    }

    /// A percentile (0 to 100) of one metric.
    pub fn percentile(&self, metric: Metric, percentile: f64) -> Option<f64> {
        self.sketch(metric)?.quantile(percentile / 100.0)
    }

    /// How many values of a rated metric were good, needed improvement, were poor.
    pub fn ratings(&self, metric: Metric) -> Option<[u64; 3]> {
        metric.thresholds()?;
        Some(
            self.metrics
                .get(&metric)
                .map_or([0; 3], |aggregate| aggregate.ratings),
        )
    }

    /// The compact binary form for storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        let metrics = self
            .metrics
            .iter()
            .filter_map(|(metric, aggregate)| {
                let index = Metric::ALL.iter().position(|m| m == metric)?;
                Some((index as u8, aggregate.sketch.to_bytes(), aggregate.ratings))
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
        let Some((&FORMAT_VERSION, body)) = bytes.split_first() else {
            return Err(SketchDecodeError::new("unknown aggregate format"));
        };
        let encoded: Encoded =
            postcard::from_bytes(body).map_err(|e| SketchDecodeError::new(&e.to_string()))?;
        let mut metrics = BTreeMap::new();
        for (index, sketch, ratings) in encoded.metrics {
            let metric = *Metric::ALL
                .get(usize::from(index))
                .ok_or_else(|| SketchDecodeError::new("unknown metric"))?;
            metrics.insert(
                metric,
                MetricAggregate {
                    sketch: QuantileSketch::from_bytes(&sketch)?,
                    ratings,
                },
            );
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
