//! Rollups and queries against the truth: percentiles answered from rollups
//! (and the raw tail) agree with exact percentiles of the raw page views
//! within the sketch's stated error, on 100,000 synthetic page views, on
//! SQLite and on PostgreSQL.

use sightline_core::rum::{
    Aggregate, Dimension, DimensionValues, Metric, MetricSet, MetricValues, PageView,
    SKETCH_RELATIVE_ERROR, ViewColumn,
};
use sightline_core::{ManualClock, SiteSpec, Timestamp};
use sightline_rum::query::{Scope, aggregate, aggregate_cells, top_values};
use sightline_rum::rollup::{DAY_MS, HOUR_MS, MINUTE_MS, roll_all};
use sightline_store::testing::TestDatabase;
use sightline_store::{BackendKind, ColumnGrain, RollupQuery, RollupSelection, on_both_backends};
use std::sync::Arc;

/// Midnight UTC, so that days and hours line up with the data.
const START: i64 = 1_795_046_400_000;
const VIEWS: usize = 100_000;
const SPAN_MS: i64 = 3 * DAY_MS;

/// A deterministic pseudo-random source (xorshift), so failures reproduce.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Long-tailed like real timings: exp of a roughly normal value.
    fn timing(&mut self, median: f64) -> f64 {
        let normal = (0..6).map(|_| self.unit()).sum::<f64>() - 3.0;
        (median * (0.6 * normal).exp()).min(590_000.0)
    }

    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[(self.next() % choices.len() as u64) as usize]
    }
}

fn synthetic_views(
    site_id: i64,
    count: usize,
    from: i64,
    span: i64,
    random: &mut Random,
) -> Vec<PageView> {
    let pages: Vec<String> = (0..20).map(|n| format!("/products/{n}")).collect();
    let pages: Vec<&str> = pages.iter().map(String::as_str).collect();
    (0..count)
        .map(|n| {
            let mut dimensions = DimensionValues::default();
            dimensions.set(Dimension::Page, random.pick(&pages).to_owned());
            let device = random.pick(&["desktop", "desktop", "mobile", "tablet"]);
            dimensions.set(Dimension::Device, device);
            let browser = random.pick(&["Chrome", "Firefox", "Safari", "Edge"]);
            dimensions.set(Dimension::Browser, browser);
            dimensions.set(
                Dimension::BrowserVersion,
                format!("{browser} {}", 118 + random.next() % 4),
            );
            dimensions.set(
                Dimension::Os,
                random.pick(&["Windows", "macOS", "Android", "iOS"]),
            );
            dimensions.set(Dimension::OsVersion, "x 1");
            dimensions.set(
                Dimension::Country,
                random.pick(&["DE", "US", "FR", "JP", "unknown"]),
            );
            dimensions.set(
                Dimension::NavigationType,
                random.pick(&["navigate", "navigate", "reload", "back_forward"]),
            );
            let mut metrics = MetricValues::default();
            let slow = if device == "mobile" { 1.8 } else { 1.0 };
            metrics.set(Metric::Ttfb, Some(random.timing(180.0 * slow)));
            metrics.set(Metric::Fcp, Some(random.timing(900.0 * slow)));
            metrics.set(Metric::Lcp, Some(random.timing(1800.0 * slow)));
            metrics.set(
                Metric::Cls,
                Some(if random.unit() < 0.4 {
                    0.0
                } else {
                    random.timing(0.05)
                }),
            );
            if random.unit() < 0.7 {
                metrics.set(Metric::Inp, Some(random.timing(120.0)));
            }
            metrics.set(Metric::Load, Some(random.timing(2500.0 * slow)));
            let at = from + (n as i64 * span) / count as i64;
            PageView {
                site_id,
                at: Timestamp::from_millis(at),
                dimensions,
                metrics,
            }
        })
        .collect()
}

/// The exact nearest-rank quantile, as the sketch defines it.
fn exact(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = sightline_core::rum::nearest_rank(values.len() as u64, q);
    Some(values[rank as usize])
}

/// A period, filters, a bucket length and a grouping dimension.
type Question = (
    i64,
    i64,
    Vec<(Dimension, String)>,
    Option<i64>,
    Option<Dimension>,
);

on_both_backends!(
    percentiles_from_rollups_match_the_raw_truth,
    the_writer_refuses_when_full_and_drains_on_close,
);

/// The site every test's page views belong to.
async fn shop(store: &sightline_store::Store) -> sightline_store::Site {
    store
        .create_site(
            &SiteSpec {
                name: "shop".into(),
                origins: vec![],
                keep_query_string: false,
                alert_policy: None,
            },
            "key",
        )
        .await
        .unwrap()
}

