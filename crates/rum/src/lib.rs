//! Real-user monitoring: beacon intake, enrichment and durable, batched
//! storage of page views.
//!
//! The collector ([`Collector`]) checks a beacon against its site (key,
//! allowed origin, rate limits), enriches it ([`enrich`]) and hands it to the
//! page-view writer ([`writer`]), which commits many page views per
//! transaction and answers each beacon only once its page view is durable.
//!
//! This crate must never keep a client's IP address: it is read for the
//! country and the rate limit, and dropped.

pub mod client_address;
pub mod collector;
pub mod enrich;
pub mod writer;

pub use collector::{BeaconRequest, Collector, CollectorConfig, RejectReason, Rejection};
pub mod query;
pub mod rollup;
