use super::*;
use serde_json::json;

fn http(extra: serde_json::Value) -> serde_json::Value {
    let mut base = json!({"name": "shop home", "type": "http", "url": "https://shop.example.com/"});
    if let (Some(base), serde_json::Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

#[test]
fn a_minimal_http_monitor_gets_defaults() {
    let spec = MonitorSpec::from_json(http(json!({}))).unwrap();
    assert!(spec.settings.enabled);
    assert_eq!(spec.settings.checkpoints, ["local"]);
    assert!(matches!(spec.schedule().unwrap(), Schedule::Every(d) if d == Duration::from_secs(60)));
    assert_eq!(spec.timeout(), Duration::from_secs(30));
    let CheckSpec::Http(check) = &spec.check else {
        panic!("not http")
    };
    assert_eq!(check.method, "GET");
    assert!(check.follow_redirects);
}

#[test]
fn the_document_round_trips() {
    let document = http(json!({
        "every": "30s", "timeout": "10s", "tags": ["shop"], "site": "shop", "alert_policy": "on-call",
        "expect": {"status": [200], "body_contains": "Add to cart", "max_response_ms": 2000}
    }));
    let spec = MonitorSpec::from_json(document).unwrap();
    let again = MonitorSpec::from_json(spec.to_json()).unwrap();
    assert_eq!(spec, again);
    assert_eq!(spec.to_json()["every"], "30s");
    assert_eq!(spec.to_json()["type"], "http");

    // A journey comes back as written: `type` steps, timeouts as text, the
    // secret's placeholder.
    let journey = json!({"name": "log in", "type": "transaction", "screenshot": "always",
    "steps": [
        {"navigate": "https://shop.example.com/login"},
        {"type": {"into": "#password", "text": "{{secrets.PASSWORD}}"}},
        {"name": "go", "click": "#login", "timeout": "5s"},
        {"assert_url": {"matches": "/account$"}}
    ]});
    let spec = MonitorSpec::from_json(journey.clone()).unwrap();
    assert_eq!(MonitorSpec::from_json(spec.to_json()).unwrap(), spec);
    let written = spec.to_json();
    assert_eq!(written["steps"], journey["steps"]);
    assert_eq!(written["screenshot"], "always");
    assert_eq!(spec.check.host().as_deref(), Some("shop.example.com"));
}

#[test]
fn every_type_parses() {
    let documents = [
        json!({"name": "t", "type": "tcp", "host": "mail.example.com", "port": 25, "expect_banner": "220"}),
        json!({"name": "d", "type": "dns", "host": "shop.example.com", "record_type": "AAAA", "expect": ["::1"]}),
        json!({"name": "l", "type": "tls", "host": "example.com", "warn_days": 30}),
        json!({"name": "p", "type": "ping", "host": "127.0.0.1"}),
        json!({"name": "a", "type": "api", "steps": [
            {"name": "login", "method": "POST", "url": "https://api.example.com/login", "body": "{}",
             "extract": [{"name": "token", "json_path": "$.token"}], "expect": {"status": [200]}},
            {"name": "me", "url": "https://api.example.com/me", "headers": {"Authorization": "Bearer {{token}}"},
             "expect": {"json": [{"path": "$.id", "exists": true}]}}
        ]}),
    ];
    for document in documents {
        let type_name = document["type"].as_str().unwrap().to_owned();
        let spec = MonitorSpec::from_json(document).unwrap();
        assert_eq!(spec.check.type_name(), type_name);
    }
}

#[test]
fn unknown_types_and_fields_are_named() {
    let err = MonitorSpec::from_json(json!({"name": "x", "type": "smtp"})).unwrap_err();
    assert_eq!(err.field, "type");
    assert!(
        err.message.contains("unknown monitor type `smtp`"),
        "{}",
        err.message
    );
    let err = MonitorSpec::from_json(json!({"name": "x"})).unwrap_err();
    assert_eq!(err.field, "type");
    let err = MonitorSpec::from_json(http(json!({"expect": {"statuss": [200]}}))).unwrap_err();
    assert_eq!(err.field, "expect.statuss");
    let err = MonitorSpec::from_json(http(json!({"urll": "x"}))).unwrap_err();
    assert_eq!(err.field, "urll");
}

#[test]
fn wrong_types_are_named() {
    let err = MonitorSpec::from_json(http(json!({"expect": {"status": ["ok"]}}))).unwrap_err();
    assert_eq!(err.field, "expect.status[0]");
    let err =
        MonitorSpec::from_json(json!({"name": "t", "type": "tcp", "host": "h", "port": 70000}))
            .unwrap_err();
    assert_eq!(err.field, "port");
}

#[test]
fn rules_beyond_types_are_enforced() {
    let cases = [
        (http(json!({"url": "ftp://x"})), "url"),
        (http(json!({"every": "5s"})), "every"),
        (http(json!({"every": "2days"})), "every"),
        (http(json!({"every": "1m", "cron": "* * * * *"})), "cron"),
        (http(json!({"cron": "not cron"})), "cron"),
        (http(json!({"every": "10s", "timeout": "20s"})), "timeout"),
        (http(json!({"checkpoints": []})), "checkpoints"),
        (
            http(json!({"checkpoints": ["local", "Bad Name"]})),
            "checkpoints[1]",
        ),
        (
            http(json!({"checkpoints": ["east", "west", "east"]})),
            "checkpoints[2]",
        ),
        (
            http(json!({"checkpoints": ["east", "west"], "down_when_failing": 3})),
            "down_when_failing",
        ),
        (http(json!({"down_when_failing": 0})), "down_when_failing"),
        (
            http(json!({"expect": {"status": [700]}})),
            "expect.status[0]",
        ),
        (
            http(json!({"expect": {"body_matches": "("}})),
            "expect.body_matches",
        ),
        (
            http(json!({"expect": {"degraded_response_ms": 500, "max_response_ms": 400}})),
            "expect.degraded_response_ms",
        ),
        (
            http(json!({"headers": {"Bad Header": "x"}})),
            "headers.Bad Header",
        ),
        (http(json!({"method": "FETCH"})), "method"),
        (
            http(json!({"expect": {"json": [{"path": "id"}]}})),
            "expect.json[0].path",
        ),
        (http(json!({"name": "  "})), "name"),
        (
            json!({"name": "t", "type": "tcp", "host": "h", "port": 0}),
            "port",
        ),
        (
            json!({"name": "t", "type": "tcp", "host": "a b", "port": 1}),
            "host",
        ),
        (json!({"name": "d", "type": "dns"}), "host"),
        (
            json!({"name": "d", "type": "dns", "host": "x.com", "expect": ["nope"]}),
            "expect[0]",
        ),
        (
            json!({"name": "l", "type": "tls", "host": "x.com", "warn_days": 5, "error_days": 10}),
            "error_days",
        ),
        (
            json!({"name": "p", "type": "ping", "host": "x.com", "count": 0}),
            "count",
        ),
        (json!({"name": "a", "type": "api", "steps": []}), "steps"),
        (
            json!({"name": "a", "type": "api", "steps": [{"name": "s", "url": "gopher://x"}]}),
            "steps[0].url",
        ),
        (
            json!({"name": "a", "type": "api", "steps": [{"name": "s", "url": "https://x",
            "extract": [{"name": "t", "json_path": "$.a", "header": "X"}]}]}),
            "steps[0].extract[0]",
        ),
    ];
    for (document, field) in cases {
        let text = document.to_string();
        match MonitorSpec::from_json(document) {
            Ok(_) => panic!("accepted {text}"),
            Err(err) => assert_eq!(err.field, field, "{text}: {err}"),
        }
    }
}

#[test]
fn cron_schedules_are_accepted() {
    let spec = MonitorSpec::from_json(http(json!({"cron": "*/5 * * * *"}))).unwrap();
    assert!(matches!(spec.schedule().unwrap(), Schedule::Cron(_)));
}

#[test]
fn a_misspelt_setting_is_shown_beside_the_settings_every_monitor_has() {
    let error = MonitorSpec::from_json(http(json!({"evry": "30s"}))).unwrap_err();
    assert_eq!(error.field, "evry", "{error:?}");
    assert!(error.message.contains("unknown field `evry`"), "{error:?}");
    // The check's own fields, then the monitor's.
    assert!(error.message.contains("`follow_redirects`"), "{error:?}");
    assert!(
        error.message.contains("or one every monitor has: `name`"),
        "{error:?}"
    );
    assert!(error.message.contains("`every`"), "{error:?}");
    // A nested key is the check's alone.
    let nested = MonitorSpec::from_json(http(json!({"expect": {"evry": 1}}))).unwrap_err();
    assert!(!nested.message.contains("every monitor has"), "{nested:?}");
}
