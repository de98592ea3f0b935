//! The open hour: the dashboard's questions when the hour under way holds
//! a million and a half page views that no hourly rollup holds yet.

use super::support::traffic::{fill, roll};
use super::support::{CHROME, ORIGIN, Server, now_ms};
use super::{RUNS, time_query};
use sightline_core::rum::{Dimension, Metric, MetricSet};
use sightline_core::{SiteSpec, Timestamp};
use sightline_rum::query::{Scope, aggregate_cells, top_values};
use sightline_store::testing::TestDatabase;
use sightline_store::{BackendKind, SystemClock};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HOUR_MS: i64 = 3_600_000;
const SITE_KEY: &str = "open-hour-key";
/// The dashboard's default period.
const PERIOD_MS: i64 = 24 * HOUR_MS;
/// The bucket the API picks for it (about a hundred).
const BUCKET_MS: i64 = 15 * 60_000;
/// How long a beacon may take to show on the dashboard.
const FRESH_GOAL: Duration = Duration::from_secs(2);

/// One question of the site dashboard.
#[derive(Clone, Copy)]
enum Question {
    Summary,
    Timeseries,
    Breakdown(Dimension),
}

impl Question {
    /// Every question the dashboard asks when it opens.
    fn dashboard() -> Vec<Question> {
        let mut questions = vec![Question::Summary, Question::Timeseries];
        questions.extend(Dimension::ALL.into_iter().map(Question::Breakdown));
        questions
    }

    fn label(self) -> String {
        match self {
            Question::Summary => "summary".to_owned(),
            Question::Timeseries => "timeseries lcp p75 15 min".to_owned(),
            Question::Breakdown(dimension) => format!("breakdown {}", dimension.name()),
        }
    }

    fn path(self) -> String {
        match self {
            Question::Summary => "summary?".to_owned(),
            Question::Timeseries => "timeseries?metric=lcp&percentile=75&".to_owned(),
            Question::Breakdown(dimension) => format!("breakdown?dimension={}&", dimension.name()),
        }
    }

    /// The same question answered in-process, as the API does.
    async fn answer(self, store: &sightline_store::Store, site_id: i64, scope: &Scope) {
        match self {
            Question::Summary => {
                aggregate_cells(store, site_id, scope, None, None, MetricSet::ALL).await
            }
            Question::Timeseries => {
                let lcp = MetricSet::of(&[Metric::Lcp]);
                aggregate_cells(store, site_id, scope, Some(BUCKET_MS), None, lcp).await
            }
            Question::Breakdown(dimension) => {
                let rated = MetricSet::of(&Metric::RATED);
                top_values(store, site_id, scope, dimension, 10, rated)
                    .await
                    .map(|_| Default::default())
            }
        }
        .expect("answer");
    }
}

