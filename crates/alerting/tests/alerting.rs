//! Alerting against a real SMTP server (aiosmtpd, started on 127.0.0.1 and
//! writing what it receives to a maildir): the outbox (what arrives, once,
//! and after the server was down) and the engine (incidents and escalation
//! from monitor status).

use mailparse::MailHeaderMap;
use sightline_alerting::testing::SmtpServer;
use sightline_alerting::{Deliverer, Email, Engine, Mailer, OutboxConfig, Pass, Templates};
use sightline_core::correlation::HOUR_MS;
use sightline_core::monitor::{CheckOutcome, CheckReport, PhaseTimings, Problem, ProblemKind};
use sightline_core::rum::{Dimension, DimensionValues, MetricValues, PageView};
use sightline_core::{AlertPolicySpec, Clock, ManualClock, MonitorSpec, SiteSpec, Timestamp};
use sightline_store::testing::{TestDatabase, free_port};
use sightline_store::{
    BackendKind, Completion, NewCheckResult, NewNotification, NotificationStatus, Store,
    SystemClock, on_both_backends,
};
use std::sync::Arc;
use std::time::Duration;

/// One received e-mail, as a thread is made of.
#[derive(Debug)]
struct Received {
    subject: String,
    message_id: String,
    in_reply_to: Option<String>,
    references: Option<String>,
    auto_submitted: String,
    text: String,
}

/// The messages to `to`: the first alert, then the answers to it, the
/// recovery last (maildir names say nothing of order).
fn thread_to(smtp: &SmtpServer, to: &str) -> Vec<Received> {
    let mut mails: Vec<Received> = smtp
        .received()
        .iter()
        .filter_map(|raw| {
            let mail = mailparse::parse_mail(raw).unwrap();
            let headers = mail.get_headers();
            if headers.get_first_value("X-RcptTo").as_deref() != Some(to) {
                return None;
            }
            let text = mail
                .subparts
                .iter()
                .find(|part| part.ctype.mimetype == "text/plain")
                .map(|part| part.get_body().unwrap())
                .unwrap_or_default();
            Some(Received {
                subject: headers.get_first_value("Subject").unwrap_or_default(),
                message_id: headers.get_first_value("Message-ID").unwrap_or_default(),
                in_reply_to: headers.get_first_value("In-Reply-To"),
                references: headers.get_first_value("References"),
                auto_submitted: headers
                    .get_first_value("Auto-Submitted")
                    .unwrap_or_default(),
                text,
            })
        })
        .collect();
    mails.sort_by_key(|mail| {
        let back = ["Recovered", "Back "]
            .iter()
            .any(|words| mail.text.starts_with(words));
        (mail.in_reply_to.is_some(), back)
    });
    mails
}

fn mailer(port: u16) -> Mailer {
    Mailer::new(&SmtpServer::settings(port)).unwrap()
}

fn email_notification(key: &str, to: &str) -> NewNotification {
    let email = Email {
        subject: "DOWN: shop home (HTTP 503 from local)".into(),
        text: "shop home is down: expected status 200, got 503.".into(),
        html: "<p><b>shop home</b> is down: expected status 200, got 503.</p>".into(),
        message_id: None,
        in_reply_to: None,
    };
    NewNotification {
        dedupe_key: key.into(),
        incident_id: None,
        channel: "email".into(),
        target: serde_json::json!({"address": to}),
        recipient: to.into(),
        subject: email.subject.clone(),
        payload: serde_json::to_value(&email).unwrap(),
        lifetime: Duration::from_secs(3600),
    }
}

async fn store(database: &TestDatabase) -> Store {
    database.store(Arc::new(SystemClock)).await
}

on_both_backends!(
    an_email_arrives_once_with_both_parts,
    an_email_waits_for_the_smtp_server_to_come_back,
    confirmed_downtime_opens_an_incident_escalates_and_recovers,
    a_failure_that_turns_into_an_outage_is_told_again,
    two_processes_tell_each_incident_once,
    a_checkpoint_that_goes_silent_is_one_incident_told_once,
);

