//! The store's story: every operation, told once and run against SQLite and
//! against PostgreSQL, each test in a fresh database of its own.

use serde_json::json;
use sightline_core::monitor::{CheckOutcome, CheckReport, PhaseTimings, Problem, ProblemKind};
use sightline_core::{Email, ManualClock, MonitorSpec, Role, SiteSpec, Timestamp};
use sightline_store::on_both_backends;
use sightline_store::testing::TestDatabase;
use sightline_store::*;
use std::sync::Arc;
use std::time::Duration;

#[path = "store/schema.rs"]
mod schema;

const START: Timestamp = Timestamp::from_millis(1_795_000_000_000);

struct Fixture {
    _database: TestDatabase,
    clock: Arc<ManualClock>,
    store: Store,
}

async fn fixture(kind: BackendKind) -> Fixture {
    let database = TestDatabase::new(kind).await;
    let clock = Arc::new(ManualClock::new(START));
    let store = database.store(clock.clone()).await;
    assert_eq!(store.kind(), kind);
    Fixture {
        _database: database,
        clock,
        store,
    }
}

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: Email::parse(email).unwrap(),
        password_hash: format!("hash-of-{email}"),
        role,
    }
}

fn site_spec(name: &str) -> SiteSpec {
    SiteSpec::from_json(json!({"name": name, "origins": ["https://shop.example.com"]})).unwrap()
}

fn monitor_spec(name: &str, site: Option<&str>) -> MonitorSpec {
    let mut document =
        json!({"name": name, "type": "http", "url": "https://shop.example.com/", "every": "30s"});
    if let Some(site) = site {
        document["site"] = json!(site);
    }
    MonitorSpec::from_json(document).unwrap()
}

on_both_backends!(
    migrations_apply_once_and_readiness_follows_them,
    incidents_keep_their_timeline_and_notifications_through_the_site_incidents_migration,
    users_are_unique_and_the_last_admin_stays,
    sessions_expire_slide_and_end_with_a_new_password,
    tokens_are_capped_by_their_user_and_can_be_revoked,
    audit_entries_keep_their_change_and_go_by_retention,
    sites_and_monitors_are_stored_as_validated_documents,
    results_are_idempotent_per_due_time,
    due_monitors_become_jobs_leased_once_and_completed_with_their_effects,
    summaries_answer_like_raw_results_and_outlive_them,
    digests_count_like_uptime_reports_and_carry_the_latest_results,
    incidents_keep_one_open_per_monitor_with_a_timeline,
    the_outbox_leases_each_notification_to_one_sender,
    page_views_are_stored_in_batches_and_expire,
    page_view_columns_are_written_once_per_hour_read_in_order_and_expire,
    raw_rows_expire_by_the_row_on_sqlite_and_by_the_day_on_postgres,
);

async fn migrations_apply_once_and_readiness_follows_them(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let clock = Arc::new(ManualClock::new(START));
    let store = Store::connect(database.url(), clock.clone()).await.unwrap();
    assert!(
        matches!(store.readiness().await, Readiness::SchemaOutdated { missing } if !missing.is_empty())
    );
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.readiness().await, Readiness::Ready);
    store
        .create_user(&new_user("ops@example.com", Role::Admin))
        .await
        .unwrap();
    store.close().await;

    // Data is there after reconnecting.
    let store = Store::connect(database.url(), clock).await.unwrap();
    assert_eq!(store.readiness().await, Readiness::Ready);
    assert_eq!(store.count_users().await.unwrap(), 1);
    store.close().await;
    assert!(matches!(store.readiness().await, Readiness::Unreachable(_)));
}

