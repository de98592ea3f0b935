//! Real-user monitoring: what a beacon may say, the metrics it carries with
//! their thresholds, the dimensions page views are grouped by, and the
//! quantile sketch rollups keep.

mod aggregate;
mod beacon;
mod dimension;
mod metric;
mod page_url;
mod page_view;
mod sketch;
mod view_columns;

pub use aggregate::{Aggregate, PreparedMetrics};
pub use beacon::{
    Beacon, BeaconEnvironment, ClientHints, ClientHintsBrand, MAX_BEACON_BYTES, NavigationType,
};
pub use dimension::Dimension;
pub use metric::{Metric, MetricSet, MetricValues, Rating};
pub use page_url::page_path;
pub use page_view::{DimensionValues, PageView};
pub use sketch::{
    QuantileSketch, SKETCH_RELATIVE_ERROR, SketchDecodeError, SketchPoint, nearest_rank,
};
pub use view_columns::{HourColumns, ViewColumn, ViewColumnsWriter};
