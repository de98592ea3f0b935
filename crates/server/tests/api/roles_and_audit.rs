//! Editors change what is monitored but not who may; the audit log holds
//! every change with who made it, when, from where and what it did.

use super::*;

const VAULT_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// Whether an editor may make this request: everything but people, tokens,
/// the vault and the audit log.
fn editors_may(method: &Method, path: &str) -> bool {
    let administration = ["/api/v1/users", "/api/v1/tokens", "/api/v1/secrets"]
        .iter()
        .any(|prefix| path.starts_with(prefix));
    !path.starts_with("/api/v1/audit-log") && (method == Method::GET || !administration)
}

/// An admin's session, and an editor's session and token.
async fn admin_and_editor(server: &TestServer) -> (Auth, Auth, Auth, i64) {
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let editor_id = server.add_editor(&admin).await;
    let editor = Auth::Cookie(server.log_in(EDITOR).await);
    let (status, token) = server
        .call(
            Method::POST,
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "editor's script", "user_id": editor_id, "role": "editor"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let editor_token = Auth::Bearer(token["token"].as_str().unwrap().to_owned());
    (admin, editor, editor_token, editor_id)
}

pub(super) async fn editors_change_what_is_monitored_but_not_who_may(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let (admin, editor, editor_token, editor_id) = admin_and_editor(&server).await;
    let (_, who) = server
        .call(Method::GET, "/api/v1/session", &editor, None)
        .await;
    assert_eq!(
        (
            &who["user"]["role"],
            &who["can_write"],
            &who["can_administer"]
        ),
        (&json!("editor"), &json!(true), &json!(false)),
        "{who}"
    );

    // Every route: refused exactly where an editor may not go. Ids that
    // name nothing, so that what is let through changes nothing.
    let (_, openapi) = server
        .call(Method::GET, "/api/v1/openapi.json", &Auth::None, None)
        .await;
    let (mut refused, mut let_through) = (0, 0);
    for (method, path) in operations(&openapi) {
        let own = path.starts_with("/api/v1/session");
        if !path.starts_with("/api/v1/") || path.starts_with("/api/v1/checkpoints/") || own {
            continue;
        }
        let path = path
            .replace("/1", "/999999")
            .replace("{name}", "NOPE")
            .replace("{incident}", "999999")
            .replace("{update}", "999999")
            .replace("{result_id}", "999999")
            .replace("{number}", "1");
        for auth in [&editor, &editor_token] {
            let (status, body) = server
                .call(method.clone(), &path, auth, Some(json!({"name": "x"})))
                .await;
            if editors_may(&method, &path) {
                assert_ne!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
            } else {
                assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
                assert!(
                    body["message"].as_str().unwrap().contains("only admins"),
                    "{body}"
                );
            }
        }
        if editors_may(&method, &path) {
            let_through += 1;
        } else {
            refused += 1;
        }
    }
    assert!(refused >= 8, "only {refused} refusals checked");
    assert!(let_through >= 40, "only {let_through} operations checked");

    // What editors are for: the configuration of what is monitored.
    let (status, site) = server
        .call(
            Method::POST,
            "/api/v1/sites",
            &editor_token,
            Some(json!({"name": "shop"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    let (status, policy) = server
        .call(
            Method::POST,
            "/api/v1/alert-policies",
            &editor,
            Some(json!({"name": "on-call", "levels": [{"after": "1 confirmed error", "email": ["ops@example.com"]}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{policy}");
    // An editor sees a policy's channels whole (they may change them); a
    // viewer does not.
    let (status, monitor) = server
        .call(
            Method::POST,
            "/api/v1/monitors",
            &editor,
            Some(json!({"name": "shop home", "type": "tcp", "host": "127.0.0.1", "port": 9, "every": "1h", "alert_policy": "on-call"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{monitor}");

    // Not who may: no admin token for an editor, no promotion of oneself.
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "too much", "user_id": editor_id, "role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("is an editor and cannot own an admin token"),
        "{body}"
    );
    let (status, _) = server
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{editor_id}"),
            &editor,
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Made a viewer, the editor's token reads only.
    let (status, _) = server
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{editor_id}"),
            &admin,
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/sites",
            &editor_token,
            Some(json!({"name": "blog"})),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (_, sites) = server
        .call(Method::GET, "/api/v1/sites", &admin, None)
        .await;
    let mut names: Vec<&str> = sites
        .as_array()
        .unwrap()
        .iter()
        .map(|site| site["name"].as_str().unwrap())
        .collect();
    names.sort();
    // `x` is what the sweep above let through.
    assert_eq!(names, ["shop", "x"]);
    server.stop().await;
}

/// The entries the log answers for `query`.
async fn entries(server: &TestServer, auth: &Auth, query: &str) -> Vec<Value> {
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/api/v1/audit-log{query}"),
            auth,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

pub(super) async fn every_change_is_in_the_audit_log(kind: BackendKind) {
    let config = ServerConfig {
        vault_key: Some(VAULT_KEY.to_owned()),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let (admin, editor, editor_token, editor_id) = admin_and_editor(&server).await;
    let call = async |method: Method, path: &str, auth: &Auth, body: Option<Value>| {
        let (status, answer) = server.call(method.clone(), path, auth, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    };

    // Every kind of change, by the editor where an editor may.
    let site = call(
        Method::POST,
        "/api/v1/sites",
        &editor,
        Some(json!({"name": "shop"})),
    )
    .await;
    let site_id = site["id"].as_i64().unwrap();
    call(
        Method::PUT,
        &format!("/api/v1/sites/{site_id}"),
        &editor,
        Some(json!({"name": "shop", "origins": ["https://shop.example.com"]})),
    )
    .await;
    let monitor =
        json!({"name": "shop home", "type": "tcp", "host": "127.0.0.1", "port": 9, "every": "1h"});
    let created = call(
        Method::POST,
        "/api/v1/monitors",
        &editor_token,
        Some(monitor.clone()),
    )
    .await;
    let monitor_id = created["id"].as_i64().unwrap();
    let mut changed = monitor.clone();
    changed["every"] = json!("30m");
    call(
        Method::PUT,
        &format!("/api/v1/monitors/{monitor_id}"),
        &editor_token,
        Some(changed),
    )
    .await;
    let policy = json!({"name": "on-call", "levels": [{"after": "1 confirmed error", "email": ["ops@example.com"]}]});
    let created_policy = call(
        Method::POST,
        "/api/v1/alert-policies",
        &editor,
        Some(policy.clone()),
    )
    .await;
    let policy_id = created_policy["id"].as_i64().unwrap();
    let window = json!({"name": "deploys", "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-01T01:00:00Z", "monitors": ["shop home"]});
    let created_window = call(
        Method::POST,
        "/api/v1/maintenance-windows",
        &editor,
        Some(window),
    )
    .await;
    let window_id = created_window["id"].as_i64().unwrap();
    let page = json!({"title": "Shop status", "slug": "shop",
        "groups": [{"name": "Website", "components": [{"name": "Shop", "monitors": ["shop home"]}]}]});
    let created_page = call(Method::POST, "/api/v1/status-pages", &editor, Some(page)).await;
    let page_id = created_page["id"].as_i64().unwrap();
    let incident = call(
        Method::POST,
        &format!("/api/v1/status-pages/{page_id}/incidents"),
        &editor,
        Some(
            json!({"title": "Slow checkout", "components": ["Shop"], "message": "We are looking."}),
        ),
    )
    .await;
    let incident_id = incident["id"].as_i64().unwrap();
    call(
        Method::POST,
        &format!("/api/v1/status-pages/{page_id}/incidents/{incident_id}/updates"),
        &editor,
        Some(json!({"state": "resolved", "message": "Fixed."})),
    )
    .await;
    let (_, user) = server
        .call(
            Method::POST,
            "/api/v1/users",
            &admin,
            Some(json!({"email": "temp@example.com", "password": "a temporary password"})),
        )
        .await;
    let user_id = user["id"].as_i64().unwrap();
    call(
        Method::PATCH,
        &format!("/api/v1/users/{user_id}"),
        &admin,
        Some(json!({"role": "editor"})),
    )
    .await;
    call(
        Method::PATCH,
        &format!("/api/v1/users/{user_id}"),
        &admin,
        Some(json!({"password": "a new temporary password"})),
    )
    .await;
    let token = call(
        Method::POST,
        "/api/v1/tokens",
        &admin,
        Some(json!({"name": "ci"})),
    )
    .await;
    let token_secret = token["token"].as_str().unwrap().to_owned();
    let secret_value = "hunter2-never-logged";
    call(
        Method::PUT,
        "/api/v1/secrets/SHOP_PASSWORD",
        &admin,
        Some(json!({"value": secret_value})),
    )
    .await;
    call(
        Method::PUT,
        "/api/v1/secrets/SHOP_PASSWORD",
        &admin,
        Some(json!({"value": "another"})),
    )
    .await;
    call(
        Method::DELETE,
        "/api/v1/secrets/SHOP_PASSWORD",
        &admin,
        None,
    )
    .await;
    call(
        Method::DELETE,
        &format!("/api/v1/tokens/{}", token["id"]),
        &admin,
        None,
    )
    .await;
    call(
        Method::DELETE,
        &format!("/api/v1/users/{user_id}"),
        &admin,
        None,
    )
    .await;
    call(
        Method::DELETE,
        &format!("/api/v1/status-pages/{page_id}/incidents/{incident_id}"),
        &editor,
        None,
    )
    .await;
    call(
        Method::DELETE,
        &format!("/api/v1/status-pages/{page_id}"),
        &editor,
        None,
    )
    .await;
    call(
        Method::DELETE,
        &format!("/api/v1/maintenance-windows/{window_id}"),
        &editor,
        None,
    )
    .await;
    call(
        Method::DELETE,
        &format!("/api/v1/monitors/{monitor_id}"),
        &editor,
        None,
    )
    .await;
    call(
        Method::DELETE,
        &format!("/api/v1/alert-policies/{policy_id}"),
        &editor,
        None,
    )
    .await;
    call(
        Method::DELETE,
        &format!("/api/v1/sites/{site_id}"),
        &editor,
        None,
    )
    .await;
    // What changes no configuration leaves no entry; neither does a refusal.
    call(
        Method::POST,
        "/api/v1/monitors/validate",
        &editor,
        Some(monitor.clone()),
    )
    .await;
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/users",
            &editor,
            Some(json!({"email": "x@example.com", "password": "0123456789"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/sites",
            &editor,
            Some(json!({"name": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Only admins read it.
    for auth in [
        &editor,
        &editor_token,
        &Auth::Cookie(server.log_in(VIEWER).await),
    ] {
        let (status, body) = server
            .call(Method::GET, "/api/v1/audit-log", auth, None)
            .await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let (status, _) = server
        .call(Method::GET, "/api/v1/audit-log", &Auth::None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let log = entries(&server, &admin, "?limit=500").await;
    let said: Vec<(String, String, String)> = log
        .iter()
        .rev()
        .map(|entry| {
            (
                entry["action"].as_str().unwrap().to_owned(),
                entry["kind"].as_str().unwrap().to_owned(),
                entry["object_name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("created", "user", "editor@example.com"),
        ("created", "token", "editor's script"),
        ("created", "site", "shop"),
        ("changed", "site", "shop"),
        ("created", "monitor", "shop home"),
        ("changed", "monitor", "shop home"),
        ("created", "alert policy", "on-call"),
        ("created", "maintenance window", "deploys"),
        ("created", "status page", "Shop status"),
        ("created", "status page incident", "Slow checkout"),
        ("changed", "status page incident", "Slow checkout"),
        ("created", "user", "temp@example.com"),
        ("changed", "user", "temp@example.com"),
        ("changed", "user", "temp@example.com"),
        ("created", "token", "ci"),
        ("created", "secret", "SHOP_PASSWORD"),
        ("changed", "secret", "SHOP_PASSWORD"),
        ("deleted", "secret", "SHOP_PASSWORD"),
        ("deleted", "token", "ci"),
        ("deleted", "user", "temp@example.com"),
        ("deleted", "status page incident", "Slow checkout"),
        ("deleted", "status page", "Shop status"),
        ("deleted", "maintenance window", "deploys"),
        ("deleted", "monitor", "shop home"),
        ("deleted", "alert policy", "on-call"),
        ("deleted", "site", "shop"),
    ]
    .iter()
    .map(|(a, k, n)| (a.to_string(), k.to_string(), n.to_string()))
    .collect();
    assert_eq!(said, expected);

    // Who, how and from where.
    let by_kind = |kind: &str, action: &str| {
        log.iter()
            .find(|entry| entry["kind"] == kind && entry["action"] == action)
            .unwrap_or_else(|| panic!("no {action} {kind}"))
            .clone()
    };
    let monitor_change = by_kind("monitor", "changed");
    assert_eq!(monitor_change["actor"], EDITOR.0);
    assert_eq!(monitor_change["actor_id"], editor_id);
    assert!(
        monitor_change["credential"]
            .as_str()
            .unwrap()
            .starts_with("token "),
        "{monitor_change}"
    );
    assert_eq!(monitor_change["address"], "127.0.0.1");
    assert_eq!(monitor_change["object_id"], monitor_id.to_string());
    assert_eq!(
        monitor_change["changes"],
        json!([{"path": "every", "before": "1h", "after": "30m"}]),
        "{monitor_change}"
    );
    let site_change = by_kind("site", "changed");
    assert_eq!(site_change["credential"], "session");
    assert_eq!(
        site_change["changes"],
        json!([{"path": "origins", "before": [], "after": ["https://shop.example.com"]}]),
        "{site_change}"
    );
    let user_changes: Vec<&Value> = log
        .iter()
        .filter(|entry| entry["kind"] == "user" && entry["action"] == "changed")
        .collect();
    assert_eq!(user_changes[1]["actor"], ADMIN.0);
    assert_eq!(
        user_changes[1]["changes"],
        json!([{"path": "role", "before": "viewer", "after": "editor"}])
    );
    assert_eq!(
        user_changes[0]["changes"],
        json!([{"path": "password", "before": null, "after": "set anew"}])
    );
    let secret_change = by_kind("secret", "changed");
    assert_eq!(
        secret_change["changes"],
        json!([{"path": "value", "before": null, "after": "set anew"}]),
        "{secret_change}"
    );
    let deleted = by_kind("monitor", "deleted");
    assert_eq!(deleted["before"]["every"], "30m");
    assert!(deleted["after"].is_null());
    let created = by_kind("alert policy", "created");
    assert!(created["before"].is_null());
    assert_eq!(
        created["after"]["levels"][0]["email"],
        json!(["ops@example.com"])
    );

    // No secret is ever kept: not a token's, not the vault's.
    let text = serde_json::to_string(&log).unwrap();
    for secret in [
        token_secret.as_str(),
        secret_value,
        "another",
        EDITOR.1,
        "a new temporary password",
    ] {
        assert!(!text.contains(secret), "the log holds {secret}");
    }

    // Filters and pages.
    let monitors = entries(&server, &admin, "?kind=monitor").await;
    assert_eq!(monitors.len(), 3);
    assert!(monitors.iter().all(|entry| entry["kind"] == "monitor"));
    let one = entries(
        &server,
        &admin,
        &format!("?kind=monitor&object_id={monitor_id}&limit=1"),
    )
    .await;
    assert_eq!(one[0]["action"], "deleted");
    let older = entries(
        &server,
        &admin,
        &format!("?kind=monitor&before={}", one[0]["id"]),
    )
    .await;
    assert_eq!(
        older
            .iter()
            .map(|e| e["action"].clone())
            .collect::<Vec<_>>(),
        [json!("changed"), json!("created")]
    );
    let by_admin = entries(
        &server,
        &admin,
        &format!("?actor={}", ADMIN.0.to_uppercase()),
    )
    .await;
    assert!(!by_admin.is_empty() && by_admin.iter().all(|entry| entry["actor"] == ADMIN.0));
    for bad in [
        "?limit=0",
        "?limit=many",
        "?before=-1",
        "?colour=red",
        "?kind=",
    ] {
        let (status, body) = server
            .call(
                Method::GET,
                &format!("/api/v1/audit-log{bad}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["field"].is_string(), "{bad}: {body}");
    }

    // Entries outlive their author.
    call(
        Method::DELETE,
        &format!("/api/v1/users/{editor_id}"),
        &admin,
        None,
    )
    .await;
    let still = entries(&server, &admin, "?actor=editor@example.com").await;
    assert_eq!(still.len(), 15);
    server.stop().await;
}
