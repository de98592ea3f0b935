//! TCP connect checks, with an optional greeting banner (SMTP, POP3, IMAP, FTP).

use super::net::{connect, elapsed_ms, resolve};
use super::{Deadline, Prober};
use serde_json::json;
use sightline_core::monitor::{
    CheckOutcome, CheckReport, PhaseTimings, Problem, ProblemKind, TcpCheck,
};
use std::time::Instant;
use tokio::io::AsyncReadExt;

/// The most of a greeting read while looking for the expected text.
const BANNER_LIMIT: usize = 4096;

/// Connects, and reads the greeting when one is expected.
pub(crate) async fn run(prober: &Prober, check: &TcpCheck, deadline: &Deadline) -> CheckReport {
    let mut timings = PhaseTimings::default();
    let failed = |problem: Problem, timings: PhaseTimings| CheckReport {
        timings,
        ..CheckReport::failed(problem, 0)
    };
    let (addresses, dns_ms) =
        match resolve(&prober.inner.resolver, &check.host, check.port, deadline).await {
            Ok(found) => found,
            Err(problem) => return failed(problem, timings),
        };
    timings.dns_ms = dns_ms;
    let (mut stream, address, connect_ms) = match connect(&addresses, deadline).await {
        Ok(connected) => connected,
        Err(problem) => return failed(problem, timings),
    };
    timings.connect_ms = Some(connect_ms);
    let mut detail = json!({ "address": address.to_string() });
    let Some(expected) = &check.expect_banner else {
        return CheckReport {
            outcome: CheckOutcome::Up,
            problem: None,
            status_code: None,
            timings,
            duration_ms: 0,
            response_bytes: None,
            detail,
            screenshots: Vec::new(),
        };
    };
    let start = Instant::now();
    let mut banner = Vec::new();
    let mut buffer = [0u8; 1024];
    let problem = loop {
        if String::from_utf8_lossy(&banner).contains(expected.as_str()) {
            break None;
        }
        if banner.len() >= BANNER_LIMIT {
            break Some(mismatch(&banner, expected));
        }
        match deadline
            .run("waiting for the greeting", stream.read(&mut buffer))
            .await
        {
            Err(problem) if banner.is_empty() => break Some(problem),
            Err(_) | Ok(Ok(0)) => break Some(mismatch(&banner, expected)),
            Ok(Ok(read)) => {
                if timings.first_byte_ms.is_none() {
                    timings.first_byte_ms = Some(elapsed_ms(start));
                }
                banner.extend_from_slice(&buffer[..read]);
            }
            Ok(Err(e)) => {
                break Some(Problem::new(
                    ProblemKind::Banner,
                    format!("reading the greeting failed: {e}"),
                ));
            }
        }
    };
    let text = String::from_utf8_lossy(&banner).trim_end().to_owned();
    detail["banner"] = json!(text);
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
        response_bytes: Some(banner.len() as i64),
        detail,
        screenshots: Vec::new(),
    }
}

fn mismatch(banner: &[u8], expected: &str) -> Problem {
    let text = String::from_utf8_lossy(banner);
    let message = if text.trim().is_empty() {
        format!("the server sent no greeting; expected one containing `{expected}`")
    } else {
        format!(
            "the greeting `{}` does not contain `{expected}`",
            text.trim_end()
        )
    };
    Problem::new(ProblemKind::Banner, message)
}
