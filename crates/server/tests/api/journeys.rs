//! Browser and transaction monitors through the API, in real headless
//! Chromium: results carry the waterfall and the steps, screenshots are
//! served as PNG, vault secrets are typed but never shown, and an agent's
//! report brings its screenshots along.

use super::*;
use axum::response::{Html, IntoResponse, Redirect};
use base64::Engine;

const PASSWORD: &str = "correct-horse-battery";

async fn shop() -> String {
    let app = axum::Router::new()
        .route(
            "/login",
            axum::routing::get(|| async {
                Html(
                    "<!doctype html><title>Log in</title><h1>Coffee shop</h1>\
                     <form method=post action=/login><input id=user name=user>\
                     <input id=password name=password type=password>\
                     <button id=login type=submit>Log in</button></form>",
                )
            })
            .post(|body: String| async move {
                if body == format!("user=alice&password={PASSWORD}") {
                    Redirect::to("/account").into_response()
                } else {
                    Html("<!doctype html><p>Wrong user name or password</p>").into_response()
                }
            }),
        )
        .route(
            "/account",
            axum::routing::get(|| async { Html("<!doctype html><h1>Welcome, alice</h1>") }),
        );
    serve_app(app).await
}

/// Creates a monitor and runs it once; returns its id and the result.
async fn create_and_run(server: &TestServer, admin: &Auth, monitor: Value) -> (i64, Value) {
    let (status, created) = server
        .call(Method::POST, "/api/v1/monitors", admin, Some(monitor))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    let (status, results) = server.run_now(admin, id).await;
    assert_eq!(status, StatusCode::OK, "{results}");
    (id, results[0].clone())
}

