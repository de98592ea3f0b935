//! The timed network phases every socket-level check is made of: resolving
//! a name, connecting, and the TLS handshake, each bounded by the check's
//! deadline and each measured on its own.

use super::Deadline;
use hickory_resolver::TokioResolver;
use sightline_core::monitor::{Problem, ProblemKind};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Milliseconds since `start`, rounded to the nearest.
pub(crate) fn elapsed_ms(start: Instant) -> i64 {
    ((start.elapsed().as_micros() + 500) / 1000) as i64
}

/// A host as written in a URL or a setting, IPv6 brackets removed.
pub(crate) fn bare_host(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Resolves `host` to the addresses to try, in the resolver's order. An IP
/// address needs no lookup and reports no DNS time.
pub(crate) async fn resolve(
    resolver: &TokioResolver,
    host: &str,
    port: u16,
    deadline: &Deadline,
) -> Result<(Vec<SocketAddr>, Option<i64>), Problem> {
    let host = bare_host(host);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((vec![SocketAddr::new(ip, port)], None));
    }
    let start = Instant::now();
    // A trailing dot makes the name absolute: no search domains are tried.
    let absolute = if host.ends_with('.') {
        host.to_owned()
    } else {
        format!("{host}.")
    };
    let lookup = deadline
        .run("resolving the name", resolver.lookup_ip(absolute.as_str()))
        .await?
        .map_err(|e| {
            let reason = if e.is_no_records_found() {
                "no address records".to_owned()
            } else {
                e.to_string()
            };
            Problem::new(ProblemKind::Dns, format!("cannot resolve {host}: {reason}"))
        })?;
    let addresses: Vec<SocketAddr> = lookup.iter().map(|ip| SocketAddr::new(ip, port)).collect();
    if addresses.is_empty() {
        return Err(Problem::new(
            ProblemKind::Dns,
            format!("cannot resolve {host}: no address records"),
        ));
    }
    Ok((addresses, Some(elapsed_ms(start))))
}

/// Connects to the first address that accepts; the error names the last
/// refusal.
pub(crate) async fn connect(
    addresses: &[SocketAddr],
    deadline: &Deadline,
) -> Result<(TcpStream, SocketAddr, i64), Problem> {
    let start = Instant::now();
    let mut last_error = None;
    for address in addresses {
        match deadline
            .run(
                &format!("connecting to {address}"),
                TcpStream::connect(address),
            )
            .await?
        {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok((stream, *address, elapsed_ms(start)));
            }
            Err(error) => last_error = Some((address, error)),
        }
    }
    let message = match last_error {
        Some((address, error)) => format!("cannot connect to {address}: {error}"),
        None => "there is no address to connect to".to_owned(),
    };
    Err(Problem::new(ProblemKind::Connect, message))
}

/// Performs the TLS handshake over a connected stream.
pub(crate) async fn handshake(
    stream: TcpStream,
    server_name: &str,
    config: Arc<rustls::ClientConfig>,
    deadline: &Deadline,
) -> Result<(TlsStream<TcpStream>, i64), Problem> {
    let start = Instant::now();
    let name = rustls::pki_types::ServerName::try_from(bare_host(server_name).to_owned()).map_err(
        |e| {
            Problem::new(
                ProblemKind::Tls,
                format!("`{server_name}` cannot be used as a TLS server name: {e}"),
            )
        },
    )?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let stream = deadline
        .run("the TLS handshake", connector.connect(name, stream))
        .await?
        .map_err(|e| {
            let kind = if e.get_ref().is_some_and(|inner| {
                inner
                    .downcast_ref::<rustls::Error>()
                    .is_some_and(|tls| matches!(tls, rustls::Error::InvalidCertificate(_)))
            }) {
                ProblemKind::Certificate
            } else {
                ProblemKind::Tls
            };
            Problem::new(
                kind,
                format!("TLS handshake with {server_name} failed: {e}"),
            )
        })?;
    Ok((stream, elapsed_ms(start)))
}
