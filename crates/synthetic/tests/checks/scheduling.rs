//! The scheduler, the local checkpoint and the confirmation rules over a
//! real database, against the HTTP app on 127.0.0.1.

use crate::targets::{self, App};
use serde_json::json;
use sightline_core::monitor::{CheckOutcome, Schedule};
use sightline_core::{Clock, MaintenanceWindowSpec, ManualClock, MonitorSpec, Timestamp};
use sightline_store::testing::TestDatabase;
use sightline_store::{BackendKind, CheckResult, Store, SystemClock, on_both_backends};
use sightline_synthetic::directory::CheckpointDirectory;
use sightline_synthetic::scheduler::Scheduler;
use sightline_synthetic::{Prober, ProberConfig, Synthetic, SyntheticConfig};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

on_both_backends!(
    failures_are_confirmed_before_the_monitor_goes_down,
    scheduled_checks_start_on_their_slot,
    the_schedule_survives_a_restart_without_a_storm,
    checks_leave_an_offline_checkpoint_for_the_monitors_others,
    checkpoints_that_must_agree_are_judged_together,
    downtime_runs_from_the_first_confirmed_failure_to_the_next_pass,
);

/// A checkpoint's report of one run of monitor `monitor_id` (a 503 when it
/// failed), as the coordinator receives it.
fn job_report(
    monitor_id: i64,
    due_at: Timestamp,
    attempt: i64,
    started_at: Timestamp,
    outcome: CheckOutcome,
) -> sightline_synthetic::JobReport {
    use sightline_core::monitor::{CheckReport, Problem, ProblemKind};
    sightline_synthetic::JobReport {
        job_id: 0,
        monitor_id,
        due_at,
        attempt,
        started_at,
        report: CheckReport {
            outcome,
            problem: (outcome == CheckOutcome::Error)
                .then(|| Problem::new(ProblemKind::Status, "expected a 2xx status, got 503")),
            status_code: None,
            timings: Default::default(),
            duration_ms: 5,
            response_bytes: None,
            detail: serde_json::Value::Null,
            screenshots: Vec::new(),
        },
        lease: String::new(),
    }
}

fn spec(document: serde_json::Value) -> MonitorSpec {
    MonitorSpec::from_json(document).unwrap()
}

/// Waits until the monitor has at least `count` results, newest first.
async fn results(store: &Store, monitor_id: i64, count: usize) -> Vec<CheckResult> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = store
            .check_results(
                monitor_id,
                Timestamp::from(0),
                Timestamp::from(i64::MAX),
                100,
            )
            .await
            .unwrap();
        if found.len() >= count {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {count} results arrived",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start(store: &Store) -> Synthetic {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let prober = Prober::new(ProberConfig::default(), clock.clone()).unwrap();
    Synthetic::start(
        store.clone(),
        clock,
        prober,
        None,
        &SyntheticConfig::default(),
    )
    .await
    .unwrap()
}

async fn failures_are_confirmed_before_the_monitor_goes_down(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let store = database.store(Arc::new(SystemClock)).await;
    let app = App::default();
    let address = targets::http_app(app.clone()).await;
    let synthetic = start(&store).await;
    let monitor = store
        .create_monitor(&spec(
            json!({"name": "health", "type": "http", "every": "1h",
            "url": format!("http://127.0.0.1:{}/health", address.port())}),
        ))
        .await
        .unwrap();

    synthetic.run_now(monitor.id).await.unwrap();
    let first = results(&store, monitor.id, 1).await;
    assert_eq!(first[0].result.report.outcome, CheckOutcome::Up);
    assert_eq!(store.monitor(monitor.id).await.unwrap().status, "up");

    // The site fails: the failure is re-run at once, and only the confirmed
    // failure takes the monitor down.
    app.health.store(503, Ordering::SeqCst);
    let due = synthetic.run_now(monitor.id).await.unwrap();
    let after = results(&store, monitor.id, 3).await;
    let (confirmation, failure) = (&after[0].result, &after[1].result);
    assert_eq!((failure.due_at, failure.attempt), (due, 0));
    assert_eq!((confirmation.due_at, confirmation.attempt), (due, 1));
    assert!(!failure.confirmed_error && confirmation.confirmed_error);
    assert_eq!(
        confirmation.downtime_ms, 3_600_000,
        "the hour the check stands for"
    );
    let down = store.monitor(monitor.id).await.unwrap();
    assert_eq!(down.status, "down");
    assert!(store.pending_jobs(monitor.id).await.unwrap().is_empty());

    // A failure that does not repeat is not confirmed and changes nothing.
    app.health.store(0, Ordering::SeqCst);
    synthetic.run_now(monitor.id).await.unwrap();
    results(&store, monitor.id, 4).await;
    assert_eq!(store.monitor(monitor.id).await.unwrap().status, "up");

    // During maintenance, failures are recorded, not confirmed or counted.
    store
        .create_maintenance_window(
            &MaintenanceWindowSpec::from_json(json!({"name": "deploy", "monitors": ["health"],
                "starts_at": Timestamp::from(SystemClock.now().as_millis() - 60_000).to_rfc3339(),
                "ends_at": Timestamp::from(SystemClock.now().as_millis() + 600_000).to_rfc3339()}))
            .unwrap(),
        )
        .await
        .unwrap();
    app.health.store(500, Ordering::SeqCst);
    synthetic.run_now(monitor.id).await.unwrap();
    let during = results(&store, monitor.id, 5).await;
    assert!(during[0].result.in_maintenance);
    assert_eq!(during[0].result.report.outcome, CheckOutcome::Error);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        results(&store, monitor.id, 5).await.len(),
        5,
        "no confirmation re-run during maintenance"
    );
    assert_eq!(
        store.monitor(monitor.id).await.unwrap().status,
        "maintenance"
    );
    synthetic.stop();
}

