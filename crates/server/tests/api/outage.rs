//! One outage as the people on call live it: a shop whose HTTP, API, TCP
//! and page monitors all watch one host and port, real users sending
//! beacons through the collector, a policy that e-mails a first responder
//! at once and escalates to a second after two minutes, with reminders
//! every minute. The shop goes down for almost four minutes, then comes
//! back. The server's clock is moved by hand, ten seconds a step, so that
//! the minutes pass in seconds; the checks, beacons, engine, outbox and
//! SMTP server are all real.

use super::correlation::{CHROME, create_site, origin, record_past};
use super::*;
use sightline_alerting::testing::SmtpServer;
use sightline_core::{Clock, ManualClock, Timestamp};
use sightline_store::testing::free_port;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const FIRST: &str = "first@example.com";
const ESCALATED: &str = "escalated@example.com";
/// How far the clock moves a step.
const STEP: Duration = Duration::from_secs(10);
/// Real users: page views a second (as recorded in the past).
const VIEWS_PER_SECOND: u64 = 2;

/// The shop: a page and an API on one port, which can be shut and opened
/// again on the same port.
struct Shop {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Shop {
    async fn open(port: u16) -> Self {
        let app = axum::Router::new()
            .route(
                "/",
                axum::routing::get(|| async {
                    axum::response::Html(
                        "<!DOCTYPE html><html><head><title>Coffee shop</title></head>\
                         <body><h1>Coffee shop</h1><p>Fresh beans daily.</p></body></html>",
                    )
                }),
            )
            .route(
                "/api/health",
                axum::routing::get(|| async { axum::Json(json!({"status": "ok"})) }),
            );
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                Ok(listener) => break listener,
                Err(error) => {
                    assert!(Instant::now() < deadline, "cannot reopen the shop: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Shop {
            port,
            task: Some(task),
        }
    }

    /// Shuts the port: connections are refused, open ones are cut.
    async fn close(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Real users' page views, `count` of them, through the collector.
async fn visit(server: &TestServer, count: u64) {
    for _ in 0..count {
        let beacon = json!({
            "site": "key-shop", "url": format!("{}/", origin("shop")), "nav": "navigate",
            "metrics": {"lcp": 1200.0, "fcp": 600.0, "cls": 0.01, "ttfb": 90.0}
        });
        let response = server
            .http
            .post(server.url("/rum/v1/beacon"))
            .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
            .header(header::USER_AGENT, CHROME)
            .header(header::ORIGIN, origin("shop"))
            .body(beacon.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
}

/// One received e-mail, as a thread is made of.
#[derive(Debug, Clone)]
struct Mail {
    subject: String,
    message_id: String,
    in_reply_to: Option<String>,
    references: Option<String>,
    auto_submitted: String,
    text: String,
}

impl Mail {
    fn parse(raw: &[u8]) -> (String, Mail) {
        use mailparse::MailHeaderMap;
        let mail = mailparse::parse_mail(raw).unwrap();
        let headers = &mail.headers;
        let text = mail
            .subparts
            .iter()
            .find(|part| part.ctype.mimetype == "text/plain")
            .map(|part| part.get_body().unwrap())
            .unwrap_or_default();
        (
            headers.get_first_value("X-RcptTo").unwrap_or_default(),
            Mail {
                subject: headers.get_first_value("Subject").unwrap_or_default(),
                message_id: headers.get_first_value("Message-ID").unwrap_or_default(),
                in_reply_to: headers.get_first_value("In-Reply-To"),
                references: headers.get_first_value("References"),
                auto_submitted: headers
                    .get_first_value("Auto-Submitted")
                    .unwrap_or_default(),
                text,
            },
        )
    }

    /// What the message is, from its first words.
    fn kind(&self) -> &'static str {
        if self.text.starts_with("Reminder ") {
            "reminder"
        } else if self.text.contains("recovered") || self.text.starts_with("Recovered") {
            "recovered"
        } else {
            "down"
        }
    }
}

/// Each recipient's messages, in the order they arrived.
fn mailboxes(smtp: &SmtpServer, seen: &mut Vec<Vec<u8>>) -> BTreeMap<String, Vec<Mail>> {
    for raw in smtp.received() {
        if !seen.contains(&raw) {
            seen.push(raw);
        }
    }
    let mut boxes: BTreeMap<String, Vec<Mail>> = BTreeMap::new();
    for raw in seen.iter() {
        let (to, mail) = Mail::parse(raw);
        boxes.entry(to).or_default().push(mail);
    }
    boxes
}

pub(super) async fn one_outage_is_one_thread_per_person(kind: BackendKind) {
    let smtp_port = free_port();
    let smtp = SmtpServer::start(smtp_port);
    let mut config = ServerConfig {
        smtp: Some(SmtpServer::settings(smtp_port)),
        collector: sightline_server::CollectorConfig {
            per_address_per_minute: std::num::NonZeroU32::new(100_000).unwrap(),
            ..Default::default()
        },
        ..ServerConfig::default()
    };
    // The local checkpoint makes contact on its own, real-time heartbeat:
    // minutes of the hand-moved clock pass between two of them.
    config.synthetic.offline_after = Duration::from_secs(24 * 3600);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(now)));
    let config = super::alerting::passing_often(config);
    let server = TestServer::start_on_clock(kind, config, clock.clone(), async |store| {
        record_past(store, create_site(store, "shop").await).await;
    })
    .await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (hooks, paged) = super::channels::receiver().await;
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/alert-policies",
            &admin,
            Some(
                json!({"name": "shop", "remind_every": "1m", "time_zone": "Europe/Paris",
                "levels": [
                    {"after": "1 confirmed error", "email": [FIRST],
                     "pagerduty": [{"routing_key": "R0UT1NGKEY0123456789abcdef012345",
                                    "url": format!("{hooks}/pd/")}]},
                    {"after": "2m", "email": [ESCALATED]}
                ]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let port = free_port();
    let mut shop = Shop::open(port).await;
    let base = format!("http://127.0.0.1:{port}");
    let every_step = [
        json!({"name": "shop home", "type": "http", "url": format!("{base}/")}),
        json!({"name": "shop api", "type": "api", "steps": [
            {"name": "health", "url": format!("{base}/api/health"),
             "expect": {"json": [{"path": "$.status", "equals": "ok"}]}}]}),
        json!({"name": "shop port", "type": "tcp", "host": "127.0.0.1", "port": shop.port}),
    ];
    let mut stepped = Vec::new();
    for mut spec in every_step {
        spec["every"] = json!("1h");
        spec["site"] = json!("shop");
        spec["alert_policy"] = json!("shop");
        stepped.push(server.create_monitor(&admin, spec).await);
    }
    // The page is checked in a real browser, rarely: when its relatives
    // fail, and when they recover.
    let page = server
        .create_monitor(
            &admin,
            json!({"name": "shop page", "type": "browser", "every": "1h", "site": "shop",
                   "alert_policy": "shop", "url": format!("{base}/"),
                   "expect": {"text": "Coffee shop"}}),
        )
        .await;
    let (status, result) = server.run_now(&admin, page).await;
    assert_eq!(status, StatusCode::OK, "{result}");

    // One step: the clock moves ten seconds, real users visit (while the
    // shop is up), the stepped monitors are checked; what arrived is noted
    // in order.
    let seen = std::cell::RefCell::new(Vec::new());
    let step = async |users: bool| {
        clock.advance(STEP);
        if users {
            visit(&server, VIEWS_PER_SECOND * STEP.as_secs()).await;
        }
        for id in &stepped {
            let (status, body) = server.run_now(&admin, *id).await;
            assert!(status.is_success(), "{status} {body}");
        }
        server.after_passes().await;
        mailboxes(&smtp, &mut seen.borrow_mut())
    };
    for _ in 0..3 {
        step(true).await;
    }
    assert!(smtp.received().is_empty(), "all is well so far");

    // Down for 3 min 50 s: nobody reaches the shop.
    let down_at = clock.now();
    shop.close().await;
    let outage_steps = 23;
    for _ in 0..outage_steps {
        step(false).await;
    }
    let during = mailboxes(&smtp, &mut seen.borrow_mut());

    // Back: the stepped monitors recover at the next step, the page is
    // re-checked at once, and the outage ends in one notice per person.
    let shop = Shop::open(port).await;
    let back_at = clock.now().plus(STEP);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let boxes = step(true).await;
        let done = [FIRST, ESCALATED].iter().all(|to| {
            boxes
                .get(*to)
                .is_some_and(|mails| mails.iter().any(|mail| mail.kind() == "recovered"))
        });
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery notice: {boxes:#?}");
    }
    // A few more steps: nothing more is sent.
    for _ in 0..3 {
        step(true).await;
    }
    let boxes = mailboxes(&smtp, &mut seen.borrow_mut());
    let (_, open) = server
        .call(Method::GET, "/api/v1/incidents?open=true", &admin, None)
        .await;
    assert_eq!(open, json!([]), "every incident closed");

    let kinds =
        |to: &str| -> Vec<&'static str> { boxes[to].iter().map(Mail::kind).collect::<Vec<_>>() };
    eprintln!(
        "down for {} s; messages per person: {}",
        (back_at.as_millis() - down_at.as_millis()) / 1000,
        boxes
            .iter()
            .map(|(to, mails)| format!("{to} {}", mails.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // The first responder: told at once, reminded each minute from then,
    // told of the recovery. The escalated one: told at two minutes,
    // reminded a minute later, told of the recovery.
    assert_eq!(
        kinds(FIRST),
        ["down", "reminder", "reminder", "reminder", "recovered"],
        "{:#?}",
        boxes[FIRST]
    );
    assert_eq!(
        kinds(ESCALATED),
        ["down", "reminder", "recovered"],
        "{:#?}",
        boxes[ESCALATED]
    );
    assert!(
        during
            .values()
            .flatten()
            .all(|mail| mail.kind() != "recovered")
    );
    for (to, mails) in &boxes {
        let first = &mails[0];
        assert!(
            first.subject.starts_with("[DOWN] ")
                && first
                    .subject
                    .contains("confirmed outage, real users affected"),
            "{to}: {}",
            first.subject
        );
        assert!(first.in_reply_to.is_none(), "{to}");
        for mail in mails {
            assert_eq!(mail.auto_submitted, "auto-generated");
            assert!(
                mail.message_id.ends_with("@127.0.0.1>"),
                "{}",
                mail.message_id
            );
        }
        // One thread: every later message answers the first, under its
        // subject.
        for later in &mails[1..] {
            assert_eq!(later.subject, first.subject, "{to}");
            assert_eq!(later.in_reply_to.as_ref(), Some(&first.message_id), "{to}");
            assert_eq!(later.references.as_ref(), Some(&first.message_id), "{to}");
        }
        // Times as people read them, in the policy's zone.
        assert!(
            first.text.contains(" CET, ") || first.text.contains(" CEST, "),
            "{}",
            first.text
        );
        // Reminders are numbered and name the monitors down (the page, when
        // its confirmation landed before the reminder).
        for (n, reminder) in mails.iter().filter(|m| m.kind() == "reminder").enumerate() {
            assert!(
                reminder.text.starts_with(&format!("Reminder {}: ", n + 1)),
                "{}",
                reminder.text
            );
            for monitor in ["shop home (", "shop api (", "shop port ("] {
                assert!(
                    reminder.text.contains(monitor),
                    "{monitor}: {}",
                    reminder.text
                );
            }
        }
        // The recovery says how long, and no longer what failed.
        let recovered = mails.last().unwrap();
        assert!(
            recovered.text.starts_with("4 monitors recovered."),
            "{}",
            recovered.text
        );
        assert!(
            recovered.text.contains("Up again after 3 min"),
            "{}",
            recovered.text
        );
        assert!(
            !recovered.text.contains("What failed"),
            "{}",
            recovered.text
        );
    }

    // The second outage: the first responder acknowledges from the e-mail
    // halfway. Their reminders stop, nobody is escalated to, PagerDuty's
    // alert is acknowledged, and the recovery says who was on it.
    let before: BTreeMap<String, usize> = boxes
        .iter()
        .map(|(to, mails)| (to.clone(), mails.len()))
        .collect();
    let mut shop = shop;
    shop.close().await;
    let mut boxes = BTreeMap::new();
    for _ in 0..9 {
        boxes = step(false).await;
    }
    let new = |boxes: &BTreeMap<String, Vec<Mail>>, to: &str| -> Vec<Mail> {
        boxes
            .get(to)
            .map_or(Vec::new(), |mails| mails[before[to]..].to_vec())
    };
    let told = new(&boxes, FIRST);
    assert_eq!(
        told.iter().map(Mail::kind).collect::<Vec<_>>(),
        ["down", "reminder"],
        "{told:#?}"
    );
    // The page was checked with its relatives at once, however soon after
    // the first outage (on the server's clock) this one began.
    assert!(told[1].text.contains("shop page ("), "{}", told[1].text);
    let link = told[1]
        .text
        .split_whitespace()
        .find_map(|word| Some(word[word.find("/acknowledge/")?..].to_owned()))
        .unwrap_or_else(|| panic!("no acknowledgement link: {}", told[1].text));
    // Opening the link (as a mail scanner would) changes nothing.
    let page = server.http.get(server.url(&link)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("Acknowledge this incident?"), "{page}");
    assert!(page.contains(&format!("acknowledge as {FIRST}")), "{page}");
    let (_, acknowledged) = server
        .call(
            Method::GET,
            "/api/v1/incidents?state=acknowledged",
            &admin,
            None,
        )
        .await;
    assert_eq!(acknowledged, json!([]));
    // Its button acknowledges, as the recipient; a forged link does not.
    let forged = format!("{}x", &link[..link.len() - 1]);
    let refused = server
        .http
        .post(server.url(&forged))
        .form(&[("comment", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let done = server
        .http
        .post(server.url(&link))
        .form(&[("comment", "restarting the shop")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("reminders and further escalation stop")
    );
    let (_, acknowledged) = server
        .call(
            Method::GET,
            "/api/v1/incidents?state=acknowledged",
            &admin,
            None,
        )
        .await;
    assert_eq!(
        acknowledged.as_array().map(Vec::len),
        Some(1),
        "{acknowledged}"
    );
    assert_eq!(acknowledged[0]["acknowledged_by"], FIRST);
    let id = acknowledged[0]["id"].as_i64().unwrap();
    let (_, detail) = server
        .call(
            Method::GET,
            &format!("/api/v1/incidents/{id}"),
            &admin,
            None,
        )
        .await;
    let event = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["kind"] == "acknowledged")
        .unwrap_or_else(|| panic!("{detail}"))
        .clone();
    assert_eq!(event["author"], FIRST);
    assert!(
        event["message"]
            .as_str()
            .unwrap()
            .contains("restarting the shop")
    );
    // Neither anonymous callers nor viewers acknowledge through the API.
    let viewer = Auth::Cookie(server.log_in(VIEWER).await);
    for (auth, expected) in [
        (Auth::None, StatusCode::UNAUTHORIZED),
        (viewer, StatusCode::FORBIDDEN),
    ] {
        let (status, body) = server
            .call(
                Method::POST,
                &format!("/api/v1/incidents/{id}/acknowledge"),
                &auth,
                Some(json!({})),
            )
            .await;
        assert_eq!(status, expected, "{body}");
    }

    // The rest of the outage is quiet: no reminder, no escalation.
    for _ in 0..14 {
        step(false).await;
    }
    let boxes = mailboxes(&smtp, &mut seen.borrow_mut());
    assert_eq!(new(&boxes, FIRST).len(), 2, "{:#?}", new(&boxes, FIRST));
    assert!(
        new(&boxes, ESCALATED).is_empty(),
        "{:#?}",
        new(&boxes, ESCALATED)
    );
    drop(shop);
    let shop = Shop::open(port).await;
    // PagerDuty: one alert per outage, triggered, acknowledged (the second
    // time), resolved. Every channel is delivered on its own, so the steps
    // go on until the e-mail and both resolves have landed.
    let paged_alerts = || {
        let mut alerts: Vec<(String, Vec<String>)> = Vec::new();
        for request in paged.lock().unwrap().iter() {
            let event = request.json();
            let key = event["dedup_key"].as_str().unwrap_or_default().to_owned();
            let action = event["event_action"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            match alerts.iter_mut().find(|(known, _)| *known == key) {
                Some((_, actions)) => actions.push(action),
                None => alerts.push((key, vec![action])),
            }
        }
        alerts
            .into_iter()
            .map(|(_, actions)| actions)
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let boxes = loop {
        let boxes = step(true).await;
        let resolves = paged_alerts()
            .iter()
            .flatten()
            .filter(|action| *action == "resolve")
            .count();
        if resolves == 2
            && new(&boxes, FIRST)
                .iter()
                .any(|mail| mail.kind() == "recovered")
        {
            break boxes;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery notice or resolve: {boxes:#?} {:?}",
            paged_alerts()
        );
    };
    let told = new(&boxes, FIRST);
    assert_eq!(
        told.iter().map(Mail::kind).collect::<Vec<_>>(),
        ["down", "reminder", "recovered"],
        "{told:#?}"
    );
    assert!(
        told[2]
            .text
            .contains(&format!("{FIRST} is on it (acknowledged ")),
        "{}",
        told[2].text
    );
    assert!(
        new(&boxes, ESCALATED).is_empty(),
        "{:#?}",
        new(&boxes, ESCALATED)
    );

    let actions = paged_alerts();
    assert_eq!(
        actions,
        [
            vec!["trigger", "resolve"],
            vec!["trigger", "acknowledge", "resolve"]
        ],
    );
    // Afterwards: comments go on the timeline under their author; a closed
    // incident is not acknowledged.
    let (status, comment) = server
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/comments"),
            &admin,
            Some(json!({"text": "the shop's process ran out of memory"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{comment}");
    assert_eq!(
        (&comment["kind"], &comment["author"]),
        (&json!("comment"), &json!(ADMIN.0))
    );
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/comments"),
            &admin,
            Some(json!({"text": "  "})),
        )
        .await;
    assert_eq!(
        (status, &body["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("text"))
    );
    // Comments are counted in characters, not bytes: 2000 of them fit,
    // one more is refused with the limit named, and nothing is stored.
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/comments"),
            &admin,
            Some(json!({"text": "é".repeat(2000)})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/comments"),
            &admin,
            Some(json!({"text": "x".repeat(2001)})),
        )
        .await;
    assert_eq!(
        (status, &body["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("text")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("2000"), "{body}");
    let (_, detail) = server
        .call(
            Method::GET,
            &format!("/api/v1/incidents/{id}"),
            &admin,
            None,
        )
        .await;
    let comments = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["kind"] == "comment")
        .count();
    assert_eq!(comments, 2, "{detail}");
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/acknowledge"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, resolved) = server
        .call(
            Method::GET,
            "/api/v1/incidents?state=resolved",
            &admin,
            None,
        )
        .await;
    assert!(resolved.as_array().unwrap().iter().any(|i| i["id"] == id));
    drop(shop);
    server.stop().await;
}
