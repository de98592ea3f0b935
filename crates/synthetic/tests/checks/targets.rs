//! Real targets the checks run against, each on its own 127.0.0.1 port: an
//! HTTP app with slow, failing and changing answers, a TLS server with a
//! short-lived certificate, a DNS server with fixed records and a TCP
//! server with a greeting banner.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UdpSocket};

/// The HTTP app; `changed` switches its API to a new response shape.
#[derive(Clone, Default)]
pub struct App {
    pub changed: Arc<AtomicBool>,
    /// What `/health` answers; 0 means 200.
    pub health: Arc<AtomicU16>,
}

pub const PAGE: &str = "<html><body><h1>Shop</h1><p>Add to cart</p></body></html>";

/// Starts the HTTP app; returns its address.
pub async fn http_app(app: App) -> SocketAddr {
    let router = axum::Router::new()
        .route(
            "/ok",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/html"),
                        (header::SET_COOKIE, "session=s3cr3t-cookie-value; HttpOnly"),
                    ],
                    PAGE,
                )
            }),
        )
        .route("/slow", get(slow))
        .route("/health", get(health))
        .route("/status/{code}", get(status))
        .route("/redirect/{hops}", get(redirect))
        .route("/api/login", post(login))
        .route("/api/me", get(me))
        .with_state(app);
    serve(router).await
}

/// Serves `router` on a loopback port; returns its address.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

async fn slow(Query(query): Query<HashMap<String, u64>>) -> &'static str {
    tokio::time::sleep(Duration::from_millis(
        query.get("ms").copied().unwrap_or(700),
    ))
    .await;
    "finally"
}

async fn health(State(app): State<App>) -> Response {
    match app.health.load(Ordering::SeqCst) {
        0 => "healthy".into_response(),
        code => status(Path(code)).await,
    }
}

async fn status(Path(code): Path<u16>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
    (status, format!("status {code}: the shop is closed")).into_response()
}

async fn redirect(Path(hops): Path<u32>) -> Redirect {
    if hops == 0 {
        Redirect::to("/ok")
    } else {
        Redirect::to(&format!("/redirect/{}", hops - 1))
    }
}

async fn login(Json(body): Json<Value>) -> Response {
    if body["user"] == "ada" && body["password"] == "correct horse" {
        Json(json!({"token": "t-4711", "expires_in": 3600})).into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            format!("wrong password {}", body["password"]),
        )
            .into_response()
    }
}

async fn me(State(app): State<App>, headers: HeaderMap) -> Response {
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some("Bearer t-4711")
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if app.changed.load(Ordering::SeqCst) {
        Json(json!({"user_id": 7, "name": "Ada"})).into_response()
    } else {
        Json(json!({"id": 7, "name": "Ada"})).into_response()
    }
}

/// A test certificate authority and a server certificate it signed.
pub struct Certificates {
    pub ca: CertificateDer<'static>,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// When the server certificate expires, in Unix milliseconds.
    pub not_after_ms: i64,
}

/// A CA and a certificate for `localhost` and 127.0.0.1 that expires
/// `valid_for` from now.
pub fn certificates(valid_for: Duration) -> Certificates {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Sightline Test CA");
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "Sightline Tests");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress(Ipv4Addr::LOCALHOST.into()));
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    let not_after = now + time::Duration::try_from(valid_for).unwrap();
    // Certificates carry whole seconds.
    let not_after = not_after.replace_nanosecond(0).unwrap();
    params.not_after = not_after;
    let leaf = params.signed_by(&key, &issuer).unwrap();
    Certificates {
        ca: ca.der().clone(),
        chain: vec![leaf.der().clone(), ca.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        not_after_ms: (not_after.unix_timestamp_nanos() / 1_000_000) as i64,
    }
}

/// A TLS server answering every connection with a small HTTP page.
pub async fn tls_server(certificates: &Certificates) -> SocketAddr {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certificates.chain.clone(), certificates.key.clone_key())
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from_static(PAGE.as_bytes())),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    address
}

/// A DNS server (UDP) that knows `shop.test.` and nothing else.
pub async fn dns_server() -> SocketAddr {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buffer = [0u8; 1500];
        loop {
            let Ok((length, peer)) = socket.recv_from(&mut buffer).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buffer[..length]) else {
                continue;
            };
            let answer = answer(&query);
            if let Ok(bytes) = answer.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    address
}

fn answer(query: &Message) -> Message {
    let mut response = Message::response(query.metadata.id, query.metadata.op_code);
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    let Some(question) = query.queries.first() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };
    response.add_query(question.clone());
    let name = question.name().clone();
    if name != Name::from_ascii("shop.test.").unwrap() {
        response.metadata.response_code = ResponseCode::NXDomain;
        return response;
    }
    let records: Vec<RData> = match question.query_type() {
        RecordType::A => vec![
            RData::A(A::new(192, 0, 2, 10)),
            RData::A(A::new(192, 0, 2, 11)),
        ],
        RecordType::MX => vec![RData::MX(MX::new(
            10,
            Name::from_ascii("mail.shop.test.").unwrap(),
        ))],
        RecordType::TXT => vec![RData::TXT(TXT::new(vec!["v=spf1 -all".to_owned()]))],
        _ => Vec::new(),
    };
    for data in records {
        response.add_answer(Record::from_rdata(name.clone(), 60, data));
    }
    response
}

/// A TCP server that greets every connection with `banner`.
pub async fn banner_server(banner: &'static str) -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let _ = stream.write_all(banner.as_bytes()).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            });
        }
    });
    address
}

/// A port nothing listens on.
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}