async fn scheduled_checks_start_on_their_slot(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let store = database.store(Arc::new(SystemClock)).await;
    let address = targets::http_app(App::default()).await;
    let synthetic = start(&store).await;
    let monitor = store
        .create_monitor(&spec(
            json!({"name": "every 10s", "type": "http", "every": "10s",
            "url": format!("http://127.0.0.1:{}/health", address.port())}),
        ))
        .await
        .unwrap();
    let found = results(&store, monitor.id, 1).await;
    let result = &found[0].result;
    let offset = Schedule::offset_ms(monitor.id, 10_000);
    assert_eq!(
        (result.due_at.as_millis() - offset).rem_euclid(10_000),
        0,
        "due on the monitor's own slot"
    );
    let delay = result.started_at.as_millis() - result.due_at.as_millis();
    assert!(
        (0..1000).contains(&delay),
        "started {delay} ms after its due time"
    );
    assert_eq!(result.attempt, 0);
    synthetic.stop();
}

async fn the_schedule_survives_a_restart_without_a_storm(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let start = Timestamp::from(1_800_000_000_000);
    let clock = Arc::new(ManualClock::new(start));
    let store = database.store(clock.clone()).await;
    let scheduler = |store: &Store| {
        Scheduler::new(
            store.clone(),
            clock.clone(),
            Arc::new(CheckpointDirectory::default()),
            Arc::new(Notify::new()),
        )
    };
    let mut ids = Vec::new();
    for index in 0..50 {
        let monitor = store
            .create_monitor(&spec(json!({"name": format!("m{index}"), "type": "http",
                "every": "1m", "url": "http://127.0.0.1:9/"})))
            .await
            .unwrap();
        ids.push(monitor.id);
    }
    // New monitors get their first due time; nothing runs yet.
    assert_eq!(scheduler(&store).tick().await.unwrap(), 0);
    // A minute on, every monitor has been queued exactly once.
    let mut queued = 0;
    for _ in 0..60 {
        clock.advance(Duration::from_secs(1));
        queued += scheduler(&store).tick().await.unwrap();
    }
    assert_eq!(queued, 50);
    for id in &ids {
        let jobs = store.pending_jobs(*id).await.unwrap();
        assert_eq!(jobs.len(), 1);
        let offset = Schedule::offset_ms(*id, 60_000);
        assert_eq!((jobs[0].due_at.as_millis() - offset).rem_euclid(60_000), 0);
    }
    // The server is down for a day. A new process (a new scheduler over the
    // same database) replays none of the missed minutes and resumes every
    // monitor within a minute, spread out.
    clock.advance(Duration::from_secs(86_400));
    // The new process's local checkpoint says it is alive as it starts.
    let local = store.ensure_checkpoint("local").await.unwrap();
    store.touch_checkpoint(local.id, None).await.unwrap();
    let restarted = scheduler(&store);
    assert_eq!(
        restarted.tick().await.unwrap(),
        0,
        "missed runs are not replayed"
    );
    let mut per_second = std::collections::BTreeMap::new();
    for _ in 0..61 {
        clock.advance(Duration::from_secs(1));
        store.touch_checkpoint(local.id, None).await.unwrap();
        let queued = restarted.tick().await.unwrap();
        if queued > 0 {
            *per_second
                .entry(clock.now().as_millis() / 1000)
                .or_insert(0) += queued;
        }
    }
    assert_eq!(per_second.values().sum::<usize>(), 50, "each runs once");
    assert!(
        per_second.values().all(|count| *count <= 10),
        "spread over the minute: {per_second:?}"
    );
}

