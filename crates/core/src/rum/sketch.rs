//! The mergeable quantile sketch rollups keep per metric, so that a
//! percentile over a month costs what one over an hour does.
//!
//! A DDSketch (Masson, Rim and Lee, VLDB 2019): values fall into buckets
//! `(γ^(k-1), γ^k]` with `γ = (1 + α) / (1 - α)`, and a bucket answers with
//! `2γ^k / (γ + 1)`, which is within a relative error `α` of every value in
//! it. So every quantile is within 1 % of the exact value at the same rank,
//! however many values went in, and merging two sketches (adding their
//! bucket counts) gives exactly the sketch of the union.
//!
//! Written here rather than taken from a crate for its storage form: the
//! buckets are sparse and encoded as varint deltas, so a sketch of a handful
//! of page views costs a few bytes, which keeps rollups far smaller than the
//! raw page views they summarise.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The stated relative error of every quantile.
pub const SKETCH_RELATIVE_ERROR: f64 = 0.01;

/// Values at or below this count as zero (CLS is often exactly 0).
const MIN_VALUE: f64 = 1e-6;

/// The first byte of every stored sketch; a change of accuracy or encoding
/// gets a new one.
const FORMAT_VERSION: u8 = 1;

fn gamma() -> f64 {
    (1.0 + SKETCH_RELATIVE_ERROR) / (1.0 - SKETCH_RELATIVE_ERROR)
}

/// A quantile sketch of one metric.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuantileSketch {
    buckets: BTreeMap<i32, u64>,
    zeros: u64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

/// A stored sketch that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("unreadable quantile sketch: {0}")]
pub struct SketchDecodeError(String);

impl SketchDecodeError {
    pub(crate) fn new(reason: &str) -> Self {
        Self(reason.to_owned())
    }
}

/// The stored form: bucket keys as deltas from the previous key, so that
/// neighbouring buckets cost a byte or two (postcard writes varints).
#[derive(Serialize, Deserialize)]
struct Encoded {
    zeros: u64,
    key_deltas: Vec<i32>,
    counts: Vec<u64>,
    sum: f64,
    min: f64,
    max: f64,
}

impl QuantileSketch {
    /// Adds one value. Negative and non-finite values are ignored: every
    /// metric is a duration or a non-negative score.
    pub fn add(&mut self, value: f64) {
        if !value.is_finite() || value < 0.0 {
            return;
        }
        if value <= MIN_VALUE {
            self.zeros += 1;
        } else {
            let key = (value.ln() / gamma().ln()).ceil() as i32;
            *self.buckets.entry(key).or_insert(0) += 1;
        }
        self.min = if self.count == 0 {
            value
        } else {
            self.min.min(value)
        };
        self.max = if self.count == 0 {
            value
        } else {
            self.max.max(value)
        };
        self.count += 1;
        self.sum += value;
    }

    /// Adds every value another sketch holds.
    pub fn merge(&mut self, other: &QuantileSketch) {
        if other.count == 0 {
            return;
        }
        for (key, count) in &other.buckets {
            *self.buckets.entry(*key).or_insert(0) += count;
        }
        self.min = if self.count == 0 {
            other.min
        } else {
            self.min.min(other.min)
        };
        self.max = if self.count == 0 {
            other.max
        } else {
            self.max.max(other.max)
        };
        self.zeros += other.zeros;
        self.count += other.count;
        self.sum += other.sum;
    }

