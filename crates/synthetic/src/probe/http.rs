//! HTTP(S) requests with a timing breakdown, and the HTTP check built on them.
//!
//! Each request opens its own connection, as a first-time visitor would, so
//! that DNS, connect and TLS are measured every time. hyper's client
//! connection API runs over the stream the timed phases built.

use super::net::{bare_host, connect, elapsed_ms, handshake, resolve};
use super::{Deadline, Prober, Variables};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::json;
use sightline_core::monitor::{
    Assessment, CheckOutcome, CheckReport, HttpAuth, HttpCheck, HttpResponse, PhaseTimings,
    Problem, ProblemKind,
};
use std::time::Instant;

/// How much of a body is kept for the conditions; the rest is read and
/// counted but not kept.
const BODY_KEPT: usize = 4 * 1024 * 1024;
/// How much of a body is stored with a failed result.
const BODY_EXCERPT: usize = 1024;

/// One request to make.
#[derive(Debug, Clone)]
pub(crate) struct HttpRequest {
    pub method: hyper::Method,
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// What came back, after any redirects.
#[derive(Debug)]
pub(crate) struct HttpExchange {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub body_bytes: i64,
    pub timings: PhaseTimings,
    pub final_url: url::Url,
    pub redirects: Vec<serde_json::Value>,
    pub elapsed_ms: i64,
    /// The certificates the server sent (leaf first), summarised; empty
    /// over plain HTTP.
    pub certificates: Vec<serde_json::Value>,
}

impl HttpExchange {
    pub fn response(&self) -> HttpResponse<'_> {
        HttpResponse {
            status: self.status,
            headers: &self.headers,
            body: &self.body,
            elapsed_ms: self.elapsed_ms,
        }
    }

    /// The first bytes of the body, as text, for a failed result.
    pub fn excerpt(&self) -> String {
        let end = self.body.len().min(BODY_EXCERPT);
        String::from_utf8_lossy(&self.body[..end]).into_owned()
    }

    /// The response's headers as a result shows them: values that carry
    /// credentials (cookies, tokens) are masked, names are kept.
    fn shown_headers(&self) -> serde_json::Value {
        self.headers
            .iter()
            .map(|(name, value)| {
                let value = if CREDENTIAL_HEADERS.contains(&name.as_str()) {
                    "***"
                } else {
                    value.as_str()
                };
                json!([name, value])
            })
            .collect()
    }

    /// What a result keeps of the response besides its timings and URL:
    /// headers, the server's certificates, and the body's first bytes when
    /// the check did not pass.
    pub fn record_into(&self, detail: &mut serde_json::Value, passed: bool) {
        if !self.redirects.is_empty() {
            detail["redirects"] = json!(self.redirects);
        }
        detail["headers"] = self.shown_headers();
        if !self.certificates.is_empty() {
            detail["certificates"] = json!(self.certificates);
        }
        if !passed {
            detail["body_excerpt"] = json!(self.excerpt());
        }
    }
}

/// Response headers whose values are credentials, never stored with a result.
const CREDENTIAL_HEADERS: &[&str] = &[
    "set-cookie",
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "x-api-key",
    "x-auth-token",
];

/// A request that did not get an answer, with the time it spent.
#[derive(Debug)]
pub(crate) struct FetchFailure {
    pub problem: Problem,
    pub timings: PhaseTimings,
}

/// How redirects are handled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchOptions {
    pub max_redirects: Option<u8>,
    pub verify_tls: bool,
}

impl Prober {
    /// Makes a request, following redirects as told, within the deadline.
    pub(crate) async fn fetch(
        &self,
        mut request: HttpRequest,
        options: FetchOptions,
        deadline: &Deadline,
    ) -> Result<HttpExchange, FetchFailure> {
        let start = Instant::now();
        let mut timings = PhaseTimings::default();
        let mut redirects = Vec::new();
        loop {
            let hop = self.exchange(&request, options.verify_tls, deadline).await;
            let mut exchange = match hop {
                Ok(exchange) => exchange,
                Err(mut failure) => {
                    timings.add(&failure.timings);
                    failure.timings = timings;
                    return Err(failure);
                }
            };
            timings.add(&exchange.timings);
            let location = exchange
                .headers
                .iter()
                .find(|(name, _)| name == "location")
                .map(|(_, value)| value.clone());
            let redirect = matches!(exchange.status, 301 | 302 | 303 | 307 | 308);
            match (options.max_redirects, redirect, location) {
                (Some(max), true, Some(location)) => {
                    if redirects.len() >= usize::from(max) {
                        return Err(FetchFailure {
                            problem: Problem::new(
                                ProblemKind::Redirect,
                                format!("more than {max} redirects (last to {location})"),
                            ),
                            timings,
                        });
                    }
                    let next = request.url.join(&location).map_err(|e| FetchFailure {
                        problem: Problem::new(
                            ProblemKind::Redirect,
                            format!("cannot follow the redirect to `{location}`: {e}"),
                        ),
                        timings,
                    })?;
                    redirects.push(json!({
                        "status": exchange.status,
                        "from": request.url.as_str(),
                        "to": next.as_str(),
                    }));
                    // 303, and 301/302 after a POST, turn into a GET without a body.
                    let becomes_get = exchange.status == 303
                        || (matches!(exchange.status, 301 | 302)
                            && request.method == hyper::Method::POST);
                    if becomes_get {
                        request.method = hyper::Method::GET;
                        request.body = None;
                    }
                    if next.host_str() != request.url.host_str() {
                        request
                            .headers
                            .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
                    }
                    request.url = next;
                }
                _ => {
                    exchange.timings = timings;
                    exchange.redirects = redirects;
                    exchange.elapsed_ms = elapsed_ms(start);
                    return Ok(exchange);
                }
            }
        }
    }

