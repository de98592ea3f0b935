//! TLS certificate checks: handshake, then judge the server's certificate
//! (expiry, name, chain, issuer) even when it is one the prober does not
//! trust, so that the report says what is wrong with it.

use super::net::{connect, handshake, resolve};
use super::{Deadline, Prober};
use rustls::CertificateError;
use rustls::pki_types::ServerName;
use serde_json::json;
use sightline_core::Timestamp;
use sightline_core::monitor::{CheckReport, PhaseTimings, Problem, ProblemKind, TlsCheck, Verdict};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

const DAY_MS: i64 = 86_400_000;

/// Connects, shakes hands and judges the leaf certificate.
pub(crate) async fn run(prober: &Prober, check: &TlsCheck, deadline: &Deadline) -> CheckReport {
    let mut timings = PhaseTimings::default();
    let failed = |problem: Problem, timings: PhaseTimings| CheckReport {
        timings,
        ..CheckReport::failed(problem, 0)
    };
    let server_name = check.server_name.as_deref().unwrap_or(&check.host);
    let (config, verdict_slot) = match prober.inner.tls.recording() {
        Ok(recording) => recording,
        Err(e) => return failed(Problem::new(ProblemKind::Setup, e.to_string()), timings),
    };
    let (addresses, dns_ms) =
        match resolve(&prober.inner.resolver, &check.host, check.port, deadline).await {
            Ok(found) => found,
            Err(problem) => return failed(problem, timings),
        };
    timings.dns_ms = dns_ms;
    let (stream, _, connect_ms) = match connect(&addresses, deadline).await {
        Ok(connected) => connected,
        Err(problem) => return failed(problem, timings),
    };
    timings.connect_ms = Some(connect_ms);
    let (stream, tls_ms) = match handshake(stream, server_name, config, deadline).await {
        Ok(done) => done,
        Err(problem) => return failed(problem, timings),
    };
    timings.tls_ms = Some(tls_ms);
    let chain: Vec<_> = stream
        .get_ref()
        .1
        .peer_certificates()
        .map(<[_]>::to_vec)
        .unwrap_or_default();
    let Some(leaf) = chain.first() else {
        return failed(
            Problem::new(ProblemKind::Certificate, "the server sent no certificate"),
            timings,
        );
    };
    let now = prober.inner.clock.now();
    let (verdict, mut detail) = judge(check, server_name, leaf, verdict_slot.take(), now);
    if detail.is_object() {
        detail["chain"] = chain.iter().map(|der| summary(der, now)).collect();
    }
    let (outcome, problem) = verdict.into_outcome();
    CheckReport {
        outcome,
        problem,
        status_code: None,
        timings,
        duration_ms: 0,
        response_bytes: None,
        detail,
        screenshots: Vec::new(),
    }
}

/// One certificate of a chain as a result shows it: whom it names, who
/// issued it and how long it has left.
pub(crate) fn summary(
    der: &rustls::pki_types::CertificateDer<'_>,
    now: Timestamp,
) -> serde_json::Value {
    match X509Certificate::from_der(der) {
        Ok((_, certificate)) => {
            let not_after = Timestamp::from(certificate.validity().not_after.timestamp() * 1000);
            json!({
                "subject": certificate.subject().to_string(),
                "issuer": certificate.issuer().to_string(),
                "expires_at": not_after.to_rfc3339(),
                "days_left": (not_after.as_millis() - now.as_millis()).div_euclid(DAY_MS),
            })
        }
        Err(e) => json!({ "problem": format!("cannot be read: {e}") }),
    }
}

