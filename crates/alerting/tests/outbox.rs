//! The outbox against a real SMTP server (aiosmtpd, started on 127.0.0.1
//! and writing what it receives to a maildir): what arrives, once, and
//! after the server was down.

use mailparse::MailHeaderMap;
use sightline_alerting::testing::SmtpServer;
use sightline_alerting::{Deliverer, Email, Mailer, OutboxConfig, SmtpSecurity, SmtpSettings};
use sightline_store::testing::TestDatabase;
use sightline_store::{
    BackendKind, Channel, NewNotification, NotificationStatus, Store, SystemClock, on_both_backends,
};
use std::sync::Arc;
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mailer(port: u16) -> Mailer {
    Mailer::new(&SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::Plain,
        username: None,
        password: None,
        from: "Sightline <alerts@sightline.test>".into(),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

fn email_notification(key: &str, to: &str) -> NewNotification {
    let email = Email {
        subject: "DOWN: shop home (HTTP 503 from local)".into(),
        text: "shop home is down: expected status 200, got 503.".into(),
        html: "<p><b>shop home</b> is down: expected status 200, got 503.</p>".into(),
    };
    NewNotification {
        dedupe_key: key.into(),
        incident_id: None,
        channel: Channel::Email,
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
    let store = store(&database).await;
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

    let smtp = SmtpServer::start(port);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(deliverer.deliver_due().await.unwrap(), 1);
    assert_eq!(deliverer.deliver_due().await.unwrap(), 0);
    assert_eq!(smtp.received().len(), 1);
    let sent = store.notification(1).await.unwrap();
    assert_eq!(
        (sent.status, sent.attempts, sent.last_error),
        (NotificationStatus::Sent, 2, None)
    );
}
