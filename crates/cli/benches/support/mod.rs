//! What the benchmarks share: a `sightline serve` process of the release
//! build, logged in, and the helpers to start and watch processes.

// Each benchmark uses a part of what is here.
#![allow(dead_code)]

pub mod traffic;
pub mod wrk;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The administrator every benchmark server is started with.
pub const ADMIN_EMAIL: &str = "bench@example.com";
pub const ADMIN_PASSWORD: &str = "bench password 1";

pub use sightline_store::testing::free_port;

/// The site origin the benchmarks' real users visit.
pub const ORIGIN: &str = "https://shop.example.com";
/// A desktop Chrome's User-Agent, as real users' beacons carry.
pub const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// The `p` quantile (0 to 1) of sorted values by the nearest-rank
/// definition every figure of Sightline's follows; 0 when there are none.
pub fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[sightline_core::rum::nearest_rank(sorted.len() as u64, p) as usize]
}

/// A number from the environment (`10_000_000` allowed), or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A target answering every path with a small page, on 127.0.0.1 in this
/// process; returns its base URL.
pub async fn serve_ok() -> String {
    let app = axum::Router::new().fallback(axum::routing::get(|| async {
        "<html><body>shop is up</body></html>"
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    base
}

/// Waits until `url` answers at all.
pub async fn wait_for(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(url).await.is_err() {
        assert!(Instant::now() < deadline, "{url} did not answer");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Peak resident memory of a process, from /proc.
pub fn peak_memory_mib(child: &Child) -> f64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// A running `sightline serve`, killed on drop.
pub struct Server {
    /// The process, to measure.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client that keeps connections open.
    pub http: reqwest::Client,
    /// The administrator's session cookie (`name=value`).
    pub cookie: String,
}

impl Server {
    /// Starts the release binary with `args` after `serve --listen …`, and logs in.
    pub async fn start(args: &[&str]) -> Server {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_sightline"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .env("SIGHTLINE_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("SIGHTLINE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("SIGHTLINE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sightline");
        let base = format!("http://127.0.0.1:{port}");
        wait_for(&format!("{base}/healthz")).await;
        let http = reqwest::Client::new();
        let login = http
            .post(format!("{base}/api/v1/session"))
            .json(&serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .expect("log in");
        let cookie = login.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .split(';')
            .next()
            .expect("pair")
            .to_owned();
        Server {
            child,
            base,
            http,
            cookie,
        }
    }

    /// GETs an API path (`/api/v1/…`) as the administrator and returns the JSON.
    pub async fn get(&self, path: &str) -> serde_json::Value {
        self.send(self.http.get(format!("{}{path}", self.base)), path)
            .await
    }

    /// POSTs JSON to an API path as the administrator and returns the JSON.
    pub async fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        self.send(
            self.http.post(format!("{}{path}", self.base)).json(&body),
            path,
        )
        .await
    }

    async fn send(&self, request: reqwest::RequestBuilder, path: &str) -> serde_json::Value {
        let response = request
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("request");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("JSON")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every PostgreSQL server process on this machine: the database's share of
/// the work is counted with the server's.
pub fn postgres_pids() -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            pids.push(pid);
        }
    }
    pids
}

/// The CPU time each PostgreSQL process has used so far: for
/// [`postgres_cpu_since`].
pub fn postgres_cpu() -> std::collections::HashMap<u32, f64> {
    postgres_pids()
        .into_iter()
        .map(|pid| (pid, cpu_seconds(pid)))
        .collect()
}

/// The CPU PostgreSQL used since `before`: processes started since count
/// whole (a new connection's backend), one that ended meanwhile counts
/// nothing rather than making the sum negative.
pub fn postgres_cpu_since(before: &std::collections::HashMap<u32, f64>) -> f64 {
    postgres_cpu()
        .into_iter()
        .map(|(pid, now)| now - before.get(&pid).copied().unwrap_or(0.0))
        .filter(|used| *used > 0.0)
        .sum()
}

/// CPU time (user and system) a process has used so far, from /proc.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after it are fixed.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Installs a Debian package when `binary` is missing.
pub fn ensure_package(binary: &str, package: &str) {
    if std::path::Path::new(binary).exists() {
        return;
    }
    eprintln!("installing {package}…");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|status| status.success())
    };
    if !install() {
        let _ = Command::new("apt-get").args(["update", "-q"]).status();
        assert!(install(), "cannot install {package}");
    }
}