    /// The value at quantile `q` (0 to 1) by the lower-rank definition
    /// (`sorted[floor(q * (n - 1))]`), within 1 %; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        // The extremes are known exactly.
        if q <= 0.0 {
            return Some(self.min);
        }
        if q >= 1.0 {
            return Some(self.max);
        }
        let rank = (q.clamp(0.0, 1.0) * (self.count - 1) as f64).floor() as u64;
        if rank < self.zeros {
            return Some(0.0);
        }
        let mut seen = self.zeros;
        for (key, count) in &self.buckets {
            seen += count;
            if seen > rank {
                let gamma = gamma();
                let value = 2.0 * gamma.powi(*key) / (gamma + 1.0);
                return Some(value.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// How many values went in.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The sum of the values.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// The compact binary form for storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut previous = 0;
        let key_deltas = self
            .buckets
            .keys()
            .map(|key| {
                let delta = key - previous;
                previous = *key;
                delta
            })
            .collect();
        let encoded = Encoded {
            zeros: self.zeros,
            key_deltas,
            counts: self.buckets.values().copied().collect(),
            sum: self.sum,
            min: self.min,
            max: self.max,
        };
        let mut bytes = vec![FORMAT_VERSION];
        bytes.extend(postcard::to_allocvec(&encoded).unwrap_or_default());
        bytes
    }

    /// Reads the binary form back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SketchDecodeError> {
        let Some((&FORMAT_VERSION, body)) = bytes.split_first() else {
            return Err(SketchDecodeError("unknown format version".to_owned()));
        };
        let encoded: Encoded =
            postcard::from_bytes(body).map_err(|e| SketchDecodeError(e.to_string()))?;
        if encoded.key_deltas.len() != encoded.counts.len() {
            return Err(SketchDecodeError(
                "keys and counts differ in number".to_owned(),
            ));
        }
        let mut key = 0i32;
        let mut buckets = BTreeMap::new();
        for (delta, count) in encoded.key_deltas.iter().zip(&encoded.counts) {
            key = key
                .checked_add(*delta)
                .ok_or_else(|| SketchDecodeError("bucket key overflow".to_owned()))?;
            buckets.insert(key, *count);
        }
        let count = encoded
            .counts
            .iter()
            .try_fold(encoded.zeros, |total, count| total.checked_add(*count));
        Ok(Self {
            buckets,
            zeros: encoded.zeros,
            count: count.ok_or_else(|| SketchDecodeError("count overflow".to_owned()))?,
            sum: encoded.sum,
            min: encoded.min,
            max: encoded.max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() as f64 - 1.0)) as usize]
    }

    #[test]
    fn quantiles_stay_within_the_stated_error_through_storage_and_merging() {
        // A long-tailed spread of values like page timings, split in two.
        let values: Vec<f64> = (0..20_000u64)
            .map(|i| 50.0 + ((i * 7919) % 20_000) as f64 * 0.37 + (i % 13) as f64 * 40.0)
            .collect();
        let (first, second) = values.split_at(7_000);
        let mut a = QuantileSketch::default();
        first.iter().for_each(|v| a.add(*v));
        let mut b = QuantileSketch::default();
        second.iter().for_each(|v| b.add(*v));
        let mut merged = QuantileSketch::from_bytes(&a.to_bytes()).unwrap();
        merged.merge(&QuantileSketch::from_bytes(&b.to_bytes()).unwrap());
        assert_eq!(merged.count(), 20_000);
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        for q in [0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0] {
            let (estimate, truth) = (merged.quantile(q).unwrap(), exact(&sorted, q));
            assert!(
                (estimate - truth).abs() <= truth * SKETCH_RELATIVE_ERROR,
                "q{q}: {estimate} vs {truth}"
            );
        }
        assert!((merged.sum() - values.iter().sum::<f64>()).abs() < 1e-3);
    }

    #[test]
    fn small_sketches_are_a_few_bytes() {
        let mut sketch = QuantileSketch::default();
        sketch.add(1834.2);
        assert!(
            sketch.to_bytes().len() <= 32,
            "{} bytes",
            sketch.to_bytes().len()
        );
        for value in [900.0, 950.0, 1200.0, 2100.0] {
            sketch.add(value);
        }
        assert!(
            sketch.to_bytes().len() <= 48,
            "{} bytes",
            sketch.to_bytes().len()
        );
    }

    #[test]
    fn zeros_empties_and_garbage_behave() {
        let mut sketch = QuantileSketch::default();
        assert_eq!(sketch.quantile(0.5), None);
        for _ in 0..10 {
            sketch.add(0.0);
        }
        sketch.add(0.3);
        sketch.add(f64::NAN);
        assert_eq!(
            (sketch.count(), sketch.quantile(0.5), sketch.quantile(1.0)),
            (11, Some(0.0), Some(0.3))
        );
        assert_eq!(
            QuantileSketch::from_bytes(&sketch.to_bytes()).unwrap(),
            sketch
        );
        assert!(QuantileSketch::from_bytes(b"garbage").is_err());
        assert!(QuantileSketch::from_bytes(&[]).is_err());
        assert!(QuantileSketch::from_bytes(&[FORMAT_VERSION, 0xff, 0xff]).is_err());
    }
}
