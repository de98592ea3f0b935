//! Browser checks: the pool of headless Chromium browsers they run in, and
//! what a page load in one of them costs.

pub mod chrome_log;
mod measure;
mod network;
mod pool;
mod screenshot;

pub use measure::{MeasureError, PageLoad, Request, measure_page_load};
pub use network::{NetworkOutcome, NetworkOutcomes};
pub use pool::{BrowserConfig, BrowserError, BrowserPool};
pub use screenshot::{attach, capture};