async fn users_are_unique_and_the_last_admin_stays(kind: BackendKind) {
    let Fixture {
        store,
        clock,
        _database,
    } = fixture(kind).await;
    assert_eq!(store.count_users().await.unwrap(), 0);
    let admin = store
        .create_user(&new_user("Ops@Example.com", Role::Admin))
        .await
        .unwrap();
    assert_eq!(admin.email, "ops@example.com");
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(admin.created_at, START);

    let err = store
        .create_user(&new_user("ops@example.com", Role::Viewer))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "email", .. }),
        "{err:?}"
    );

    clock.advance(Duration::from_secs(5));
    let viewer = store
        .create_user(&new_user("dev@example.com", Role::Viewer))
        .await
        .unwrap();
    let emails: Vec<_> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert_eq!(emails, ["dev@example.com", "ops@example.com"]);
    assert_eq!(store.user(viewer.id).await.unwrap(), viewer);
    assert_eq!(
        store
            .user_by_email(&Email::parse("DEV@example.com").unwrap())
            .await
            .unwrap(),
        viewer
    );
    let (user, hash) = store
        .user_credentials(&Email::parse("dev@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (user.id, hash.as_str()),
        (viewer.id, "hash-of-dev@example.com")
    );
    assert!(
        store
            .user_credentials(&Email::parse("nobody@example.com").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // The last admin can be neither demoted nor removed; nothing changes when refused.
    assert!(matches!(
        store.set_role(admin.id, Role::Viewer).await,
        Err(StoreError::Refused(_))
    ));
    assert!(matches!(
        store.delete_user(admin.id).await,
        Err(StoreError::Refused(_))
    ));
    assert_eq!(store.user(admin.id).await.unwrap().role, Role::Admin);

    let promoted = store.set_role(viewer.id, Role::Admin).await.unwrap();
    assert_eq!(promoted.role, Role::Admin);
    assert_eq!(promoted.updated_at, START.plus(Duration::from_secs(5)));
    store.set_role(admin.id, Role::Viewer).await.unwrap();
    store.delete_user(admin.id).await.unwrap();
    assert!(matches!(
        store.user(admin.id).await,
        Err(StoreError::NotFound("user"))
    ));
    assert!(matches!(
        store.delete_user(admin.id).await,
        Err(StoreError::NotFound("user"))
    ));
    assert!(matches!(
        store.set_password(admin.id, "x").await,
        Err(StoreError::NotFound("user"))
    ));
}

async fn sessions_expire_slide_and_end_with_a_new_password(kind: BackendKind) {
    let Fixture {
        store,
        clock,
        _database,
    } = fixture(kind).await;
    let user = store
        .create_user(&new_user("ops@example.com", Role::Admin))
        .await
        .unwrap();
    let lifetime = Duration::from_secs(3600);
    let session = store
        .create_session(user.id, "hash-a", lifetime)
        .await
        .unwrap();
    assert_eq!(session.expires_at, START.plus(lifetime));

    let (found, found_user) = store
        .session_user("hash-a", lifetime)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found_user.id), (session.id, user.id));
    assert!(
        store
            .session_user("hash-b", lifetime)
            .await
            .unwrap()
            .is_none()
    );

    // Use slides the expiry forward.
    clock.advance(Duration::from_secs(1800));
    let (slid, _) = store
        .session_user("hash-a", lifetime)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        slid.expires_at,
        START.plus(Duration::from_secs(1800)).plus(lifetime)
    );
    // Unused, it expires.
    clock.advance(lifetime);
    assert!(
        store
            .session_user("hash-a", lifetime)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.purge_expired_sessions().await.unwrap(), 1);

    store
        .create_session(user.id, "hash-c", lifetime)
        .await
        .unwrap();
    store
        .create_session(user.id, "hash-d", lifetime)
        .await
        .unwrap();
    store.delete_session("hash-c").await.unwrap();
    store.delete_session("hash-c").await.unwrap();
    assert!(
        store
            .session_user("hash-c", lifetime)
            .await
            .unwrap()
            .is_none()
    );
    store.set_password(user.id, "new-hash").await.unwrap();
    assert!(
        store
            .session_user("hash-d", lifetime)
            .await
            .unwrap()
            .is_none()
    );
    let (_, hash) = store
        .user_credentials(&Email::parse("ops@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash, "new-hash");
}

async fn tokens_are_capped_by_their_user_and_can_be_revoked(kind: BackendKind) {
    let Fixture {
        store,
        clock,
        _database,
    } = fixture(kind).await;
    let admin = store
        .create_user(&new_user("ops@example.com", Role::Admin))
        .await
        .unwrap();
    let viewer = store
        .create_user(&new_user("dev@example.com", Role::Viewer))
        .await
        .unwrap();
    let token = |user_id, hash: &str, role, expires_at| NewApiToken {
        user_id,
        name: format!("token {hash}"),
        token_hash: hash.to_owned(),
        token_prefix: hash[..3].to_owned(),
        role,
        checkpoint_id: None,
        expires_at,
    };
    let deploy = store
        .create_token(&token(admin.id, "aaa-1", Role::Admin, None))
        .await
        .unwrap();
    assert_eq!(
        (deploy.role, deploy.token_prefix.as_str()),
        (Role::Admin, "aaa")
    );
    let err = store
        .create_token(&token(viewer.id, "bbb-1", Role::Admin, None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
    let err = store
        .create_token(&token(admin.id, "aaa-1", Role::Viewer, None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let short = store
        .create_token(&token(
            viewer.id,
            "ccc-1",
            Role::Viewer,
            Some(START.plus(Duration::from_secs(60))),
        ))
        .await
        .unwrap();

    let (found, user) = store.token_user("aaa-1").await.unwrap().unwrap();
    assert_eq!(
        (found.id, user.id, found.last_used_at),
        (deploy.id, admin.id, Some(START.as_millis()))
    );
    assert!(store.token_user("nope").await.unwrap().is_none());

    // A token is never worth more than its user is now.
    store
        .create_user(&new_user("second@example.com", Role::Admin))
        .await
        .unwrap();
    store.set_role(admin.id, Role::Editor).await.unwrap();
    let (demoted, _) = store.token_user("aaa-1").await.unwrap().unwrap();
    assert_eq!(demoted.role, Role::Editor);
    let err = store
        .create_token(&token(admin.id, "ddd-1", Role::Admin, None))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("is an editor and cannot own an admin token"),
        "{err}"
    );
    store.set_role(admin.id, Role::Viewer).await.unwrap();
    let (demoted, _) = store.token_user("aaa-1").await.unwrap().unwrap();
    assert_eq!(demoted.role, Role::Viewer);

    clock.advance(Duration::from_secs(61));
    assert!(store.token_user("ccc-1").await.unwrap().is_none());

    assert_eq!(store.list_tokens(None).await.unwrap().len(), 2);
    let mine = store.list_tokens(Some(viewer.id)).await.unwrap();
    assert_eq!(mine.iter().map(|t| t.id).collect::<Vec<_>>(), [short.id]);
    let revoked = store.revoke_token(deploy.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(store.token_user("aaa-1").await.unwrap().is_none());
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        store.revoke_token(deploy.id).await.unwrap().revoked_at,
        revoked.revoked_at
    );
    assert!(matches!(
        store.revoke_token(9999).await,
        Err(StoreError::NotFound("token"))
    ));

    // Removing a user removes their tokens.
    store.delete_user(viewer.id).await.unwrap();
    assert!(store.list_tokens(Some(viewer.id)).await.unwrap().is_empty());
}

async fn sites_and_monitors_are_stored_as_validated_documents(kind: BackendKind) {
    let Fixture {
        store,
        clock,
        _database,
    } = fixture(kind).await;
    let shop = store
        .create_site(&site_spec("shop"), "key-shop")
        .await
        .unwrap();
    assert_eq!(shop.spec.origins, ["https://shop.example.com"]);
    let err = store
        .create_site(&site_spec("shop"), "key-other")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "name", .. }),
        "{err:?}"
    );
    assert_eq!(store.site_by_key("key-shop").await.unwrap(), shop);
    assert!(matches!(
        store.site_by_key("key-none").await,
        Err(StoreError::NotFound("site"))
    ));
    let blog = store
        .create_site(&site_spec("blog"), "key-blog")
        .await
        .unwrap();
    assert_eq!(
        store.list_sites().await.unwrap(),
        [blog.clone(), shop.clone()]
    );

    clock.advance(Duration::from_secs(1));
    let mut changed = site_spec("shop");
    changed.origins.push("https://www.shop.example.com".into());
    changed.keep_query_string = true;
    let updated = store.update_site(shop.id, &changed).await.unwrap();
    assert_eq!(
        (updated.spec, updated.site_key.as_str()),
        (changed, "key-shop")
    );
    assert!(updated.updated_at > shop.updated_at);
    assert!(matches!(
        store.update_site(shop.id, &site_spec("blog")).await,
        Err(StoreError::Conflict { .. })
    ));

    let home = store
        .create_monitor(&monitor_spec("shop home", Some("shop")))
        .await
        .unwrap();
    assert_eq!(
        (home.site_id, home.status.as_str()),
        (Some(shop.id), "unknown")
    );
    assert_eq!(home.spec, monitor_spec("shop home", Some("shop")));
    let err = store
        .create_monitor(&monitor_spec("orphan", Some("nope")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownReference { field: "site", .. }),
        "{err:?}"
    );
    let err = store
        .create_monitor(&monitor_spec("shop home", None))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "name", .. }),
        "{err:?}"
    );
    assert_eq!(store.list_monitors().await.unwrap().len(), 1);

    // A site with linked monitors stays until they are unlinked.
    assert!(matches!(
        store.delete_site(shop.id).await,
        Err(StoreError::Refused(_))
    ));
    let unlinked = store
        .update_monitor(home.id, &monitor_spec("shop front", None))
        .await
        .unwrap();
    assert_eq!(
        (unlinked.site_id, unlinked.spec.settings.name.as_str()),
        (None, "shop front")
    );
    assert_eq!(store.monitor(home.id).await.unwrap(), unlinked);
    store.delete_site(shop.id).await.unwrap();
    assert!(matches!(
        store.site(shop.id).await,
        Err(StoreError::NotFound("site"))
    ));
    assert!(matches!(
        store.delete_site(shop.id).await,
        Err(StoreError::NotFound("site"))
    ));

    store.delete_monitor(home.id).await.unwrap();
    assert!(matches!(
        store.monitor(home.id).await,
        Err(StoreError::NotFound("monitor"))
    ));
    assert!(matches!(
        store
            .update_monitor(home.id, &monitor_spec("x", None))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

fn result_at(
    monitor_id: i64,
    checkpoint_id: i64,
    due_at: Timestamp,
    outcome: CheckOutcome,
) -> NewCheckResult {
    let failed = outcome == CheckOutcome::Error;
    NewCheckResult {
        monitor_id,
        checkpoint_id,
        due_at,
        attempt: 0,
        started_at: due_at.plus(Duration::from_millis(40)),
        report: CheckReport {
            outcome,
            problem: failed.then(|| Problem::new(ProblemKind::Status, "expected 200, got 503")),
            status_code: Some(if failed { 503 } else { 200 }),
            timings: PhaseTimings {
                dns_ms: Some(3),
                connect_ms: Some(10),
                tls_ms: Some(25),
                first_byte_ms: Some(70),
                download_ms: Some(12),
            },
            duration_ms: 120,
            response_bytes: Some(5120),
            detail: json!({"body_start": "<html>"}),
            screenshots: Vec::new(),
        },
        in_maintenance: false,
        confirmed_error: false,
        downtime_ms: 0,
    }
}

async fn results_are_idempotent_per_due_time(kind: BackendKind) {
    let Fixture {
        store, _database, ..
    } = fixture(kind).await;
    let local = store.ensure_checkpoint("local").await.unwrap();
    assert_eq!(store.ensure_checkpoint("local").await.unwrap(), local);
    let east = store.ensure_checkpoint("east").await.unwrap();
    assert_eq!(
        store.list_checkpoints().await.unwrap(),
        [east.clone(), local.clone()]
    );
    store
        .touch_checkpoint(east.id, Some("0.1.0"))
        .await
        .unwrap();
    let touched = store.checkpoint_by_name("east").await.unwrap();
    assert_eq!(
        (touched.last_seen_at, touched.agent_version.as_deref()),
        (Some(START.as_millis()), Some("0.1.0"))
    );
    assert!(matches!(
        store.touch_checkpoint(9999, None).await,
        Err(StoreError::NotFound(_))
    ));

    let monitor = store
        .create_monitor(&monitor_spec("home", None))
        .await
        .unwrap();
    let first = result_at(monitor.id, local.id, START, CheckOutcome::Up);
    let stored = store.record_check_result(&first).await.unwrap();
    assert_eq!(stored.result, first);
    // The same report again changes nothing.
    let mut again = first.clone();
    again.report.outcome = CheckOutcome::Error;
    assert_eq!(store.record_check_result(&again).await.unwrap(), stored);
    // Another checkpoint, a confirmation attempt and a later due time are new results.
    store
        .record_check_result(&result_at(monitor.id, east.id, START, CheckOutcome::Error))
        .await
        .unwrap();
    let mut confirmation = result_at(monitor.id, east.id, START, CheckOutcome::Error);
    confirmation.attempt = 1;
    store.record_check_result(&confirmation).await.unwrap();
    let later = START.plus(Duration::from_secs(30));
    store
        .record_check_result(&result_at(
            monitor.id,
            local.id,
            later,
            CheckOutcome::Degraded,
        ))
        .await
        .unwrap();

    let all = store
        .check_results(monitor.id, START, later.plus(Duration::from_secs(1)), 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].result.report.outcome, CheckOutcome::Degraded);
    let first_only = store
        .check_results(monitor.id, START, later, 100)
        .await
        .unwrap();
    assert_eq!(first_only.len(), 3);
    assert_eq!(
        store
            .check_results(monitor.id, START, later, 2)
            .await
            .unwrap()
            .len(),
        2
    );

    let err = store
        .record_check_result(&result_at(9999, local.id, START, CheckOutcome::Up))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownReference { .. }),
        "{err:?}"
    );

    // Results go with their monitor.
    store.delete_monitor(monitor.id).await.unwrap();
    assert!(
        store
            .check_results(monitor.id, START, later.plus(Duration::from_secs(1)), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn incidents_keep_one_open_per_monitor_with_a_timeline(kind: BackendKind) {
    let Fixture {
        store,
        clock,
        _database,
    } = fixture(kind).await;
    let monitor = store
        .create_monitor(&monitor_spec("home", None))
        .await
        .unwrap();
    let incident = store
        .open_incident(monitor.id, Severity::Warning, "HTTP 503")
        .await
        .unwrap();
    assert_eq!((incident.closed_at, incident.opened_at), (None, START));
    clock.advance(Duration::from_secs(30));
    let same = store
        .open_incident(monitor.id, Severity::Critical, "HTTP 500")
        .await
        .unwrap();
    assert_eq!(same, incident);
    store
        .add_incident_event(incident.id, "confirmed", "failed from east too")
        .await
        .unwrap();
    assert!(
        store
            .set_incident_correlation(
                incident.id,
                Severity::Critical,
                "confirmed_outage",
                "real users affected"
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_incident_correlation(incident.id, Severity::Critical, "confirmed_outage", "again")
            .await
            .unwrap()
    );
    assert!(
        store
            .set_incident_held(incident.id, Some(incident.id), "held")
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_incident_held(incident.id, Some(incident.id), "held again")
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .list_incidents(true, None, START, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    clock.advance(Duration::from_secs(60));
    let closed = store.close_incident(incident.id, "back up").await.unwrap();
    assert_eq!(
        closed.closed_at,
        Some(START.plus(Duration::from_secs(90)).as_millis())
    );
    assert_eq!(
        (closed.severity, closed.correlation.as_deref()),
        (Severity::Critical, Some("confirmed_outage"))
    );
    assert_eq!(
        store.close_incident(incident.id, "again").await.unwrap(),
        closed
    );
    let kinds: Vec<_> = store
        .incident_events(incident.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        ["opened", "confirmed", "classified", "held", "recovered"]
    );

    let next = store
        .open_incident(monitor.id, Severity::Warning, "timeout")
        .await
        .unwrap();
    assert_ne!(next.id, incident.id);
    assert_eq!(
        store.list_incidents(true, None, START, 10).await.unwrap(),
        std::slice::from_ref(&next)
    );
    assert_eq!(
        store
            .list_incidents(false, None, START, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    // Of one monitor: both are this one's, none another's.
    assert_eq!(
        store
            .list_incidents(false, Some(incident.monitor_id.unwrap()), START, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        store
            .list_incidents(false, Some(incident.monitor_id.unwrap() + 1000), START, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_incidents(false, None, START.plus(Duration::from_secs(3600)), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.open_incident(9999, Severity::Info, "x").await,
        Err(StoreError::NotFound("monitor"))
    ));
    assert!(matches!(
        store.add_incident_event(9999, "x", "y").await,
        Err(StoreError::NotFound("incident"))
    ));
    assert!(matches!(
        store.close_incident(9999, "x").await,
        Err(StoreError::NotFound("incident"))
    ));
}

async fn the_outbox_leases_each_notification_to_one_sender(kind: BackendKind) {
    let Fixture {
        store,
        clock,
        _database,
    } = fixture(kind).await;
    let monitor = store
        .create_monitor(&monitor_spec("home", None))
        .await
        .unwrap();
    let incident = store
        .open_incident(monitor.id, Severity::Critical, "down")
        .await
        .unwrap();
    let message_to = |key: &str, to: &str| NewNotification {
        dedupe_key: key.to_owned(),
        incident_id: Some(incident.id),
        channel: "email".into(),
        target: json!({"address": to}),
        recipient: to.into(),
        subject: "home is down".into(),
        payload: json!({"text": "home is down"}),
        lifetime: Duration::from_secs(3600),
    };
    let message = |key: &str| {
        let to = if key.ends_with("level-0") {
            "ops@example.com"
        } else {
            "lead@example.com"
        };
        message_to(key, to)
    };
    assert!(
        store
            .enqueue_notification(&message("incident-1/level-0"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .enqueue_notification(&message("incident-1/level-0"))
            .await
            .unwrap()
    );
    clock.advance(Duration::from_secs(1));
    assert!(
        store
            .enqueue_notification(&message("incident-1/level-1"))
            .await
            .unwrap()
    );
    // A later message to a recipient waits for their earlier one.
    assert!(
        store
            .enqueue_notification(&message_to("incident-1/reminder-1", "ops@example.com"))
            .await
            .unwrap()
    );

    let lease = Duration::from_secs(30);
    let leased = store
        .lease_due_notifications("sender-a", lease, 10)
        .await
        .unwrap();
    assert_eq!(
        leased
            .iter()
            .map(|n| n.dedupe_key.as_str())
            .collect::<Vec<_>>(),
        ["incident-1/level-0", "incident-1/level-1"]
    );
    assert_eq!(leased[0].payload_json()["text"], "home is down");
    assert!(
        store
            .lease_due_notifications("sender-b", lease, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Only the lease holder records the outcome.
    assert!(
        !store
            .mark_notification_sent(leased[0].id, "sender-b", "250 OK")
            .await
            .unwrap()
    );
    assert!(
        store
            .mark_notification_sent(leased[0].id, "sender-a", "250 OK")
            .await
            .unwrap()
    );
    let next = store
        .lease_due_notifications("sender-b", lease, 10)
        .await
        .unwrap();
    assert_eq!(
        next.iter()
            .map(|n| n.dedupe_key.as_str())
            .collect::<Vec<_>>(),
        ["incident-1/reminder-1"],
        "once the first is sent, the next to the same recipient goes"
    );
    assert!(
        store
            .mark_notification_sent(next[0].id, "sender-b", "250 OK")
            .await
            .unwrap()
    );
    let sent = store.notification(leased[0].id).await.unwrap();
    assert_eq!(
        (sent.status, sent.attempts, sent.sent_at),
        (
            NotificationStatus::Sent,
            1,
            Some(START.plus(Duration::from_secs(1)).as_millis())
        )
    );

    // A failure is retried later; a dead sender's lease runs out and another takes over.
    let retry_at = clock_now(&store).plus(Duration::from_secs(60));
    assert!(
        store
            .mark_notification_failed(leased[1].id, "sender-a", "connection refused", retry_at)
            .await
            .unwrap()
    );
    assert!(
        store
            .lease_due_notifications("sender-b", lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    clock.advance(Duration::from_secs(60));
    let retried = store
        .lease_due_notifications("sender-b", lease, 10)
        .await
        .unwrap();
    assert_eq!(
        (
            retried.len(),
            retried[0].attempts,
            retried[0].last_error.as_deref()
        ),
        (1, 1, Some("connection refused"))
    );
    clock.advance(lease);
    let taken_over = store
        .lease_due_notifications("sender-c", lease, 10)
        .await
        .unwrap();
    assert_eq!(taken_over[0].id, leased[1].id);
    assert!(
        !store
            .mark_notification_sent(leased[1].id, "sender-b", "250 OK")
            .await
            .unwrap()
    );

    // Past its expiry a failure gives up for good.
    let too_late = clock_now(&store).plus(Duration::from_secs(7200));
    assert!(
        store
            .mark_notification_failed(leased[1].id, "sender-c", "timeout", too_late)
            .await
            .unwrap()
    );
    assert_eq!(
        store.notification(leased[1].id).await.unwrap().status,
        NotificationStatus::Expired
    );
    clock.advance(Duration::from_secs(7200));
    assert!(
        store
            .lease_due_notifications("sender-c", lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .incident_notifications(incident.id)
            .await
            .unwrap()
            .len(),
        3
    );
    // Later messages answer the first one to the same recipient about it.
    let first = store
        .first_message_about("ops@example.com", "email", &[incident.id, 999])
        .await
        .unwrap()
        .expect("a first message");
    assert_eq!(first.dedupe_key, "incident-1/level-0");
    assert!(
        store
            .first_message_about("ops@example.com", "slack", &[incident.id])
            .await
            .unwrap()
            .is_none()
    );
    // A message covering several incidents claims each; a second message
    // whose claims overlap stores nothing and names what was taken.
    let claims = |keys: &[&str]| -> Vec<Claim> {
        keys.iter()
            .map(|key| Claim {
                key: (*key).to_owned(),
                incident_id: incident.id,
            })
            .collect()
    };
    assert_eq!(
        store
            .enqueue_claimed(&message("group/a"), &claims(&["a", "b"]))
            .await
            .unwrap(),
        Enqueued::Queued
    );
    assert_eq!(
        store
            .enqueue_claimed(&message("group/b"), &claims(&["b", "c"]))
            .await
            .unwrap(),
        Enqueued::AlreadyClaimed(vec!["b".to_owned()])
    );
    assert!(store.notification_by_key("group/b").await.is_err());
    assert_eq!(
        store
            .enqueue_claimed(&message("group/c"), &claims(&["c"]))
            .await
            .unwrap(),
        Enqueued::Queued
    );
    assert_eq!(
        store
            .claimed(&["a".to_owned(), "c".to_owned(), "d".to_owned()])
            .await
            .unwrap()
            .len(),
        2
    );
}

fn clock_now(store: &Store) -> Timestamp {
    store.now()
}

fn page_view(site_id: i64, at: Timestamp, n: usize) -> sightline_core::rum::PageView {
    use sightline_core::rum::{Dimension, DimensionValues, Metric, MetricValues, PageView};
    let mut dimensions = DimensionValues::default();
    for dimension in Dimension::ALL {
        dimensions.set(dimension, format!("{}-{}", dimension.name(), n % 3));
    }
    let mut metrics = MetricValues::default();
    metrics.set(Metric::Lcp, Some(1000.0 + n as f64));
    metrics.set(Metric::Cls, Some(0.01 * (n % 5) as f64));
    PageView {
        site_id,
        at,
        dimensions,
        metrics,
    }
}

async fn page_views_are_stored_in_batches_and_expire(kind: BackendKind) {
    let Fixture {
        store, _database, ..
    } = fixture(kind).await;
    let shop = store
        .create_site(&site_spec("shop"), "key-shop")
        .await
        .unwrap();
    let blog = store
        .create_site(&site_spec("blog"), "key-blog")
        .await
        .unwrap();
    let views: Vec<_> = (0..1_200)
        .map(|n| {
            page_view(
                if n % 4 == 0 { blog.id } else { shop.id },
                START.plus(Duration::from_millis(n as u64 * 10)),
                n,
            )
        })
        .collect();
    store.insert_page_views(&views).await.unwrap();
    store.insert_page_views(&[]).await.unwrap();
    let end = START.plus(Duration::from_secs(3600));
    assert_eq!(
        store.count_page_views(shop.id, START, end).await.unwrap(),
        900
    );
    assert_eq!(
        store.count_page_views(blog.id, START, end).await.unwrap(),
        300
    );
    let read = store.page_views(blog.id, START, end, 10_000).await.unwrap();
    let expected: Vec<_> = views
        .iter()
        .filter(|view| view.site_id == blog.id)
        .cloned()
        .collect();
    assert_eq!(read, expected);

    // A batch with one bad row stores nothing.
    let mut bad = vec![page_view(shop.id, end, 1), page_view(9_999, end, 2)];
    assert!(store.insert_page_views(&bad).await.is_err());
    bad.pop();
    assert_eq!(
        store
            .count_page_views(shop.id, end, end.plus(Duration::from_secs(1)))
            .await
            .unwrap(),
        0
    );

    // The collector's writer: batches through a connection of its own on
    // a SQLite file, all or nothing alike, taking turns with other writes.
    let mut batches = store.page_view_batches();
    let later = end.plus(Duration::from_secs(60));
    let more: Vec<_> = (0..500)
        .map(|n| page_view(shop.id, later.plus(Duration::from_millis(n as u64)), n))
        .collect();
    batches.insert(&more[..300]).await.unwrap();
    let docs = store
        .create_site(&site_spec("docs"), "key-docs")
        .await
        .unwrap();
    assert!(
        batches
            .insert(&[page_view(docs.id, later, 1), page_view(9_999, later, 2)])
            .await
            .is_err()
    );
    batches.insert(&more[300..]).await.unwrap();
    batches.insert(&[]).await.unwrap();
    let after = later.plus(Duration::from_secs(1));
    assert_eq!(
        store
            .page_views(shop.id, later, after, 10_000)
            .await
            .unwrap(),
        more
    );
    assert_eq!(
        store.count_page_views(docs.id, later, after).await.unwrap(),
        0
    );
    drop(batches);

    // Retention removes what is older than the cutoff (on PostgreSQL a
    // whole day at a time: this one is not over); a removed site takes its
    // page views along.
    let cutoff = START.plus(Duration::from_millis(6_000));
    let expired = store.delete_page_views_before(cutoff).await.unwrap();
    let kept = match kind {
        BackendKind::Sqlite => {
            assert_eq!(
                expired,
                Expired {
                    rows: 600,
                    days: Vec::new()
                }
            );
            450
        }
        BackendKind::Postgres => {
            assert!(expired.is_empty(), "{expired:?}");
            900
        }
    };
    assert_eq!(
        store.count_page_views(shop.id, START, end).await.unwrap(),
        kept
    );
    store.delete_site(blog.id).await.unwrap();
    assert_eq!(
        store.count_page_views(blog.id, START, end).await.unwrap(),
        0
    );
}

async fn raw_rows_expire_by_the_row_on_sqlite_and_by_the_day_on_postgres(kind: BackendKind) {
    const DAY: Duration = Duration::from_secs(86_400);
    const HOUR: Duration = Duration::from_secs(3_600);
    let Fixture {
        store,
        clock,
        _database,
    } = fixture(kind).await;
    let shop = store
        .create_site(&site_spec("shop"), "key-shop")
        .await
        .unwrap();
    let monitor = store
        .create_monitor(&monitor_spec("home", None))
        .await
        .unwrap();
    let local = store.ensure_checkpoint("local").await.unwrap();
    let first_day = Timestamp::from(START.as_millis().div_euclid(86_400_000) * 86_400_000);
    let day = |n: u32| first_day.plus(DAY * n);
    // Three days with five page views and five results each, around noon.
    for n in 0..3 {
        let noon = day(n).plus(HOUR * 12);
        let views: Vec<_> = (0..5)
            .map(|i| page_view(shop.id, noon.plus(Duration::from_secs(i as u64)), i))
            .collect();
        store.insert_page_views(&views).await.unwrap();
        for i in 0..5 {
            let due = noon.plus(Duration::from_secs(60 * i));
            store
                .record_check_result(&result_at(monitor.id, local.id, due, CheckOutcome::Up))
                .await
                .unwrap();
        }
    }
    clock.set(day(2).plus(HOUR * 13));
    while store.roll_check_summaries(store.now(), 1000).await.unwrap() > 0 {}
    let all = (first_day, day(3));
    let counts = |store: Store| async move {
        (
            store.count_page_views(shop.id, all.0, all.1).await.unwrap(),
            store
                .check_results(monitor.id, all.0, all.1, 100)
                .await
                .unwrap()
                .len(),
        )
    };
    assert_eq!(counts(store.clone()).await, (15, 15));
    // Statistics of the days that still change and of those never analyzed.
    store.optimize().await.unwrap();

    // A cutoff early on the third day: the first two days go on both
    // backends, row by row on SQLite, as two whole days on PostgreSQL.
    let cutoff = day(2).plus(HOUR * 6);
    let views = store.delete_page_views_before(cutoff).await.unwrap();
    let results = store.delete_check_results_before(cutoff).await.unwrap();
    let two_days = vec![day(0), day(1)]
        .into_iter()
        .map(|at| {
            chrono::DateTime::from_timestamp_millis(at.as_millis())
                .unwrap()
                .date_naive()
        })
        .collect::<Vec<_>>();
    match kind {
        BackendKind::Sqlite => {
            assert_eq!(
                views,
                Expired {
                    rows: 10,
                    days: Vec::new()
                }
            );
            assert_eq!(
                results,
                Expired {
                    rows: 10,
                    days: Vec::new()
                }
            );
        }
        BackendKind::Postgres => {
            assert_eq!(
                views,
                Expired {
                    rows: 0,
                    days: two_days.clone()
                }
            );
            assert_eq!(
                results,
                Expired {
                    rows: 0,
                    days: two_days
                }
            );
        }
    }
    assert_eq!(counts(store.clone()).await, (5, 5));
    assert!(
        store
            .delete_page_views_before(cutoff)
            .await
            .unwrap()
            .is_empty()
    );

    // Rows that arrive late for a day already gone are stored again; a
    // result not summarized yet keeps its day.
    store
        .insert_page_views(&[page_view(shop.id, day(1).plus(HOUR), 9)])
        .await
        .unwrap();
    store
        .record_check_result(&result_at(
            monitor.id,
            local.id,
            day(1).plus(HOUR),
            CheckOutcome::Up,
        ))
        .await
        .unwrap();
    assert_eq!(counts(store.clone()).await, (6, 6));
    assert!(
        store
            .delete_check_results_before(cutoff)
            .await
            .unwrap()
            .is_empty(),
        "only a summarized result may go"
    );
    clock.advance(Duration::from_secs(120));
    while store.roll_check_summaries(store.now(), 1000).await.unwrap() > 0 {}
    store.delete_check_results_before(cutoff).await.unwrap();
    store.delete_page_views_before(cutoff).await.unwrap();
    assert_eq!(counts(store.clone()).await, (5, 5));

    if kind == BackendKind::Postgres {
        // Today's and tomorrow's partitions are there before their rows.
        let pool = sqlx::PgPool::connect(_database.url()).await.unwrap();
        let partitions: Vec<String> = sqlx::query_scalar(
            "SELECT relname::TEXT FROM pg_class WHERE relispartition AND relkind = 'r' ORDER BY relname",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let [today, tomorrow] = [day(2), day(3)].map(|at| at.to_rfc3339()[..10].replace('-', ""));
        assert_eq!(
            partitions,
            [
                format!("check_results_{today}"),
                format!("check_results_{tomorrow}"),
                format!("page_views_{today}"),
                format!("page_views_{tomorrow}"),
            ]
        );
        pool.close().await;
    }
}

async fn page_view_columns_are_written_once_per_hour_read_in_order_and_expire(kind: BackendKind) {
    use sightline_core::rum::{
        Dimension, HourColumns, Metric, MetricSet, ViewColumn, ViewColumnsWriter,
    };
    let Fixture {
        store, _database, ..
    } = fixture(kind).await;
    let shop = store
        .create_site(&site_spec("shop"), "key-shop")
        .await
        .unwrap();
    const HOUR: i64 = 3_600_000;
    let first = Timestamp::from_millis(START.as_millis().div_euclid(HOUR) * HOUR);
    let second = first.plus(Duration::from_millis(HOUR as u64));
    let columns_of = |views: usize, at: Timestamp| {
        let mut writer = ViewColumnsWriter::default();
        for n in 0..views {
            writer.add(&page_view(shop.id, at, n));
        }
        writer.finish()
    };
    assert_eq!(store.view_columns_progress(shop.id).await.unwrap(), None);
    let hour_one = columns_of(30, first);
    assert!(
        store
            .write_view_columns(shop.id, ColumnGrain::Hour, first, &hour_one, None)
            .await
            .unwrap()
    );
    // A second writer of the same hour finds the marker moved and writes nothing.
    assert!(
        !store
            .write_view_columns(shop.id, ColumnGrain::Hour, first, &hour_one, None)
            .await
            .unwrap()
    );
    let hour_two = columns_of(12, second);
    assert!(
        !store
            .write_view_columns(shop.id, ColumnGrain::Hour, second, &hour_two, Some(first))
            .await
            .unwrap()
    );
    assert!(
        store
            .write_view_columns(shop.id, ColumnGrain::Hour, second, &hour_two, Some(second))
            .await
            .unwrap()
    );
    let third = second.plus(Duration::from_millis(HOUR as u64));
    assert_eq!(
        store.view_columns_progress(shop.id).await.unwrap(),
        Some(third)
    );

    // Hours come in time order with the columns asked for; a filter picks
    // page views by value.
    let read = [
        ViewColumn::Dimension(Dimension::Device),
        ViewColumn::Metric(Metric::Lcp),
    ];
    let filters = [(Dimension::Device, "device-1".to_owned())];
    let filters = &filters;
    let fold = |store: Store, grain: ColumnGrain, span: (Timestamp, Timestamp)| async move {
        store
            .fold_view_columns(
                shop.id,
                grain,
                span,
                &read,
                Vec::new(),
                move |hours, hour, columns: &HourColumns| {
                    let cells = columns.fold(filters, None, MetricSet::ALL).unwrap();
                    hours.push((
                        hour,
                        cells[0].1.page_views(),
                        cells[0].1.sketch(Metric::Lcp).unwrap().count(),
                    ));
                    Ok(())
                },
            )
            .await
    };
    assert_eq!(
        fold(store.clone(), ColumnGrain::Hour, (first, third))
            .await
            .unwrap(),
        vec![(first, 10, 10), (second, 4, 4)]
    );

    // Minutes of the hour not written whole yet: each once, read on their
    // own grain, the hour's columns are not among them.
    let minute = |n: u64| third.plus(Duration::from_secs(60 * n));
    assert_eq!(store.view_segments_progress(shop.id).await.unwrap(), None);
    for (n, views) in [(0, 6), (1, 3)] {
        let expected = (n > 0).then(|| minute(n));
        let columns = columns_of(views, minute(n));
        for written in [true, false] {
            assert_eq!(
                store
                    .write_view_columns(shop.id, ColumnGrain::Minute, minute(n), &columns, expected)
                    .await
                    .unwrap(),
                written
            );
        }
    }
    assert_eq!(
        store.view_segments_progress(shop.id).await.unwrap(),
        Some(minute(2))
    );
    assert_eq!(
        fold(store.clone(), ColumnGrain::Minute, (first, minute(60)))
            .await
            .unwrap(),
        vec![(minute(0), 2, 2), (minute(1), 1, 1)]
    );
    assert_eq!(
        fold(store.clone(), ColumnGrain::Hour, (third, minute(60)))
            .await
            .unwrap(),
        vec![]
    );

    // Retention takes the columns of hours that ended by the cutoff.
    store
        .delete_page_views_before(second.plus(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(
        fold(store.clone(), ColumnGrain::Hour, (first, third))
            .await
            .unwrap(),
        vec![(second, 4, 4)]
    );

    // Columns that do not decode are an error that names the hour, not a panic.
    let broken = [(
        ViewColumn::Dimension(Dimension::Device),
        vec![1, 0xff, 0xff, 0xff],
    )];
    assert!(
        store
            .write_view_columns(shop.id, ColumnGrain::Hour, third, &broken, Some(third))
            .await
            .unwrap()
    );
    let fourth = third.plus(Duration::from_millis(HOUR as u64));
    // The hour's whole columns replaced its minutes.
    assert_eq!(
        fold(store.clone(), ColumnGrain::Minute, (first, fourth))
            .await
            .unwrap(),
        vec![]
    );
    let error = store
        .fold_view_columns(
            shop.id,
            ColumnGrain::Hour,
            (third, fourth),
            &read,
            (),
            |_, _, _| Ok(()),
        )
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains(&third.as_millis().to_string()),
        "{error}"
    );
}

async fn due_monitors_become_jobs_leased_once_and_completed_with_their_effects(kind: BackendKind) {
    let Fixture {
        store,
        clock,
        _database,
    } = fixture(kind).await;
    let local = store.ensure_checkpoint("local").await.unwrap();
    let monitor = store
        .create_monitor(&monitor_spec("home", None))
        .await
        .unwrap();
    // A new monitor is due at once, without a due time yet.
    let due = store.due_monitors(START, 100).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].monitor.id, due[0].due_at), (monitor.id, None));
    let first_due = START.plus(Duration::from_secs(5));
    let plan = |expected, next, jobs| SchedulePlan {
        monitor_id: monitor.id,
        expected,
        next,
        jobs,
    };
    assert_eq!(
        store
            .schedule(&[plan(None, first_due, vec![])])
            .await
            .unwrap(),
        1
    );
    // A second process holding the same stale view moves nothing.
    assert_eq!(
        store
            .schedule(&[plan(None, first_due, vec![])])
            .await
            .unwrap(),
        0
    );
    assert!(store.due_monitors(START, 100).await.unwrap().is_empty());

    clock.set(first_due);
    let due = store.due_monitors(first_due, 100).await.unwrap();
    assert_eq!(due[0].due_at, Some(first_due));
    let job = NewJob {
        monitor_id: monitor.id,
        checkpoint_id: local.id,
        due_at: first_due,
        attempt: 0,
    };
    let next_due = first_due.plus(Duration::from_secs(30));
    assert_eq!(
        store
            .schedule(&[plan(Some(first_due), next_due, vec![job.clone()])])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.pending_jobs(monitor.id).await.unwrap(),
        std::slice::from_ref(&job)
    );

    // Leased once: a second lease finds nothing until the first runs out.
    let leased = store.lease_jobs(local.id, store.now(), 10).await.unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!((leased[0].due_at, leased[0].attempt), (first_due, 0));
    assert_eq!(leased[0].spec.settings.name, "home");
    assert!(
        store
            .lease_jobs(local.id, store.now(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    clock.set(leased[0].leased_until.plus(Duration::from_millis(1)));
    let again = store.lease_jobs(local.id, store.now(), 10).await.unwrap();
    assert_eq!(again.len(), 1, "an expired lease frees the job");

    // Completing stores the result, removes the job, queues the follow-up
    // and changes the status, all at once.
    let mut result = result_at(monitor.id, local.id, first_due, CheckOutcome::Error);
    result.attempt = 0;
    let confirmation = NewJob {
        attempt: 1,
        ..job.clone()
    };
    store
        .complete_jobs(&[Completion {
            job_id: Some(again[0].id),
            result: result.clone(),
            follow_up: vec![confirmation.clone()],
            status: None,
        }])
        .await
        .unwrap();
    assert_eq!(
        store.pending_jobs(monitor.id).await.unwrap(),
        [confirmation]
    );
    let leased = store.lease_jobs(local.id, store.now(), 10).await.unwrap();
    assert_eq!(leased[0].attempt, 1);
    let mut confirmed = result.clone();
    confirmed.attempt = 1;
    confirmed.confirmed_error = true;
    confirmed.downtime_ms = 30_000;
    store
        .complete_jobs(&[Completion {
            job_id: Some(leased[0].id),
            result: confirmed.clone(),
            follow_up: vec![],
            status: Some("down".to_owned()),
        }])
        .await
        .unwrap();
    assert!(store.pending_jobs(monitor.id).await.unwrap().is_empty());
    let monitor_now = store.monitor(monitor.id).await.unwrap();
    assert_eq!(monitor_now.status, "down");
    assert_eq!(monitor_now.status_since, Some(confirmed.started_at));
    let stored = store
        .check_results(monitor.id, START, next_due, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].result, confirmed, "newest first, stored as given");
    // A result of an older due time arriving late (kept by an agent through
    // an outage) is stored but sets no status.
    let late = result_at(
        monitor.id,
        local.id,
        first_due.minus(Duration::from_secs(30)),
        CheckOutcome::Up,
    );
    store
        .complete_jobs(&[Completion {
            job_id: None,
            result: late,
            follow_up: vec![],
            status: Some("up".to_owned()),
        }])
        .await
        .unwrap();
    assert_eq!(store.monitor(monitor.id).await.unwrap().status, "down");

    // A job no checkpoint takes is dropped once stale; a held one stays.
    let stale = NewJob {
        due_at: first_due.minus(Duration::from_secs(7200)),
        ..job.clone()
    };
    store
        .enqueue_jobs(std::slice::from_ref(&stale))
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_stale_jobs(first_due.minus(Duration::from_secs(3600)))
            .await
            .unwrap(),
        1
    );
    assert!(store.pending_jobs(monitor.id).await.unwrap().is_empty());

    // Changing a monitor starts its schedule afresh; pausing takes it off.
    store
        .update_monitor(monitor.id, &monitor_spec("home", None))
        .await
        .unwrap();
    assert_eq!(
        store.due_monitors(START, 100).await.unwrap()[0].due_at,
        None
    );
    let mut paused = monitor_spec("home", None);
    paused.settings.enabled = false;
    store.update_monitor(monitor.id, &paused).await.unwrap();
    assert!(store.due_monitors(next_due, 100).await.unwrap().is_empty());
}

async fn summaries_answer_like_raw_results_and_outlive_them(kind: BackendKind) {
    let Fixture {
        store,
        clock,
        _database,
    } = fixture(kind).await;
    let local = store.ensure_checkpoint("local").await.unwrap();
    let monitor = store
        .create_monitor(&monitor_spec("home", None))
        .await
        .unwrap();
    // Three days of results every 20 minutes, some failing (confirmed or
    // not), some degraded, some in maintenance.
    let day_start = Timestamp::from(START.as_millis().div_euclid(86_400_000) * 86_400_000);
    let mut seed = 7u64;
    for index in 0..(3 * 72) {
        let due = day_start.plus(Duration::from_secs(index * 1200 + 17));
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let roll = (seed >> 33) % 10;
        let outcome = match roll {
            0 | 1 => CheckOutcome::Error,
            2 => CheckOutcome::Degraded,
            _ => CheckOutcome::Up,
        };
        let mut result = result_at(monitor.id, local.id, due, outcome);
        result.report.duration_ms = 50 + (seed >> 40) as i64 % 900;
        result.in_maintenance = roll == 9;
        store.record_check_result(&result).await.unwrap();
        if outcome == CheckOutcome::Error {
            let mut confirmation = result.clone();
            confirmation.attempt = 1;
            confirmation.confirmed_error = roll == 0;
            confirmation.downtime_ms = if roll == 0 { 1_200_000 } else { 0 };
            confirmation.report.outcome = if roll == 0 {
                CheckOutcome::Error
            } else {
                CheckOutcome::Up
            };
            store.record_check_result(&confirmation).await.unwrap();
        }
    }
    let periods = [
        (day_start, day_start.plus(Duration::from_secs(3 * 86_400))),
        (
            day_start.plus(Duration::from_secs(5_000)),
            day_start.plus(Duration::from_secs(2 * 86_400 + 7_777)),
        ),
        (
            day_start.plus(Duration::from_secs(3_600)),
            day_start.plus(Duration::from_secs(10_000)),
        ),
    ];
    let mut raw = Vec::new();
    for (from, to) in periods {
        raw.push(store.check_totals(monitor.id, from, to).await.unwrap());
    }
    let whole = &raw[0];
    assert_eq!(
        whole.counts.checks,
        (3 * 72) - whole_maintenance(&store, monitor.id).await
    );
    assert!(whole.counts.confirmed_errors > 0 && whole.counts.degraded > 0);
    assert_eq!(
        whole.counts.downtime_ms, 0,
        "results stored without a status change open no outage"
    );

    // Only results stored a while ago are rolled.
    assert_eq!(store.roll_check_summaries(START, 10_000).await.unwrap(), 0);
    clock.advance(Duration::from_secs(120));
    let rolled = store
        .roll_check_summaries(START.plus(Duration::from_secs(60)), 10_000)
        .await
        .unwrap();
    assert!(rolled > 3 * 72);
    assert_eq!(
        store
            .roll_check_summaries(store.now(), 10_000)
            .await
            .unwrap(),
        0
    );
    for ((from, to), expected) in periods.iter().zip(&raw) {
        let summarized = store.check_totals(monitor.id, *from, *to).await.unwrap();
        assert_eq!(&summarized, expected, "{from}..{to}");
    }
    // A result reported late is counted both before and after its roll.
    let late = result_at(
        monitor.id,
        local.id,
        day_start.plus(Duration::from_secs(600)),
        CheckOutcome::Up,
    );
    store.record_check_result(&late).await.unwrap();
    let with_late = store
        .check_totals(monitor.id, periods[0].0, periods[0].1)
        .await
        .unwrap();
    assert_eq!(with_late.counts.checks, whole.counts.checks + 1);
    clock.advance(Duration::from_secs(120));
    store
        .roll_check_summaries(store.now(), 10_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .check_totals(monitor.id, periods[0].0, periods[0].1)
            .await
            .unwrap(),
        with_late
    );

    // Raw results expire (on PostgreSQL as whole days); whole days still
    // answer from the summaries.
    let expired = store
        .delete_check_results_before(periods[0].1)
        .await
        .unwrap();
    match kind {
        BackendKind::Sqlite => assert!(expired.rows > 3 * 72, "{expired:?}"),
        BackendKind::Postgres => assert_eq!(expired.days.len(), 3, "{expired:?}"),
    }
    assert_eq!(
        store
            .check_results(monitor.id, periods[0].0, periods[0].1, 10)
            .await
            .unwrap(),
        []
    );
    assert_eq!(
        store
            .check_totals(monitor.id, periods[0].0, periods[0].1)
            .await
            .unwrap(),
        with_late
    );
    let uptime = with_late.counts.uptime_percent().unwrap();
    assert!((0.0..100.0).contains(&uptime));
}

async fn digests_count_like_uptime_reports_and_carry_the_latest_results(kind: BackendKind) {
    let Fixture {
        store,
        clock,
        _database,
    } = fixture(kind).await;
    let local = store.ensure_checkpoint("local").await.unwrap();
    let week = store
        .create_monitor(&monitor_spec("week", None))
        .await
        .unwrap();
    let hour = store
        .create_monitor(&monitor_spec("hour", None))
        .await
        .unwrap();
    let idle = store
        .create_monitor(&monitor_spec("idle", None))
        .await
        .unwrap();
    // Nine days of results every 20 minutes up to a minute ago, some
    // failing (confirmed or not), degraded or in maintenance; and 40
    // results a minute apart in the last hour.
    let now = START;
    let mut seed = 11u64;
    for index in 1..=(9 * 72) {
        let due = now.minus(Duration::from_secs(index * 1200 - 1140));
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let roll = (seed >> 33) % 10;
        let outcome = match roll {
            0 | 1 => CheckOutcome::Error,
            2 => CheckOutcome::Degraded,
            _ => CheckOutcome::Up,
        };
        let mut result = result_at(week.id, local.id, due, outcome);
        result.in_maintenance = roll == 9;
        store.record_check_result(&result).await.unwrap();
        if outcome == CheckOutcome::Error {
            let mut confirmation = result.clone();
            confirmation.attempt = 1;
            confirmation.started_at = result.started_at.plus(Duration::from_secs(5));
            confirmation.confirmed_error = roll == 0;
            confirmation.downtime_ms = if roll == 0 { 1_200_000 } else { 0 };
            store.record_check_result(&confirmation).await.unwrap();
        }
    }
    let mut latest = Vec::new();
    for index in (1..=40).rev() {
        let mut result = result_at(
            hour.id,
            local.id,
            now.minus(Duration::from_secs(index * 60)),
            CheckOutcome::Up,
        );
        result.report.duration_ms = 100 + index as i64;
        store.record_check_result(&result).await.unwrap();
        latest.push((result.started_at.as_millis(), result.report.duration_ms));
    }
    let periods = [
        Duration::from_secs(86_400),
        Duration::from_secs(7 * 86_400),
        Duration::from_secs(30 * 86_400),
    ];
    let current_hour = Timestamp::from(now.as_millis().div_euclid(3_600_000) * 3_600_000);
    let expect = async |store: &Store, monitor_id: i64| {
        let mut counts = Vec::new();
        for period in periods {
            let totals = store
                .check_totals(monitor_id, current_hour.minus(period), now)
                .await
                .unwrap();
            counts.push(totals.counts);
        }
        counts
    };

    // Before any roll, after it, and with a late result not rolled yet.
    for stage in ["raw", "rolled", "late"] {
        if stage == "rolled" {
            clock.advance(Duration::from_secs(120));
            while store.roll_check_summaries(store.now(), 500).await.unwrap() > 0 {}
            // With the planner's statistics, as a running server has them.
            store.optimize().await.unwrap();
        }
        if stage == "late" {
            let mut late = result_at(
                week.id,
                local.id,
                now.minus(Duration::from_secs(3 * 86_400 + 7)),
                CheckOutcome::Up,
            );
            late.attempt = 3;
            late.confirmed_error = true;
            store.record_check_result(&late).await.unwrap();
        }
        let digests = store.monitor_digests(now, &periods).await.unwrap();
        let ids: Vec<i64> = digests.iter().map(|digest| digest.monitor_id).collect();
        assert_eq!(ids, [week.id, hour.id, idle.id], "{stage}");
        let week_counts = &digests[0].periods;
        assert_eq!(week_counts, &expect(&store, week.id).await, "{stage}");
        assert!(week_counts[0].checks > 0 && week_counts[0].checks < week_counts[1].checks);
        assert!(week_counts[2].confirmed_errors > 0 && week_counts[2].degraded > 0);
        assert_eq!(digests[1].periods, expect(&store, hour.id).await, "{stage}");
        assert_eq!(digests[1].periods[0].checks, 40);
        assert_eq!(digests[2].periods, vec![UptimeCounts::default(); 3]);
        assert!(digests[2].recent.is_empty());
        // The last 30, oldest first.
        let recent: Vec<(i64, i64)> = digests[1]
            .recent
            .iter()
            .map(|result| (result.started_at, result.duration_ms))
            .collect();
        assert_eq!(recent, latest[10..], "{stage}");
        assert_eq!(digests[0].recent.len(), RECENT_RESULTS);
        let last = digests[0].recent.last().unwrap();
        assert_eq!(last.started_at, now.as_millis() - 60_000 + 40);
    }
}

async fn whole_maintenance(store: &Store, monitor_id: i64) -> i64 {
    store
        .check_results(
            monitor_id,
            Timestamp::from(0),
            Timestamp::from(i64::MAX),
            10_000,
        )
        .await
        .unwrap()
        .iter()
        .filter(|stored| stored.result.in_maintenance && stored.result.attempt == 0)
        .count() as i64
}

/// The migration that let incidents be about sites rebuilds SQLite's
/// `incidents` table; what incidents recorded before it must come through:
/// the incident, its timeline, its notifications, and their claims.
async fn incidents_keep_their_timeline_and_notifications_through_the_site_incidents_migration(
    kind: BackendKind,
) {
    use sqlx::migrate::Migrator;
    const BEFORE: &str = "20261128000012";
    let database = TestDatabase::new(kind).await;
    let directory = match kind {
        BackendKind::Sqlite => "sqlite",
        BackendKind::Postgres => "postgres",
    };
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(directory);
    let earlier = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < BEFORE {
            std::fs::copy(&path, earlier.path().join(&name)).unwrap();
        }
    }
    let migrator = Migrator::new(earlier.path()).await.unwrap();
    assert_eq!(migrator.iter().count(), 11);
    let spec = serde_json::to_string(&json!({
        "name": "shop", "type": "http", "url": "https://shop.example.com/"
    }))
    .unwrap();
    let statements = [
        format!(
            "INSERT INTO monitors (id, name, monitor_type, enabled, spec, status, created_at, updated_at) \
             VALUES (7, 'shop', 'http', TRUE, '{spec}', 'down', 1000, 1000)"
        ),
        "INSERT INTO incidents (id, monitor_id, severity, cause, opened_at) \
         VALUES (3, 7, 'critical', 'expected a 2xx status, got 503', 2000)"
            .to_owned(),
        "INSERT INTO incident_events (incident_id, at, kind, message) VALUES \
         (3, 2000, 'opened', 'expected a 2xx status, got 503'), \
         (3, 2500, 'confirmed', 'confirmed from local')"
            .to_owned(),
        "INSERT INTO notifications (dedupe_key, incident_id, channel, recipient, subject, payload, \
         status, attempts, created_at, next_attempt_at, expires_at, sent_at, delivery_answer) \
         VALUES ('incident/3/level-1/ops@example.com', 3, 'email', 'ops@example.com', \
         '[DOWN] shop', '{}', 'sent', 1, 2600, 2600, 90000, 2700, '250 OK')"
            .to_owned(),
        // Raw rows on two days, which PostgreSQL moves into a partition each.
        "INSERT INTO checkpoints (id, name, created_at) VALUES (2, 'local', 1000)".to_owned(),
        format!(
            "INSERT INTO check_results (id, monitor_id, checkpoint_id, due_at, attempt, started_at, \
             duration_ms, outcome, in_maintenance) VALUES \
             (40, 7, 2, {first}, 0, {first}, 120, 'up', FALSE), \
             (41, 7, 2, {second}, 0, {second}, 130, 'error', FALSE)",
            first = START.as_millis(),
            second = START.as_millis() + 86_400_000,
        ),
        "INSERT INTO sites (id, name, site_key, origins, keep_query_string, created_at, updated_at) \
         VALUES (5, 'shop', 'key', '[\"https://shop.example.com\"]', FALSE, 1000, 1000)"
            .to_owned(),
        format!(
            "INSERT INTO page_views (id, site_id, at, page, navigation_type, device, browser, \
             browser_version, os, os_version, country, lcp) VALUES \
             (90, 5, {first}, '/', 'navigate', 'desktop', 'Chrome', '131', 'Linux', '', 'DE', 1200.0), \
             (91, 5, {second}, '/cart', 'navigate', 'mobile', 'Safari', '18', 'iOS', '18', 'FR', 2500.0)",
            first = START.as_millis(),
            second = START.as_millis() + 86_400_000,
        ),
        // People, rebuilt on SQLite when editors came.
        "INSERT INTO users (id, email, password_hash, role, created_at, updated_at) \
         VALUES (4, 'ops@example.com', 'hash', 'admin', 1000, 1000)"
            .to_owned(),
        format!(
            "INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, expires_at) \
             VALUES (6, 4, 'session-hash', 1000, 1000, {})",
            START.as_millis() + 3_600_000
        ),
        "INSERT INTO api_tokens (id, user_id, name, token_hash, token_prefix, role, checkpoint_id, created_at) \
         VALUES (8, 4, 'east agent', 'token-hash', 'slt_ab', 'admin', 2, 1000)"
            .to_owned(),
    ];
    match kind {
        BackendKind::Sqlite => {
            let options: sqlx::sqlite::SqliteConnectOptions = database.url().parse().unwrap();
            let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
                .await
                .unwrap();
            migrator.run(&pool).await.unwrap();
            for statement in &statements {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        BackendKind::Postgres => {
            let pool = sqlx::PgPool::connect(database.url()).await.unwrap();
            migrator.run(&pool).await.unwrap();
            for statement in &statements {
                // Keep the ids given, as SQLite does.
                let statement =
                    statement.replacen(") VALUES", ") OVERRIDING SYSTEM VALUE VALUES", 1);
                sqlx::query(&statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }

    let store = database.store(Arc::new(ManualClock::new(START))).await;
    let incident = store.incident(3).await.unwrap();
    assert_eq!(incident.kind, IncidentKind::MonitorDown);
    assert_eq!(incident.monitor_id, Some(7));
    assert_eq!(incident.site_id, None);
    assert_eq!(incident.cause, "expected a 2xx status, got 503");
    let events: Vec<_> = store
        .incident_events(3)
        .await
        .unwrap()
        .into_iter()
        .map(|event| (event.kind, event.message))
        .collect();
    assert_eq!(
        events,
        [
            (
                "opened".to_owned(),
                "expected a 2xx status, got 503".to_owned()
            ),
            ("confirmed".to_owned(), "confirmed from local".to_owned()),
        ]
    );
    let notifications = store.incident_notifications(3).await.unwrap();
    assert_eq!(notifications.len(), 1);
    assert_eq!(notifications[0].incident_id, Some(3));
    assert_eq!(notifications[0].delivery_answer.as_deref(), Some("250 OK"));
    let key = "incident/3/level-1/ops@example.com".to_owned();
    assert_eq!(
        store.claimed(std::slice::from_ref(&key)).await.unwrap(),
        [key]
    );
    // People, their sessions and tokens stay, still tied together.
    let lifetime = Duration::from_secs(3600);
    let (session, user) = store
        .session_user("session-hash", lifetime)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((session.id, user.id, user.role), (6, 4, Role::Admin));
    let (token, _) = store.token_user("token-hash").await.unwrap().unwrap();
    assert_eq!((token.id, token.checkpoint_id), (8, Some(2)));
    let editor = store
        .create_user(&new_user("dev@example.com", Role::Editor))
        .await
        .unwrap();
    assert_ne!(editor.id, 4);
    store.delete_user(editor.id).await.unwrap();
    // The incident goes on as any other: it closes, its timeline grows.
    store.close_incident(3, "recovered").await.unwrap();
    assert_eq!(store.incident_events(3).await.unwrap().len(), 3);

    // Raw rows keep their ids and days; new ones get ids after them.
    let two_days = (START, START.plus(Duration::from_secs(2 * 86_400)));
    let results = store
        .check_results(7, two_days.0, two_days.1, 10)
        .await
        .unwrap();
    assert_eq!(
        results
            .iter()
            .map(|r| (r.id, r.result.report.duration_ms))
            .collect::<Vec<_>>(),
        [(41, 130), (40, 120)]
    );
    let views = store
        .page_views(5, two_days.0, two_days.1, 10)
        .await
        .unwrap();
    assert_eq!(
        views
            .iter()
            .map(|v| v.dimensions.get(sightline_core::rum::Dimension::Page))
            .collect::<Vec<_>>(),
        ["/", "/cart"]
    );
    let later = START.plus(Duration::from_secs(86_400 + 60));
    store
        .insert_page_views(&[page_view(5, later, 1)])
        .await
        .unwrap();
    assert_eq!(
        store
            .count_page_views(5, two_days.0, two_days.1)
            .await
            .unwrap(),
        3
    );
    let third = store
        .record_check_result(&result_at(7, 2, later, CheckOutcome::Up))
        .await
        .unwrap();
    assert!(third.id > 41, "{}", third.id);
    if kind == BackendKind::Postgres {
        let pool = sqlx::PgPool::connect(database.url()).await.unwrap();
        let partitions: Vec<String> = sqlx::query_scalar(
            "SELECT relname::TEXT FROM pg_class WHERE relispartition AND relkind = 'r' ORDER BY relname",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let [first, second] = [START, START.plus(Duration::from_secs(86_400))]
            .map(|at| at.to_rfc3339()[..10].replace('-', ""));
        assert_eq!(
            partitions,
            [
                format!("check_results_{first}"),
                format!("check_results_{second}"),
                format!("page_views_{first}"),
                format!("page_views_{second}"),
            ]
        );
        pool.close().await;
    }
}

async fn audit_entries_keep_their_change_and_go_by_retention(kind: BackendKind) {
    let Fixture {
        store,
        clock,
        _database,
    } = fixture(kind).await;
    let entry = |name: &str, before: Option<serde_json::Value>| NewAuditEntry {
        actor_id: Some(7),
        actor: "ops@example.com".to_owned(),
        credential: "session".to_owned(),
        address: Some("203.0.113.9".to_owned()),
        action: if before.is_some() {
            "changed"
        } else {
            "created"
        }
        .to_owned(),
        kind: "monitor".to_owned(),
        object_id: Some("3".to_owned()),
        object_name: Some(name.to_owned()),
        before,
        after: Some(serde_json::json!({"name": name, "every": "1m"})),
    };
    let first = store.record_audit(&entry("shop", None)).await.unwrap();
    assert_eq!(first.at, START);
    assert_eq!(first.entry, entry("shop", None));
    clock.advance(Duration::from_secs(3600));
    let second = store
        .record_audit(&entry(
            "shop home",
            Some(serde_json::json!({"name": "shop"})),
        ))
        .await
        .unwrap();
    let everything = AuditQuery {
        limit: 10,
        ..AuditQuery::default()
    };
    let read = store.audit_log(&everything).await.unwrap();
    assert_eq!(read, [second.clone(), first.clone()]);
    let older = store
        .audit_log(&AuditQuery {
            before_id: Some(second.id),
            ..everything.clone()
        })
        .await
        .unwrap();
    assert_eq!(older, std::slice::from_ref(&first));
    for query in [
        AuditQuery {
            kind: Some("site".to_owned()),
            ..everything.clone()
        },
        AuditQuery {
            actor: Some("dev@example.com".to_owned()),
            ..everything.clone()
        },
        AuditQuery {
            object_id: Some("4".to_owned()),
            ..everything.clone()
        },
    ] {
        assert!(
            store.audit_log(&query).await.unwrap().is_empty(),
            "{query:?}"
        );
    }
    // Retention takes what is older than the cutoff and nothing else.
    assert_eq!(
        store
            .delete_audit_before(START.plus(Duration::from_secs(60)))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.audit_log(&everything).await.unwrap(), [second]);
}
