//! The RUM collector over HTTP: what it stores, what it refuses, and that a
//! refusal stores nothing.

use super::*;
use sightline_core::Timestamp;
use sightline_core::rum::{Dimension, Metric};

pub(super) const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const SHOP: &str = "https://shop.example.com";

pub(super) async fn create_site(server: &TestServer) -> (i64, String) {
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let (status, site) = server
        .call(
            Method::POST,
            "/api/v1/sites",
            &admin,
            Some(json!({"name": "shop", "origins": [SHOP]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    (
        site["id"].as_i64().unwrap(),
        site["site_key"].as_str().unwrap().to_owned(),
    )
}

pub(super) fn beacon(key: &str) -> Value {
    json!({
        "site": key, "url": "https://shop.example.com/cart?session=secret#top", "nav": "navigate",
        "metrics": {"lcp": 1834.2, "fcp": 912.0, "cls": 0.031, "inp": 96.0, "ttfb": 211.5, "load": 2304.0},
        "env": {"vw": 1440, "vh": 900, "dpr": 2.0, "ect": "4g", "lang": "en-GB"},
        "hints": {"brands": [{"brand": "Google Chrome", "version": "120"}], "mobile": false,
                  "platform": "Windows", "platformVersion": "15.0.0",
                  "fullVersionList": [{"brand": "Google Chrome", "version": "120.0.6099.71"}]}
    })
}

pub(super) async fn send(
    server: &TestServer,
    body: Vec<u8>,
    origin: Option<&str>,
    user_agent: &str,
) -> (StatusCode, Value) {
    let mut request = server
        .http
        .post(server.url("/rum/v1/beacon"))
        .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
        .header(header::USER_AGENT, user_agent)
        .body(body);
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn stored(server: &TestServer, site_id: i64) -> Vec<sightline_core::rum::PageView> {
    let far = Timestamp::from_millis(i64::MAX / 2);
    server
        .store
        .page_views(site_id, Timestamp::from_millis(0), far, 100_000)
        .await
        .unwrap()
}

pub(super) async fn beacons_become_enriched_page_views(kind: BackendKind) {
    // One test client sends everything from one address: lift that limit.
    let config = ServerConfig {
        collector: sightline_server::CollectorConfig {
            per_address_per_minute: NonZeroU32::new(100_000).unwrap(),
            ..Default::default()
        },
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let (site_id, key) = create_site(&server).await;
    let (status, body) = send(
        &server,
        beacon(&key).to_string().into_bytes(),
        Some(SHOP),
        CHROME,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Stored before the answer: no waiting.
    let views = stored(&server, site_id).await;
    assert_eq!(views.len(), 1);
    let view = &views[0];
    let dimension = |d| view.dimensions.get(d);
    assert_eq!(
        dimension(Dimension::Page),
        "/cart",
        "the query string and fragment are dropped"
    );
    assert_eq!(dimension(Dimension::Browser), "Chrome");
    assert_eq!(dimension(Dimension::BrowserVersion), "Chrome 120");
    assert_eq!(
        dimension(Dimension::OsVersion),
        "Windows 11",
        "client hints beat the frozen UA"
    );
    assert_eq!(dimension(Dimension::Device), "desktop");
    assert_eq!(dimension(Dimension::Country), "unknown");
    assert_eq!(dimension(Dimension::NavigationType), "navigate");
    assert_eq!(
        (view.metrics.get(Metric::Lcp), view.metrics.get(Metric::Cls)),
        (Some(1834.2), Some(0.031))
    );
    assert_eq!(view.metrics.get(Metric::Dns), None);

    // A robot's beacon, or a headless browser's, is not kept, and the
    // answer says so; the site counts it, as it counts one from another
    // origin, so that its screen can say why page views are missing.
    let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    let headless = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36";
    for robot in [googlebot, headless] {
        let (status, answer) = send(
            &server,
            beacon(&key).to_string().into_bytes(),
            Some(SHOP),
            robot,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["code"], "robot");
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.starts_with("ignored: ") && message.contains(robot),
            "{message}"
        );
    }
    let (status, _) = send(
        &server,
        beacon(&key).to_string().into_bytes(),
        Some("https://elsewhere.example"),
        CHROME,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(stored(&server, site_id).await.len(), 1);
    let admin = Auth::Cookie(server.log_in(ADMIN).await);
    let summary_path = format!("/api/v1/sites/{site_id}/rum/summary");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (_, summary) = server.call(Method::GET, &summary_path, &admin, None).await;
        if summary["ignored_beacons"] == json!({"robot": 2, "origin": 1}) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{summary}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Many at once: every 204 is a stored page view.
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let (http, url, body) = (
            server.http.clone(),
            server.url("/rum/v1/beacon"),
            beacon(&key).to_string(),
        );
        sends.spawn(async move {
            let request = http
                .post(url)
                .header(header::ORIGIN, SHOP)
                .header(header::USER_AGENT, CHROME)
                .body(body);
            request.send().await.unwrap().status()
        });
    }
    let statuses = sends.join_all().await;
    let accepted = statuses
        .iter()
        .filter(|status| **status == StatusCode::NO_CONTENT)
        .count();
    assert_eq!(accepted, 200, "{statuses:?}");
    assert_eq!(stored(&server, site_id).await.len(), 201);

    let metrics = server.metrics().await;
    assert!(
        metrics.contains(r#"sightline_rum_beacons_total{outcome="stored"} 201"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"sightline_rum_beacons_total{outcome="robot"} 2"#),
        "{metrics}"
    );
    server.stop().await;
}

/// A body, its Origin, and the status, code and field it must be refused with.
type BadBeacon = (
    Vec<u8>,
    Option<&'static str>,
    StatusCode,
    &'static str,
    Option<&'static str>,
);

pub(super) async fn bad_beacons_are_refused_and_store_nothing(kind: BackendKind) {
    let server = TestServer::start(kind).await;
    let (site_id, key) = create_site(&server).await;
    let good = beacon(&key);
    let with = |path: &[&str], value: Value| {
        let mut document = good.clone();
        let mut target = &mut document;
        for step in &path[..path.len() - 1] {
            target = &mut target[*step];
        }
        target[path[path.len() - 1]] = value;
        document.to_string().into_bytes()
    };
    let mut deep = String::new();
    for _ in 0..1_000 {
        deep.push_str("{\"a\":");
    }
    let random: Vec<u8> = (0..2_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases: Vec<BadBeacon> = vec![
        (
            random,
            Some(SHOP),
            StatusCode::BAD_REQUEST,
            "malformed",
            None,
        ),
        (
            good.to_string().as_bytes()[..60].to_vec(),
            Some(SHOP),
            StatusCode::BAD_REQUEST,
            "malformed",
            None,
        ),
        (
            deep.into_bytes(),
            Some(SHOP),
            StatusCode::BAD_REQUEST,
            "malformed",
            None,
        ),
        (
            b"{\"site\":\"x\",\"url\":\"https://shop.example.com/\",\"metrics\":{\"lcp\":1e400}}"
                .to_vec(),
            Some(SHOP),
            StatusCode::BAD_REQUEST,
            "malformed",
            None,
        ),
        (
            with(&["metrics", "lcp"], json!(1e15)),
            Some(SHOP),
            StatusCode::BAD_REQUEST,
            "malformed",
            Some("metrics.lcp"),
        ),
        (
            with(&["metrics", "ttfb"], json!(-3)),
            Some(SHOP),
            StatusCode::BAD_REQUEST,
            "malformed",
            Some("metrics.ttfb"),
        ),
        (
            with(&["metrics", "cls"], json!("0.1")),
            Some(SHOP),
            StatusCode::BAD_REQUEST,
            "malformed",
            Some("metrics.cls"),
        ),
        (
            with(&["env", "vw"], json!([1440])),
            Some(SHOP),
            StatusCode::BAD_REQUEST,
            "malformed",
            Some("env.vw"),
        ),
        (
            with(&["site"], json!("no-such-key")),
            Some(SHOP),
            StatusCode::BAD_REQUEST,
            "unknown_site",
            None,
        ),
        (
            good.to_string().into_bytes(),
            Some("https://evil.example"),
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            None,
        ),
        (
            good.to_string().into_bytes(),
            None,
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            None,
        ),
        (
            with(&["url"], json!("https://evil.example/cart")),
            Some(SHOP),
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            None,
        ),
        (
            with(&["env", "lang"], json!("x".repeat(9_000))),
            Some(SHOP),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            None,
        ),
    ];
    for (body, origin, status, code, field) in cases {
        let preview = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        let (got, answer) = send(&server, body, origin, CHROME).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{preview}: {answer}"
        );
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
        if let Some(field) = field {
            assert_eq!(answer["field"], field, "{preview}");
        }
    }
    assert!(
        stored(&server, site_id).await.is_empty(),
        "a refused beacon was stored"
    );
    let metrics = server.metrics().await;
    for (reason, count) in [
        ("malformed", 8),
        ("unknown_site", 1),
        ("origin_not_allowed", 3),
        ("too_large", 1),
    ] {
        let line = format!(r#"sightline_rum_beacons_total{{outcome="{reason}"}} {count}"#);
        assert!(metrics.contains(&line), "{line} missing from {metrics}");
    }
    server.stop().await;
}

pub(super) async fn beacons_are_rate_limited_per_address(kind: BackendKind) {
    let config = ServerConfig {
        collector: sightline_server::CollectorConfig {
            per_address_per_minute: NonZeroU32::new(3).unwrap(),
            ..Default::default()
        },
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let (site_id, key) = create_site(&server).await;
    for _ in 0..3 {
        let (status, _) = send(
            &server,
            beacon(&key).to_string().into_bytes(),
            Some(SHOP),
            CHROME,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, answer) = send(
        &server,
        beacon(&key).to_string().into_bytes(),
        Some(SHOP),
        CHROME,
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    assert_eq!(stored(&server, site_id).await.len(), 3);
    server.stop().await;
}

pub(super) async fn the_script_is_small_compressed_and_cached(kind: BackendKind) {
    use std::io::Read;
    let server = TestServer::start(kind).await;
    let fetch = |encoding: &'static str, etag: Option<String>| {
        let mut request = server
            .http
            .get(server.url("/rum.js"))
            .header(header::ACCEPT_ENCODING, encoding);
        if let Some(etag) = etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        request.send()
    };
    let plain = fetch("identity", None).await.unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(
        plain.headers()[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert!(
        plain.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let etag = plain.headers()[header::ETAG].to_str().unwrap().to_owned();
    let source = plain.text().await.unwrap();
    assert!(
        source.starts_with("!function(){try{") && source.contains("/rum/v1/beacon"),
        "{source}"
    );
    assert!(
        !source.contains("Sightline RUM:"),
        "the header comment is served"
    );

    let gzip = fetch("gzip, deflate", None).await.unwrap();
    assert_eq!(gzip.headers()[header::CONTENT_ENCODING], "gzip");
    let compressed = gzip.bytes().await.unwrap();
    // The README states what it costs: 1.5 KB, and what INP's fallbacks
    // (the first input however fast, the entries still queued at hiding)
    // added to it.
    assert!(
        compressed.len() <= 1_560,
        "gzip is {} bytes",
        compressed.len()
    );
    let mut unpacked = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, source);

    let brotli = fetch("gzip;q=0.5, br", None).await.unwrap();
    assert_eq!(brotli.headers()[header::CONTENT_ENCODING], "br");
    let compressed = brotli.bytes().await.unwrap();
    let mut unpacked = Vec::new();
    brotli::BrotliDecompress(&mut &compressed[..], &mut unpacked).unwrap();
    assert_eq!(unpacked, source.as_bytes());
    assert!(
        compressed.len() < 1_500,
        "brotli is {} bytes",
        compressed.len()
    );
    assert!(
        fetch("br;q=0, gzip", None).await.unwrap().headers()[header::CONTENT_ENCODING] == "gzip"
    );

    let again = fetch("gzip", Some(etag)).await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.unwrap().is_empty());
    server.stop().await;
}

pub(super) async fn countries_come_from_the_database_behind_trusted_proxies(kind: BackendKind) {
    let database =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/test-country.mmdb");
    let config = ServerConfig {
        geoip_db: Some(database),
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(kind, config).await;
    let (site_id, key) = create_site(&server).await;
    for forwarded_for in [
        "203.0.113.7",
        "198.51.100.9",
        "192.0.2.1",
        "203.0.113.7, 127.0.0.2",
    ] {
        let response = server
            .http
            .post(server.url("/rum/v1/beacon"))
            .header(header::ORIGIN, SHOP)
            .header(header::USER_AGENT, CHROME)
            .header("x-forwarded-for", forwarded_for)
            .body(beacon(&key).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    let countries: Vec<String> = stored(&server, site_id)
        .await
        .iter()
        .map(|view| view.dimensions.get(Dimension::Country).to_owned())
        .collect();
    // GeoIP2 layout, free-file layout, not in the file, and the right-most untrusted hop.
    assert_eq!(countries, ["NZ", "JP", "unknown", "NZ"]);
    server.stop().await;

    // A database that does not load stops the start with its path named.
    let broken = ServerConfig {
        geoip_db: Some("/nonexistent/country.mmdb".into()),
        ..ServerConfig::default()
    };
    let store = TestDatabase::new(kind).await;
    let store = store.store(Arc::new(SystemClock)).await;
    let error = AppState::new(store, broken).await.unwrap_err().to_string();
    assert!(error.contains("/nonexistent/country.mmdb"), "{error}");
}
