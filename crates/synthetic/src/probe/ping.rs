//! ICMP echo checks, through unprivileged datagram sockets where the system
//! allows them (and raw sockets where the process may open those).

use super::net::resolve;
use super::{Deadline, Prober};
use serde_json::json;
use sightline_core::monitor::{
    CheckReport, PhaseTimings, PingCheck, Problem, ProblemKind, Verdict,
};
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use surge_ping::{Client, Config, ICMP, PingIdentifier, PingSequence};

/// Pause between echo requests of one check.
const INTERVAL: Duration = Duration::from_millis(200);

/// One ICMP socket per address family, opened on first use and shared by
/// every ping check.
#[derive(Debug, Default)]
pub(crate) struct IcmpClients {
    v4: OnceLock<Result<ClientHandle, String>>,
    v6: OnceLock<Result<ClientHandle, String>>,
    next_identifier: Mutex<u16>,
}

#[derive(Clone)]
struct ClientHandle(Client);

impl std::fmt::Debug for ClientHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IcmpClient")
    }
}

impl IcmpClients {
    fn client(&self, ip: IpAddr) -> Result<Client, String> {
        let (slot, kind) = match ip {
            IpAddr::V4(_) => (&self.v4, ICMP::V4),
            IpAddr::V6(_) => (&self.v6, ICMP::V6),
        };
        slot.get_or_init(|| {
            Client::new(&Config::builder().kind(kind).build())
                .map(ClientHandle)
                .map_err(|e| format!("this system does not allow ICMP echo requests: {e}"))
        })
        .clone()
        .map(|handle| handle.0)
    }

    /// Whether an IPv4 ICMP socket can be opened.
    pub fn available(&self) -> Result<(), String> {
        self.client(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
            .map(|_| ())
    }

    fn identifier(&self) -> PingIdentifier {
        let mut next = self
            .next_identifier
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *next = next.wrapping_add(1);
        PingIdentifier(*next ^ (std::process::id() as u16))
    }
}

/// Sends `count` echo requests and judges loss and round-trip time.
pub(crate) async fn run(prober: &Prober, check: &PingCheck, deadline: &Deadline) -> CheckReport {
    let mut timings = PhaseTimings::default();
    let (addresses, dns_ms) = match resolve(&prober.inner.resolver, &check.host, 0, deadline).await
    {
        Ok(found) => found,
        Err(problem) => return CheckReport::failed(problem, 0),
    };
    timings.dns_ms = dns_ms;
    let ip = addresses[0].ip();
    let client = match prober.inner.icmp.client(ip) {
        Ok(client) => client,
        Err(message) => {
            return CheckReport {
                timings,
                ..CheckReport::failed(Problem::new(ProblemKind::Setup, message), 0)
            };
        }
    };
    let count = usize::from(check.count);
    let mut pinger = client.pinger(ip, prober.inner.icmp.identifier()).await;
    // Leave every request its share of the time that is left.
    let per_request = deadline.remaining() / u32::from(check.count.max(1));
    pinger.timeout(
        per_request
            .saturating_sub(INTERVAL)
            .max(Duration::from_millis(100)),
    );
    let payload = [0u8; 56];
    let mut rtts = Vec::with_capacity(count);
    for sequence in 0..count {
        if sequence > 0 {
            tokio::time::sleep(INTERVAL.min(deadline.remaining())).await;
        }
        if let Ok((_, rtt)) = pinger.ping(PingSequence(sequence as u16), &payload).await {
            rtts.push(rtt.as_secs_f64() * 1000.0);
        }
    }
    let received = rtts.len();
    let loss_percent = (count - received) * 100 / count;
    let mut verdict = Verdict::default();
    if received == 0 {
        verdict.fail(Problem::new(
            ProblemKind::Loss,
            format!("no answer to {count} echo requests to {ip}"),
        ));
    } else if loss_percent > usize::from(check.max_loss_percent) {
        verdict.fail(Problem::new(
            ProblemKind::Loss,
            format!(
                "{loss_percent}% of echo requests to {ip} went unanswered (at most {}% allowed)",
                check.max_loss_percent
            ),
        ));
    }
    let average = (received > 0).then(|| rtts.iter().sum::<f64>() / received as f64);
    if let (Some(average), Some(limit)) = (average, check.degraded_rtt_ms)
        && average > limit as f64
    {
        verdict.degrade(Problem::new(
                ProblemKind::ResponseTime,
                format!("the mean round trip took {average:.1} ms, over the degraded threshold of {limit} ms"),
            ));
    }
    let min = rtts.iter().copied().reduce(f64::min);
    let max = rtts.iter().copied().reduce(f64::max);
    let (outcome, problem) = verdict.into_outcome();
    CheckReport {
        outcome,
        problem,
        status_code: None,
        timings,
        // A ping's time is its mean round trip (at least 1 ms), not the
        // pauses between echo requests; with no answer, the time waited.
        duration_ms: average.map_or(0, |average| average.round().max(1.0) as i64),
        response_bytes: None,
        detail: json!({
            "address": ip.to_string(),
            "sent": count,
            "received": received,
            "loss_percent": loss_percent,
            "rtt_min_ms": min,
            "rtt_avg_ms": average,
            "rtt_max_ms": max,
        }),
        screenshots: Vec::new(),
    }
}
