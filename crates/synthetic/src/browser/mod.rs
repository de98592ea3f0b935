//! Browser checks: the pool of headless Chromium browsers they run in, and
//! what a page load in one of them costs.

mod measure;
mod pool;

pub use measure::{MeasureError, PageLoad, Request, measure_page_load};
pub use pool::{BrowserConfig, BrowserError, BrowserPool};
