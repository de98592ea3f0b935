//! Realistic real-user traffic for benchmarks: page views with the skew
//! real sites see (a few pages, browsers and countries take most of it),
//! written as the collector would and rolled up as the server would.

use sightline_core::Timestamp;
use sightline_core::rum::{Dimension, DimensionValues, Metric, MetricValues, PageView};
use sightline_store::Store;

/// How many distinct pages the traffic is spread over.
pub const PAGES: usize = 500;
/// Page views per insert transaction.
const BATCH: usize = 10_000;

/// Rolls until every complete hour and day is rolled, and every settled
/// minute of the open hour written, as the server's maintenance loop would
/// over several passes.
pub async fn roll(store: &Store, site_id: i64) {
    let progress = || async {
        let mut reached = Vec::new();
        for resolution in [
            sightline_rum::rollup::MINUTE_MS,
            sightline_rum::rollup::HOUR_MS,
            sightline_rum::rollup::DAY_MS,
        ] {
            reached.push(
                store
                    .rollup_progress(site_id, resolution)
                    .await
                    .expect("progress"),
            );
        }
        reached.push(
            store
                .view_columns_progress(site_id)
                .await
                .expect("column progress"),
        );
        reached.push(
            store
                .view_segments_progress(site_id)
                .await
                .expect("minute progress"),
        );
        reached
    };
    loop {
        let before = progress().await;
        sightline_rum::rollup::roll_site(store, site_id)
            .await
            .expect("roll");
        if progress().await == before {
            return;
        }
    }
}

/// Picks from weighted choices.
struct Weighted<T> {
    items: Vec<T>,
    cumulative: Vec<f64>,
}

impl<T> Weighted<T> {
    fn new(pairs: impl IntoIterator<Item = (T, f64)>) -> Self {
        let (mut items, mut cumulative, mut total) = (Vec::new(), Vec::new(), 0.0);
        for (item, weight) in pairs {
            total += weight;
            items.push(item);
            cumulative.push(total);
        }
        Weighted { items, cumulative }
    }

    fn pick(&self, rng: &mut fastrand::Rng) -> &T {
        let target = rng.f64() * self.cumulative.last().copied().unwrap_or(0.0);
        let index = self.cumulative.partition_point(|&c| c < target);
        &self.items[index.min(self.items.len() - 1)]
    }
}

/// A device, OS and browser seen together.
struct Client {
    device: &'static str,
    os: &'static str,
    os_version: &'static str,
    browser: &'static str,
    browser_version: &'static str,
}

fn clients() -> Weighted<Client> {
    let client = |device, os, os_version, browser, browser_version, weight| {
        (
            Client {
                device,
                os,
                os_version,
                browser,
                browser_version,
            },
            weight,
        )
    };
    Weighted::new([
        client("desktop", "Windows", "10", "Chrome", "131", 14.0),
        client("desktop", "Windows", "11", "Chrome", "131", 12.0),
        client("desktop", "Windows", "10", "Chrome", "130", 4.0),
        client("desktop", "Windows", "11", "Edge", "131", 6.0),
        client("desktop", "Windows", "10", "Firefox", "132", 3.0),
        client("desktop", "Windows", "11", "Firefox", "133", 2.0),
        client("desktop", "Mac OS X", "10.15", "Chrome", "131", 6.0),
        client("desktop", "Mac OS X", "10.15", "Safari", "18", 4.0),
        client("desktop", "Mac OS X", "10.15", "Safari", "17", 1.5),
        client("desktop", "Mac OS X", "10.15", "Firefox", "133", 1.0),
        client("desktop", "Linux", "", "Chrome", "131", 1.5),
        client("desktop", "Linux", "", "Firefox", "132", 1.0),
        client("mobile", "Android", "14", "Chrome", "131", 11.0),
        client("mobile", "Android", "13", "Chrome", "131", 6.0),
        client("mobile", "Android", "12", "Chrome", "130", 3.0),
        client("mobile", "Android", "10", "Chrome", "131", 3.0),
        client("mobile", "Android", "14", "Samsung Internet", "26", 3.0),
        client("mobile", "Android", "13", "Samsung Internet", "25", 1.5),
        client("mobile", "iOS", "18.1", "Safari", "18", 9.0),
        client("mobile", "iOS", "17.6", "Safari", "17", 4.0),
        client("mobile", "iOS", "18.1", "Chrome Mobile iOS", "131", 1.5),
        client("mobile", "iOS", "16.7", "Safari", "16", 1.0),
        client("tablet", "iOS", "18.1", "Safari", "18", 2.0),
        client("tablet", "Android", "14", "Chrome", "131", 1.0),
    ])
}

fn countries() -> Weighted<&'static str> {
    const CODES: [&str; 40] = [
        "US", "DE", "GB", "IN", "FR", "BR", "CA", "NL", "ES", "IT", "JP", "AU", "PL", "SE", "MX",
        "CH", "BE", "AT", "ID", "TR", "KR", "DK", "NO", "FI", "IE", "PT", "CZ", "AR", "ZA", "NG",
        "SG", "NZ", "RO", "HU", "GR", "IL", "PH", "VN", "CL", "unknown",
    ];
    Weighted::new(
        CODES
            .iter()
            .enumerate()
            .map(|(rank, code)| (*code, 1.0 / (rank as f64 + 1.0))),
    )
}