    /// One request on one new connection.
    async fn exchange(
        &self,
        request: &HttpRequest,
        verify_tls: bool,
        deadline: &Deadline,
    ) -> Result<HttpExchange, FetchFailure> {
        let mut timings = PhaseTimings::default();
        let fail = |problem: Problem, timings: PhaseTimings| FetchFailure { problem, timings };
        let url = &request.url;
        let host = url
            .host_str()
            .ok_or_else(|| {
                fail(
                    Problem::new(ProblemKind::Setup, format!("`{url}` has no host")),
                    timings,
                )
            })?
            .to_owned();
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(fail(
                    Problem::new(
                        ProblemKind::Setup,
                        format!("`{other}` URLs cannot be requested"),
                    ),
                    timings,
                ));
            }
        };
        let port = url.port_or_known_default().unwrap_or(80);
        let (addresses, dns_ms) = resolve(&self.inner.resolver, &host, port, deadline)
            .await
            .map_err(|problem| fail(problem, timings))?;
        timings.dns_ms = dns_ms;
        let (stream, _address, connect_ms) = connect(&addresses, deadline)
            .await
            .map_err(|problem| fail(problem, timings))?;
        timings.connect_ms = Some(connect_ms);
        let sent;
        let mut certificates = Vec::new();
        let head = if https {
            let config = if verify_tls {
                self.inner.tls.verified.clone()
            } else {
                self.inner.tls.unverified.clone()
            };
            let (stream, tls_ms) = handshake(stream, &host, config, deadline)
                .await
                .map_err(|problem| fail(problem, timings))?;
            timings.tls_ms = Some(tls_ms);
            let now = self.inner.clock.now();
            certificates = stream
                .get_ref()
                .1
                .peer_certificates()
                .map(|chain| {
                    chain
                        .iter()
                        .map(|der| super::tls::summary(der, now))
                        .collect()
                })
                .unwrap_or_default();
            sent = Instant::now();
            self.send(TokioIo::new(stream), request, &host, deadline)
                .await
        } else {
            sent = Instant::now();
            self.send(TokioIo::new(stream), request, &host, deadline)
                .await
        }
        .map_err(|problem| fail(problem, timings))?;
        let (parts, mut body) = head.into_parts();
        timings.first_byte_ms = Some(elapsed_ms(sent));
        let first_byte = Instant::now();
        let mut kept = Vec::new();
        let mut body_bytes: i64 = 0;
        loop {
            let frame = deadline
                .run("reading the body", body.frame())
                .await
                .map_err(|problem| fail(problem, timings))?;
            match frame {
                None => break,
                Some(Err(e)) => {
                    return Err(fail(
                        Problem::new(
                            ProblemKind::Protocol,
                            format!("the body was cut off after {body_bytes} bytes: {e}"),
                        ),
                        timings,
                    ));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        body_bytes += data.len() as i64;
                        let room = BODY_KEPT.saturating_sub(kept.len());
                        kept.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
            }
        }
        timings.download_ms = Some(elapsed_ms(first_byte));
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok(HttpExchange {
            status: parts.status.as_u16(),
            headers,
            body: kept,
            body_bytes,
            timings,
            final_url: request.url.clone(),
            redirects: Vec::new(),
            elapsed_ms: 0,
            certificates,
        })
    }

    /// Sends the request over a connected stream and waits for the head of
    /// the response.
    async fn send<S>(
        &self,
        io: TokioIo<S>,
        request: &HttpRequest,
        host: &str,
        deadline: &Deadline,
    ) -> Result<hyper::Response<hyper::body::Incoming>, Problem>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let protocol = |e: hyper::Error| {
            Problem::new(ProblemKind::Protocol, format!("HTTP exchange failed: {e}"))
        };
        let (mut sender, connection) = deadline
            .run(
                "starting HTTP",
                hyper::client::conn::http1::Builder::new().handshake(io),
            )
            .await?
            .map_err(protocol)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let url = &request.url;
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let host_header = if bare_host(host).contains(':') {
            // An IPv6 address keeps its brackets in the Host header.
            authority.replacen(bare_host(host), &format!("[{}]", bare_host(host)), 1)
        } else {
            authority
        };
        let mut builder = Request::builder()
            .method(request.method.clone())
            .uri(target)
            .header(hyper::header::HOST, host_header)
            .header(crate::CHECK_HEADER, "1");
        let names: Vec<String> = request
            .headers
            .iter()
            .map(|(name, _)| name.to_ascii_lowercase())
            .collect();
        if !names.iter().any(|name| name == "user-agent") {
            builder = builder.header(hyper::header::USER_AGENT, &self.inner.user_agent);
        }
        if !names.iter().any(|name| name == "accept") {
            builder = builder.header(hyper::header::ACCEPT, "*/*");
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = Full::new(Bytes::from(request.body.clone().unwrap_or_default()));
        let outgoing = builder.body(body).map_err(|e| {
            Problem::new(ProblemKind::Setup, format!("cannot build the request: {e}"))
        })?;
        deadline
            .run("waiting for the response", sender.send_request(outgoing))
            .await?
            .map_err(protocol)
    }
}

