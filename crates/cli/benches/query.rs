//! RUM queries over a month of traffic, on SQLite and on PostgreSQL.
//!
//! Fills a fresh database with `SIGHTLINE_BENCH_PAGE_VIEWS` page views
//! (10,000,000 by default) spread over the last `SIGHTLINE_BENCH_DAYS` days
//! (30) and 500 pages, with realistic skew (a few pages, browsers and
//! countries take most of the traffic), rolls them up as the server's
//! maintenance loop would, then starts the release `sightline serve` on that
//! database and times `summary`, `timeseries` and `breakdown` over the whole
//! period through the HTTP API, with no filter, one filter and two filters.
//! Prints each query's median of five runs next to its goal, the time to
//! fill and to roll, and the storage of the rollups against the raw page
//! views. Last, retention removes the oldest days: on PostgreSQL by
//! dropping their partitions, beside deleting the same rows from a copy
//! kept in one table as before partitions (and the vacuum that leaves to
//! do). `SIGHTLINE_BENCH_BACKENDS` picks `sqlite`, `postgres` or both (the
//! default). `SIGHTLINE_BENCH_KEEP=1` keeps the filled databases and prints
//! where they are, to look into a query afterwards. Run with
//! `cargo bench -p sightline --bench query`.
//!
//! Then the open hour: a fresh database whose hour under way holds
//! `SIGHTLINE_BENCH_OPEN_HOUR_VIEWS` page views (1,500,000), none rolled.
//! Each question the site dashboard asks over its default 24 hours (with
//! and without a filter) is answered once in-process from the raw page
//! views, as before anything is rolled (the reference), then the page views
//! are rolled as the server's loop does (whole hours, and the open hour's
//! settled minutes) and the same question is timed through the HTTP API.
//! Last, a beacon is posted through the collector and the summary polled
//! until it counts it. `SIGHTLINE_BENCH_SCENARIOS` picks `month`,
//! `open-hour` or both (the default).

mod open_hour;
mod retention;
mod support;

use sightline_core::SiteSpec;
use sightline_store::testing::TestDatabase;
use sightline_store::{BackendKind, GrowingTable, SystemClock};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::traffic::{PAGES, fill, roll};
use support::{Server, env_number};

const DAY_MS: i64 = 24 * 3_600_000;
const RUNS: usize = 5;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let page_views = env_number("SIGHTLINE_BENCH_PAGE_VIEWS", 10_000_000);
    let days = env_number("SIGHTLINE_BENCH_DAYS", 30) as i64;
    let backends = std::env::var("SIGHTLINE_BENCH_BACKENDS").unwrap_or_default();
    for kind in [BackendKind::Sqlite, BackendKind::Postgres] {
        let name = match kind {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
        };
        if !backends.is_empty() && !backends.contains(name) {
            continue;
        }
        let scenarios = std::env::var("SIGHTLINE_BENCH_SCENARIOS").unwrap_or_default();
        if scenarios.is_empty() || scenarios.contains("month") {
            bench_backend(kind, name, page_views, days).await;
        }
        if scenarios.is_empty() || scenarios.contains("open-hour") {
            let views = env_number("SIGHTLINE_BENCH_OPEN_HOUR_VIEWS", 1_500_000);
            open_hour::bench(kind, name, views).await;
        }
    }
}

