//! wrk, the load generator every HTTP benchmark uses: it is not written
//! here, so it cannot flatter what it measures, and it is lean enough that
//! the server, not the generator, is the limit. Each run reports its own
//! CPU beside the server's, so a reader can see that it was not.

use super::cpu_seconds;
use std::process::{Command, Stdio};
use std::time::Duration;

/// How to load a URL.
pub struct Load<'a> {
    /// wrk's threads (`-t`).
    pub threads: usize,
    /// Open connections (`-c`).
    pub connections: usize,
    /// How long (`-d`).
    pub seconds: u64,
    /// Request headers, `Name: value`.
    pub headers: &'a [&'a str],
    /// A body to POST, or none for GET.
    pub body: Option<&'a str>,
}

/// What one run of wrk saw, with the CPU each process used meanwhile.
#[derive(Debug, Clone, Default)]
pub struct Round {
    /// Good responses (2xx or 3xx) in all.
    pub requests: f64,
    /// The 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Non-2xx/3xx answers and socket errors.
    pub errors: u64,
    /// CPU seconds of the watched processes (the server, its database).
    pub server_cpu: f64,
    /// CPU seconds of wrk itself.
    pub wrk_cpu: f64,
    /// Seconds the run lasted, as wrk measured it.
    pub seconds: f64,
}

impl Round {
    /// Good responses per second.
    pub fn rate(&self) -> f64 {
        self.requests / self.seconds.max(f64::EPSILON)
    }

    /// The server's CPU per response, µs.
    pub fn cpu_per_request_us(&self) -> f64 {
        self.server_cpu / self.requests.max(1.0) * 1e6
    }

    /// The share of its threads' time wrk was busy: near 1, wrk was the limit.
    pub fn wrk_busy(&self, threads: usize) -> f64 {
        self.wrk_cpu / (self.seconds * threads as f64)
    }
}

/// Rounds taken together: responses, seconds, errors and CPU summed, the
/// worst p99.
pub fn combined(rounds: &[Round]) -> Round {
    let seconds: f64 = rounds.iter().map(|r| r.seconds).sum();
    let requests: f64 = rounds.iter().map(|r| r.requests).sum();
    Round {
        requests,
        p99_ms: rounds.iter().map(|r| r.p99_ms).fold(0.0, f64::max),
        errors: rounds.iter().map(|r| r.errors).sum(),
        server_cpu: rounds.iter().map(|r| r.server_cpu).sum(),
        wrk_cpu: rounds.iter().map(|r| r.wrk_cpu).sum(),
        seconds,
    }
}

/// The Lua script that makes wrk POST `body` (headers go on the command
/// line).
fn post_script(body: &str) -> tempfile::NamedTempFile {
    let script = tempfile::Builder::new()
        .suffix(".lua")
        .tempfile()
        .expect("wrk script");
    let quoted = serde_json::to_string(body).expect("quote the body");
    std::fs::write(
        script.path(),
        format!("wrk.method = \"POST\"\nwrk.body = {quoted}\n"),
    )
    .expect("write the wrk script");
    script
}

/// Loads `url` as `load` says, counting the CPU of `watched` (pids of the
/// server and of its database, if any) and of wrk.
pub fn run(url: &str, load: &Load, watched: &[u32]) -> Round {
    let script = load.body.map(post_script);
    let mut command = Command::new("wrk");
    command.args([
        format!("-t{}", load.threads),
        format!("-c{}", load.connections),
        format!("-d{}s", load.seconds),
        "--latency".to_owned(),
    ]);
    for header in load.headers {
        command.args(["-H", header]);
    }
    if let Some(script) = &script {
        command.arg("-s").arg(script.path());
    }
    command
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let server_before: f64 = watched.iter().map(|&pid| cpu_seconds(pid)).sum();
    let child = command.spawn().expect("run wrk (Debian package `wrk`)");
    let pid = child.id();
    // wrk's own CPU, read while it runs: it is gone from /proc once it
    // exits, and its threads are busiest at the end of a run, as at the start.
    let sampler = std::thread::spawn(move || {
        let mut last: f64 = 0.0;
        loop {
            // 0 once wrk has been reaped.
            let now = cpu_seconds(pid);
            if now == 0.0 && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return last;
            }
            last = last.max(now);
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let output = child.wait_with_output().expect("wait for wrk");
    let server_cpu = watched.iter().map(|&pid| cpu_seconds(pid)).sum::<f64>() - server_before;
    let wrk_cpu = sampler.join().unwrap_or(0.0);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    parse(&text, server_cpu, wrk_cpu)
}

fn parse(text: &str, server_cpu: f64, wrk_cpu: f64) -> Round {
    let number_after = |label: &str| -> Option<f64> {
        let line = text
            .lines()
            .find(|line| line.trim_start().starts_with(label))?;
        line.trim_start()[label.len()..]
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let rate = number_after("Requests/sec:").unwrap_or(0.0);
    let p99_ms = text
        .lines()
        .find(|line| line.trim_start().starts_with("99%"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(duration_ms)
        .unwrap_or(f64::NAN);
    let non_2xx = text
        .lines()
        .find(|line| line.contains("Non-2xx or 3xx responses:"))
        .and_then(|line| line.rsplit(':').next())
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let socket: u64 = text
        .lines()
        .find(|line| line.contains("Socket errors:"))
        .map(|line| {
            line.split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    let requests = text
        .lines()
        .find(|line| line.contains("requests in"))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(rate > 0.0, "wrk printed no rate:\n{text}");
    // wrk's rate counts every answer; the figures here count the good ones.
    Round {
        requests: (requests - non_2xx as f64).max(0.0),
        p99_ms,
        errors: non_2xx + socket,
        server_cpu,
        wrk_cpu,
        seconds: requests / rate,
    }
}

/// wrk's durations: `812.00us`, `3.21ms`, `1.02s`, `2.00m`.
fn duration_ms(word: &str) -> Option<f64> {
    for (suffix, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)] {
        if let Some(number) = word.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    None
}
