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
use std::sync::LazyLock;

/// The stated relative error of every quantile.
pub const SKETCH_RELATIVE_ERROR: f64 = 0.01;

/// The 0-based index, in `count` sorted values, of the value at quantile
/// `q` (0 to 1) by the nearest-rank definition: the smallest value with at
/// least a share `q` of all values at or below it (`sorted[ceil(q * n) - 1]`,
/// the least for `q` = 0). Every percentile Sightline shows follows it, so
/// that one spike in twenty checks is p95, never hidden below it.
pub fn nearest_rank(count: u64, q: f64) -> u64 {
    let rank = (q.clamp(0.0, 1.0) * count as f64).ceil() as u64;
    rank.clamp(1, count.max(1)) - 1
}

/// Values at or below this count as zero (CLS is often exactly 0).
const MIN_VALUE: f64 = 1e-6;

/// The first byte of every stored sketch; a change of accuracy or encoding
/// gets a new one.
const FORMAT_VERSION: u8 = 2;

/// `γ = (1 + α) / (1 - α)`.
static GAMMA: LazyLock<f64> =
    LazyLock::new(|| (1.0 + SKETCH_RELATIVE_ERROR) / (1.0 - SKETCH_RELATIVE_ERROR));
/// `1 / ln γ`, so a bucket key costs one logarithm.
static INVERSE_LN_GAMMA: LazyLock<f64> = LazyLock::new(|| 1.0 / GAMMA.ln());

/// Where one value falls in every sketch: worked out once per value, so
/// that adding it to many sketches (one per rollup key) costs no
/// logarithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SketchPoint {
    /// At or below the smallest distinguishable value.
    Zero,
    /// In the bucket with this key.
    Bucket(i32),
}

impl SketchPoint {
    /// The point of a value; `None` for negative and non-finite values,
    /// which no metric has (every metric is a duration or a non-negative score).
    pub fn of(value: f64) -> Option<SketchPoint> {
        if !value.is_finite() || value < 0.0 {
            None
        } else if value <= MIN_VALUE {
            Some(SketchPoint::Zero)
        } else {
            Some(SketchPoint::Bucket(
                (value.ln() * *INVERSE_LN_GAMMA).ceil() as i32
            ))
        }
    }
}

/// A quantile sketch of one metric.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuantileSketch {
    /// Non-empty buckets by key, ascending: most adds find their bucket by
    /// a binary search over a few dozen entries.
    buckets: Vec<(i32, u64)>,
    zeros: u64,
    count: u64,
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
/// neighbouring buckets cost a byte or two (postcard writes varints). Only
/// bucket counts are kept: every answer comes from them.
#[derive(Serialize, Deserialize)]
pub(crate) struct EncodedSketch {
    zeros: u64,
    key_deltas: Vec<i32>,
    counts: Vec<u64>,
}

impl QuantileSketch {
    /// Adds one value. Negative and non-finite values are ignored.
    pub fn add(&mut self, value: f64) {
        if let Some(point) = SketchPoint::of(value) {
            self.add_point(point);
        }
    }

    /// Adds one value whose point is already known.
    pub fn add_point(&mut self, point: SketchPoint) {
        match point {
            SketchPoint::Zero => self.zeros += 1,
            SketchPoint::Bucket(key) => {
                match self.buckets.binary_search_by_key(&key, |(k, _)| *k) {
                    Ok(index) => self.buckets[index].1 += 1,
                    Err(index) => self.buckets.insert(index, (key, 1)),
                }
            }
        }
        self.count += 1;
    }

    /// Adds every value another sketch holds.
    pub fn merge(&mut self, other: &QuantileSketch) {
        merge_buckets(&mut self.buckets, &other.buckets);
        self.zeros += other.zeros;
        self.count += other.count;
    }

    /// The value at quantile `q` (0 to 1) by the nearest-rank definition
    /// ([`nearest_rank`]), within 1 %; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = nearest_rank(self.count, q);
        if rank < self.zeros {
            return Some(0.0);
        }
        let mut seen = self.zeros;
        let mut last = 0.0;
        for (key, count) in &self.buckets {
            seen += count;
            last = 2.0 * GAMMA.powi(*key) / (*GAMMA + 1.0);
            if seen > rank {
                break;
            }
        }
        Some(last)
    }

    /// How many values went in.
    pub fn count(&self) -> u64 {
        self.count
    }

    pub(crate) fn encode(&self) -> EncodedSketch {
        let mut previous = 0;
        let key_deltas = self
            .buckets
            .iter()
            .map(|(key, _)| {
                let delta = key - previous;
                previous = *key;
                delta
            })
            .collect();
        EncodedSketch {
            zeros: self.zeros,
            key_deltas,
            counts: self.buckets.iter().map(|(_, count)| *count).collect(),
        }
    }

    pub(crate) fn decode(encoded: EncodedSketch) -> Result<Self, SketchDecodeError> {
        if encoded.key_deltas.len() != encoded.counts.len() {
            return Err(SketchDecodeError::new("keys and counts differ in number"));
        }
        let mut key = 0i32;
        let mut buckets = Vec::with_capacity(encoded.counts.len());
        for (delta, count) in encoded.key_deltas.iter().zip(&encoded.counts) {
            key = key
                .checked_add(*delta)
                .ok_or_else(|| SketchDecodeError::new("bucket key overflow"))?;
            if buckets.last().is_some_and(|(last, _)| *last >= key) {
                return Err(SketchDecodeError::new("bucket keys out of order"));
            }
            buckets.push((key, *count));
        }
        let count = encoded
            .counts
            .iter()
            .try_fold(encoded.zeros, |total, count| total.checked_add(*count));
        Ok(Self {
            buckets,
            zeros: encoded.zeros,
            count: count.ok_or_else(|| SketchDecodeError::new("count overflow"))?,
        })
    }

    /// The compact binary form for storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![FORMAT_VERSION];
        bytes.extend(postcard::to_allocvec(&self.encode()).unwrap_or_default());
        bytes
    }

    /// Reads the binary form back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SketchDecodeError> {
        let Some((&FORMAT_VERSION, body)) = bytes.split_first() else {
            return Err(SketchDecodeError::new("unknown format version"));
        };
        Self::decode(postcard::from_bytes(body).map_err(|e| SketchDecodeError(e.to_string()))?)
    }
}