fn judge(
    check: &TlsCheck,
    server_name: &str,
    leaf: &rustls::pki_types::CertificateDer<'_>,
    chain_verdict: Option<Result<(), rustls::Error>>,
    now: Timestamp,
) -> (Verdict, serde_json::Value) {
    let mut verdict = Verdict::default();
    let certificate = match X509Certificate::from_der(leaf) {
        Ok((_, certificate)) => certificate,
        Err(e) => {
            verdict.fail(Problem::new(
                ProblemKind::Certificate,
                format!("the certificate cannot be read: {e}"),
            ));
            return (verdict, serde_json::Value::Null);
        }
    };
    let not_after = Timestamp::from(certificate.validity().not_after.timestamp() * 1000);
    let not_before = Timestamp::from(certificate.validity().not_before.timestamp() * 1000);
    let days_left = (not_after.as_millis() - now.as_millis()).div_euclid(DAY_MS);
    let issuer = certificate.issuer().to_string();
    let names: Vec<String> = certificate
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|extension| {
            extension
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    GeneralName::IPAddress(bytes) => ip_text(bytes),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let hostname_valid = name_valid(leaf, server_name);
    let chain_valid = match &chain_verdict {
        Some(Ok(())) => Ok(()),
        // The chain verifier also checks the name and the dates; those are
        // judged on their own below.
        Some(Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ))) => Ok(()),
        Some(Err(rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ))) => Ok(()),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("the handshake ended before the certificate was verified".to_owned()),
    };

    let expiry = not_after.to_rfc3339();
    if now.as_millis() >= not_after.as_millis() {
        verdict.fail(Problem::new(
            ProblemKind::Certificate,
            format!("the certificate expired on {expiry}"),
        ));
    } else if now.as_millis() < not_before.as_millis() {
        verdict.fail(Problem::new(
            ProblemKind::Certificate,
            format!(
                "the certificate is not valid before {}",
                not_before.to_rfc3339()
            ),
        ));
    } else if days_left < i64::from(check.error_days) {
        verdict.fail(Problem::new(
            ProblemKind::Certificate,
            format!(
                "the certificate expires in {days_left} days ({expiry}), under the error threshold of {} days",
                check.error_days
            ),
        ));
    } else if days_left < i64::from(check.warn_days) {
        verdict.degrade(Problem::new(
            ProblemKind::Certificate,
            format!(
                "the certificate expires in {days_left} days ({expiry}), under the warning threshold of {} days",
                check.warn_days
            ),
        ));
    }
    if check.check_hostname
        && let Err(reason) = &hostname_valid
    {
        verdict.fail(Problem::new(
            ProblemKind::Certificate,
            format!("the certificate is not valid for {server_name}: {reason}"),
        ));
    }
    if check.check_chain
        && let Err(reason) = &chain_valid
    {
        verdict.fail(Problem::new(
            ProblemKind::Certificate,
            format!("the certificate chain is not trusted: {reason}"),
        ));
    }
    if let Some(expected) = &check.expect_issuer
        && !issuer.contains(expected.as_str())
    {
        verdict.fail(Problem::new(
            ProblemKind::Certificate,
            format!("the issuer `{issuer}` does not contain `{expected}`"),
        ));
    }
    let detail = json!({
        "subject": certificate.subject().to_string(),
        "issuer": issuer,
        "names": names,
        "not_before": not_before.to_rfc3339(),
        "expires_at": expiry,
        "days_left": days_left,
        "hostname_valid": hostname_valid.is_ok(),
        "chain_valid": chain_valid.is_ok(),
    });
    (verdict, detail)
}

/// Whether the certificate is valid for the name, by the same rules the
/// verifier applies.
fn name_valid(
    leaf: &rustls::pki_types::CertificateDer<'_>,
    server_name: &str,
) -> Result<(), String> {
    let name = ServerName::try_from(super::net::bare_host(server_name).to_owned())
        .map_err(|e| e.to_string())?;
    let parsed = rustls::server::ParsedCertificate::try_from(leaf).map_err(|e| e.to_string())?;
    rustls::client::verify_server_name(&parsed, &name).map_err(|e| e.to_string())
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| std::net::Ipv4Addr::from(b).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| std::net::Ipv6Addr::from(b).to_string()),
        _ => None,
    }
}
