//! Every channel against a local receiver that checks what it is sent
//! against the vendor's documented shape: an outage and its recovery reach
//! each one (PagerDuty and Opsgenie get a trigger and its resolution under
//! one key), secrets come from the vault, "send a test" works for each, and
//! no failure's words spell out a secret.

use super::{ADMIN, Auth, TestServer, VIEWER, serve_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sightline_server::ServerConfig;
use sightline_store::BackendKind;
use sightline_store::testing::free_port;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PD_KEY: &str = "R0UT1NGKEY0123456789abcdef012345";
const OPSGENIE_KEY: &str = "5bd9c1f0-0f7e-4c39-8f0a-opsgenie";
const BOT_TOKEN: &str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11";
const HOOK_SECRET: &str = "hook signing secret";

/// One request a receiver got.
#[derive(Debug, Clone)]
pub(super) struct Received {
    pub(super) path: String,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Received {
    pub(super) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A receiver standing in for every vendor: it keeps each request and
/// answers as that vendor does.
pub(super) async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let log = kept.clone();
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let path = uri
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default();
                log.lock().unwrap().push(Received {
                    path: path.clone(),
                    headers: headers.clone(),
                    body,
                });
                use axum::http::StatusCode as S;
                if path.starts_with("/pd/") {
                    (S::ACCEPTED, r#"{"status":"success","message":"Event processed","dedup_key":"k"}"#.to_owned())
                } else if path.starts_with("/og/") {
                    (S::ACCEPTED, r#"{"result":"Request will be processed","took":0.1,"requestId":"r"}"#.to_owned())
                } else if path.starts_with("/tg/bot") {
                    if path.contains("wrong") {
                        (S::BAD_REQUEST, r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#.to_owned())
                    } else {
                        (S::OK, r#"{"ok":true,"result":{"message_id":42}}"#.to_owned())
                    }
                } else if path.starts_with("/teams") {
                    (S::ACCEPTED, String::new())
                } else if path.starts_with("/discord") {
                    (S::NO_CONTENT, String::new())
                } else {
                    (S::OK, "ok".to_owned())
                }
            }
        },
    );
    (serve_app(app).await, kept)
}

pub(super) fn check_slack(message: &Value) {
    assert!(!message["text"].as_str().unwrap().is_empty(), "{message}");
    let blocks = message["blocks"].as_array().unwrap();
    assert!(!blocks.is_empty() && blocks.len() <= 50, "{message}");
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= 150);
    for block in &blocks[1..] {
        if block["type"] == "section" {
            assert_eq!(block["text"]["type"], "mrkdwn");
            assert!(block["text"]["text"].as_str().unwrap().chars().count() <= 3000);
            assert_eq!(block["accessory"]["type"], "button");
        }
    }
}

fn check_teams(message: &Value) {
    assert_eq!(message["type"], "message", "{message}");
    let attachment = &message["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachment["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert!(
        card["$schema"]
            .as_str()
            .unwrap()
            .starts_with("http://adaptivecards.io/")
    );
    for element in card["body"].as_array().unwrap() {
        assert!(
            matches!(element["type"].as_str(), Some("TextBlock" | "FactSet")),
            "{element}"
        );
    }
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
}

fn check_discord(message: &Value) {
    assert!(message["content"].as_str().unwrap().chars().count() <= 2000);
    let embeds = message["embeds"].as_array().unwrap();
    assert!(!embeds.is_empty() && embeds.len() <= 10, "{message}");
    let mut total = 0;
    for embed in embeds {
        let title = embed["title"].as_str().unwrap();
        assert!(title.chars().count() <= 256);
        total += title.chars().count();
        let fields = embed["fields"].as_array().unwrap();
        assert!(fields.len() <= 25);
        for field in fields {
            let value = field["value"].as_str().unwrap();
            assert!(!value.is_empty() && value.chars().count() <= 1024);
            total += value.chars().count() + field["name"].as_str().unwrap().chars().count();
        }
        assert!(embed["color"].is_u64());
    }
    assert!(total <= 6000, "{total}");
    assert_eq!(message["allowed_mentions"], json!({"parse": []}));
}

fn check_telegram(message: &Value) {
    assert_eq!(message["chat_id"], -100_123, "{message}");
    assert_eq!(message["parse_mode"], "HTML");
    assert!(message["text"].as_str().unwrap().chars().count() <= 4096);
}

/// The webhook's signature, checked by Python's own HMAC.
fn check_signature(request: &Received) {
    let header = |name: &str| request.headers[name].to_str().unwrap().to_owned();
    assert!(!header("idempotency-key").is_empty());
    let timestamp = header("x-sightline-timestamp");
    let signature = header("x-sightline-signature");
    let script = "import hmac,hashlib,sys\n\
                  key, stamp, body = sys.argv[1].encode(), sys.argv[2], sys.stdin.read()\n\
                  print('sha256=' + hmac.new(key, (stamp + '.' + body).encode(), hashlib.sha256).hexdigest())";
    let mut python = std::process::Command::new("python3")
        .args(["-c", script, HOOK_SECRET, &timestamp])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    python
        .stdin
        .take()
        .unwrap()
        .write_all(request.body.as_bytes())
        .unwrap();
    let output = python.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), signature);
}

async fn received_at_least(kept: &Mutex<Vec<Received>>, count: usize) -> Vec<Received> {
    let started = std::time::Instant::now();
    loop {
        let now = kept.lock().unwrap().clone();
        if now.len() >= count {
            tokio::time::sleep(Duration::from_secs(1)).await;
            return kept.lock().unwrap().clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "{} of {count} requests arrived: {now:#?}",
            now.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(super) async fn every_channel_hears_of_an_outage_in_its_vendors_shape(kind: BackendKind) {
    let config = ServerConfig {
        vault_key: Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned()),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    for (name, value) in [
        ("PD_KEY", PD_KEY),
        ("OPSGENIE", OPSGENIE_KEY),
        ("TG", BOT_TOKEN),
        ("HOOK", HOOK_SECRET),
    ] {
        let (status, body) = server
            .call(
                Method::PUT,
                &format!("/api/v1/secrets/{name}"),
                &admin,
                Some(json!({"value": value})),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (base, kept) = receiver().await;
    let failing = Arc::new(AtomicBool::new(true));
    let state = failing.clone();
    let target = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let failing = state.load(Ordering::SeqCst);
            async move {
                if failing {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down")
                } else {
                    (axum::http::StatusCode::OK, "up")
                }
            }
        }),
    );
    let url = format!("{}/", serve_app(target).await);
    let level = json!({
        "after": "1 confirmed error",
        "webhook": [{"url": format!("{base}/hook"), "secret": "{{secrets.HOOK}}"}],
        "slack": [{"webhook_url": format!("{base}/slack/services/T0/B0/x")}],
        "teams": [{"webhook_url": format!("{base}/teams/workflows/x")}],
        "pagerduty": [{"routing_key": "{{secrets.PD_KEY}}", "url": format!("{base}/pd")}],
        "opsgenie": [{"api_key": "{{secrets.OPSGENIE}}", "url": format!("{base}/og")}],
        "discord": [{"webhook_url": format!("{base}/discord/api/webhooks/1/x")}],
        "telegram": [{"bot_token": "{{secrets.TG}}", "chat_id": -100_123, "url": format!("{base}/tg")}],
    });
    let (status, policy) = server
        .call(
            Method::POST,
            "/api/v1/alert-policies",
            &admin,
            Some(json!({"name": "on-call", "levels": [level]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{policy}");
    // A viewer sees where messages go, not the addresses that let anyone
    // post there.
    let viewer = Auth::Cookie(server.log_in(VIEWER).await);
    let (_, seen) = server
        .call(Method::GET, "/api/v1/alert-policies", &viewer, None)
        .await;
    let seen_level = &seen[0]["levels"][0];
    assert_eq!(
        seen_level["slack"][0]["webhook_url"], "http://127.0.0.1/…",
        "{seen}"
    );
    assert_eq!(
        seen_level["pagerduty"][0]["routing_key"],
        "{{secrets.PD_KEY}}"
    );
    let (_, full) = server
        .call(Method::GET, "/api/v1/alert-policies", &admin, None)
        .await;
    assert_eq!(
        full[0]["levels"][0]["slack"][0]["webhook_url"],
        level["slack"][0]["webhook_url"]
    );

    let id = server
        .create_monitor(
            &admin,
            json!({"name": "shop", "type": "http", "url": url, "every": "1h", "alert_policy": "on-call"}),
        )
        .await;
    server.run_now(&admin, id).await;
    let down = received_at_least(&kept, 7).await;
    assert_eq!(down.len(), 7, "one message per channel: {down:#?}");
    let by = |prefix: &str, list: &[Received]| -> Vec<Received> {
        list.iter()
            .filter(|r| r.path.starts_with(prefix))
            .cloned()
            .collect()
    };
    check_slack(&by("/slack/", &down)[0].json());
    check_teams(&by("/teams/", &down)[0].json());
    check_discord(&by("/discord/", &down)[0].json());
    let telegram = &by("/tg/", &down)[0];
    assert_eq!(telegram.path, format!("/tg/bot{BOT_TOKEN}/sendMessage"));
    check_telegram(&telegram.json());
    let hook = &by("/hook", &down)[0];
    check_signature(hook);
    assert_eq!(hook.json()["type"], "down");
    let trigger = by("/pd/", &down)[0].clone();
    assert_eq!(trigger.path, "/pd/v2/enqueue");
    let event = trigger.json();
    assert_eq!(event["routing_key"], PD_KEY);
    assert_eq!(event["event_action"], "trigger");
    let dedup_key = event["dedup_key"].as_str().unwrap().to_owned();
    assert!(dedup_key.len() <= 255);
    assert!(
        event["payload"]["summary"]
            .as_str()
            .unwrap()
            .chars()
            .count()
            <= 1024
    );
    assert!(!event["payload"]["source"].as_str().unwrap().is_empty());
    assert_eq!(event["payload"]["severity"], "critical");
    let create = by("/og/", &down)[0].clone();
    assert_eq!(create.path, "/og/v2/alerts");
    assert_eq!(
        create.headers["authorization"],
        format!("GenieKey {OPSGENIE_KEY}").as_str()
    );
    let alert = create.json();
    assert!(alert["message"].as_str().unwrap().chars().count() <= 130);
    assert_eq!(alert["alias"], dedup_key.as_str());
    assert_eq!(alert["priority"], "P1");

    // Back up: every chat hears of the recovery; the incident tools get
    // the resolution of the same alert.
    failing.store(false, Ordering::SeqCst);
    server.run_now(&admin, id).await;
    let all = received_at_least(&kept, 14).await;
    assert_eq!(all.len(), 14, "{all:#?}");
    let after = &all[7..];
    let resolve = by("/pd/", after)[0].json();
    assert_eq!(
        (
            resolve["event_action"].as_str(),
            resolve["dedup_key"].as_str(),
            resolve["routing_key"].as_str()
        ),
        (Some("resolve"), Some(dedup_key.as_str()), Some(PD_KEY))
    );
    let close = &by("/og/", after)[0];
    let alias: String = url::form_urlencoded::byte_serialize(dedup_key.as_bytes()).collect();
    assert_eq!(
        close.path,
        format!("/og/v2/alerts/{alias}/close?identifierType=alias")
    );
    assert_eq!(by("/hook", after)[0].json()["type"], "recovered");
    check_slack(&by("/slack/", after)[0].json());
    check_teams(&by("/teams/", after)[0].json());
    check_discord(&by("/discord/", after)[0].json());
    check_telegram(&by("/tg/", after)[0].json());

    // The incident lists who was told, naming no webhook.
    let (_, incidents) = server
        .call(Method::GET, "/api/v1/incidents", &admin, None)
        .await;
    let incident = incidents[0]["id"].as_i64().unwrap();
    let (_, detail) = server
        .call(
            Method::GET,
            &format!("/api/v1/incidents/{incident}"),
            &admin,
            None,
        )
        .await;
    let text = detail["notifications"].to_string();
    assert!(!text.contains(&base) && !text.contains(BOT_TOKEN), "{text}");
    server.stop().await;
}

pub(super) async fn each_channel_can_be_sent_a_test(kind: BackendKind) {
    let config = ServerConfig {
        vault_key: Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned()),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (base, kept) = receiver().await;
    let test = "/api/v1/notifications/test";
    let (status, listed) = server
        .call(Method::GET, "/api/v1/alert-channels", &admin, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 7, "{listed}");
    for (channel, target, answer) in [
        (
            "slack",
            json!({"webhook_url": format!("{base}/slack/x")}),
            "HTTP 200",
        ),
        (
            "teams",
            json!({"webhook_url": format!("{base}/teams/x")}),
            "HTTP 202",
        ),
        (
            "discord",
            json!({"webhook_url": format!("{base}/discord/x")}),
            "HTTP 204",
        ),
        (
            "webhook",
            json!({"url": format!("{base}/hook")}),
            "HTTP 200",
        ),
        (
            "pagerduty",
            json!({"routing_key": PD_KEY, "url": format!("{base}/pd")}),
            "HTTP 202",
        ),
        (
            "opsgenie",
            json!({"api_key": OPSGENIE_KEY, "url": format!("{base}/og")}),
            "HTTP 202",
        ),
        (
            "telegram",
            json!({"bot_token": BOT_TOKEN, "chat_id": "-100123", "url": format!("{base}/tg")}),
            "HTTP 200, message 42",
        ),
    ] {
        let (status, body) = server
            .call(
                Method::POST,
                test,
                &admin,
                Some(json!({"channel": channel, "target": target})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{channel}: {body}");
        assert_eq!(
            (body["status"].as_str(), body["answer"].as_str()),
            (Some("sent"), Some(answer)),
            "{channel}: {body}"
        );
    }
    // An incident tool's test alert is resolved right after it.
    let received = received_at_least(&kept, 9).await;
    let pd: Vec<Value> = received
        .iter()
        .filter(|r| r.path.starts_with("/pd/"))
        .map(Received::json)
        .collect();
    assert_eq!(pd.len(), 2, "{pd:?}");
    assert_eq!(
        (
            pd[0]["event_action"].as_str(),
            pd[1]["event_action"].as_str()
        ),
        (Some("trigger"), Some("resolve"))
    );
    assert_eq!(pd[0]["dedup_key"], pd[1]["dedup_key"]);

    // The receiver's own words say why not; no secret is spelled out.
    let (_, body) = server
        .call(
            Method::POST,
            test,
            &admin,
            Some(json!({"channel": "telegram", "target": {"bot_token": "wrong:token", "chat_id": "-1", "url": format!("{base}/tg")}})),
        )
        .await;
    assert_eq!(body["status"], "failed", "{body}");
    assert_eq!(body["error"], "HTTP 400: Bad Request: chat not found");
    let closed = free_port();
    let (_, body) = server
        .call(
            Method::POST,
            test,
            &admin,
            Some(json!({"channel": "telegram", "target": {"bot_token": BOT_TOKEN, "chat_id": "-1", "url": format!("http://127.0.0.1:{closed}")}})),
        )
        .await;
    assert_eq!(body["status"], "failed", "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.starts_with("telegram: "), "{error}");
    assert!(
        !error.contains(BOT_TOKEN) && !error.contains("bot"),
        "{error}"
    );
    // A secret that is not in the vault is named.
    let (_, body) = server
        .call(
            Method::POST,
            test,
            &admin,
            Some(json!({"channel": "pagerduty", "target": {"routing_key": "{{secrets.MISSING}}", "url": format!("{base}/pd")}})),
        )
        .await;
    assert_eq!(
        body["error"], "`{{secrets.MISSING}}` is not in the vault",
        "{body}"
    );

    // Bad settings are refused with the field named.
    for (request, field) in [
        (json!({"channel": "slak", "target": {}}), "channel"),
        (
            json!({"channel": "slack", "target": {"webhook_url": "not a url"}}),
            "target.webhook_url",
        ),
        (
            json!({"channel": "telegram", "target": {"bot_token": "1:a"}}),
            "target.chat_id",
        ),
        (
            json!({"channel": "slack", "target": {"webhook_url": "https://x.example", "channel": "#ops"}}),
            "target.channel",
        ),
        (json!({"channel": "slack"}), "target"),
    ] {
        let (status, body) = server
            .call(Method::POST, test, &admin, Some(request.clone()))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{request}: {body}"
        );
        assert_eq!(body["field"], field, "{request}: {body}");
    }
    let viewer = Auth::Cookie(server.log_in(VIEWER).await);
    let (status, _) = server
        .call(
            Method::POST,
            test,
            &viewer,
            Some(json!({"channel": "slack", "target": {"webhook_url": format!("{base}/slack/x")}})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    server.stop().await;
}