/// The jobs of a monitor as (checkpoint, attempt).
async fn queued(
    store: &Store,
    monitor_id: i64,
    names: &[(i64, &'static str)],
) -> Vec<(&'static str, i64)> {
    let mut jobs: Vec<(&str, i64)> = store
        .pending_jobs(monitor_id)
        .await
        .unwrap()
        .into_iter()
        .map(|job| {
            let name = names
                .iter()
                .find(|(id, _)| *id == job.checkpoint_id)
                .unwrap()
                .1;
            (name, job.attempt)
        })
        .collect();
    jobs.sort_unstable();
    jobs
}

async fn checks_leave_an_offline_checkpoint_for_the_monitors_others(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let start = Timestamp::from(1_800_000_000_000);
    let clock = Arc::new(ManualClock::new(start));
    let store = database.store(clock.clone()).await;
    let scheduler = Scheduler::new(
        store.clone(),
        clock.clone(),
        Arc::new(CheckpointDirectory::new(Duration::from_secs(60))),
        Arc::new(Notify::new()),
    );
    let east = store.ensure_checkpoint("east").await.unwrap();
    let west = store.ensure_checkpoint("west").await.unwrap();
    let names = [(east.id, "east"), (west.id, "west")];
    let both = store
        .create_monitor(&spec(json!({"name": "both", "type": "http", "every": "1m",
            "url": "http://127.0.0.1:9/", "checkpoints": ["east", "west"]})))
        .await
        .unwrap();
    let west_only = store
        .create_monitor(&spec(
            json!({"name": "west only", "type": "http", "every": "1m",
            "url": "http://127.0.0.1:9/", "checkpoints": ["west"]}),
        ))
        .await
        .unwrap();
    let job = |monitor_id, checkpoint_id, attempt| sightline_store::NewJob {
        monitor_id,
        checkpoint_id,
        due_at: start,
        attempt,
    };
    store
        .enqueue_jobs(&[
            job(both.id, east.id, 0),
            job(both.id, west.id, 0),
            job(both.id, west.id, 1),
            job(west_only.id, west.id, 0),
        ])
        .await
        .unwrap();

    // West has not been heard from for over a minute; east has.
    clock.advance(Duration::from_secs(61));
    store.touch_checkpoint(east.id, None).await.unwrap();
    scheduler.tick().await.unwrap();
    assert_eq!(
        queued(&store, both.id, &names).await,
        [("east", 0), ("east", 1)],
        "west's run is covered by east's, its confirmation moves to east"
    );
    assert_eq!(
        queued(&store, west_only.id, &names).await,
        [("west", 0)],
        "no other checkpoint to move to"
    );

    // Due times to come are planned for online checkpoints only; a monitor
    // whose checkpoints are all offline is not checked until one is back.
    let mut planned = 0;
    for _ in 0..60 {
        clock.advance(Duration::from_secs(1));
        store.touch_checkpoint(east.id, None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        planned += scheduler.tick().await.unwrap();
    }
    assert!(planned >= 1);
    let later = |jobs: Vec<sightline_store::NewJob>| -> Vec<i64> {
        jobs.into_iter()
            .filter(|job| job.due_at > start)
            .map(|job| job.checkpoint_id)
            .collect()
    };
    let planned_for = later(store.pending_jobs(both.id).await.unwrap());
    assert!(
        !planned_for.is_empty() && planned_for.iter().all(|id| *id == east.id),
        "{planned_for:?}"
    );
    assert!(later(store.pending_jobs(west_only.id).await.unwrap()).is_empty());
}

async fn checkpoints_that_must_agree_are_judged_together(kind: BackendKind) {
    use sightline_synthetic::Coordinator;
    let database = TestDatabase::new(kind).await;
    let store = database.store(Arc::new(SystemClock)).await;
    let directory = Arc::new(CheckpointDirectory::default());
    let coordinator = Coordinator::new(store.clone(), directory.clone(), Arc::new(Notify::new()));
    let monitor = store
        .create_monitor(&spec(
            json!({"name": "two of three", "type": "http", "every": "1m",
            "url": "http://127.0.0.1:9/", "checkpoints": ["a", "b", "c"], "down_when_failing": 2}),
        ))
        .await
        .unwrap();
    let due = SystemClock.now();
    let report = |checkpoint: &'static str, outcome: CheckOutcome| {
        let coordinator = &coordinator;
        let directory = &directory;
        let store = &store;
        let monitor = &monitor;
        async move {
            let checkpoint_id = directory.id(store, checkpoint).await.unwrap();
            let report = job_report(monitor.id, due, 0, due, outcome);
            coordinator
                .record(checkpoint_id, checkpoint, &[(report, monitor.spec.clone())])
                .await
                .unwrap();
        }
    };
    let status = async || store.monitor(monitor.id).await.unwrap().status;

    // One failure of three is no verdict and no re-run; a pass makes it up.
    report("a", CheckOutcome::Error).await;
    assert_eq!(status().await, "unknown");
    assert!(
        store.pending_jobs(monitor.id).await.unwrap().is_empty(),
        "no re-run"
    );
    report("b", CheckOutcome::Up).await;
    assert_eq!(status().await, "up");
    // A second failure of the same due time: down, both failures confirmed,
    // sharing the minute.
    report("c", CheckOutcome::Error).await;
    assert_eq!(status().await, "down");
    let stored = results(&store, monitor.id, 3).await;
    let confirmed: Vec<i64> = stored
        .iter()
        .filter(|r| r.result.confirmed_error)
        .map(|r| r.result.downtime_ms)
        .collect();
    assert_eq!(confirmed, [30_000, 30_000]);
}

/// A result as the oracle sees it: when, and whether it failed and how it
/// was judged.
#[derive(Debug, Clone, Copy)]
struct Fed {
    at: i64,
    error: bool,
    /// A confirmation that failed: the monitor goes down.
    confirms: bool,
}

/// The outages a sequence of results makes, by the stated rule: from the
/// first error after the last passing result, once a confirmation fails,
/// to the next passing result.
fn oracle_outages(fed: &[Fed]) -> Vec<(i64, Option<i64>)> {
    let mut outages = Vec::new();
    let mut streak: Option<i64> = None;
    let mut open: Option<i64> = None;
    for result in fed {
        if result.error {
            streak.get_or_insert(result.at);
            if result.confirms && open.is_none() {
                open = streak;
            }
        } else {
            if let Some(start) = open.take() {
                outages.push((start, Some(result.at)));
            }
            streak = None;
        }
    }
    if let Some(start) = open {
        outages.push((start, None));
    }
    outages
}

fn overlap(outages: &[(i64, Option<i64>)], from: i64, to: i64, now: i64) -> i64 {
    let to = to.min(now);
    outages
        .iter()
        .map(|&(start, end)| (end.unwrap_or(now).min(to) - start.max(from)).max(0))
        .sum()
}

/// Random sequences of scheduled runs, runs asked for by hand and their
/// confirmations, from two checkpoints, with the summaries rolled now and
/// then: the downtime of any period is what the outages make of it, never
/// below 0 nor above the period, and uptime stays between 0 and 100 %.
async fn downtime_runs_from_the_first_confirmed_failure_to_the_next_pass(kind: BackendKind) {
    use sightline_synthetic::Coordinator;
    let database = TestDatabase::new(kind).await;
    // A day boundary, so that the summaries split periods into days and hours.
    let start = Timestamp::from(1_800_000_000_000_i64.div_euclid(86_400_000) * 86_400_000);
    let clock = Arc::new(ManualClock::new(start));
    let store = database.store(clock.clone()).await;
    let directory = Arc::new(CheckpointDirectory::default());
    let coordinator = Coordinator::new(store.clone(), directory.clone(), Arc::new(Notify::new()));
    let a = directory.id(&store, "a").await.unwrap();
    let b = directory.id(&store, "b").await.unwrap();
    let mut seed = 0x5eed_u64;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut outages_seen = 0;
    for round in 0..4 {
        let monitor = store
            .create_monitor(&spec(
                json!({"name": format!("shop {round}"), "type": "http",
                "every": if round % 2 == 0 { "1h" } else { "1d" },
                "url": "http://127.0.0.1:9/", "checkpoints": ["a", "b"]}),
            ))
            .await
            .unwrap();
        let mut fed = Vec::new();
        for _ in 0..40 {
            clock.advance(Duration::from_secs(60 * (1 + random(240))));
            let now = store.now();
            let failing = random(10) < 5;
            let (checkpoint, name) = if random(2) == 0 { (a, "a") } else { (b, "b") };
            let report = |attempt: i64, started_at: Timestamp, failed: bool| {
                let outcome = if failed {
                    CheckOutcome::Error
                } else {
                    CheckOutcome::Up
                };
                // Scheduled runs on their slot, runs asked for by hand at
                // any minute: both answer the time they ran at.
                job_report(monitor.id, now, attempt, started_at, outcome)
            };
            coordinator
                .record(
                    checkpoint,
                    name,
                    &[(report(0, now, failing), monitor.spec.clone())],
                )
                .await
                .unwrap();
            fed.push(Fed {
                at: now.as_millis(),
                error: failing,
                confirms: false,
            });
            if failing {
                // The confirmation from the other checkpoint, a little later.
                let later = now.plus(Duration::from_secs(5));
                let confirmed = random(10) < 7;
                let (other, name) = if checkpoint == a { (b, "b") } else { (a, "a") };
                coordinator
                    .record(
                        other,
                        name,
                        &[(report(1, later, confirmed), monitor.spec.clone())],
                    )
                    .await
                    .unwrap();
                fed.push(Fed {
                    at: later.as_millis(),
                    error: confirmed,
                    confirms: confirmed,
                });
                clock.advance(Duration::from_secs(10));
            }
            if random(4) == 0 {
                clock.advance(Duration::from_secs(120));
                while store.roll_check_summaries(store.now(), 1000).await.unwrap() > 0 {}
            }
        }
        let outages = oracle_outages(&fed);
        outages_seen += outages.len();
        let now = store.now().as_millis();
        let first = fed[0].at;
        let status = store.monitor(monitor.id).await.unwrap().status;
        assert_eq!(
            status == "down",
            outages.last().is_some_and(|(_, end)| end.is_none()),
            "round {round}: {status} after {fed:?}"
        );
        // Random periods, some reaching before the monitor's first result
        // and past now.
        for _ in 0..12 {
            let from =
                first - 3_600_000 + (random(((now - first) / 60_000 + 120) as u64) as i64) * 60_000;
            let to = from + 60_000 * (1 + random(60 * 24 * 10) as i64);
            let totals = store
                .check_totals(monitor.id, Timestamp::from(from), Timestamp::from(to))
                .await
                .unwrap();
            let counts = totals.counts;
            assert_eq!(
                counts.downtime_ms,
                overlap(&outages, from, to, now),
                "round {round}: [{from}, {to}) of {outages:?}"
            );
            assert!((0..=to - from).contains(&counts.downtime_ms), "{counts:?}");
            if let Some(uptime) = counts.uptime_percent() {
                assert!((0.0..=100.0).contains(&uptime), "{counts:?}");
            }
        }
        let periods = [
            Duration::from_secs(86_400),
            Duration::from_secs(30 * 86_400),
        ];
        let digests = store.monitor_digests(store.now(), &periods).await.unwrap();
        let digest = digests.iter().find(|d| d.monitor_id == monitor.id).unwrap();
        let hour = now.div_euclid(3_600_000) * 3_600_000;
        for (period, counts) in periods.iter().zip(&digest.periods) {
            let from = hour - period.as_millis() as i64;
            assert_eq!(
                counts.downtime_ms,
                overlap(&outages, from, now, now),
                "round {round}"
            );
        }
        // Paused, it is down no longer: its outage ends there.
        let mut paused = monitor.spec.clone();
        paused.settings.enabled = false;
        store.update_monitor(monitor.id, &paused).await.unwrap();
        clock.advance(Duration::from_secs(3_600));
        let later = store.now().as_millis();
        let totals = store
            .check_totals(monitor.id, Timestamp::from(now), Timestamp::from(later))
            .await
            .unwrap();
        assert_eq!(totals.counts.downtime_ms, 0, "round {round}: paused");
    }
    assert!(
        outages_seen >= 4,
        "the sequences made {outages_seen} outages"
    );
}
