//! A page view as it is stored: enriched, stripped of anything personal.

use super::dimension::Dimension;
use super::metric::MetricValues;
use crate::Timestamp;

/// One real page view, ready to store: the dimensions it is grouped by and
/// the measurements. It holds no IP address and no query string unless the
/// site keeps them.
#[derive(Debug, Clone, PartialEq)]
pub struct PageView {
    /// The site it belongs to.
    pub site_id: i64,
    /// When the collector received it.
    pub at: Timestamp,
    /// Its value for every dimension.
    pub dimensions: DimensionValues,
    /// Its measurements.
    pub metrics: MetricValues,
}

/// A value for each [`Dimension`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DimensionValues([String; Dimension::ALL.len()]);

impl DimensionValues {
    /// The value of one dimension.
    pub fn get(&self, dimension: Dimension) -> &str {
        &self.0[dimension.index()]
    }

    /// Sets the value of one dimension.
    pub fn set(&mut self, dimension: Dimension, value: impl Into<String>) {
        self.0[dimension.index()] = value.into();
    }
}
