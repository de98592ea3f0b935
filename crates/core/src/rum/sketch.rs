//! The mergeable quantile sketch rollups keep per metric, so that a
//! percentile over a month costs what one over an hour does.
//!
//! A DDSketch with 1 % relative accuracy: every quantile it answers is
//! within 1 % of the exact value at the same rank, however many values went
//! in, and two sketches merge into the sketch of their union.

use sketches_ddsketch::{Config, DDSketch};

/// The stated relative error of every quantile.
pub const SKETCH_RELATIVE_ERROR: f64 = 0.01;

/// Values below this count as zero (CLS is often exactly 0).
const MIN_VALUE: f64 = 1e-6;

/// Bins before the lowest ones are collapsed. 1 µs to 10 min at 1 % needs
/// about 1,400.
const MAX_BINS: u32 = 2048;

/// The first byte of every stored sketch; a change of accuracy or encoding
/// gets a new one.
const FORMAT_VERSION: u8 = 1;

fn same_configuration(a: &DDSketch, b: &DDSketch) -> bool {
    // Merging is the configuration check the crate offers.
    a.clone().merge(b).is_ok()
}

/// A quantile sketch of one metric.
#[derive(Clone)]
pub struct QuantileSketch(DDSketch);

impl std::fmt::Debug for QuantileSketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuantileSketch")
            .field("count", &self.count())
            .finish()
    }
}

impl Default for QuantileSketch {
    fn default() -> Self {
        Self(DDSketch::new(Config::new(
            SKETCH_RELATIVE_ERROR,
            MAX_BINS,
            MIN_VALUE,
        )))
    }
}

/// A stored sketch that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("unreadable quantile sketch: {0}")]
pub struct SketchDecodeError(String);

impl QuantileSketch {
    /// Adds one value.
    pub fn add(&mut self, value: f64) {
        self.0.add(value);
    }

    /// Adds every value another sketch holds.
    pub fn merge(&mut self, other: &QuantileSketch) {
        // Both sketches come from the same configuration, which is the only
        // thing merge can object to.
        let _ = self.0.merge(&other.0);
    }

    /// The value at quantile `q` (0 to 1) by the lower-rank definition
    /// (`sorted[floor(q * (n - 1))]`), or `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.0.quantile(q.clamp(0.0, 1.0)).ok().flatten()
    }

    /// How many values went in.
    pub fn count(&self) -> u64 {
        self.0.count() as u64
    }

    /// The sum of the values.
    pub fn sum(&self) -> f64 {
        self.0.sum().unwrap_or(0.0)
    }

    /// A compact binary form for storage: a format version byte, then the
    /// sketch in postcard (varint counts, so sparse bins cost a byte each).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![FORMAT_VERSION];
        bytes.extend(postcard::to_allocvec(&self.0).unwrap_or_default());
        bytes
    }

    /// Reads the binary form back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SketchDecodeError> {
        let Some((&FORMAT_VERSION, body)) = bytes.split_first() else {
            return Err(SketchDecodeError("unknown format version".to_owned()));
        };
        let sketch: DDSketch =
            postcard::from_bytes(body).map_err(|e| SketchDecodeError(e.to_string()))?;
        let expected = QuantileSketch::default();
        if sketch.quantile(0.5).is_err() || !same_configuration(&sketch, &expected.0) {
            return Err(SketchDecodeError(
                "written with another accuracy".to_owned(),
            ));
        }
        Ok(Self(sketch))
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
        let values: Vec<f64> = (0..20_000)
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
        for q in [0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99] {
            let (estimate, truth) = (merged.quantile(q).unwrap(), exact(&sorted, q));
            assert!(
                (estimate - truth).abs() <= truth * SKETCH_RELATIVE_ERROR,
                "q{q}: {estimate} vs {truth}"
            );
        }
        assert!(a.to_bytes().len() < 4096, "{} bytes", a.to_bytes().len());
    }

    #[test]
    fn zeros_and_empties_behave() {
        let mut sketch = QuantileSketch::default();
        assert_eq!(sketch.quantile(0.5), None);
        for _ in 0..10 {
            sketch.add(0.0);
        }
        sketch.add(0.3);
        assert_eq!(sketch.quantile(0.5), Some(0.0));
        assert!(QuantileSketch::from_bytes(b"garbage").is_err());
    }
}