/// Runs an HTTP check.
pub(crate) async fn run(
    prober: &Prober,
    check: &HttpCheck,
    variables: &Variables<'_>,
    deadline: &Deadline,
) -> CheckReport {
    let request = match build_request(check, variables) {
        Ok(request) => request,
        Err(problem) => return CheckReport::failed(problem, 0),
    };
    let options = FetchOptions {
        max_redirects: check.follow_redirects.then_some(check.max_redirects),
        verify_tls: check.verify_tls,
    };
    judge(
        prober.fetch(request, options, deadline).await,
        |exchange| {
            check
                .expect
                .judge(&exchange.response(), check.follow_redirects)
        },
        json!({ "url": check.url }),
    )
}

/// Turns a fetch and the verdict on it into a report.
pub(crate) fn judge(
    fetched: Result<HttpExchange, FetchFailure>,
    assess: impl FnOnce(&HttpExchange) -> Assessment,
    mut detail: serde_json::Value,
) -> CheckReport {
    match fetched {
        Err(failure) => CheckReport {
            outcome: CheckOutcome::Error,
            problem: Some(failure.problem),
            status_code: None,
            timings: failure.timings,
            duration_ms: 0,
            response_bytes: None,
            detail,
            screenshots: Vec::new(),
        },
        Ok(exchange) => {
            let assessment = assess(&exchange);
            detail["final_url"] = json!(exchange.final_url.as_str());
            detail["conditions"] = json!(assessment.conditions);
            let (outcome, problem) = assessment.verdict.into_outcome();
            exchange.record_into(&mut detail, outcome == CheckOutcome::Up);
            CheckReport {
                outcome,
                problem,
                status_code: Some(exchange.status),
                timings: exchange.timings,
                duration_ms: 0,
                response_bytes: Some(exchange.body_bytes),
                detail,
                screenshots: Vec::new(),
            }
        }
    }
}

fn build_request(check: &HttpCheck, variables: &Variables<'_>) -> Result<HttpRequest, Problem> {
    let filled = variables.fill_url(&check.url, "the URL")?;
    let url = url::Url::parse(&filled)
        .map_err(|e| Problem::new(ProblemKind::Setup, format!("`{filled}` is not a URL: {e}")))?;
    let mut headers = Vec::with_capacity(check.headers.len() + 1);
    for (name, value) in &check.headers {
        headers.push((name.clone(), variables.fill(value, "a header")?));
    }
    if let Some(auth) = &check.auth {
        headers.push(("authorization".to_owned(), authorization(auth, variables)?));
    }
    let body = match &check.body {
        Some(body) => Some(variables.fill(body, "the body")?),
        None => None,
    };
    Ok(HttpRequest {
        method: method(&check.method)?,
        url,
        headers,
        body,
    })
}

/// The `Authorization` header value for the configured credentials.
pub(crate) fn authorization(auth: &HttpAuth, variables: &Variables<'_>) -> Result<String, Problem> {
    use base64::Engine;
    Ok(match auth {
        HttpAuth::Basic { username, password } => {
            let password = variables.fill(password, "the password")?;
            let pair = format!("{username}:{password}");
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        }
        HttpAuth::Bearer { token } => format!("Bearer {}", variables.fill(token, "the token")?),
    })
}

/// The method by name (validated when the monitor was saved).
pub(crate) fn method(name: &str) -> Result<hyper::Method, Problem> {
    hyper::Method::from_bytes(name.as_bytes()).map_err(|_| {
        Problem::new(
            ProblemKind::Setup,
            format!("`{name}` is not an HTTP method"),
        )
    })
}
