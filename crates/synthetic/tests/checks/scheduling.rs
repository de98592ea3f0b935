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
);

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
    let restarted = scheduler(&store);
    assert_eq!(
        restarted.tick().await.unwrap(),
        0,
        "missed runs are not replayed"
    );
    let mut per_second = std::collections::BTreeMap::new();
    for _ in 0..61 {
        clock.advance(Duration::from_secs(1));
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