async fn percentiles_from_rollups_match_the_raw_truth(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START)));
    let store = database.store(clock.clone()).await;
    let site = shop(&store).await;
    let mut random = Random(0x5eed_1234_abcd_9876);
    let mut views = synthetic_views(site.id, VIEWS, START, SPAN_MS, &mut random);
    for batch in views.chunks(5_000) {
        store.insert_page_views(batch).await.unwrap();
    }

    // Roll everything complete, then add a fresh tail that is not rolled yet.
    clock.set(Timestamp::from_millis(START + SPAN_MS + 30_000));
    for _ in 0..3 {
        roll_all(&store).await.unwrap();
    }
    assert_eq!(
        store.rollup_progress(site.id, HOUR_MS).await.unwrap(),
        Some(Timestamp::from_millis(START + SPAN_MS))
    );
    assert_eq!(
        store.rollup_progress(site.id, DAY_MS).await.unwrap(),
        Some(Timestamp::from_millis(START + SPAN_MS))
    );
    // Every hour is in the page view columns too, which answer what no
    // rollup does: counted here from the columns alone.
    assert_eq!(
        store.view_columns_progress(site.id).await.unwrap(),
        Some(Timestamp::from_millis(START + SPAN_MS))
    );
    let page = [ViewColumn::Dimension(Dimension::Page)];
    let span = (
        Timestamp::from_millis(START),
        Timestamp::from_millis(START + SPAN_MS),
    );
    let counted = store
        .fold_view_columns(
            site.id,
            ColumnGrain::Hour,
            span,
            &page,
            (0, 0),
            |(hours, views): &mut (i64, usize), _, columns| {
                *hours += 1;
                *views += columns.views();
                Ok(())
            },
        )
        .await
        .unwrap();
    assert_eq!(counted, (SPAN_MS / HOUR_MS, VIEWS));
    // The open hour: nine minutes written a minute at a time once they
    // settle, and a last minute of fresh page views read raw.
    let tail = synthetic_views(site.id, 2_000, START + SPAN_MS, 9 * 60_000, &mut random);
    store.insert_page_views(&tail).await.unwrap();
    views.extend(tail);
    clock.set(Timestamp::from_millis(START + SPAN_MS + 10 * 60_000));
    roll_all(&store).await.unwrap();
    assert_eq!(
        store.view_segments_progress(site.id).await.unwrap(),
        Some(Timestamp::from_millis(START + SPAN_MS + 9 * 60_000))
    );
    let minutes = store
        .fold_view_columns(
            site.id,
            ColumnGrain::Minute,
            (span.1, Timestamp::from_millis(START + SPAN_MS + HOUR_MS)),
            &page,
            0,
            |views: &mut usize, _, columns| {
                *views += columns.views();
                Ok(())
            },
        )
        .await
        .unwrap();
    assert_eq!(minutes, 2_000);
    // The same minutes as rollup cells, which questions with up to one
    // filter (or a group alone) read instead.
    assert_eq!(
        store.rollup_progress(site.id, MINUTE_MS).await.unwrap(),
        Some(Timestamp::from_millis(START + SPAN_MS + 9 * 60_000))
    );
    let minute_totals = |store: sightline_store::Store| async move {
        store
            .rollups(
                &RollupQuery {
                    site_id: site.id,
                    resolution_ms: MINUTE_MS,
                    dimension: "",
                    selection: RollupSelection::All,
                    from: Timestamp::from_millis(START),
                    to: Timestamp::from_millis(START + SPAN_MS + HOUR_MS),
                    metrics: MetricSet::ALL,
                },
                None,
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.aggregate.page_views())
            .sum::<u64>()
    };
    assert_eq!(minute_totals(store.clone()).await, 2_000);
    let fresh = synthetic_views(
        site.id,
        300,
        START + SPAN_MS + 9 * 60_000,
        60_000,
        &mut random,
    );
    store.insert_page_views(&fresh).await.unwrap();
    views.extend(fresh);

    let end = START + SPAN_MS + 10 * 60_000;
    let scopes = [
        // Everything: days from rollups, the tail raw.
        (START, end, vec![]),
        // One filter, unaligned edges: raw edges, hours, days.
        (
            START + 37 * 60_000,
            end - 13 * 60_000,
            vec![(Dimension::Device, "mobile".to_owned())],
        ),
        // Inside the open hour, unaligned: minutes, raw edges and the
        // fresh last minute.
        (
            end - 7 * 60_000 - 12_345,
            end,
            vec![(Dimension::Device, "mobile".to_owned())],
        ),
        // The page with another dimension: a pair rollup.
        (
            START,
            end,
            vec![
                (Dimension::Page, "/products/7".to_owned()),
                (Dimension::Country, "DE".to_owned()),
            ],
        ),
        // Two filters other than the page, unaligned: a daily pair rollup,
        // the partial days raw.
        (
            START + HOUR_MS,
            START + DAY_MS + 5 * HOUR_MS,
            vec![
                (Dimension::Browser, "Firefox".to_owned()),
                (Dimension::Os, "iOS".to_owned()),
            ],
        ),
    ];
    for (from, to, filters) in scopes {
        let scope = Scope {
            from: Timestamp::from_millis(from),
            to: Timestamp::from_millis(to),
            filters: filters.clone(),
        };
        let answer = aggregate(&store, site.id, &scope).await.unwrap();
        let matching: Vec<&PageView> = views
            .iter()
            .filter(|view| (from..to).contains(&view.at.as_millis()))
            .filter(|view| {
                filters
                    .iter()
                    .all(|(dimension, value)| view.dimensions.get(*dimension) == value)
            })
            .collect();
        assert_eq!(answer.page_views(), matching.len() as u64, "{filters:?}");
        assert!(
            matching.len() > 200,
            "too few page views to judge: {}",
            matching.len()
        );
        for metric in [
            Metric::Lcp,
            Metric::Fcp,
            Metric::Ttfb,
            Metric::Cls,
            Metric::Inp,
            Metric::Load,
        ] {
            let mut values: Vec<f64> = matching
                .iter()
                .filter_map(|view| view.metrics.get(metric))
                .collect();
            assert_eq!(
                answer.sketch(metric).map_or(0, |s| s.count()),
                values.len() as u64,
                "{metric:?} count"
            );
            for percentile in [50.0, 75.0, 95.0, 99.0] {
                let truth = exact(&mut values, percentile / 100.0).unwrap();
                let estimate = answer.percentile(metric, percentile).unwrap();
                assert!(
                    (estimate - truth).abs() <= truth * SKETCH_RELATIVE_ERROR + 1e-9,
                    "{metric:?} p{percentile} {filters:?}: {estimate} vs exact {truth}"
                );
            }
            if let Some([good, needs_improvement, poor]) = answer.ratings(metric) {
                let (good_threshold, poor_threshold) = metric.thresholds().unwrap();
                let exact_good = values.iter().filter(|v| **v <= good_threshold).count() as u64;
                let exact_poor = values.iter().filter(|v| **v > poor_threshold).count() as u64;
                assert_eq!(
                    (good, poor, good + needs_improvement + poor),
                    (exact_good, exact_poor, values.len() as u64)
                );
            }
        }
    }

    // Time series and breakdowns: per bucket and per group, the same truth.
    let mut questions: Vec<Question> = vec![
        (START, end, vec![], Some(DAY_MS), None),
        (
            START,
            end,
            vec![(Dimension::Device, "mobile".to_owned())],
            Some(6 * HOUR_MS),
            None,
        ),
        (
            START + 5 * HOUR_MS,
            START + 7 * HOUR_MS,
            vec![],
            Some(10 * 60_000),
            None,
        ),
        (
            START,
            end,
            vec![(Dimension::Device, "mobile".to_owned())],
            None,
            Some(Dimension::Page),
        ),
        (
            START,
            end,
            vec![(Dimension::Page, "/products/3".to_owned())],
            None,
            Some(Dimension::Device),
        ),
        (START, end, vec![], None, Some(Dimension::Country)),
        (
            START,
            end,
            vec![(Dimension::Device, "tablet".to_owned())],
            Some(DAY_MS),
            Some(Dimension::Device),
        ),
        (START, end, vec![], Some(DAY_MS), Some(Dimension::Browser)),
        (
            START,
            end,
            vec![
                (Dimension::Browser, "Edge".to_owned()),
                (Dimension::Device, "tablet".to_owned()),
            ],
            None,
            Some(Dimension::Os),
        ),
    ];
    // Five-minute buckets over the last two hours: raw for the rolled hour
    // (no rollup or hour of columns is that fine), minutes for the open one.
    questions.push((
        end - 2 * HOUR_MS,
        end,
        vec![],
        Some(5 * 60_000),
        Some(Dimension::Device),
    ));
    // A filter on the second dimension of a pair, grouped by the first,
    // over unaligned edges.
    questions.push((
        START + 5 * HOUR_MS + 17 * 60_000,
        end - 31 * 60_000,
        vec![(Dimension::Country, "DE".to_owned())],
        None,
        Some(Dimension::Browser),
    ));
    // Two filters and a group on one of them: one group, named by its value.
    questions.push((
        START,
        end,
        vec![
            (Dimension::Browser, "Chrome".to_owned()),
            (Dimension::Device, "mobile".to_owned()),
        ],
        Some(DAY_MS),
        Some(Dimension::Device),
    ));
    for (from, to, filters, bucket, group) in questions {
        let scope = Scope {
            from: Timestamp::from_millis(from),
            to: Timestamp::from_millis(to),
            filters: filters.clone(),
        };
        let cells = aggregate_cells(&store, site.id, &scope, bucket, group, MetricSet::ALL)
            .await
            .unwrap();
        if let (None, Some(group)) = (bucket, group) {
            // Ranking by the rollups' counts first and reading the top
            // values' sketches only gives what ranking every cell gives.
            // Only LCP is read: the other sketches are left out.
            let lcp = MetricSet::of(&[Metric::Lcp]);
            let ranking = top_values(&store, site.id, &scope, group, 3, lcp)
                .await
                .unwrap();
            let mut expected: Vec<(&String, &Aggregate)> = cells
                .iter()
                .map(|((_, value), aggregate)| (value, aggregate))
                .collect();
            expected.sort_by(|a, b| {
                b.1.page_views()
                    .cmp(&a.1.page_views())
                    .then_with(|| a.0.cmp(b.0))
            });
            expected.truncate(3);
            assert_eq!(ranking.values, cells.len(), "{filters:?} {group:?}");
            assert_eq!(
                ranking
                    .top
                    .iter()
                    .map(|(value, _)| value)
                    .collect::<Vec<_>>(),
                expected.iter().map(|(value, _)| *value).collect::<Vec<_>>(),
                "{filters:?} {group:?}"
            );
            for ((value, got), (_, want)) in ranking.top.iter().zip(&expected) {
                assert_eq!(got.page_views(), want.page_views(), "{value}");
                assert_eq!(
                    got.percentile(Metric::Lcp, 75.0),
                    want.percentile(Metric::Lcp, 75.0),
                    "{value}"
                );
                assert_eq!(got.sketch(Metric::Fcp), None, "{value}");
            }
        }
        let mut truth: std::collections::BTreeMap<(i64, String), Vec<f64>> =
            std::collections::BTreeMap::new();
        for view in &views {
            let at = view.at.as_millis();
            if !(from..to).contains(&at)
                || !filters.iter().all(|(d, v)| view.dimensions.get(*d) == v)
            {
                continue;
            }
            let start = bucket.map_or(from, |bucket| at.div_euclid(bucket) * bucket);
            let value =
                group.map_or_else(String::new, |group| view.dimensions.get(group).to_owned());
            truth
                .entry((start, value))
                .or_default()
                .extend(view.metrics.get(Metric::Lcp));
        }
        assert_eq!(
            cells.keys().collect::<Vec<_>>(),
            truth.keys().collect::<Vec<_>>(),
            "{filters:?} {bucket:?} {group:?}"
        );
        for (key, mut values) in truth {
            let cell = &cells[&key];
            assert_eq!(cell.page_views(), values.len() as u64, "{key:?}");
            let exact_p75 = exact(&mut values, 0.75).unwrap();
            let estimate = cell.percentile(Metric::Lcp, 75.0).unwrap();
            assert!(
                (estimate - exact_p75).abs() <= exact_p75 * SKETCH_RELATIVE_ERROR + 1e-9,
                "{key:?}: {estimate} vs {exact_p75}"
            );
        }
    }

    // Once the open hour is rolled whole, its minute cells go.
    clock.set(Timestamp::from_millis(START + SPAN_MS + HOUR_MS + 60_000));
    roll_all(&store).await.unwrap();
    assert_eq!(
        store.rollup_progress(site.id, HOUR_MS).await.unwrap(),
        Some(Timestamp::from_millis(START + SPAN_MS + HOUR_MS))
    );
    roll_all(&store).await.unwrap();
    assert_eq!(minute_totals(store.clone()).await, 0);
    let everything = Scope {
        from: Timestamp::from_millis(START),
        to: Timestamp::from_millis(end),
        filters: Vec::new(),
    };
    assert_eq!(
        aggregate(&store, site.id, &everything)
            .await
            .unwrap()
            .page_views(),
        views.len() as u64
    );
    store.close().await;
}

