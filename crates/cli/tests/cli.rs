//! The `sightline` binary as people and scripts use it: started as a process,
//! stopped with signals, managed with its commands.

use serde_json::{Value, json};
use sightline_core::ManualClock;
use sightline_store::testing::{TestDatabase, free_port};
use sightline_store::{BackendKind, on_both_backends};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_sightline");
const ADMIN_EMAIL: &str = "ops@example.com";
const ADMIN_PASSWORD: &str = "admin password 1";
/// The environment that makes a fresh server's first admin.
const FIRST_ADMIN: [(&str, &str); 2] = [
    ("SIGHTLINE_ADMIN_EMAIL", ADMIN_EMAIL),
    ("SIGHTLINE_ADMIN_PASSWORD", ADMIN_PASSWORD),
];

/// A running `sightline serve` process.
struct ServerProcess {
    child: Child,
    address: String,
    log: mpsc::Receiver<String>,
    early_log: Vec<String>,
}

impl ServerProcess {
    /// Starts `sightline serve ARGS` in `dir` and waits until it listens.
    fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BINARY);
        command
            .current_dir(dir)
            .arg("serve")
            .args(["--log-format", "json"])
            .args(args)
            .env_remove("SIGHTLINE_LISTEN")
            .env_remove("SIGHTLINE_DATABASE_URL")
            .env("SIGHTLINE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start sightline serve");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut early_log = Vec::new();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = log.recv_timeout(remaining).unwrap_or_else(|_| {
                panic!(
                    "the server did not start listening; exit: {:?}",
                    child.try_wait()
                )
            });
            let entry = serde_json::from_str::<Value>(&line).unwrap_or_default();
            early_log.push(line);
            if entry["fields"]["message"] == "listening" {
                let address = entry["fields"]["address"]
                    .as_str()
                    .expect("listening line has the address")
                    .to_owned();
                return ServerProcess {
                    child,
                    address,
                    log,
                    early_log,
                };
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Stops the process at once and returns its log.
    fn wait_after_kill(self) -> (Option<i32>, Vec<String>) {
        self.signal("KILL");
        self.wait(Duration::from_secs(10))
    }

    /// Waits for the process to exit and returns its exit code and log.
    fn wait(mut self, limit: Duration) -> (Option<i32>, Vec<String>) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(50));
        let mut log = std::mem::take(&mut self.early_log);
        log.extend(self.log.try_iter());
        (status.code(), log)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a one-shot command, feeding `stdin`.
fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BINARY)
        .current_dir(dir)
        .args(args)
        .env_remove("SIGHTLINE_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn log_in(http: &reqwest::Client, server: &ServerProcess) -> String {
    let response = http
        .post(server.url("/api/v1/session"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

/// The alerting engine's and the outbox sender's completed passes in
/// `server`, as its `/metrics` counts them.
async fn passes(http: &reqwest::Client, server: &ServerProcess) -> (u64, u64) {
    let text = http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |name: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };
    (
        count("sightline_alerting_passes_total"),
        count("sightline_outbox_passes_total"),
    )
}

/// Waits until `server`'s alerting engine and outbox sender have each
/// completed two more passes than now, so one began after this was asked:
/// what they were to send about the present state is sent.
async fn after_passes(http: &reqwest::Client, server: &ServerProcess) {
    let (engine, outbox) = passes(http, server).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (engine_now, outbox_now) = passes(http, server).await;
        if engine_now >= engine + 2 && outbox_now >= outbox + 2 {
            return;
        }
        assert!(Instant::now() < deadline, "the alerting loops stalled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that `listing`'s last column, headed `last`, starts at the same
/// place on every line, after a space: a column padded by a `Display` that
/// ignores widths shifts it.
fn in_columns(listing: &str, last: &str) {
    let mut lines = listing.lines();
    let header = lines.next().unwrap_or_default();
    assert!(header.ends_with(last), "{listing}");
    let at = header.chars().count() - last.chars().count();
    let mut rows = 0;
    for line in lines {
        let chars: Vec<char> = line.chars().collect();
        assert!(
            chars.len() > at && chars[at - 1] == ' ' && chars[at] != ' ',
            "`{last}` is not one column:\n{listing}"
        );
        rows += 1;
    }
    assert!(rows > 0, "{listing}");
}

#[tokio::test]
async fn serve_with_no_arguments_answers_on_the_default_port_with_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let server = ServerProcess::start(dir.path(), &[], &[]);
    assert_eq!(server.address, "127.0.0.1:8080");
    let response = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(dir.path().join("sightline-data/sightline.db").is_file());
    let openapi: Value = reqwest::get(server.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3."));
    server.signal("INT");
    let (code, log) = server.wait(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{log:?}");
    assert!(
        log.iter().any(|line| line.contains("no users yet")),
        "{log:?}"
    );
}

#[test]
fn settings_come_from_flags_then_environment_then_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (file_port, env_port, flag_port) = (free_port(), free_port(), free_port());
    let config = dir.path().join("sightline.yaml");
    std::fs::write(
        &config,
        format!("server:\n  listen: 127.0.0.1:{file_port}\n  data_dir: from-file\n"),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let env_listen = format!("127.0.0.1:{env_port}");
    let flag_listen = format!("127.0.0.1:{flag_port}");

    let server = ServerProcess::start(dir.path(), &["--config", config], &[]);
    assert_eq!(server.address, format!("127.0.0.1:{file_port}"));
    drop(server);
    assert!(dir.path().join("from-file/sightline.db").is_file());
    let server = ServerProcess::start(
        dir.path(),
        &["--config", config],
        &[("SIGHTLINE_LISTEN", &env_listen)],
    );
    assert_eq!(server.address, env_listen);
    drop(server);
    let server = ServerProcess::start(
        dir.path(),
        &["--config", config, "--listen", &flag_listen],
        &[("SIGHTLINE_LISTEN", &env_listen)],
    );
    assert_eq!(server.address, flag_listen);
    drop(server);

    // A broken file is refused with the line named, before anything starts.
    std::fs::write(dir.path().join("broken.yaml"), "server:\n  listen: [oops\n").unwrap();
    let output = run(dir.path(), &["serve", "--config", "broken.yaml"], "");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("broken.yaml is invalid") && stderr.contains("line"),
        "{stderr}"
    );
    let output = run(
        dir.path(),
        &["migrate", "--database-url", "mysql://localhost/x"],
        "",
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("unsupported database URL"),
        "{}",
        text(&output.stderr)
    );
}

on_both_backends!(
    every_acknowledged_write_survives_sigterm_mid_burst,
    an_alert_stored_before_a_kill_9_is_sent_once_after_restart,
    two_servers_sending_through_a_slow_smtp_server_send_each_message_once,
    users_and_tokens_are_managed_from_the_command_line,
    monitors_as_code_apply_idempotently_and_export_round_trips,
    a_backup_taken_mid_burst_restores_every_acknowledged_write
);

/// Runs a one-shot command that should refuse: its exit code and what it
/// said on standard error.
fn complaint(args: &[&str]) -> (Option<i32>, String) {
    let output = run(Path::new("/"), args, "");
    (output.status.code(), text(&output.stderr))
}

/// What a burst of writers had acknowledged, each with when its answer came.
#[derive(Default)]
struct Acknowledged {
    pages: Vec<(String, Instant)>,
    results: Vec<(i64, Instant)>,
}

async fn a_backup_taken_mid_burst_restores_every_acknowledged_write(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database.url(),
            "--rum-address-rate",
            "1000000",
            "--rum-site-rate",
            "1000000",
        ],
        &FIRST_ADMIN,
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let cookie = log_in(&http, &server).await;
    let created = |path: &'static str, body: Value| {
        let request = http
            .post(server.url(path))
            .header("cookie", &cookie)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 201);
            response.json::<Value>().await.unwrap()
        }
    };
    let site = created(
        "/api/v1/sites",
        json!({"name": "shop", "origins": ["https://shop.example.com"]}),
    )
    .await;
    let key = site["site_key"].as_str().unwrap().to_owned();
    let monitor = created(
        "/api/v1/monitors",
        json!({"name": "health", "type": "http", "url": server.url("/healthz"), "every": "1h"}),
    )
    .await;
    let monitor_id = monitor["id"].as_i64().unwrap();

    // Four beacon writers and one "run now" loop write until told to stop.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (http, key, url, stop) = (
            http.clone(),
            key.clone(),
            server.url("/rum/v1/beacon"),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Acknowledged::default();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let page = format!("/p/{writer}-{n}");
                n += 1;
                let beacon = json!({
                    "site": key, "url": format!("https://shop.example.com{page}"), "nav": "navigate",
                    "metrics": {"lcp": 1834.2, "ttfb": 211.5},
                });
                let response = http
                    .post(&url)
                    .header("content-type", "text/plain;charset=UTF-8")
                    .header("origin", "https://shop.example.com")
                    .header(
                        "user-agent",
                        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                         Chrome/120.0.0.0 Safari/537.36",
                    )
                    .body(beacon.to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 204, "{page}");
                acknowledged.pages.push((page, Instant::now()));
            }
            acknowledged
        }));
    }
    {
        let (http, cookie, stop) = (http.clone(), cookie.clone(), stop.clone());
        let url = server.url(&format!("/api/v1/monitors/{monitor_id}/run"));
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Acknowledged::default();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let response = http
                    .post(&url)
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .unwrap();
                if response.status() == 409 {
                    // The scheduled run is under way; ask again shortly.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                assert_eq!(response.status(), 200);
                let ran: Vec<Value> = response.json().await.unwrap();
                let at = Instant::now();
                acknowledged.results.extend(
                    ran.iter()
                        .map(|result| (result["id"].as_i64().unwrap(), at)),
                );
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;

    // The backup, while they write.
    let backup = dir.path().join("sightline.backup");
    let backup_arg = backup.to_str().unwrap().to_owned();
    let url = database.url().to_owned();
    let began = Instant::now();
    let output = tokio::task::spawn_blocking(move || match kind {
        BackendKind::Sqlite => run(
            Path::new("/"),
            &["backup", &backup_arg, "--database-url", &url],
            "",
        ),
        // PostgreSQL is backed up with its own tool, as the README says
        // and `sightline backup` answers.
        BackendKind::Postgres => Command::new("pg_dump")
            .args(["--format=custom", &format!("--file={backup_arg}"), &url])
            .output()
            .unwrap(),
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut acknowledged = Acknowledged::default();
    for writer in writers {
        let done = writer.await.unwrap();
        acknowledged.pages.extend(done.pages);
        acknowledged.results.extend(done.results);
    }
    let before = |at: &Instant| *at < began;
    let pages_before = acknowledged
        .pages
        .iter()
        .filter(|(_, at)| before(at))
        .count();
    let results_before = acknowledged
        .results
        .iter()
        .filter(|(_, at)| before(at))
        .count();
    assert!(
        pages_before >= 50 && results_before >= 1,
        "too few writes before the backup: {pages_before} page views, {results_before} results"
    );
    assert!(
        acknowledged.pages.len() > pages_before,
        "the writers stopped during the backup"
    );
    let (code, log) = server.wait_after_kill();
    assert_eq!(code, None, "{log:?}");

    // Put it back where nothing is, and read it as the server would.
    let restored_dir = tempfile::tempdir().unwrap();
    let restored = match kind {
        BackendKind::Sqlite => {
            let data = restored_dir.path().join("data");
            let data_arg = data.to_str().unwrap();
            let output = run(
                Path::new("/"),
                &["restore", backup.to_str().unwrap(), "--data-dir", data_arg],
                "",
            );
            assert!(output.status.success(), "{}", text(&output.stderr));
            assert!(
                text(&output.stderr).contains("restored"),
                "{}",
                text(&output.stderr)
            );
            // Never over a database, nor a backup over a file.
            let (code, said) =
                complaint(&["restore", backup.to_str().unwrap(), "--data-dir", data_arg]);
            assert_eq!(code, Some(1));
            assert!(said.contains("already holds a database"), "{said}");
            let (_, said) = complaint(&[
                "backup",
                backup.to_str().unwrap(),
                "--database-url",
                database.url(),
            ]);
            assert!(said.contains("already exists"), "{said}");
            let nowhere = [
                "backup",
                "/no/such/place/x.db",
                "--database-url",
                database.url(),
            ];
            let (_, said) = complaint(&nowhere);
            assert!(
                said.contains("cannot write a backup into /no/such/place"),
                "{said}"
            );
            let not_one = dir.path().join("notes.txt");
            std::fs::write(&not_one, "not a database").unwrap();
            let other = restored_dir.path().join("other");
            let wrong = [
                "restore",
                not_one.to_str().unwrap(),
                "--data-dir",
                other.to_str().unwrap(),
            ];
            let (_, said) = complaint(&wrong);
            assert!(said.contains("is not a Sightline backup"), "{said}");
            None
        }
        BackendKind::Postgres => {
            let (_, said) = complaint(&["backup", "/nowhere", "--database-url", database.url()]);
            assert!(said.contains("pg_dump"), "{said}");
            let empty = TestDatabase::new(BackendKind::Postgres).await;
            let output = Command::new("pg_restore")
                .args(["--no-owner", &format!("--dbname={}", empty.url())])
                .arg(&backup)
                .output()
                .unwrap();
            assert!(output.status.success(), "{}", text(&output.stderr));
            Some(empty)
        }
    };
    let restored_url = match &restored {
        Some(database) => database.url().to_owned(),
        None => format!(
            "sqlite://{}",
            restored_dir.path().join("data/sightline.db").display()
        ),
    };
    let store = sightline_store::Store::connect(
        &restored_url,
        Arc::new(ManualClock::new(sightline_core::Timestamp::from_millis(0))),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let site_id = site["id"].as_i64().unwrap();
    let far = sightline_core::Timestamp::from_millis(i64::MAX / 2);
    let zero = sightline_core::Timestamp::from_millis(0);
    let pages: std::collections::HashSet<String> = store
        .page_views(site_id, zero, far, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|view| {
            view.dimensions
                .get(sightline_core::rum::Dimension::Page)
                .to_owned()
        })
        .collect();
    let lost: Vec<&String> = acknowledged
        .pages
        .iter()
        .filter(|(page, at)| before(at) && !pages.contains(page))
        .map(|(page, _)| page)
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {pages_before} page views acknowledged before the backup are missing: {lost:?}",
        lost.len()
    );
    let results: std::collections::HashSet<i64> = store
        .check_results(monitor_id, zero, far, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|stored| stored.id)
        .collect();
    for (id, at) in &acknowledged.results {
        assert!(
            !before(at) || results.contains(id),
            "result {id} is missing"
        );
    }
    assert!(store.monitor(monitor_id).await.is_ok());
    store.close().await;
}

async fn every_acknowledged_write_survives_sigterm_mid_burst(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--database-url", database.url()],
        &FIRST_ADMIN,
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let cookie = log_in(&http, &server).await;

    // Eight writers create sites as fast as they can until the server stops answering.
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (http, cookie, url) = (http.clone(), cookie.clone(), server.url("/api/v1/sites"));
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0..100_000 {
                let name = format!("site-{writer}-{n}");
                let sent = http
                    .post(&url)
                    .header("cookie", &cookie)
                    .json(&json!({"name": name}))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 201 => acknowledged.push(name),
                    Ok(response) if response.status().is_server_error() => continue,
                    Ok(response) => panic!("unexpected answer {}", response.status()),
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.signal("TERM");
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    let (code, log) = tokio::task::spawn_blocking(move || server.wait(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{log:?}");
    assert!(
        acknowledged.len() >= 10,
        "only {} writes before the signal",
        acknowledged.len()
    );

    let store = database
        .store(Arc::new(ManualClock::new(
            sightline_core::Timestamp::from_millis(0),
        )))
        .await;
    let stored: std::collections::HashSet<String> = store
        .list_sites()
        .await
        .unwrap()
        .into_iter()
        .map(|site| site.spec.name)
        .collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|name| !stored.contains(*name))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
    store.close().await;
}

async fn users_and_tokens_are_managed_from_the_command_line(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let db = ["--database-url", database.url()];
    let cli = |args: &[&str], stdin: &str| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(db);
        run(dir.path(), &all, stdin)
    };
    let output = cli(&["migrate"], "");
    assert!(output.status.success(), "{}", text(&output.stderr));

    let output = cli(
        &["user", "add", ADMIN_EMAIL, "--admin"],
        &format!("{ADMIN_PASSWORD}\n"),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let output = cli(&["user", "add", "dev@example.com"], "viewer password 1\n");
    assert!(output.status.success(), "{}", text(&output.stderr));
    for (args, stdin, complaint) in [
        (
            vec!["user", "add", "not-an-email"],
            "long enough password\n",
            "not an e-mail address",
        ),
        (
            vec!["user", "add", "x@example.com"],
            "short\n",
            "password must be at least 10 characters",
        ),
        (
            vec!["user", "add", ADMIN_EMAIL],
            "long enough password\n",
            "already exists",
        ),
        (vec!["user", "remove", ADMIN_EMAIL], "", "last admin"),
        (
            vec!["user", "remove", "ghost@example.com"],
            "",
            "no user ghost@example.com",
        ),
        (
            vec![
                "token",
                "create",
                "--user",
                "dev@example.com",
                "--name",
                "x",
                "--role",
                "admin",
            ],
            "",
            "viewer",
        ),
        (
            vec![
                "token",
                "create",
                "--user",
                "dev@example.com",
                "--name",
                "x",
                "--role",
                "root",
            ],
            "",
            "unknown role",
        ),
    ] {
        let output = cli(&args, stdin);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains(complaint), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let listing = text(&cli(&["user", "list"], "").stdout);
    assert!(
        listing.contains(ADMIN_EMAIL)
            && listing.contains("admin")
            && listing.contains("dev@example.com"),
        "{listing}"
    );
    in_columns(&listing, "EMAIL");

    let output = cli(
        &[
            "token",
            "create",
            "--user",
            ADMIN_EMAIL,
            "--name",
            "ci",
            "--role",
            "admin",
        ],
        "",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let secret = text(&output.stdout).trim().to_owned();
    assert!(secret.starts_with("slt_"), "{secret}");

    let server = ServerProcess::start(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--database-url", database.url()],
        &[],
    );
    let http = reqwest::Client::new();
    let me = |secret: String| {
        http.get(server.url("/api/v1/session"))
            .bearer_auth(secret)
            .send()
    };
    let response = me(secret.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    let listing = text(&cli(&["token", "list"], "").stdout);
    assert!(
        listing.contains("ci") && listing.contains("active") && !listing.contains(&secret),
        "{listing}"
    );
    in_columns(&listing, "NAME");
    let id = listing
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(cli(&["token", "revoke", &id], "").status.success());
    assert_eq!(me(secret).await.unwrap().status(), 401);
    assert!(text(&cli(&["token", "list"], "").stdout).contains("revoked"));

    // A new password ends sessions and works at once.
    let cookie = log_in(&http, &server).await;
    assert!(
        cli(&["user", "passwd", ADMIN_EMAIL], "a brand new password\n")
            .status
            .success()
    );
    let response = http
        .get(server.url("/api/v1/session"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = http
        .post(server.url("/api/v1/session"))
        .json(&json!({"email": ADMIN_EMAIL, "password": "a brand new password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // --revoke-tokens ends the user's API tokens too.
    let output = cli(
        &["token", "create", "--user", ADMIN_EMAIL, "--name", "ci2"],
        "",
    );
    let second = text(&output.stdout).trim().to_owned();
    assert_eq!(me(second.clone()).await.unwrap().status(), 200);
    let output = cli(
        &["user", "passwd", ADMIN_EMAIL, "--revoke-tokens"],
        "yet another password\n",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("revoked"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(me(second).await.unwrap().status(), 401);
    assert!(
        cli(&["user", "remove", "dev@example.com"], "")
            .status
            .success()
    );
    assert!(!text(&cli(&["user", "list"], "").stdout).contains("dev@example.com"));
    // Editors are made with --role; --role and --admin do not go together.
    let output = cli(
        &["user", "add", "ed@example.com", "--role", "editor"],
        "an editor's password\n",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("(editor)"),
        "{}",
        text(&output.stderr)
    );
    let output = cli(
        &[
            "user",
            "add",
            "x@example.com",
            "--role",
            "viewer",
            "--admin",
        ],
        "long enough password\n",
    );
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("--admin"),
        "{}",
        text(&output.stderr)
    );

    // Every change made here is in the audit log, by the command line.
    let response = http
        .post(server.url("/api/v1/session"))
        .json(&json!({"email": ADMIN_EMAIL, "password": "yet another password"}))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let log: Value = http
        .get(server.url("/api/v1/audit-log"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let said: Vec<String> = log
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|entry| {
            assert!(
                entry["actor"]
                    .as_str()
                    .unwrap()
                    .starts_with("command line ("),
                "{entry}"
            );
            format!(
                "{}: {} {} {}",
                entry["credential"].as_str().unwrap(),
                entry["action"].as_str().unwrap(),
                entry["kind"].as_str().unwrap(),
                entry["object_name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            format!("sightline user add: created user {ADMIN_EMAIL}"),
            "sightline user add: created user dev@example.com".to_owned(),
            "sightline token create: created token ci".to_owned(),
            "sightline token revoke: deleted token ci".to_owned(),
            format!("sightline user passwd: changed user {ADMIN_EMAIL}"),
            "sightline token create: created token ci2".to_owned(),
            format!("sightline user passwd: changed user {ADMIN_EMAIL}"),
            "sightline user remove: deleted user dev@example.com".to_owned(),
            "sightline user add: created user ed@example.com".to_owned(),
        ]
    );
    assert!(!log.to_string().contains("password 1"), "{log}");
    server.signal("TERM");
    let (code, _) = server.wait(Duration::from_secs(10));
    assert_eq!(code, Some(0));
}

/// Serves `responses` in turn, one connection each, as raw HTTP/1.1.
fn raw_http_server(responses: Vec<&'static str>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for response in responses {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut request = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

#[test]
fn check_prints_the_timing_breakdown_and_fails_with_the_site() {
    let dir = tempfile::tempdir().unwrap();
    let port = raw_http_server(vec![
        "HTTP/1.1 200 OK\r\nContent-Length: 22\r\nConnection: close\r\n\r\n<p>Add to cart</p>\r\n\r\n",
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 11\r\nConnection: close\r\n\r\nmaintenance",
    ]);
    let url = format!("http://localhost:{port}/");

    let up = run(
        dir.path(),
        &["check", &url, "--contains", "Add to cart"],
        "",
    );
    let out = text(&up.stdout);
    assert!(up.status.success(), "{out}\n{}", text(&up.stderr));
    assert!(out.starts_with(&format!("UP  HTTP 200  {url}\n")), "{out}");
    for phase in ["dns", "connect", "first byte", "download", "total"] {
        let line = out
            .lines()
            .find(|line| line.trim_start().starts_with(phase))
            .unwrap_or_else(|| panic!("no {phase} line in\n{out}"));
        assert!(line.ends_with(" ms"), "{line}");
    }
    assert!(out.contains("size") && out.contains("22 B"), "{out}");

    let down = run(dir.path(), &["check", &url], "");
    let out = text(&down.stdout);
    assert!(!down.status.success());
    assert!(
        out.contains("status: expected a 2xx status, got 503"),
        "{out}"
    );
    assert!(out.contains("body starts: maintenance"), "{out}");
    assert!(text(&down.stderr).contains("the check failed"));

    let bad = run(dir.path(), &["check", "ftp://example.com/"], "");
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("URL: `ftp://example.com/` must start with http:// or https://"),
        "{}",
        text(&bad.stderr)
    );
}

const DECLARED: &str = "sites:
  - name: shop
    origins: [\"https://shop.example.com\"]
alert_policies:
  - name: on-call
    levels:
      - after: 1 confirmed error
        email: [ops@example.com]
      - after: 15m
        email: [cto@example.com]
    remind_every: 30m
monitors:
  - name: shop home
    type: http
    url: https://shop.example.com/
    every: 1m
    site: shop
    alert_policy: on-call
    expect: { status: [200], body_contains: \"Add to cart\", max_response_ms: 2000 }
  - name: mail
    type: tcp
    host: mail.example.com
    port: 25
    expect_banner: \"220\"
maintenance_windows:
  - name: nightly
    cron: \"0 2 * * *\"
    duration: 30m
    tags: [shop]
status_pages:
  - slug: shop
    title: Shop status
    groups:
      - name: Website
        components:
          - { name: Store front, monitors: [shop home, mail] }
          - { name: What visitors see, site: shop }
";

async fn monitors_as_code_apply_idempotently_and_export_round_trips(kind: BackendKind) {
    let database = TestDatabase::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let db = ["--database-url", database.url()];
    let cli = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(db);
        let output = run(dir.path(), &all, "");
        (
            output.status.success(),
            text(&output.stdout),
            text(&output.stderr),
        )
    };
    let file = dir.path().join("sightline.yaml");
    std::fs::write(&file, DECLARED).unwrap();
    let path = file.to_str().unwrap();

    let (ok, out, err) = cli(&["apply", path]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "created site `shop`\ncreated alert policy `on-call`\ncreated monitor `shop home`\n\
         created monitor `mail`\ncreated maintenance window `nightly`\ncreated status page `shop`\n\
         6 changed, 0 unchanged\n"
    );
    let (ok, out, _) = cli(&["apply", path]);
    assert!(ok);
    assert_eq!(
        out, "0 changed, 6 unchanged\n",
        "applying twice changes nothing"
    );
    // What the first run changed is in the audit log; the second added nothing.
    let store = database.store(Arc::new(sightline_store::SystemClock)).await;
    let log = store
        .audit_log(&sightline_store::AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let said: Vec<String> = log
        .iter()
        .rev()
        .map(|e| {
            format!(
                "{}: {} {} {}",
                e.entry.credential,
                e.entry.action,
                e.entry.kind,
                e.entry.object_name.as_deref().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            "sightline apply: created site shop",
            "sightline apply: created alert policy on-call",
            "sightline apply: created monitor shop home",
            "sightline apply: created monitor mail",
            "sightline apply: created maintenance window nightly",
            "sightline apply: created status page shop",
        ]
    );
    store.close().await;

    // What export writes applies as a no-op, and carries every setting.
    let exported = dir.path().join("exported.yaml");
    let (ok, _, err) = cli(&["export", "--output", exported.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, out, _) = cli(&["apply", exported.to_str().unwrap()]);
    assert!(ok);
    assert_eq!(out, "0 changed, 6 unchanged\n");
    let (_, printed, _) = cli(&["export"]);
    assert_eq!(printed, std::fs::read_to_string(&exported).unwrap());
    assert!(printed.contains("body_contains: Add to cart"), "{printed}");
    assert!(printed.contains("after: 1 confirmed error"), "{printed}");
    assert!(
        printed.contains("status_pages:") && printed.contains("- name: Store front"),
        "{printed}"
    );

    // A change updates; a dry run changes nothing; prune deletes the rest.
    std::fs::write(&file, DECLARED.replace("port: 25", "port: 587")).unwrap();
    let (_, out, _) = cli(&["apply", "--dry-run", path]);
    assert_eq!(
        out,
        "would update monitor `mail`\n1 would change, 5 unchanged\n"
    );
    let (_, out, _) = cli(&["apply", path]);
    assert_eq!(out, "updated monitor `mail`\n1 changed, 5 unchanged\n");
    let only_sites = dir.path().join("sites.yaml");
    // The file now names the site and the alert policy only.
    std::fs::write(&only_sites, DECLARED.split("monitors:").next().unwrap()).unwrap();
    let (ok, out, _) = cli(&[
        "apply",
        "--prune",
        "--dry-run",
        only_sites.to_str().unwrap(),
    ]);
    assert!(ok);
    assert!(
        out.starts_with("would delete status page `shop`\n"),
        "{out}"
    );
    let (ok, out, _) = cli(&["apply", "--prune", only_sites.to_str().unwrap()]);
    assert!(ok);
    assert_eq!(
        out,
        "deleted status page `shop`\ndeleted maintenance window `nightly`\ndeleted monitor `mail`\n\
         deleted monitor `shop home`\n4 changed, 2 unchanged\n"
    );

    // A broken file names the file, the line and the field, and changes nothing.
    std::fs::write(
        &file,
        DECLARED.replace("status: [200]", "status: [200, 999]"),
    )
    .unwrap();
    let (ok, out, err) = cli(&["apply", path]);
    assert!(!ok);
    assert_eq!(out, "");
    assert!(
        err.contains(&format!(
            "{path}:19: monitors[0].expect.status[1]: 999 is not an HTTP status code (100-599)"
        )),
        "{err}"
    );
    std::fs::write(&file, DECLARED.replace("type: tcp", "type: smtp")).unwrap();
    let (ok, _, err) = cli(&["apply", path]);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "{path}:21: monitors[1].type: unknown monitor type `smtp`"
        )),
        "{err}"
    );
    // A secret the vault does not hold is named where it is used.
    std::fs::write(
        &file,
        DECLARED.replace(
            "url: https://shop.example.com/",
            "url: \"https://shop.example.com/?key={{secrets.SHOP_KEY}}\"",
        ),
    )
    .unwrap();
    let (ok, _, err) = cli(&["apply", path]);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "{path}:15: monitors[0].url: `{{{{secrets.SHOP_KEY}}}}` names no secret in the vault"
        )),
        "{err}"
    );
    // A page naming a monitor that exists nowhere is refused, naming it.
    std::fs::write(
        &file,
        DECLARED.replace("[shop home, mail]", "[shop home, nope]"),
    )
    .unwrap();
    let (ok, _, err) = cli(&["apply", path]);
    assert!(!ok);
    assert!(
        err.contains(
            "status page `shop`: groups[0].components[0].monitors[1]: no monitor is named `nope`"
        ),
        "{err}"
    );
    let (_, out, _) = cli(&["export"]);
    assert!(!out.contains("monitors:"), "nothing was applied: {out}");
}

#[tokio::test]
async fn serve_applies_the_declared_monitors_at_start_and_runs_them() {
    let dir = tempfile::tempdir().unwrap();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "Add to cart" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = dir.path().join("sightline.yaml");
    std::fs::write(
        &config,
        format!(
            "server:\n  listen: 127.0.0.1:0\nmonitors:\n  - name: shop home\n    type: http\n    url: {target}\n    every: 1h\n    expect: {{ body_contains: Add to cart }}\n"
        ),
    )
    .unwrap();
    let server = ServerProcess::start(
        dir.path(),
        &["--config", config.to_str().unwrap()],
        &FIRST_ADMIN,
    );
    let http = reqwest::Client::new();
    let cookie = log_in(&http, &server).await;
    let monitors: Value = http
        .get(server.url("/api/v1/monitors"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(monitors[0]["name"], "shop home", "{monitors}");
    let id = monitors[0]["id"].as_i64().unwrap();
    let results: Value = http
        .post(server.url(&format!("/api/v1/monitors/{id}/run")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(results[0]["outcome"], "up", "{results}");
    assert_eq!(results[0]["checkpoint"], "local");
    server.signal("TERM");
    let (code, log) = server.wait(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{log:?}");
    assert!(
        log.iter()
            .any(|line| line.contains("applied the declared configuration")),
        "{log:?}"
    );
}

#[test]
fn check_runs_on_a_system_without_trusted_roots() {
    let dir = tempfile::tempdir().unwrap();
    let port = raw_http_server(vec![
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    ]);
    let empty = dir.path().join("no-roots.pem");
    std::fs::write(&empty, "").unwrap();
    let output = Command::new(BINARY)
        .current_dir(dir.path())
        .args(["check", &format!("http://127.0.0.1:{port}/")])
        .env("SSL_CERT_FILE", &empty)
        .env("SSL_CERT_DIR", dir.path().join("none"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(text(&output.stdout).starts_with("UP  HTTP 200"));
}

/// The incident's detail, once `ready` says it is what is waited for.
async fn incident_when(
    http: &reqwest::Client,
    server: &ServerProcess,
    cookie: &str,
    within: Duration,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let get = async |path: &str| -> Value {
        let response = http.get(server.url(path)).header("cookie", cookie);
        response.send().await.unwrap().json().await.unwrap()
    };
    let started = Instant::now();
    loop {
        let open = get("/api/v1/incidents?open=true").await;
        if let Some(id) = open[0]["id"].as_i64() {
            let detail = get(&format!("/api/v1/incidents/{id}")).await;
            if ready(&detail) {
                return detail;
            }
            assert!(started.elapsed() < within, "{detail}");
        } else {
            assert!(started.elapsed() < within, "no incident opened: {open}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn an_alert_stored_before_a_kill_9_is_sent_once_after_restart(kind: BackendKind) {
    use sightline_alerting::testing::SmtpServer;
    let database = TestDatabase::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let smtp_port = free_port().to_string();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        database.url(),
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &smtp_port,
        "--smtp-security",
        "plain",
    ];
    let env = FIRST_ADMIN;
    let server = ServerProcess::start(dir.path(), &args, &env);
    let http = reqwest::Client::new();
    let cookie = log_in(&http, &server).await;
    let create = async |path: &str, body: Value| {
        let response = http
            .post(server.url(path))
            .header("cookie", &cookie)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()
    };
    create(
        "/api/v1/alert-policies",
        json!({"name": "on-call", "levels": [{"after": "1 confirmed error", "email": ["ops@example.com"]}]}),
    )
    .await;
    let monitor = create(
        "/api/v1/monitors",
        json!({"name": "database", "type": "tcp", "host": "127.0.0.1", "port": free_port(),
               "every": "1h", "alert_policy": "on-call"}),
    )
    .await;
    http.post(server.url(&format!("/api/v1/monitors/{}/run", monitor["id"])))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();

    // The alert is stored and its first attempt finds no SMTP server; the
    // process is killed before it can try again.
    let detail = incident_when(&http, &server, &cookie, Duration::from_secs(30), |detail| {
        detail["notifications"][0]["attempts"].as_i64() >= Some(1)
    })
    .await;
    assert_eq!(detail["notifications"][0]["status"], "pending", "{detail}");
    server.signal("KILL");
    let (code, _) = server.wait(Duration::from_secs(10));
    assert_eq!(code, None, "killed by a signal");

    // The SMTP server comes up, the server restarts: the alert arrives once.
    let smtp = SmtpServer::start(smtp_port.parse().unwrap());
    let server = ServerProcess::start(dir.path(), &args, &env);
    let cookie = log_in(&http, &server).await;
    let detail = incident_when(&http, &server, &cookie, Duration::from_secs(60), |detail| {
        detail["notifications"][0]["status"] == "sent"
    })
    .await;
    assert_eq!(
        detail["notifications"].as_array().map(Vec::len),
        Some(1),
        "{detail}"
    );
    // Two more passes of the restarted engine and sender send nothing new.
    after_passes(&http, &server).await;
    let received = smtp.received();
    assert_eq!(received.len(), 1, "sent once");
    let mail = String::from_utf8_lossy(&received[0]);
    assert!(mail.contains("Subject: [DOWN] database:"), "{mail}");
    assert!(mail.contains("X-RcptTo: ops@example.com"), "{mail}");
    drop(server);
}

/// An SMTP brown-out: the server answers each message after 20 s, and two
/// `serve` processes work one outbox. Each message is leased on its own just
/// before it is sent, so neither process sends what the other holds: every
/// recipient gets the alert once, and both processes did send.
async fn two_servers_sending_through_a_slow_smtp_server_send_each_message_once(kind: BackendKind) {
    use sightline_alerting::testing::SmtpServer;
    const RECIPIENTS: usize = 8;
    let database = TestDatabase::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let smtp_port = free_port();
    let smtp = SmtpServer::start_answering_after(smtp_port, Duration::from_secs(20));
    let smtp_port = smtp_port.to_string();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        database.url(),
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &smtp_port,
        "--smtp-security",
        "plain",
    ];
    let env = FIRST_ADMIN;
    let first = ServerProcess::start(dir.path(), &args, &env);
    let second = ServerProcess::start(dir.path(), &args, &env);
    let http = reqwest::Client::new();
    let cookie = log_in(&http, &first).await;
    let recipients: Vec<String> = (1..=RECIPIENTS)
        .map(|n| format!("oncall{n}@example.com"))
        .collect();
    let create = async |path: &str, body: Value| {
        let response = http
            .post(first.url(path))
            .header("cookie", &cookie)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()
    };
    create(
        "/api/v1/alert-policies",
        json!({"name": "on-call", "levels": [{"after": "1 confirmed error", "email": recipients}]}),
    )
    .await;
    let monitor = create(
        "/api/v1/monitors",
        json!({"name": "database", "type": "tcp", "host": "127.0.0.1", "port": free_port(),
               "every": "1h", "alert_policy": "on-call"}),
    )
    .await;
    http.post(first.url(&format!("/api/v1/monitors/{}/run", monitor["id"])))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();

    // One round of 20 s (each process sends four at once), two at most.
    let detail = incident_when(&http, &first, &cookie, Duration::from_secs(90), |detail| {
        let sent = detail["notifications"].as_array().map_or(0, |all| {
            all.iter().filter(|n| n["status"] == "sent").count()
        });
        sent == RECIPIENTS
    })
    .await;
    // Long enough for a duplicate under way to land.
    tokio::time::sleep(Duration::from_secs(25)).await;
    let received = smtp.received();
    let mut to: Vec<String> = received
        .iter()
        .map(|mail| {
            let mail = String::from_utf8_lossy(mail);
            mail.lines()
                .find_map(|line| line.strip_prefix("X-RcptTo: "))
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    to.sort();
    let mut expected = recipients.clone();
    expected.sort();
    assert_eq!(to, expected, "each recipient once: {detail}");
    for notification in detail["notifications"].as_array().unwrap() {
        assert_eq!(notification["attempts"], 1, "{notification}");
    }
    let delivered_by = |server: ServerProcess| {
        let (_, log) = server.wait_after_kill();
        log.iter()
            .filter(|line| line.contains("notification delivered"))
            .count()
    };
    let (by_first, by_second) = (delivered_by(first), delivered_by(second));
    assert_eq!(by_first + by_second, RECIPIENTS);
    assert!(
        by_first > 0 && by_second > 0,
        "both processes sent: {by_first} and {by_second}"
    );
}

/// A `sightline agent` process, its log kept.
struct AgentProcess {
    child: Child,
}

impl AgentProcess {
    fn start(dir: &Path, server: &str, token: &str, checkpoint: &str) -> Self {
        let child = Command::new(BINARY)
            .current_dir(dir)
            .args(["agent", "--server", server, "--checkpoint", checkpoint])
            .args(["--spool-dir", "spool"])
            .env("SIGHTLINE_AGENT_TOKEN", token)
            .env("SIGHTLINE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("agent.log")).expect("an agent log"))
            .spawn()
            .expect("start sightline agent");
        AgentProcess { child }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn an_agent_runs_its_checkpoints_checks_and_reports_them_after_an_outage() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let args = ["--listen", listen.as_str(), "--data-dir", "data"];
    let env = FIRST_ADMIN;
    // The target: `/slow` answers after 4 s and counts who asked.
    let slow_hits = Arc::new(AtomicUsize::new(0));
    let hits = slow_hits.clone();
    let app = axum::Router::new()
        .route("/ok", axum::routing::get(|| async { "fine" }))
        .route(
            "/slow",
            axum::routing::get(move || {
                let hits = hits.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(4)).await;
                    "finally"
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let server = ServerProcess::start(dir.path(), &args, &env);
    let http = reqwest::Client::new();
    let cookie = log_in(&http, &server).await;
    let post = async |server: &ServerProcess, cookie: &str, path: &str, body: Value| {
        let response = http
            .post(server.url(path))
            .header("cookie", cookie)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{path}");
        response.json::<Value>().await.unwrap()
    };
    let token = post(
        &server,
        &cookie,
        "/api/v1/tokens",
        json!({"name": "east agent", "role": "viewer", "checkpoint": "east"}),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let fast = post(
        &server,
        &cookie,
        "/api/v1/monitors",
        json!({"name": "east fast", "type": "http", "url": format!("{target}/ok"),
               "every": "10s", "checkpoints": ["east"]}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let slow = post(
        &server,
        &cookie,
        "/api/v1/monitors",
        json!({"name": "east slow", "type": "http", "url": format!("{target}/slow"),
               "every": "10s", "timeout": "8s", "checkpoints": ["east"]}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let _agent = AgentProcess::start(dir.path(), &server.url(""), &token, "east");
    let results = async |server: &ServerProcess, cookie: &str, id: i64| -> Vec<Value> {
        let response = http
            .get(server.url(&format!("/api/v1/monitors/{id}/results")))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        response.json::<Vec<Value>>().await.unwrap_or_default()
    };

    // The agent leases east's checks, runs them here, reports them.
    let deadline = Instant::now() + Duration::from_secs(40);
    let first = loop {
        let found = results(&server, &cookie, fast).await;
        if let Some(result) = found.first() {
            break result.clone();
        }
        assert!(Instant::now() < deadline, "no result from the agent");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(first["checkpoint"], "east", "{first}");
    assert_eq!(first["outcome"], "up", "{first}");
    let checkpoints = http
        .get(server.url("/api/v1/checkpoints"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let east = checkpoints
        .as_array()
        .unwrap()
        .iter()
        .find(|checkpoint| checkpoint["name"] == "east")
        .unwrap();
    assert_eq!(east["agent_version"], env!("CARGO_PKG_VERSION"));

    // Between its checks it asks for work twice a second: over 5 s, ten
    // idle asks and a few more for the checks that came due (every 250 ms
    // would be twenty and more).
    let leases = async || -> u64 {
        let text = http
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|line| {
                line.starts_with(
                    r#"sightline_http_requests_total{method="POST",route="/api/v1/checkpoints/{name}/lease","#,
                )
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    let before = leases().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let asked = leases().await - before;
    // A loaded machine makes each ask slower, never more frequent: the
    // upper bound is the one that tells the two apart.
    assert!((3..=15).contains(&asked), "{asked} leases in 5 s");

    // The server dies while the agent runs a slow check: the result waits
    // on the agent's disk and arrives once the server is back.
    let before = slow_hits.load(Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(30);
    while slow_hits.load(Ordering::SeqCst) == before {
        assert!(Instant::now() < deadline, "the slow check never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    server.signal("KILL");
    let _ = server.wait(Duration::from_secs(10));
    let spool = dir.path().join("spool");
    let spooled = || {
        std::fs::read_dir(&spool)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|entry| entry.file_name().to_string_lossy().ends_with(".json"))
                    .count()
            })
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while spooled() == 0 {
        assert!(
            Instant::now() < deadline,
            "nothing was kept while the server was away"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let server = ServerProcess::start(dir.path(), &args, &env);
    let cookie = log_in(&http, &server).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let delivered = loop {
        let found = results(&server, &cookie, slow).await;
        let during = found
            .iter()
            .find(|result| {
                let started = result["started_at"].as_str().unwrap();
                started <= rfc3339(killed_at).as_str()
                    && started >= rfc3339(killed_at - 2_000).as_str()
            })
            .cloned();
        if let (Some(result), 0) = (during, spooled()) {
            break result;
        }
        assert!(
            Instant::now() < deadline,
            "the kept result did not arrive: {found:?}, {} spooled",
            spooled()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(delivered["checkpoint"], "east");
    assert_eq!(delivered["outcome"], "up", "{delivered}");
    assert!(delivered["duration_ms"].as_i64().unwrap() >= 3_900);
    // Its log, written to a file, is plain text under the agent's name:
    // the failed leases while the server was away say which checkpoint.
    let log = std::fs::read_to_string(dir.path().join("agent.log")).unwrap();
    assert!(!log.contains('\x1b'), "colour codes in a file:\n{log}");
    assert!(
        log.lines()
            .any(|line| line.contains("agent{checkpoint=east}") && line.contains("leasing checks")),
        "{log}"
    );
}

/// An RFC 3339 time as the API writes it, so that times compare as text.
fn rfc3339(unix_ms: i64) -> String {
    sightline_core::Timestamp::from(unix_ms).to_rfc3339()
}

/// The deploy files, read from the repository.
fn deploy_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml_documents(name: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(&deploy_file(name))
        .map(|document| {
            let value = serde_yaml_ng::Value::deserialize(document).unwrap();
            serde_json::to_value(value).unwrap()
        })
        .collect()
}

/// The environment variables a command reads, from its `--help`.
fn variables_read_by(command: &str) -> Vec<String> {
    let help = run(Path::new("."), &[command, "--help"], "");
    let help = text(&help.stdout);
    help.split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']']).next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_deploy_files_agree_with_the_binary() {
    let serve_reads = variables_read_by("serve");
    let agent_reads = variables_read_by("agent");
    assert!(
        serve_reads.contains(&"SIGHTLINE_DATABASE_URL".to_owned()),
        "{serve_reads:?}"
    );
    let known = |variable: &str, reads: &[String]| {
        // The first admin is read from the environment at start, not a flag.
        matches!(
            variable,
            "SIGHTLINE_ADMIN_EMAIL" | "SIGHTLINE_ADMIN_PASSWORD"
        ) || reads.iter().any(|read| read == variable)
    };

    // Compose: two servers on PostgreSQL behind one port, settings the
    // binary knows.
    let compose = &yaml_documents("compose.yaml")[0];
    let services = &compose["services"];
    for name in ["sightline-1", "sightline-2"] {
        let server = &services[name];
        assert_eq!(server["image"], "sightline:latest", "{name}");
        assert_eq!(server["command"], json!(["serve"]));
        let environment = server["environment"].as_object().unwrap();
        for variable in environment.keys() {
            assert!(
                known(variable, &serve_reads),
                "{name}: `serve` does not read {variable}"
            );
        }
        assert!(
            environment["SIGHTLINE_DATABASE_URL"]
                .as_str()
                .unwrap()
                .starts_with("postgres://")
        );
        assert_eq!(environment["SIGHTLINE_LISTEN"], "0.0.0.0:8080");
        assert_eq!(
            server["depends_on"]["postgres"]["condition"],
            "service_healthy"
        );
    }
    assert!(services["postgres"]["healthcheck"].is_object());
    assert_eq!(services["proxy"]["ports"], json!(["8080:8080"]));
    let nginx = deploy_file("nginx.conf");
    assert!(nginx.contains("server sightline-1:8080") && nginx.contains("server sightline-2:8080"));

    // Kubernetes: probes on the health endpoints, the port the server
    // listens on, secrets that exist.
    let secret = &yaml_documents("kubernetes/secret.yaml")[0];
    let secret_keys: Vec<&String> = secret["stringData"].as_object().unwrap().keys().collect();
    let check_env = |container: &Value, reads: &[String]| {
        for variable in container["env"].as_array().unwrap() {
            let name = variable["name"].as_str().unwrap();
            assert!(
                known(name, reads),
                "the container sets {name}, which is not read"
            );
            if let Some(key) = variable["valueFrom"]["secretKeyRef"]["key"].as_str() {
                assert!(secret_keys.iter().any(|k| *k == key), "no secret key {key}");
            }
        }
    };
    let server = &yaml_documents("kubernetes/server.yaml");
    let deployment = &server[0];
    assert_eq!(deployment["kind"], "Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["args"], json!(["serve"]));
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"],
        true
    );
    check_env(container, &serve_reads);
    let env = container["env"].as_array().unwrap();
    assert!(
        env.iter()
            .any(|v| v["name"] == "SIGHTLINE_LISTEN" && v["value"] == "0.0.0.0:8080")
    );
    assert_eq!(server[1]["kind"], "Service");
    assert_eq!(server[1]["spec"]["ports"][0]["targetPort"], "http");
    let agent = &yaml_documents("kubernetes/agent.yaml")[0];
    let container = &agent["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["args"], json!(["agent"]));
    check_env(container, &agent_reads);

    // Prometheus: the path the server serves, the port the others name,
    // and a credential, without which no monitor's metrics are served.
    let prometheus = &yaml_documents("prometheus/prometheus.yml")[0];
    let job = &prometheus["scrape_configs"][0];
    assert_eq!(job["metrics_path"], "/metrics");
    assert_eq!(job["authorization"]["type"], "Bearer");
    assert!(job["authorization"]["credentials_file"].is_string());
    assert_eq!(
        job["static_configs"][0]["targets"],
        json!(["sightline:8080"])
    );

    // The image: non-root, the port the others name.
    let dockerfile = deploy_file("Dockerfile");
    assert!(dockerfile.contains("\nUSER 10001\n"));
    assert!(dockerfile.contains("\nEXPOSE 8080\n"));
    assert!(dockerfile.contains("SIGHTLINE_LISTEN=0.0.0.0:8080"));

    // The systemd unit passes `systemd-analyze verify` (with the binary
    // where the unit expects it: here, the one under test).
    if Path::new("/usr/bin/systemd-analyze").exists() {
        let dir = tempfile::tempdir().unwrap();
        let unit = dir.path().join("sightline.service");
        std::fs::write(
            &unit,
            deploy_file("sightline.service").replace("/usr/local/bin/sightline", BINARY),
        )
        .unwrap();
        let verified = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&unit)
            .output()
            .unwrap();
        assert!(
            verified.status.success() && verified.stderr.is_empty(),
            "{}",
            text(&verified.stderr)
        );
    } else {
        panic!("systemd-analyze is missing: install systemd (`cargo xtask test` does)");
    }
}

#[test]
fn an_agent_refuses_bad_settings_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |args: &[&str]| {
        let mut all = vec!["agent", "--token", "t"];
        all.extend_from_slice(args);
        let output = run(dir.path(), &all, "");
        assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
        text(&output.stderr)
    };
    let error = refused(&["--server", "ftp://example.com", "--checkpoint", "east"]);
    assert!(
        error.contains("--server: `ftp://example.com/` must start with http:// or https://"),
        "{error}"
    );
    let error = refused(&[
        "--server",
        "http://127.0.0.1:9",
        "--checkpoint",
        "East Coast",
    ]);
    assert!(error.starts_with("error: --checkpoint: "), "{error}");
    let output = run(
        dir.path(),
        &[
            "agent",
            "--server",
            "not a url",
            "--token",
            "t",
            "--checkpoint",
            "east",
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("--server"),
        "{}",
        text(&output.stderr)
    );
}

/// What the checkpoints test's target has been asked, by path.
#[derive(Default)]
struct Hits {
    by_path: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    /// When `/flaky` last failed: it fails the first request of every five
    /// seconds, so of two checkpoints checking at once one fails and the
    /// other passes.
    flaky_failed: std::sync::Mutex<Option<Instant>>,
}

impl Hits {
    fn count(&self, path: &str) -> usize {
        self.by_path.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// Serves `/ok/{name}`, `/slow` (3 s), `/down` (503) and `/flaky`, counting
/// every request by path (`/slow` once it has answered).
async fn counting_target(hits: Arc<Hits>, address: &str) -> String {
    use axum::http::StatusCode;
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let hits = hits.clone();
        async move {
            let path = uri.path().to_owned();
            let count = |hits: &Hits| {
                *hits
                    .by_path
                    .lock()
                    .unwrap()
                    .entry(path.clone())
                    .or_default() += 1;
            };
            if path == "/slow" {
                // Counted once answered: a check cut short by a killed
                // process has no result to show for it.
                tokio::time::sleep(Duration::from_secs(3)).await;
                count(&hits);
                return StatusCode::OK;
            }
            count(&hits);
            match path.as_str() {
                "/down" => StatusCode::SERVICE_UNAVAILABLE,
                "/flaky" => {
                    let mut failed = hits.flaky_failed.lock().unwrap();
                    if failed.is_none_or(|at| at.elapsed() > Duration::from_secs(5)) {
                        *failed = Some(Instant::now());
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
                _ => StatusCode::OK,
            }
        }
    });
    let listener = tokio::net::TcpListener::bind((address, 0)).await.unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    target
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Milliseconds since the Unix epoch of an RFC 3339 time the API wrote.
fn unix_ms(text: &Value) -> i64 {
    let text = text.as_str().expect("a time");
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|_| panic!("not RFC 3339: {text}"))
        .timestamp_millis()
}

#[tokio::test]
async fn two_servers_and_two_agents_split_the_work_and_survive_a_kill_9() {
    use sightline_alerting::testing::SmtpServer;
    let database = TestDatabase::new(BackendKind::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let east_dir = tempfile::tempdir().unwrap();
    let west_dir = tempfile::tempdir().unwrap();
    let smtp_port = free_port();
    let smtp = SmtpServer::start(smtp_port);
    let smtp_port = smtp_port.to_string();
    let hits = Arc::new(Hits::default());
    let (a_listen, b_listen) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let args = |listen: &str| -> Vec<String> {
        [
            "--listen",
            listen,
            "--database-url",
            database.url(),
            "--checkpoint-offline-after",
            "5s",
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &smtp_port,
            "--smtp-security",
            "plain",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let (a_args, b_args) = (args(&a_listen), args(&b_listen));
    let env = FIRST_ADMIN;
    let server_a = ServerProcess::start(dir.path(), &strs(&a_args), &env);
    let server_b = ServerProcess::start(dir.path(), &strs(&b_args), &env);
    let http = reqwest::Client::new();
    let cookie = log_in(&http, &server_b).await;
    let post = async |path: &str, body: Value| {
        let response = http
            .post(server_b.url(path))
            .header("cookie", &cookie)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{path}");
        response.json::<Value>().await.unwrap()
    };
    let get = async |path: &str| -> Value {
        let response = http.get(server_b.url(path)).header("cookie", &cookie);
        response.send().await.unwrap().json().await.unwrap()
    };
    let mut tokens = Vec::new();
    for checkpoint in ["east", "west"] {
        let body = json!({"name": format!("{checkpoint} agent"), "role": "viewer", "checkpoint": checkpoint});
        tokens.push(
            post("/api/v1/tokens", body).await["token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    post(
        "/api/v1/alert-policies",
        json!({"name": "ops", "levels": [{"after": "1 confirmed error", "email": ["ops@example.com"]}]}),
    )
    .await;
    // Each monitor checks a host of its own: monitors of one host are
    // checked together when one fails, which is not what is counted here.
    let mut monitors = std::collections::BTreeMap::new();
    for (host, (name, path, checkpoints, extra)) in (2..).zip([
        (
            "everywhere",
            "/ok/everywhere",
            json!(["local", "east", "west"]),
            json!({}),
        ),
        ("east slow", "/slow", json!(["east"]), json!({})),
        ("flaky", "/flaky", json!(["east", "west"]), json!({})),
        (
            "two of three",
            "/down",
            json!(["local", "east", "west"]),
            json!({"down_when_failing": 2, "alert_policy": "ops"}),
        ),
    ]) {
        let target = counting_target(hits.clone(), &format!("127.0.0.{host}")).await;
        let mut body = json!({"name": name, "type": "http", "url": format!("{target}{path}"),
            "every": "10s", "timeout": "5s", "checkpoints": checkpoints});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        monitors.insert(
            name,
            (
                post("/api/v1/monitors", body).await["id"].as_i64().unwrap(),
                path,
            ),
        );
    }
    let east = AgentProcess::start(east_dir.path(), &server_a.url(""), &tokens[0], "east");
    let west = AgentProcess::start(west_dir.path(), &server_b.url(""), &tokens[1], "west");
    let results = async |name: &str| -> Vec<Value> {
        let id = monitors[name].0;
        let found = get(&format!("/api/v1/monitors/{id}/results?limit=1000")).await;
        found.as_array().cloned().unwrap_or_default()
    };
    let at = |results: &[Value], checkpoint: &str| -> usize {
        results
            .iter()
            .filter(|r| r["checkpoint"] == checkpoint && r["attempt"] == 0)
            .count()
    };

    // Both servers plan, run and store; each agent reports to its own.
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let everywhere = results("everywhere").await;
        if ["local", "east", "west"]
            .iter()
            .all(|c| at(&everywhere, c) >= 2)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every checkpoint reported twice: {everywhere:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Server A dies mid-run, its local checks leased; east's agent, which
    // reports to A, is cut off for a minute.
    let killed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    server_a.signal("KILL");
    let _ = server_a.wait(Duration::from_secs(10));
    let checkpoint_id = async |name: &str| -> Value {
        let checkpoints = get("/api/v1/checkpoints").await;
        let found = checkpoints
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name);
        found.unwrap()["id"].clone()
    };
    let (east_id, west_id) = (checkpoint_id("east").await, checkpoint_id("west").await);
    let open_offline = async |id: &Value| -> bool {
        let open = get("/api/v1/incidents?open=true").await;
        open.as_array().unwrap().iter().any(|incident| {
            incident["kind"] == "checkpoint_offline" && &incident["checkpoint_id"] == id
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !open_offline(&east_id).await {
        assert!(Instant::now() < deadline, "east was not marked offline");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let checkpoints = get("/api/v1/checkpoints").await;
    let status = |name: &str| {
        checkpoints
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(
        (status("east"), status("west"), status("local")),
        (json!("offline"), json!("online"), json!("online"))
    );
    let cut = Duration::from_secs(60);
    tokio::time::sleep(
        cut.saturating_sub(Duration::from_millis(
            (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64
                - killed_at) as u64,
        )),
    )
    .await;
    let server_a = ServerProcess::start(dir.path(), &strs(&a_args), &env);
    let back_at = killed_at + cut.as_millis() as i64;

    // East is back: its kept results arrive and its incident closes.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let everywhere = results("everywhere").await;
        let east_after = everywhere
            .iter()
            .filter(|r| r["checkpoint"] == "east" && unix_ms(&r["started_at"]) > back_at)
            .count();
        if east_after >= 2 && !open_offline(&east_id).await {
            break;
        }
        assert!(Instant::now() < deadline, "east did not come back");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // West's agent stops for good: one incident, one alert.
    drop(west);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if open_offline(&west_id).await {
            break;
        }
        assert!(Instant::now() < deadline, "west was not marked offline");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // West's alert goes out; a few more passes of both engines add nothing.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !smtp
        .received()
        .iter()
        .any(|mail| String::from_utf8_lossy(mail).contains("Subject: [ALERT] checkpoint west"))
    {
        assert!(Instant::now() < deadline, "west's alert was not sent");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    drop(east);

    // Every check ran once per due time: what the target was asked is what
    // was stored, beyond the one check server A was running when killed.
    let everywhere = results("everywhere").await;
    let stored = everywhere.len();
    let asked = hits.count("/ok/everywhere");
    assert!(
        stored <= asked && asked <= stored + 2,
        "asked {asked}, stored {stored}"
    );
    let slow = results("east slow").await;
    let runs: Vec<(&Value, &Value)> = slow
        .iter()
        .map(|r| (&r["due_at"], &r["started_at"]))
        .collect();
    assert_eq!(
        hits.count("/slow"),
        slow.len(),
        "east's agent lost nothing: {runs:?}\n{}",
        std::fs::read_to_string(east_dir.path().join("agent.log")).unwrap_or_default()
    );
    // Results carry their checkpoint, and local's due times have no gap,
    // across the kill of one server.
    let mut local_due: Vec<i64> = everywhere
        .iter()
        .filter(|r| r["checkpoint"] == "local" && r["attempt"] == 0)
        .map(|r| unix_ms(&r["due_at"]))
        .collect();
    local_due.sort_unstable();
    for pair in local_due.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            10_000,
            "a due time was lost or doubled: {local_due:?}"
        );
    }
    assert!(local_due.len() >= 9, "{local_due:?}");
    // What the killed server held was taken over within its lease: the due
    // time plus the 5 s timeout plus 30 s.
    for result in everywhere.iter().filter(|r| r["checkpoint"] == "local") {
        let late = unix_ms(&result["started_at"]) - unix_ms(&result["due_at"]);
        assert!(late < 37_000, "started {late} ms late: {result}");
    }
    // While east was away its share ran elsewhere and nothing queued for it.
    let during = |r: &&Value| {
        let due = unix_ms(&r["due_at"]);
        due > killed_at + 12_000 && due < back_at - 1_000
    };
    assert_eq!(
        everywhere
            .iter()
            .filter(during)
            .filter(|r| r["checkpoint"] == "east")
            .count(),
        0
    );
    assert!(
        everywhere
            .iter()
            .filter(during)
            .filter(|r| r["checkpoint"] == "west")
            .count()
            >= 3
    );
    // East's results arrived in the order they finished, kept ones first.
    let mut from_east: Vec<&Value> = everywhere
        .iter()
        .chain(slow.iter())
        .filter(|r| r["checkpoint"] == "east")
        .collect();
    from_east.sort_by_key(|r| r["id"].as_i64());
    let finished: Vec<i64> = from_east
        .iter()
        .map(|r| unix_ms(&r["started_at"]) + r["duration_ms"].as_i64().unwrap())
        .collect();
    for pair in finished.windows(2) {
        assert!(
            pair[1] + 50 >= pair[0],
            "reported out of order: {finished:?}"
        );
    }

    // A failure is confirmed from the other checkpoint.
    let flaky = results("flaky").await;
    let confirmations: Vec<&Value> = flaky
        .iter()
        .filter(|r| r["attempt"] == 1 && unix_ms(&r["due_at"]) < killed_at - 1_000)
        .collect();
    assert!(!confirmations.is_empty(), "{flaky:?}");
    for confirmation in confirmations {
        let failed = flaky
            .iter()
            .find(|r| {
                r["attempt"] == 0
                    && r["due_at"] == confirmation["due_at"]
                    && r["outcome"] == "error"
            })
            .unwrap_or_else(|| panic!("no failure for {confirmation}"));
        assert_ne!(
            failed["checkpoint"], confirmation["checkpoint"],
            "{flaky:?}"
        );
        assert_eq!(confirmation["outcome"], "up");
    }

    // Two of three failing is down, without re-runs, told once.
    let two = results("two of three").await;
    assert!(two.iter().all(|r| r["attempt"] == 0));
    assert!(two.iter().any(|r| r["confirmed_error"] == true), "{two:?}");
    let monitor = get(&format!("/api/v1/monitors/{}", monitors["two of three"].0)).await;
    assert_eq!(monitor["status"], "down", "{monitor}");

    // Each incident was told to ops once, whichever server told it.
    let received: Vec<String> = smtp
        .received()
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    let subjects: Vec<&str> = received
        .iter()
        .filter_map(|mail| mail.lines().find(|line| line.starts_with("Subject: ")))
        .collect();
    let told = |needle: &str| subjects.iter().filter(|s| s.contains(needle)).count();
    assert_eq!(told("[DOWN] two of three"), 1, "{subjects:?}");
    // East's recovery answers its alert, under the same subject.
    assert_eq!(
        told("checkpoint east: checkpoint offline"),
        2,
        "{subjects:?}"
    );
    let back = received
        .iter()
        .filter(|mail| mail.contains("Back in contact after"))
        .count();
    assert_eq!(back, 1, "{subjects:?}");
    assert_eq!(
        told("checkpoint west: checkpoint offline"),
        1,
        "{subjects:?}"
    );
    assert_eq!(subjects.len(), 4, "{subjects:?}");
    let incidents = get("/api/v1/incidents").await;
    let offline: Vec<&Value> = incidents
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "checkpoint_offline")
        .collect();
    assert_eq!(offline.len(), 2, "one incident per checkpoint: {incidents}");
    drop(server_a);
}

/// SIGTERM just after checks started, twenty times over one SQLite file:
/// every check the target saw begin has its result stored, the server says
/// nothing is wrong and exits 0, and `sightline.db` alone (without its
/// `-wal`) holds everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stores_every_started_check_and_leaves_a_complete_database() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    // Counts each check as it begins, and answers half a second later, so
    // that the signal comes while checks are under way.
    let begun = Arc::new(AtomicUsize::new(0));
    let counter = begun.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(500)).await;
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let monitors: String = (0..6)
        .map(|n| {
            format!("  - name: page {n}\n    type: http\n    url: {target}/{n}\n    every: 10s\n")
        })
        .collect();
    let config = dir.path().join("sightline.yaml");
    std::fs::write(
        &config,
        format!("server:\n  listen: 127.0.0.1:0\nmonitors:\n{monitors}"),
    )
    .unwrap();
    let data = dir.path().join("sightline-data");
    let database = data.join("sightline.db");
    for round in 0..20 {
        let before = begun.load(Ordering::SeqCst);
        let server = ServerProcess::start(
            dir.path(),
            &["--config", config.to_str().unwrap()],
            &FIRST_ADMIN,
        );
        // Just after a due time: the first check of this run has begun.
        let deadline = Instant::now() + Duration::from_secs(20);
        while begun.load(Ordering::SeqCst) == before {
            assert!(Instant::now() < deadline, "round {round}: no check began");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.signal("TERM");
        let (code, log) = server.wait(Duration::from_secs(30));
        assert_eq!(code, Some(0), "round {round}: {log:#?}");
        let troubled: Vec<&String> = log
            .iter()
            .filter(|line| {
                line.contains("\"level\":\"WARN\"") || line.contains("\"level\":\"ERROR\"")
            })
            .collect();
        assert!(troubled.is_empty(), "round {round}: {troubled:#?}");
        let wal = data.join("sightline.db-wal");
        assert!(
            !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
            "round {round}: the WAL was left behind"
        );
        // The file alone, copied away from its WAL, has every result.
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(&database, copy.path().join("alone.db")).unwrap();
        let alone = rusqlite::Connection::open(copy.path().join("alone.db")).unwrap();
        let stored: i64 = alone
            .query_row("SELECT COUNT(*) FROM check_results", [], |row| row.get(0))
            .unwrap();
        let rows: Vec<String> = alone
            .prepare("SELECT monitor_id, attempt, started_at, outcome, error_message FROM check_results ORDER BY started_at")
            .unwrap()
            .query_map([], |row| {
                Ok(format!(
                    "{} {} {} {} {:?}",
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<String>>(4)?
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            stored as usize,
            begun.load(Ordering::SeqCst),
            "round {round}: every check begun has its result: {rows:#?}"
        );
    }
}