async fn bench_backend(kind: BackendKind, name: &str, page_views: u64, days: i64) {
    let database = TestDatabase::new(kind).await;
    let store = database.store(Arc::new(SystemClock)).await;
    let spec = SiteSpec {
        name: "bench".to_owned(),
        origins: vec!["https://shop.example.com".to_owned()],
        keep_query_string: false,
        alert_policy: None,
    };
    let site = store
        .create_site(&spec, "bench-site-key")
        .await
        .expect("create the site");
    let now = store.now().as_millis();
    let period = (now - days * DAY_MS, now);

    let started = Instant::now();
    fill(&store, site.id, page_views, period).await;
    let fill_time = started.elapsed();
    let started = Instant::now();
    roll(&store, site.id).await;
    let roll_time = started.elapsed();
    // Statistics and vacuumed rollups, as a server that has been running
    // has them (it refreshes them hourly): the questions are timed in that
    // steady state, not while the first refresh after a bulk load runs.
    store.optimize().await.expect("optimize");
    let raw_bytes = store
        .table_bytes(GrowingTable::PageViews)
        .await
        .expect("raw size");
    let rollup_bytes = store
        .table_bytes(GrowingTable::Rollups)
        .await
        .expect("rollup size");
    let column_bytes = store
        .table_bytes(GrowingTable::ViewColumns)
        .await
        .expect("column size");
    store.close().await;

    // Raw page views are kept longer than the period, so that the first
    // minutes are not deleted while the benchmark runs.
    let retention = format!("{}d", days + 7);
    let server = Server::start(&[
        "--database-url",
        database.url(),
        "--rum-retention",
        &retention,
    ])
    .await;
    println!(
        "\n## {name}: {page_views} page views over {days} days and {PAGES} pages\n\n\
         filled in {:.0} s, rolled in {:.0} s; raw page views {:.0} MiB, rollups {:.0} MiB, \
         page view columns {:.0} MiB (together {:.1} % of raw)\n",
        fill_time.as_secs_f64(),
        roll_time.as_secs_f64(),
        mib(raw_bytes),
        mib(rollup_bytes),
        mib(column_bytes),
        100.0 * (rollup_bytes + column_bytes) as f64 / raw_bytes as f64
    );
    println!("| query | filters | median of {RUNS} | goal |");
    println!("|---|---|---:|---:|");
    let range = format!("from={}&to={}", period.0, period.1);
    let base = format!("/api/v1/sites/{}/rum", site.id);
    let summary = server
        .get(&format!("{base}/summary?{range}"))
        .await
        .to_string();
    assert!(
        summary.contains(&format!("\"page_views\":{page_views}")),
        "the summary counts every page view: {summary}"
    );
    for query in queries() {
        let path = format!("{base}/{}&{range}{}", query.path, query.filters);
        let median = time_query(&server, &path).await;
        println!(
            "| {} | {} | {:.0} ms | {} |",
            query.label,
            if query.filters.is_empty() {
                "none".to_owned()
            } else {
                query.filters.trim_start_matches('&').replace('&', ", ")
            },
            median.as_secs_f64() * 1000.0,
            if query.fast { "200 ms" } else { "2 s" }
        );
    }
    drop(server);
    retention::bench(&database, site.id, period).await;
    if std::env::var_os("SIGHTLINE_BENCH_KEEP").is_some() {
        println!("\nkept: {}", database.url());
        std::mem::forget(database);
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// One timed question.
struct Query {
    label: &'static str,
    path: &'static str,
    filters: &'static str,
    /// Whether the 200 ms goal applies (otherwise 2 s).
    fast: bool,
}

fn queries() -> Vec<Query> {
    let query = |label, path, filters, fast| Query {
        label,
        path,
        filters,
        fast,
    };
    vec![
        query("summary", "summary?", "", true),
        query("summary", "summary?", "&device=mobile", true),
        query(
            "summary",
            "summary?",
            "&page=/products/8&device=mobile",
            true,
        ),
        query("summary", "summary?", "&browser=Chrome&country=DE", true),
        query(
            "timeseries lcp p75 1d",
            "timeseries?metric=lcp&percentile=75&bucket=1d",
            "",
            true,
        ),
        query(
            "timeseries lcp p75 1d",
            "timeseries?metric=lcp&percentile=75&bucket=1d",
            "&country=US",
            true,
        ),
        query(
            "timeseries lcp p75 1d",
            "timeseries?metric=lcp&percentile=75&bucket=1d",
            "&page=/products/8&device=mobile",
            true,
        ),
        query(
            "timeseries lcp p75 1d",
            "timeseries?metric=lcp&percentile=75&bucket=1d",
            "&os=Android&country=IN",
            true,
        ),
        query("breakdown browser", "breakdown?dimension=browser", "", true),
        query(
            "breakdown browser",
            "breakdown?dimension=browser",
            "&page=/products/8",
            true,
        ),
        query(
            "breakdown page",
            "breakdown?dimension=page",
            "&country=DE",
            true,
        ),
        query(
            "breakdown country",
            "breakdown?dimension=country",
            "&page=/products/8&device=mobile",
            false,
        ),
        query(
            "breakdown os_version",
            "breakdown?dimension=os_version",
            "&browser=Chrome&country=US",
            false,
        ),
    ]
}

/// The median time of `RUNS` runs after one to warm up.
async fn time_query(server: &Server, path: &str) -> Duration {
    server.get(path).await;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        server.get(path).await;
        times.push(started.elapsed());
    }
    times.sort();
    times[RUNS / 2]
}