/// Holds the database's write lock from another connection until dropped.
async fn hold_write_lock(database: &TestDatabase) -> Box<dyn std::any::Any + Send> {
    use sqlx::Connection;
    match database.kind() {
        BackendKind::Sqlite => {
            let mut connection = sqlx::SqliteConnection::connect(database.url())
                .await
                .unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut connection)
                .await
                .unwrap();
            Box::new(connection)
        }
        BackendKind::Postgres => {
            let mut connection = sqlx::PgConnection::connect(database.url()).await.unwrap();
            sqlx::query("BEGIN").execute(&mut connection).await.unwrap();
            sqlx::query("LOCK TABLE page_views IN EXCLUSIVE MODE")
                .execute(&mut connection)
                .await
                .unwrap();
            Box::new(connection)
        }
    }
}

async fn the_writer_refuses_when_full_and_drains_on_close(kind: BackendKind) {
    use sightline_rum::writer::{PageViewWriter, WriteError};
    let database = TestDatabase::new(kind).await;
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START)));
    let store = database.store(clock).await;
    let site = shop(&store).await;
    let views = synthetic_views(site.id, 3, START, 1_000, &mut Random(7));
    let (writer, task) = PageViewWriter::spawn(store.clone(), 1, 100);

    // With the database locked, the first page view occupies the writer, the
    // second fills the one-place queue, and the third is refused at once.
    let lock = hold_write_lock(&database).await;
    let first = tokio::spawn({
        let (writer, view) = (writer.clone(), views[0].clone());
        async move { writer.write(view).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let second = tokio::spawn({
        let (writer, view) = (writer.clone(), views[1].clone());
        async move { writer.write(view).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        writer.write(views[2].clone()).await,
        Err(WriteError::QueueFull)
    );

    // Closing while they wait: both are still committed, later ones refused.
    writer.close();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    drop(lock);
    assert_eq!(first.await.unwrap(), Ok(()));
    assert_eq!(second.await.unwrap(), Ok(()));
    task.await.unwrap();
    assert_eq!(
        writer.write(views[2].clone()).await,
        Err(WriteError::Closed)
    );
    let end = Timestamp::from_millis(START + 10_000);
    assert_eq!(
        store
            .count_page_views(site.id, Timestamp::from_millis(0), end)
            .await
            .unwrap(),
        2
    );
    store.close().await;
}

/// One case of uap-core's own test corpus.
#[derive(serde::Deserialize)]
struct CorpusCase {
    user_agent_string: String,
    family: String,
}

#[derive(serde::Deserialize)]
struct Corpus {
    test_cases: Vec<CorpusCase>,
}

/// The share of `corpus`'s cases whose family `ours` names as the corpus
/// does (after `renamed`), and the first few that differ.
fn agreement(
    corpus: &str,
    renamed: impl Fn(&str) -> String,
    ours: impl Fn(&str) -> String,
) -> (f64, usize, Vec<String>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/uap-core")
        .join(corpus);
    let text = std::fs::read_to_string(&path).unwrap();
    let corpus: Corpus = serde_yaml_ng::from_str(&text).unwrap();
    let mut differing = Vec::new();
    for case in &corpus.test_cases {
        let (want, got) = (renamed(&case.family), ours(&case.user_agent_string));
        if want != got {
            differing.push(format!("{want} ≠ {got}: {}", case.user_agent_string));
        }
    }
    let total = corpus.test_cases.len();
    let agreed = (total - differing.len()) as f64 / total as f64;
    differing.truncate(10);
    (agreed, total, differing)
}

/// The enricher names browsers and operating systems as uap-core's own
/// test corpus does (`tests/data/uap-core`, from the same uap-core commit
/// as the embedded rules), but for the documented renames: mobile
/// browsers by their product's name, `Mac OS X` as `macOS`.
#[test]
fn user_agents_are_named_as_uap_cores_own_corpus_names_them() {
    use sightline_rum::enrich::{UserAgentParser, browser_name, os_name};
    let parser = UserAgentParser::shared().unwrap();
    let (browsers, cases, differing) = agreement(
        "test_ua.yaml",
        |family| browser_name(family).to_owned(),
        |user_agent| parser.parse(user_agent, None).browser,
    );
    println!("browsers: {:.2} % of {cases} cases agree", browsers * 100.0);
    assert!(
        browsers >= 0.99,
        "{:.2} %: {differing:#?}",
        browsers * 100.0
    );
    let (systems, cases, differing) = agreement("test_os.yaml", os_name, |user_agent| {
        parser.parse(user_agent, None).os
    });
    println!(
        "operating systems: {:.2} % of {cases} cases agree",
        systems * 100.0
    );
    assert!(systems >= 0.99, "{:.2} %: {differing:#?}", systems * 100.0);
    // Crawlers that render pages as a person's browser would are robots.
    for robot in [
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 (compatible; Google-InspectionTool/1.0)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    ] {
        assert!(parser.parse(robot, None).is_bot, "{robot}");
    }
}