fn pages() -> Weighted<String> {
    Weighted::new((0..PAGES).map(|rank| {
        let path = match rank {
            0 => "/".to_owned(),
            1 => "/cart".to_owned(),
            2 => "/checkout".to_owned(),
            rank if rank % 3 == 0 => format!("/blog/post-{rank}"),
            rank if rank % 3 == 1 => format!("/category/{rank}"),
            rank => format!("/products/{rank}"),
        };
        (path, 1.0 / (rank as f64 + 1.0))
    }))
}

/// A log-normal value around `median`.
fn around(rng: &mut fastrand::Rng, median: f64, spread: f64) -> f64 {
    // Box–Muller: a standard normal from two uniforms.
    let normal = (-2.0 * (1.0 - rng.f64()).ln()).sqrt() * (std::f64::consts::TAU * rng.f64()).cos();
    (median * (spread * normal).exp() * 10.0).round() / 10.0
}

fn page_view(
    rng: &mut fastrand::Rng,
    site_id: i64,
    at: i64,
    (pages, clients, countries): (&Weighted<String>, &Weighted<Client>, &Weighted<&str>),
) -> PageView {
    let client = clients.pick(rng);
    let slow = if client.device == "desktop" { 1.0 } else { 1.6 };
    let mut dimensions = DimensionValues::default();
    dimensions.set(Dimension::Page, pages.pick(rng).as_str());
    dimensions.set(Dimension::Device, client.device);
    dimensions.set(Dimension::Browser, client.browser);
    dimensions.set(Dimension::BrowserVersion, client.browser_version);
    dimensions.set(Dimension::Os, client.os);
    dimensions.set(Dimension::OsVersion, client.os_version);
    dimensions.set(Dimension::Country, *countries.pick(rng));
    let navigation = match rng.u32(0..100) {
        0..85 => "navigate",
        85..92 => "reload",
        92..99 => "back_forward",
        _ => "prerender",
    };
    dimensions.set(Dimension::NavigationType, navigation);
    let mut metrics = MetricValues::default();
    let ttfb = around(rng, 250.0 * slow, 0.6);
    let fcp = ttfb + around(rng, 700.0 * slow, 0.5);
    let dns = if rng.u32(0..3) == 0 {
        around(rng, 20.0, 0.8)
    } else {
        0.0
    };
    let connect = if dns > 0.0 {
        around(rng, 40.0 * slow, 0.6)
    } else {
        0.0
    };
    let dom_interactive = fcp + around(rng, 300.0, 0.6);
    let dom_content_loaded = dom_interactive + around(rng, 60.0, 0.8);
    for (metric, value) in [
        (Metric::Ttfb, Some(ttfb)),
        (Metric::Fcp, Some(fcp)),
        (Metric::Lcp, Some(fcp + around(rng, 500.0 * slow, 0.8))),
        (
            Metric::Cls,
            Some(if rng.u32(0..10) < 6 {
                0.0
            } else {
                (around(rng, 0.05, 1.0) * 100.0).round() / 1000.0
            }),
        ),
        (
            Metric::Inp,
            (rng.u32(0..10) < 7).then(|| around(rng, 120.0 * slow, 0.7)),
        ),
        (
            Metric::Redirect,
            Some(if rng.u32(0..20) == 0 {
                around(rng, 80.0, 0.5)
            } else {
                0.0
            }),
        ),
        (Metric::Dns, Some(dns)),
        (Metric::Connect, Some(connect)),
        (Metric::Tls, Some(connect * 0.6)),
        (Metric::Download, Some(around(rng, 30.0, 0.9))),
        (Metric::DomInteractive, Some(dom_interactive)),
        (Metric::DomContentLoaded, Some(dom_content_loaded)),
        (
            Metric::Load,
            Some(dom_content_loaded + around(rng, 600.0 * slow, 0.7)),
        ),
    ] {
        metrics.set(metric, value);
    }
    PageView {
        site_id,
        at: Timestamp::from_millis(at),
        dimensions,
        metrics,
    }
}

/// Writes `count` page views spread evenly over `period`, oldest first (as
/// the collector would), in transactions of `BATCH`.
pub async fn fill(store: &Store, site_id: i64, count: u64, (from, to): (i64, i64)) {
    let choices = (pages(), clients(), countries());
    let mut rng = fastrand::Rng::with_seed(20_261_125);
    let step = (to - 60_000 - from) as f64 / count as f64;
    let mut written = 0u64;
    let mut pending: Option<tokio::task::JoinHandle<()>> = None;
    while written < count {
        let batch: Vec<PageView> = (written..count.min(written + BATCH as u64))
            .map(|index| {
                let at = from + (index as f64 * step) as i64;
                page_view(&mut rng, site_id, at, (&choices.0, &choices.1, &choices.2))
            })
            .collect();
        written += batch.len() as u64;
        if let Some(previous) = pending.take() {
            previous.await.expect("insert");
        }
        let store = store.clone();
        pending = Some(tokio::spawn(async move {
            store.insert_page_views(&batch).await.expect("insert");
        }));
    }
    if let Some(previous) = pending {
        previous.await.expect("insert");
    }
}