/// The union of two ascending bucket lists, counts of equal keys added.
/// Adds the buckets of `theirs` to `ours`, both sorted by key, in place:
/// the keys `ours` lacks are counted first, `ours` grows by that much, and
/// the two are merged from the back, so merging many sketches into one
/// allocates only when it grows.
fn merge_buckets(ours: &mut Vec<(i32, u64)>, theirs: &[(i32, u64)]) {
    let mut missing = 0;
    let mut at = 0;
    for (key, _) in theirs {
        while at < ours.len() && ours[at].0 < *key {
            at += 1;
        }
        if at < ours.len() && ours[at].0 == *key {
            at += 1;
        } else {
            missing += 1;
        }
    }
    let (mut from_ours, mut from_theirs) = (ours.len(), theirs.len());
    ours.resize(ours.len() + missing, (0, 0));
    let mut to = ours.len();
    while from_theirs > 0 {
        let theirs_last = theirs[from_theirs - 1];
        to -= 1;
        if from_ours > 0 && ours[from_ours - 1].0 > theirs_last.0 {
            ours[to] = ours[from_ours - 1];
            from_ours -= 1;
        } else if from_ours > 0 && ours[from_ours - 1].0 == theirs_last.0 {
            ours[to] = (theirs_last.0, ours[from_ours - 1].1 + theirs_last.1);
            from_ours -= 1;
            from_theirs -= 1;
        } else {
            ours[to] = theirs_last;
            from_theirs -= 1;
        }
    }
    // What is left of `ours` is already in place.
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(sorted: &[f64], q: f64) -> f64 {
        sorted[nearest_rank(sorted.len() as u64, q) as usize]
    }

    #[test]
    fn a_spike_shows_in_the_high_percentiles() {
        let mut sketch = QuantileSketch::default();
        for value in [2.0, 2.0, 2.0, 6.0, 166.0] {
            sketch.add(value);
        }
        let near = |q: f64, want: f64| {
            let got = sketch.quantile(q).unwrap();
            assert!(
                (got - want).abs() <= want * SKETCH_RELATIVE_ERROR,
                "q{q}: {got}"
            );
        };
        near(0.5, 2.0);
        near(0.75, 6.0);
        near(0.95, 166.0);
        near(0.99, 166.0);
        near(0.0, 2.0);
        near(1.0, 166.0);
        // Of a hundred values, p99 is the 99th and p95 the 95th.
        assert_eq!(nearest_rank(100, 0.99), 98);
        assert_eq!(nearest_rank(100, 0.95), 94);
        assert_eq!(nearest_rank(1, 0.5), 0);
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
    }

    #[test]
    fn merging_counts_like_adding_whether_keys_are_known_or_new() {
        let (mut merged, mut added) = (QuantileSketch::default(), QuantileSketch::default());
        // Known keys only, new keys below, between and above, then known again.
        for part in [
            &[100.0, 200.0, 400.0][..],
            &[200.0, 400.0],
            &[50.0, 300.0, 900.0],
            &[50.0, 900.0, 0.0],
            &[],
        ] {
            let mut sketch = QuantileSketch::default();
            for value in part {
                sketch.add(*value);
                added.add(*value);
            }
            merged.merge(&sketch);
            assert_eq!(merged, added, "after merging {part:?}");
        }
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
        assert_eq!((sketch.count(), sketch.quantile(0.5)), (11, Some(0.0)));
        let max = sketch.quantile(1.0).unwrap();
        assert!((max - 0.3).abs() <= 0.3 * SKETCH_RELATIVE_ERROR, "{max}");
        assert_eq!(
            QuantileSketch::from_bytes(&sketch.to_bytes()).unwrap(),
            sketch
        );
        assert!(QuantileSketch::from_bytes(b"garbage").is_err());
        assert!(QuantileSketch::from_bytes(&[]).is_err());
        assert!(QuantileSketch::from_bytes(&[FORMAT_VERSION, 0xff, 0xff]).is_err());
    }
}