async fn fetch_bytes(
    server: &TestServer,
    auth: &Auth,
    path: &str,
) -> (StatusCode, String, Vec<u8>) {
    let response = server
        .request(Method::GET, path, auth)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

pub(super) async fn journeys_report_steps_screenshots_and_never_a_secret(kind: BackendKind) {
    let config = ServerConfig {
        vault_key: Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned()),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let viewer = Auth::Cookie(server.log_in(VIEWER).await);
    let base = shop().await;
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/v1/secrets/SHOP_PASSWORD",
            &admin,
            Some(json!({"value": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // An agent leasing a check that uses a secret gets that secret, and
    // no other.
    let (status, _) = server
        .call(
            Method::PUT,
            "/api/v1/secrets/UNUSED",
            &admin,
            Some(json!({"value": "not for agents"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let agent = server.agent(&admin, "north").await;
    let (status, remote) = server
        .call(
            Method::POST,
            "/api/v1/monitors",
            &admin,
            Some(
                json!({"name": "north journey", "type": "transaction", "every": "1h",
                "checkpoints": ["north"], "steps": [
                    {"navigate": format!("{base}/login")},
                    {"type": {"into": "#password", "text": "{{secrets.SHOP_PASSWORD}}"}}
                ]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{remote}");
    let (status, _) = server
        .call(
            Method::POST,
            &format!("/api/v1/monitors/{}/run", remote["id"]),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, lease) = server
        .call(
            Method::POST,
            "/api/v1/checkpoints/north/lease",
            &agent,
            Some(json!({"max": 10})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{lease}");
    assert_eq!(lease["jobs"].as_array().unwrap().len(), 1, "{lease}");
    assert_eq!(lease["secrets"], json!({"SHOP_PASSWORD": PASSWORD}));

    // A passing journey: every step timed, no screenshot (on error only).
    let steps = json!([
        {"navigate": format!("{base}/login")},
        {"type": {"into": "#user", "text": "alice"}},
        {"type": {"into": "#password", "text": "{{secrets.SHOP_PASSWORD}}"}},
        {"name": "log in", "click": "#login"},
        {"assert_url": {"contains": "/account"}},
        {"assert_text": "Welcome, alice"}
    ]);
    let (id, result) = create_and_run(
        &server,
        &admin,
        json!({"name": "log in", "type": "transaction", "every": "1h", "steps": steps}),
    )
    .await;
    assert_eq!(result["outcome"], "up", "{result}");
    let steps = result["detail"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 6);
    assert!(steps.iter().all(|step| step["status"] == "passed"));
    assert_eq!(steps[3]["name"], "log in");
    assert!(result.get("screenshots").is_none(), "{result}");
    // The spec keeps the placeholder, never the value.
    let (_, monitor) = server
        .call(
            Method::GET,
            &format!("/api/v1/monitors/{id}"),
            &viewer,
            None,
        )
        .await;
    assert_eq!(
        monitor["steps"][2]["type"]["text"],
        "{{secrets.SHOP_PASSWORD}}"
    );

    // A journey failing at step 3: its reason, and a screenshot served as
    // PNG to anyone who may read results.
    let (id, result) = create_and_run(
        &server,
        &admin,
        json!({"name": "wrong password", "type": "transaction", "every": "1h", "steps": [
            {"navigate": format!("{base}/login")},
            {"click": "#login"},
            {"assert_text": "Welcome", "timeout": "1s"}
        ]}),
    )
    .await;
    assert_eq!(result["outcome"], "error", "{result}");
    assert_eq!(
        result["problem"]["message"],
        "step 3 (assert the page shows `Welcome`): the page does not show `Welcome`"
    );
    assert_eq!(result["detail"]["failed_step"], 3);
    let result_id = result["id"].as_i64().unwrap();
    let link = &result["screenshots"][0];
    assert_eq!(link["step"], 3);
    assert_eq!(link["label"], "the page when step 3 failed");
    let url = link["url"].as_str().unwrap();
    assert_eq!(
        url,
        format!("/api/v1/monitors/{id}/results/{result_id}/screenshots/1")
    );
    let (status, content_type, png) = fetch_bytes(&server, &viewer, url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "image/png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 1000);
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/api/v1/monitors/{id}/results/{result_id}/screenshots/2"),
            &viewer,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    // One result by id, the same as in the list.
    let (status, one) = server
        .call(
            Method::GET,
            &format!("/api/v1/monitors/{id}/results/{result_id}"),
            &viewer,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["screenshots"], result["screenshots"]);
    assert_eq!(one["detail"]["steps"], result["detail"]["steps"]);

    // A full-page check: the waterfall comes with its result.
    let (_, result) = create_and_run(
        &server,
        &admin,
        json!({"name": "login page", "type": "browser", "every": "1h",
               "url": format!("{base}/login"), "expect": {"text": "Coffee shop"}}),
    )
    .await;
    assert_eq!(result["outcome"], "up", "{result}");
    assert_eq!(result["detail"]["requests"][0]["kind"], "document");
    assert!(result["detail"]["metrics"]["ttfb"].as_f64().is_some());

    // Screenshots past retention are gone; their result stays.
    let removed = server
        .store
        .delete_screenshots_before(server.store.now().plus(std::time::Duration::from_secs(1)))
        .await
        .unwrap();
    // The failure's, and its confirmation re-run's if that has finished.
    assert!(removed >= 1, "{removed}");
    let (status, _, _) = fetch_bytes(&server, &viewer, url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

pub(super) async fn agents_report_screenshots_with_their_results(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let agent = server.agent(&admin, "west").await;
    let (status, monitor) = server
        .call(
            Method::POST,
            "/api/v1/monitors",
            &admin,
            Some(
                json!({"name": "west page", "type": "browser", "every": "1h",
                        "url": "https://shop.example.com/", "checkpoints": ["west"],
                        "enabled": false}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{monitor}");
    let id = monitor["id"].as_i64().unwrap();
    // Two screenshots of 1.5 MB each: more than a plain API body may hold.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend((0..1_500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let encoded = base64::engine::general_purpose::STANDARD.encode(&png);
    let (status, body) = server.run_now(&admin, id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, leased) = server
        .call(
            Method::POST,
            "/api/v1/checkpoints/west/lease",
            &agent,
            Some(json!({"max": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{leased}");
    let job = &leased["jobs"][0];
    let due = job["due_at"].as_i64().unwrap();
    let report = |screenshot: &str| {
        json!([{
            "job_id": job["job_id"], "monitor_id": id, "due_at": due, "attempt": 0,
            "started_at": due + 5, "lease": job["lease"],
            "report": {"outcome": "error", "duration_ms": 900,
                       "problem": {"kind": "page", "message": "the page does not show `Buy`"},
                       "detail": {"screenshots": [
                           {"number": 1, "label": "first", "bytes": png.len()},
                           {"number": 2, "label": "second", "bytes": png.len()}]},
                       "screenshots": [
                           {"label": "first", "png": screenshot},
                           {"label": "second", "png": screenshot}]}
        }])
    };
    // Bytes that are not a PNG are refused, naming where.
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/checkpoints/west/results",
            &agent,
            Some(report(
                &base64::engine::general_purpose::STANDARD.encode(b"GIF89a..."),
            )),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(body["field"], "[0].report.screenshots[0].png", "{body}");
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/checkpoints/west/results",
            &agent,
            Some(report(&encoded)),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, results) = server
        .call(
            Method::GET,
            &format!("/api/v1/monitors/{id}/results?from=0"),
            &admin,
            None,
        )
        .await;
    let url = results[0]["screenshots"][1]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, served) = fetch_bytes(&server, &admin, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served, png, "the second screenshot, byte for byte");
    server.stop().await;
}
