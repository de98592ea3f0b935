//! DNS checks: ask for one record type and compare the answers.
//!
//! Each check builds its own uncached resolver, so that every run asks the
//! server afresh instead of answering from a cache.

use super::Deadline;
use super::net::elapsed_ms;
use hickory_proto::rr::{RData, RecordType};
use hickory_resolver::Resolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use serde_json::json;
use sightline_core::monitor::{
    CheckOutcome, CheckReport, DnsCheck, DnsRecordType, PhaseTimings, Problem, ProblemKind,
};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Looks the name up and checks that every expected value is answered.
pub(crate) async fn run(check: &DnsCheck, deadline: &Deadline) -> CheckReport {
    let record_type = record_type(check.record_type);
    let type_name = record_type.to_string();
    let resolver = match resolver(check, deadline) {
        Ok(resolver) => resolver,
        Err(problem) => return CheckReport::failed(problem, 0),
    };
    let name = if check.host.ends_with('.') {
        check.host.clone()
    } else {
        format!("{}.", check.host)
    };
    let start = Instant::now();
    let looked_up = deadline
        .run(
            &format!("asking for {type_name} records"),
            resolver.lookup(name.as_str(), record_type),
        )
        .await;
    let timings = PhaseTimings {
        dns_ms: Some(elapsed_ms(start)),
        ..PhaseTimings::default()
    };
    let host = check.host.trim_end_matches('.');
    let mut detail = json!({ "record_type": type_name });
    if let Some(resolver) = &check.resolver {
        detail["resolver"] = json!(resolver);
    }
    let answers: Vec<String> = match looked_up {
        Err(problem) => return failed(problem, timings, detail),
        Ok(Err(e)) if e.is_nx_domain() => {
            let problem = Problem::new(
                ProblemKind::Dns,
                format!("{host} does not exist (NXDOMAIN)"),
            );
            return failed(problem, timings, detail);
        }
        Ok(Err(e)) if e.is_no_records_found() => Vec::new(),
        Ok(Err(e)) => {
            let problem = Problem::new(
                ProblemKind::Dns,
                format!("asking for {type_name} records of {host} failed: {e}"),
            );
            return failed(problem, timings, detail);
        }
        Ok(Ok(lookup)) => lookup
            .answers()
            .iter()
            .filter_map(|record| answer_text(&record.data))
            .collect(),
    };
    detail["answers"] = json!(answers);
    let problem = if answers.is_empty() {
        Some(Problem::new(
            ProblemKind::Records,
            format!("{host} has no {type_name} records"),
        ))
    } else {
        check
            .expect
            .iter()
            .find(|expected| !answers.iter().any(|answer| matches(answer, expected)))
            .map(|missing| {
                Problem::new(
                    ProblemKind::Records,
                    format!(
                        "{type_name} records of {host} do not include `{missing}` (got {})",
                        answers.join(", ")
                    ),
                )
            })
    };
    CheckReport {
        outcome: if problem.is_some() {
            CheckOutcome::Error
        } else {
            CheckOutcome::Up
        },
        problem,
        status_code: None,
        timings,
        duration_ms: 0,
        response_bytes: None,
        detail,
        screenshots: Vec::new(),
    }
}

fn failed(problem: Problem, timings: PhaseTimings, detail: serde_json::Value) -> CheckReport {
    CheckReport {
        timings,
        detail,
        ..CheckReport::failed(problem, 0)
    }
}

fn resolver(
    check: &DnsCheck,
    deadline: &Deadline,
) -> Result<Resolver<TokioRuntimeProvider>, Problem> {
    let setup = |e: hickory_resolver::net::NetError| {
        Problem::new(
            ProblemKind::Setup,
            format!("cannot set up the resolver: {e}"),
        )
    };
    let mut builder = match &check.resolver {
        None => Resolver::builder_tokio().map_err(setup)?,
        Some(text) => {
            let address = text
                .parse::<SocketAddr>()
                .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| {
                    Problem::new(
                        ProblemKind::Setup,
                        format!("`{text}` is not an IP address or IP:port"),
                    )
                })?;
            let mut server = NameServerConfig::udp_and_tcp(address.ip());
            for connection in &mut server.connections {
                connection.port = address.port();
            }
            Resolver::builder_with_config(
                ResolverConfig::from_parts(None, Vec::new(), vec![server]),
                TokioRuntimeProvider::default(),
            )
        }
    };
    let options = builder.options_mut();
    options.cache_size = 0;
    options.attempts = 1;
    options.timeout = deadline.remaining();
    builder.build().map_err(setup)
}

fn record_type(kind: DnsRecordType) -> RecordType {
    match kind {
        DnsRecordType::A => RecordType::A,
        DnsRecordType::Aaaa => RecordType::AAAA,
        DnsRecordType::Cname => RecordType::CNAME,
        DnsRecordType::Mx => RecordType::MX,
        DnsRecordType::Txt => RecordType::TXT,
        DnsRecordType::Ns => RecordType::NS,
    }
}

/// An answer as text: an address, a host name without its final dot,
/// `preference host` for MX, the joined strings of a TXT record.
fn answer_text(data: &RData) -> Option<String> {
    let name = |name: &hickory_proto::rr::Name| name.to_string().trim_end_matches('.').to_owned();
    Some(match data {
        RData::A(address) => address.0.to_string(),
        RData::AAAA(address) => address.0.to_string(),
        RData::CNAME(target) => name(&target.0),
        RData::NS(server) => name(&server.0),
        RData::MX(mx) => format!("{} {}", mx.preference, name(&mx.exchange)),
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|part| String::from_utf8_lossy(part).into_owned())
            .collect(),
        _ => return None,
    })
}

/// Whether an answer is the expected value: addresses compare as
/// addresses, names without case or final dot, and an MX answer also
/// matches its host name alone.
fn matches(answer: &str, expected: &str) -> bool {
    let expected = expected.trim().trim_end_matches('.');
    if let (Ok(a), Ok(b)) = (answer.parse::<IpAddr>(), expected.parse::<IpAddr>()) {
        return a == b;
    }
    if answer.eq_ignore_ascii_case(expected) || answer == expected {
        return true;
    }
    answer.split_once(' ').is_some_and(|(preference, host)| {
        preference.parse::<u16>().is_ok() && host.eq_ignore_ascii_case(expected)
    })
}