async fn an_email_arrives_once_with_both_parts(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let store = store(&database).await;
    let port = free_port();
    let smtp = SmtpServer::start(port);
    let deliverer = Deliverer::new(store.clone(), Some(mailer(port)), OutboxConfig::default());

    assert!(
        store
            .enqueue_notification(&email_notification(
                "incident-1/down/ops",
                "ops@example.com"
            ))
            .await
            .unwrap()
    );
    assert!(
        !store
            .enqueue_notification(&email_notification(
                "incident-1/down/ops",
                "ops@example.com"
            ))
            .await
            .unwrap(),
        "the same notification is enqueued once"
    );
    assert_eq!(deliverer.deliver_due().await.unwrap(), 1);
    assert_eq!(deliverer.deliver_due().await.unwrap(), 0, "sent once");

    let received = smtp.received();
    assert_eq!(received.len(), 1);
    let mail = mailparse::parse_mail(&received[0]).unwrap();
    let headers = mail.get_headers();
    assert_eq!(
        headers.get_first_value("Subject").unwrap(),
        "DOWN: shop home (HTTP 503 from local)"
    );
    assert_eq!(headers.get_first_value("To").unwrap(), "ops@example.com");
    assert_eq!(
        headers.get_first_value("X-RcptTo").unwrap(),
        "ops@example.com"
    );
    assert!(
        headers
            .get_first_value("From")
            .unwrap()
            .contains("alerts@sightline.test")
    );
    assert_eq!(mail.ctype.mimetype, "multipart/alternative");
    let parts: Vec<(String, String)> = mail
        .subparts
        .iter()
        .map(|part| {
            (
                part.ctype.mimetype.clone(),
                part.get_body().unwrap().trim().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        [
            (
                "text/plain".to_owned(),
                "shop home is down: expected status 200, got 503.".to_owned()
            ),
            (
                "text/html".to_owned(),
                "<p><b>shop home</b> is down: expected status 200, got 503.</p>".to_owned()
            ),
        ]
    );
}

async fn an_email_waits_for_the_smtp_server_to_come_back(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let clock = Arc::new(ManualClock::new(Timestamp::from(1_800_000_000_000)));
    let store = database.store(clock.clone()).await;
    let port = free_port();
    let config = OutboxConfig {
        first_retry: Duration::from_millis(300),
        ..OutboxConfig::default()
    };
    let deliverer = Deliverer::new(store.clone(), Some(mailer(port)), config);
    store
        .enqueue_notification(&email_notification(
            "incident-2/down/ops",
            "ops@example.com",
        ))
        .await
        .unwrap();

    // Nobody listens: the attempt fails, is recorded, and waits its turn.
    assert_eq!(deliverer.deliver_due().await.unwrap(), 0);
    let pending = store.notification(1).await.unwrap();
    assert_eq!(
        (pending.status, pending.attempts),
        (NotificationStatus::Pending, 1)
    );
    let reason = pending.last_error.clone().unwrap();
    assert!(reason.starts_with("SMTP: "), "{reason}");
    assert_eq!(
        deliverer.deliver_due().await.unwrap(),
        0,
        "not before its retry time"
    );

    // The SMTP server is back twelve minutes later: the alert goes, and
    // says how late it is and why, so that nobody takes it for news.
    let smtp = SmtpServer::start(port);
    clock.advance(Duration::from_secs(12 * 60));
    assert_eq!(deliverer.deliver_due().await.unwrap(), 1);
    assert_eq!(deliverer.deliver_due().await.unwrap(), 0);
    assert_eq!(smtp.received().len(), 1);
    let sent = store.notification(1).await.unwrap();
    assert_eq!(
        (sent.status, sent.attempts, sent.last_error),
        (NotificationStatus::Sent, 2, None)
    );
    let raw = smtp.received().remove(0);
    let text = mailparse::parse_mail(&raw).unwrap().subparts[0]
        .get_body()
        .unwrap();
    assert!(
        text.starts_with(&format!(
            "This message is 12 min late: it could not be sent before ({reason})."
        )),
        "{text}"
    );
    assert!(text.contains("shop home is down"), "{text}");
}

fn result(
    monitor_id: i64,
    checkpoint_id: i64,
    due: Timestamp,
    attempt: i64,
    outcome: CheckOutcome,
) -> NewCheckResult {
    let failed = outcome == CheckOutcome::Error;
    NewCheckResult {
        monitor_id,
        checkpoint_id,
        due_at: due,
        attempt,
        started_at: due,
        report: CheckReport {
            outcome,
            problem: failed
                .then(|| Problem::new(ProblemKind::Status, "expected status 200, got 503")),
            status_code: Some(if failed { 503 } else { 200 }),
            timings: PhaseTimings::default(),
            duration_ms: 12,
            response_bytes: None,
            detail: serde_json::Value::Null,
            screenshots: Vec::new(),
        },
        in_maintenance: false,
        confirmed_error: failed && attempt > 0,
        downtime_ms: if failed && attempt > 0 { 60_000 } else { 0 },
    }
}

async fn report(store: &Store, result: NewCheckResult, status: Option<&str>) {
    store
        .complete_jobs(&[Completion {
            job_id: None,
            result,
            follow_up: Vec::new(),
            status: status.map(str::to_owned),
        }])
        .await
        .unwrap();
}

/// A failure at `due` and its confirmation: the monitor is down.
async fn confirm_down(store: &Store, monitor_id: i64, checkpoint_id: i64, due: Timestamp) {
    report(
        store,
        result(monitor_id, checkpoint_id, due, 0, CheckOutcome::Error),
        None,
    )
    .await;
    report(
        store,
        result(monitor_id, checkpoint_id, due, 1, CheckOutcome::Error),
        Some("down"),
    )
    .await;
}

async fn confirmed_downtime_opens_an_incident_escalates_and_recovers(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let start = Timestamp::from(1_800_000_000_000);
    let clock = Arc::new(ManualClock::new(start));
    let store = database.store(clock.clone()).await;
    let port = free_port();
    let smtp = SmtpServer::start(port);
    let outbox = Deliverer::new(store.clone(), Some(mailer(port)), OutboxConfig::default());
    let engine = Engine::new(
        store.clone(),
        Arc::new(Templates::embedded().unwrap()),
        "https://mon.example.com".into(),
        outbox.waker(),
    );
    store
        .create_document(
            &AlertPolicySpec::from_json(
                serde_json::json!({"name": "on-call", "remind_every": "20m", "levels": [
                    {"after": "1 confirmed error", "email": ["ops@example.com"]},
                    {"after": "15m", "email": ["cto@example.com"]}
                ]}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let monitor_spec = |name: &str| {
        MonitorSpec::from_json(serde_json::json!({"name": name, "type": "http",
            "url": "https://shop.example.com/", "every": "1m", "alert_policy": "on-call"}))
        .unwrap()
    };
    let shop = store.create_monitor(&monitor_spec("shop")).await.unwrap();
    let flaky = store.create_monitor(&monitor_spec("flaky")).await.unwrap();
    let local = store.ensure_checkpoint("local").await.unwrap();
    assert_eq!(engine.pass().await.unwrap(), Pass::default());

    // A failure the re-run contradicts changes nothing and tells nobody.
    report(
        &store,
        result(flaky.id, local.id, start, 0, CheckOutcome::Error),
        None,
    )
    .await;
    report(
        &store,
        result(flaky.id, local.id, start, 1, CheckOutcome::Up),
        Some("up"),
    )
    .await;
    // A confirmed failure opens an incident and tells the first level once.
    confirm_down(&store, shop.id, local.id, start).await;
    let first = engine.pass().await.unwrap();
    assert_eq!(
        first,
        Pass {
            opened: 1,
            closed: 0,
            queued: 1
        }
    );
    assert_eq!(
        engine.pass().await.unwrap(),
        Pass::default(),
        "each level is queued once"
    );
    assert_eq!(outbox.deliver_due().await.unwrap(), 1);

    // Fifteen minutes down reach the second level.
    clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(engine.pass().await.unwrap().queued, 1);
    assert_eq!(outbox.deliver_due().await.unwrap(), 1);

    // Twenty minutes down: the first level's first reminder. The second
    // level was told five minutes ago: its reminders count from then.
    clock.advance(Duration::from_secs(5 * 60));
    assert_eq!(engine.pass().await.unwrap().queued, 1);
    assert_eq!(engine.pass().await.unwrap().queued, 0, "each reminder once");
    assert_eq!(outbox.deliver_due().await.unwrap(), 1);
    clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(engine.pass().await.unwrap().queued, 1, "the second level's");
    assert_eq!(outbox.deliver_due().await.unwrap(), 1);

    // Recovery closes the incident and tells everyone who was told.
    report(
        &store,
        result(shop.id, local.id, clock.now(), 0, CheckOutcome::Up),
        Some("up"),
    )
    .await;
    assert_eq!(
        engine.pass().await.unwrap(),
        Pass {
            opened: 0,
            closed: 1,
            queued: 2
        }
    );
    assert_eq!(outbox.deliver_due().await.unwrap(), 2);
    assert_eq!(engine.pass().await.unwrap(), Pass::default());

    // Each recipient's messages are one thread: the reminder and the
    // recovery answer the first alert, under its subject.
    let subject = "[DOWN] shop: expected status 200, got 503 (local)";
    for (to, reminder, lasted) in [
        (
            "ops@example.com",
            "Reminder 1: still not resolved after 20 min.",
            "Recovered after 35 min.",
        ),
        (
            "cto@example.com",
            "Reminder 1: still not resolved after 35 min.",
            "Recovered after 35 min.",
        ),
    ] {
        let thread = thread_to(&smtp, to);
        assert_eq!(thread.len(), 3, "{to}: down, reminder, recovered");
        let first_id = thread[0].message_id.clone();
        assert!(first_id.starts_with("<alert.") && first_id.ends_with("@mon.example.com>"));
        for mail in &thread {
            assert_eq!(mail.subject, subject, "{to}");
            assert_eq!(mail.auto_submitted, "auto-generated");
        }
        for answer in &thread[1..] {
            assert_eq!(answer.in_reply_to.as_deref(), Some(first_id.as_str()));
            assert_eq!(answer.references.as_deref(), Some(first_id.as_str()));
            assert_ne!(answer.message_id, first_id);
        }
        assert!(thread[0].in_reply_to.is_none());
        assert!(
            thread[0].text.contains("Down since: "),
            "{}",
            thread[0].text
        );
        assert!(thread[1].text.starts_with(reminder), "{}", thread[1].text);
        assert!(thread[2].text.starts_with(lasted), "{}", thread[2].text);
        assert!(
            !thread[2].text.contains("What failed"),
            "{}",
            thread[2].text
        );
    }
    let incidents = store
        .list_incidents(false, None, Timestamp::from(0), 10)
        .await
        .unwrap();
    assert_eq!(incidents.len(), 1, "the flaky monitor has none");
    let timeline: Vec<String> = store
        .incident_events(incidents[0].id)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.kind)
        .collect();
    assert_eq!(timeline, ["opened", "recovered"]);
}

/// Page views of `site`, `per_second` a second over `[from, to)`.
fn page_views(site_id: i64, from: Timestamp, to: Timestamp, per_second: i64) -> Vec<PageView> {
    let step = 1000 / per_second;
    (from.as_millis()..to.as_millis())
        .step_by(step as usize)
        .map(|at| {
            let mut dimensions = DimensionValues::default();
            dimensions.set(Dimension::Page, "/");
            PageView {
                site_id,
                at: Timestamp::from(at),
                dimensions,
                metrics: MetricValues::default(),
            }
        })
        .collect()
}

async fn a_failure_that_turns_into_an_outage_is_told_again(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    // Half past an hour, with two whole hours of traffic before it.
    let hour = 1_800_000_000_000 / HOUR_MS * HOUR_MS;
    let start = Timestamp::from(hour + HOUR_MS / 2);
    let clock = Arc::new(ManualClock::new(start));
    let store = database.store(clock.clone()).await;
    let port = free_port();
    let smtp = SmtpServer::start(port);
    let outbox = Deliverer::new(store.clone(), Some(mailer(port)), OutboxConfig::default());
    let engine = Engine::new(
        store.clone(),
        Arc::new(Templates::embedded().unwrap()),
        "https://mon.example.com".into(),
        outbox.waker(),
    );
    let site = store
        .create_site(
            &SiteSpec::from_json(serde_json::json!({"name": "shop",
                "origins": ["https://shop.example.com"]}))
            .unwrap(),
            "key-shop",
        )
        .await
        .unwrap();
    store
        .insert_page_views(&page_views(
            site.id,
            Timestamp::from(hour - 2 * HOUR_MS),
            start,
            2,
        ))
        .await
        .unwrap();
    store
        .create_document(
            &AlertPolicySpec::from_json(serde_json::json!({"name": "on-call", "levels": [
                {"after": "1 confirmed error", "email": ["ops@example.com"]}
            ]}))
            .unwrap(),
        )
        .await
        .unwrap();
    let monitor = store
        .create_monitor(
            &MonitorSpec::from_json(serde_json::json!({"name": "shop home", "type": "http",
                "url": "https://shop.example.com/", "every": "1m", "site": "shop",
                "alert_policy": "on-call"}))
            .unwrap(),
        )
        .await
        .unwrap();
    let local = store.ensure_checkpoint("local").await.unwrap();
    confirm_down(&store, monitor.id, local.id, start).await;
    // Too soon to tell what real users see: the incident waits.
    let opened = engine.pass().await.unwrap();
    assert_eq!((opened.opened, opened.queued), (1, 0));

    // Real users keep arriving for fifteen seconds: a synthetic failure.
    let later = start.plus(Duration::from_secs(15));
    store
        .insert_page_views(&page_views(site.id, start, later, 2))
        .await
        .unwrap();
    clock.set(later);
    assert_eq!(engine.pass().await.unwrap().queued, 1);
    assert_eq!(engine.pass().await.unwrap().queued, 0, "told once");

    // Then they stop: a minute later it is a confirmed outage, and whoever
    // was told of a synthetic failure is told again.
    clock.set(later.plus(Duration::from_secs(60)));
    assert_eq!(engine.pass().await.unwrap().queued, 1);
    assert_eq!(engine.pass().await.unwrap().queued, 0, "told once");
    assert_eq!(outbox.deliver_due().await.unwrap(), 2);
    let mut subjects: Vec<String> = smtp
        .received()
        .iter()
        .map(|raw| {
            mailparse::parse_mail(raw)
                .unwrap()
                .get_headers()
                .get_first_value("Subject")
                .unwrap()
        })
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "[DOWN] shop home: confirmed outage, real users affected — expected status 200, got 503 (local)",
            "[DOWN] shop home: synthetic failure, real users still served — expected status 200, got 503 (local)",
        ]
    );
    let incident = store.incident(1).await.unwrap();
    assert_eq!(incident.correlation.as_deref(), Some("confirmed_outage"));
}

/// Two server processes share one database: their engines pass at the same
/// moments and their outboxes deliver at the same moments, and still every
/// incident reaches every recipient once per step (first message, reminder).
async fn two_processes_tell_each_incident_once(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let start = Timestamp::from(1_800_000_000_000);
    let clock = Arc::new(ManualClock::new(start));
    // Two stores with pools of their own, as two processes have.
    let stores = [
        database.store(clock.clone()).await,
        database.store(clock.clone()).await,
    ];
    let port = free_port();
    let smtp = SmtpServer::start(port);
    let templates = Arc::new(Templates::embedded().unwrap());
    let outboxes = stores
        .clone()
        .map(|store| Deliverer::new(store, Some(mailer(port)), OutboxConfig::default()));
    let engines = [0, 1].map(|n| {
        Engine::new(
            stores[n].clone(),
            templates.clone(),
            "https://mon.example.com".into(),
            outboxes[n].waker(),
        )
    });
    let store = &stores[0];
    store
        .create_document(
            &AlertPolicySpec::from_json(serde_json::json!({"name": "on-call",
                "remind_every": "10m", "levels": [
                {"after": "1 confirmed error", "email": ["ops@example.com", "dev@example.com"]}
            ]}))
            .unwrap(),
        )
        .await
        .unwrap();
    let local = store.ensure_checkpoint("local").await.unwrap();
    const MONITORS: usize = 10;
    for n in 0..MONITORS {
        let monitor = store
            .create_monitor(
                &MonitorSpec::from_json(serde_json::json!({"name": format!("page {n:02}"),
                    "type": "http", "url": format!("https://shop.example.com/{n}"),
                    "every": "1m", "alert_policy": "on-call"}))
                .unwrap(),
            )
            .await
            .unwrap();
        confirm_down(store, monitor.id, local.id, start).await;
    }
    let both_pass = async || {
        for _ in 0..4 {
            let (first, second) = tokio::join!(engines[0].pass(), engines[1].pass());
            first.unwrap();
            second.unwrap();
        }
    };
    let both_deliver = async || {
        loop {
            let (first, second) =
                tokio::join!(outboxes[0].deliver_due(), outboxes[1].deliver_due());
            if first.unwrap() + second.unwrap() == 0 {
                break;
            }
        }
    };
    both_pass().await;
    both_deliver().await;
    clock.advance(Duration::from_secs(10 * 60));
    both_pass().await;
    both_deliver().await;

    // Who heard of what: every (recipient, kind, monitor) exactly once.
    let mut told = std::collections::BTreeMap::new();
    for raw in smtp.received() {
        let mail = mailparse::parse_mail(&raw).unwrap();
        let headers = mail.get_headers();
        let recipient = headers.get_first_value("X-RcptTo").unwrap();
        let subject = headers.get_first_value("Subject").unwrap();
        let text = mail.subparts[0].get_body().unwrap();
        // A reminder answers the alert under its subject; it says what it is.
        let kind = if text.starts_with("Reminder ") {
            "[REMINDER".to_owned()
        } else {
            subject.split(']').next().unwrap().to_owned()
        };
        for n in 0..MONITORS {
            if text.contains(&format!("page {n:02} (")) {
                *told
                    .entry((recipient.clone(), kind.clone(), n))
                    .or_insert(0) += 1;
            }
        }
    }
    assert_eq!(told.len(), 2 * 2 * MONITORS, "{told:?}");
    assert!(told.values().all(|&count| count == 1), "{told:?}");
}

async fn a_checkpoint_that_goes_silent_is_one_incident_told_once(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let start = Timestamp::from(1_800_000_000_000);
    let clock = Arc::new(ManualClock::new(start));
    let store = database.store(clock.clone()).await;
    let port = free_port();
    let smtp = SmtpServer::start(port);
    let outbox = Deliverer::new(store.clone(), Some(mailer(port)), OutboxConfig::default());
    let engine = Engine::new(
        store.clone(),
        Arc::new(Templates::embedded().unwrap()),
        "https://mon.example.com".into(),
        outbox.waker(),
    )
    .with_offline_after(Duration::from_secs(60));
    store
        .create_document(
            &AlertPolicySpec::from_json(serde_json::json!({"name": "on-call", "levels": [
                {"after": "1 confirmed error", "email": ["ops@example.com"]}
            ]}))
            .unwrap(),
        )
        .await
        .unwrap();
    for (name, checkpoints) in [
        ("shop", serde_json::json!(["local", "west"])),
        ("api", serde_json::json!(["west"])),
        ("planned", serde_json::json!(["north"])),
    ] {
        store
            .create_monitor(
                &MonitorSpec::from_json(serde_json::json!({"name": name, "type": "http",
                    "url": "https://shop.example.com/", "every": "1m",
                    "checkpoints": checkpoints, "alert_policy": "on-call"}))
                .unwrap(),
            )
            .await
            .unwrap();
    }
    let local = store.ensure_checkpoint("local").await.unwrap();
    let west = store.ensure_checkpoint("west").await.unwrap();
    // `north` is named but no agent ever came: it is not an incident.
    store.ensure_checkpoint("north").await.unwrap();
    store.touch_checkpoint(local.id, None).await.unwrap();
    store
        .touch_checkpoint(west.id, Some("1.0.0"))
        .await
        .unwrap();
    assert_eq!(engine.pass().await.unwrap(), Pass::default());

    // West goes silent: one incident for it, one message, however many
    // passes run.
    clock.advance(Duration::from_secs(61));
    store.touch_checkpoint(local.id, None).await.unwrap();
    let first = engine.pass().await.unwrap();
    assert_eq!((first.opened, first.queued), (1, 1));
    assert_eq!(engine.pass().await.unwrap(), Pass::default());
    let open = store
        .list_incidents(true, None, Timestamp::from(0), 10)
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].checkpoint_id, Some(west.id));
    assert_eq!(
        open[0].cause,
        "no contact for 1m 1s (last at 2027-01-15T08:00:00.000Z); \
         the checks of shop run from their other checkpoints; \
         api name no other checkpoint online and are not checked"
    );
    assert_eq!(outbox.deliver_due().await.unwrap(), 1);

    // West is back: the incident closes and whoever was told hears so.
    clock.advance(Duration::from_secs(30));
    store.touch_checkpoint(west.id, None).await.unwrap();
    let back = engine.pass().await.unwrap();
    assert_eq!((back.closed, back.queued), (1, 1));
    assert_eq!(outbox.deliver_due().await.unwrap(), 1);
    let thread = thread_to(&smtp, "ops@example.com");
    assert_eq!(thread.len(), 2, "{thread:?}");
    assert!(
        thread[0]
            .subject
            .starts_with("[ALERT] checkpoint west: checkpoint offline — no contact for 1m 1s"),
        "{thread:?}"
    );
    assert_eq!(thread[1].subject, thread[0].subject, "one thread");
    assert!(
        thread[1].text.starts_with("Back in contact after 30 s."),
        "{}",
        thread[1].text
    );
}