pub async fn bench(kind: BackendKind, name: &str, views: u64) {
    let database = TestDatabase::new(kind).await;
    let store = database.store(Arc::new(SystemClock)).await;
    let spec = SiteSpec {
        name: "open hour".to_owned(),
        origins: vec![ORIGIN.to_owned()],
        keep_query_string: false,
        alert_policy: None,
    };
    let site = store.create_site(&spec, SITE_KEY).await.expect("site");
    let now = store.now().as_millis();
    // Every page view in the open hour when it is at least five minutes
    // old (the case the goal is set for: none of them in an hourly
    // rollup), else over the last hour. The fill spreads page views up to a
    // minute before its end.
    let hour_start = now.div_euclid(HOUR_MS) * HOUR_MS;
    let from = if now - hour_start >= 5 * 60_000 {
        hour_start
    } else {
        now - HOUR_MS
    };
    let started = Instant::now();
    fill(&store, site.id, views, (from, now + 60_000)).await;
    let fill_time = started.elapsed();

    let filters = [vec![], vec![(Dimension::Device, "mobile".to_owned())]];
    let scope_of = |filters: &Vec<(Dimension, String)>| {
        let to = store.now().as_millis();
        Scope {
            from: Timestamp::from_millis(to - PERIOD_MS),
            to: Timestamp::from_millis(to),
            filters: filters.clone(),
        }
    };
    // The reference: each question read from the raw page views, as
    // before the hour is rolled.
    let mut raw = Vec::new();
    for filter in &filters {
        for question in Question::dashboard() {
            let started = Instant::now();
            question.answer(&store, site.id, &scope_of(filter)).await;
            raw.push(started.elapsed());
        }
    }
    let started = Instant::now();
    roll(&store, site.id).await;
    let roll_time = started.elapsed();
    // How many of them the open hour holds (written a minute at a time),
    // and how many the hour before it (rolled whole).
    let now = store.now();
    let hour_start = Timestamp::from_millis(hour_start);
    let open = store
        .count_page_views(site.id, hour_start, now)
        .await
        .expect("count");
    store.close().await;

    let server = Server::start(&["--database-url", database.url()]).await;
    println!(
        "\n## {name}: the last hour holds {views} page views\n\n\
         {open} of them in the open hour ({} minutes old), any others in the hour before; \
         filled in {:.0} s; the roll (the hour before whole, then the open hour's settled \
         minutes) took {:.1} s\n",
        (now.as_millis() - hour_start.as_millis()) / 60_000,
        fill_time.as_secs_f64(),
        roll_time.as_secs_f64(),
    );
    println!(
        "| question over 24 h | filter | raw, before the roll | median of {RUNS}, through the API | goal |"
    );
    println!("|---|---|---:|---:|---:|");
    let base = format!("/api/v1/sites/{}/rum", site.id);
    let mut raw = raw.into_iter();
    for filter in &filters {
        for question in Question::dashboard() {
            let to = now_ms();
            let mut path = format!("{base}/{}from={}&to={to}", question.path(), to - PERIOD_MS);
            for (dimension, value) in filter {
                path.push_str(&format!("&{}={value}", dimension.name()));
            }
            let median = time_query(&server, &path).await;
            println!(
                "| {} | {} | {:.0} ms | {:.0} ms | 200 ms |",
                question.label(),
                filter
                    .first()
                    .map_or("none".to_owned(), |(d, v)| format!("{}={v}", d.name())),
                raw.next().expect("reference").as_secs_f64() * 1000.0,
                median.as_secs_f64() * 1000.0,
            );
        }
    }
    let visible = fresh_beacon(&server, site.id, views).await;
    println!(
        "\na beacon posted through the collector counted by the summary after {:.0} ms (goal {} s)",
        visible.as_secs_f64() * 1000.0,
        FRESH_GOAL.as_secs()
    );
}

/// Posts one beacon and polls the last hour's summary until it counts
/// `before + 1` page views; how long that took from the 204.
async fn fresh_beacon(server: &Server, site_id: i64, before: u64) -> Duration {
    let beacon = serde_json::json!({
        "site": SITE_KEY, "url": format!("{ORIGIN}/fresh"), "nav": "navigate",
        "metrics": {"lcp": 1200.0, "fcp": 600.0, "cls": 0.01, "ttfb": 90.0}
    });
    let response = server
        .http
        .post(format!("{}/rum/v1/beacon", server.base))
        .header("content-type", "text/plain;charset=UTF-8")
        .header("origin", ORIGIN)
        .header("user-agent", CHROME)
        .body(beacon.to_string())
        .send()
        .await
        .expect("beacon");
    assert_eq!(response.status().as_u16(), 204, "the beacon is stored");
    let stored = Instant::now();
    loop {
        let to = now_ms() + 1;
        let summary = server
            .get(&format!(
                "/api/v1/sites/{site_id}/rum/summary?from={}&to={to}",
                to - 2 * HOUR_MS
            ))
            .await;
        if summary["page_views"].as_u64() == Some(before + 1) {
            return stored.elapsed();
        }
        assert!(
            stored.elapsed() < Duration::from_secs(60),
            "the beacon never showed: {summary}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
