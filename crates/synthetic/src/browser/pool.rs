//! The browsers a checkpoint runs browser checks in: headless Chromium
//! driven by chromedriver over WebDriver (fantoccini).
//!
//! Every check gets a browser of its own: a chromedriver started in a
//! process group of its own, which starts Chromium with a fresh profile.
//! When the check ends, however it ends (passed, failed, past its time
//! limit, the browser crashed or hung), the session is closed and the whole
//! group is killed and reaped, so nothing a check started outlives it and
//! no check inherits a sick browser. A semaphore bounds how many run at once.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;

/// Where the browser binaries are and how many may run.
#[derive(Debug, Clone)]
pub struct BrowserConfig {
    /// The Chromium binary.
    pub chromium: PathBuf,
    /// The chromedriver binary (same major version as Chromium).
    pub chromedriver: PathBuf,
    /// Browser checks running at once.
    pub sessions: usize,
    /// Where fresh profiles are made (one directory per check, removed
    /// after it).
    pub profiles: PathBuf,
}

impl Default for BrowserConfig {
    fn default() -> Self {
        BrowserConfig {
            chromium: PathBuf::from("/usr/bin/chromium"),
            chromedriver: PathBuf::from("/usr/bin/chromedriver"),
            sessions: 2,
            profiles: std::env::temp_dir(),
        }
    }
}

/// Why a browser check could not run, or was cut short.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// A binary is missing: this checkpoint cannot run browser checks.
    #[error(
        "this checkpoint has no browser: {0} not found (install the `chromium` and `chromium-driver` packages, or set its path)"
    )]
    Missing(PathBuf),
    /// chromedriver did not start or did not answer.
    #[error("chromedriver did not start: {0}")]
    Driver(String),
    /// Chromium did not start a session.
    #[error("Chromium did not start: {0}")]
    Session(String),
    /// The check ran past its time limit and was stopped.
    #[error("the browser check did not finish within {0:?} and was stopped")]
    TimedOut(Duration),
    /// A profile directory could not be made.
    #[error("cannot make a browser profile: {0}")]
    Profile(#[from] std::io::Error),
}

/// Runs browser checks, each in a browser of its own, a bounded number at
/// once.
#[derive(Debug, Clone)]
pub struct BrowserPool {
    config: Arc<BrowserConfig>,
    slots: Arc<Semaphore>,
}

impl BrowserPool {
    /// A pool, or why this machine cannot run browser checks.
    pub fn new(config: BrowserConfig) -> Result<Self, BrowserError> {
        for binary in [&config.chromium, &config.chromedriver] {
            if !binary.is_file() {
                return Err(BrowserError::Missing(binary.clone()));
            }
        }
        let slots = Arc::new(Semaphore::new(config.sessions.max(1)));
        Ok(BrowserPool {
            config: Arc::new(config),
            slots,
        })
    }

    /// Runs `check` in a fresh browser, stopping it after `limit` (the
    /// browser's start counts). The browser is gone when this returns.
    pub async fn run<T>(
        &self,
        limit: Duration,
        check: impl AsyncFnOnce(&fantoccini::Client) -> T,
    ) -> Result<T, BrowserError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| BrowserError::Driver("the browser pool is closed".to_owned()))?;
        let deadline = Instant::now() + limit;
        let profile = tempfile::Builder::new()
            .prefix("sightline-browser-")
            .tempdir_in(&self.config.profiles)?;
        let mut browser = Browser::start(&self.config, profile.path(), deadline).await?;
        let outcome = tokio::time::timeout_at(deadline.into(), check(&browser.client)).await;
        browser.stop().await;
        drop(profile);
        outcome.map_err(|_| BrowserError::TimedOut(limit))
    }
}

/// One chromedriver with its Chromium session.
struct Browser {
    driver: Driver,
    client: fantoccini::Client,
}

/// A chromedriver leading a process group of its own. Dropped, even with
/// its check cancelled halfway, it kills the whole group.
struct Driver(Child);

impl Driver {
    /// Kills the group and reaps its leader.
    async fn stop(&mut self) {
        self.kill_group();
        let _ = self.0.wait().await;
    }

    /// Kills every process of the group; nothing once the leader is reaped
    /// (its id could be another's by then).
    fn kill_group(&self) {
        if let Some(pid) = self
            .0
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32))
        {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // `kill_on_drop` reaps the leader.
        self.kill_group();
    }
}

impl Browser {
    async fn start(
        config: &BrowserConfig,
        profile: &Path,
        deadline: Instant,
    ) -> Result<Self, BrowserError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| BrowserError::Driver(format!("no free port: {e}")))?
            .port();
        let mut driver = Command::new(&config.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // A group of its own: Chromium and its helpers join it, and
            // killing the group leaves nothing behind.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map(Driver)
            .map_err(|e| BrowserError::Driver(format!("{}: {e}", config.chromedriver.display())))?;
        let url = format!("http://127.0.0.1:{port}");
        let listening = async {
            loop {
                if let Ok(Some(status)) = driver.0.try_wait() {
                    return Err(BrowserError::Driver(format!("it exited ({status})")));
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(BrowserError::Driver("it did not listen in time".to_owned()));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        // On an error the driver is dropped, and its group with it.
        listening.await?;
        let client = Self::session(config, profile, &url, deadline).await?;
        Ok(Browser { driver, client })
    }

    async fn session(
        config: &BrowserConfig,
        profile: &Path,
        url: &str,
        deadline: Instant,
    ) -> Result<fantoccini::Client, BrowserError> {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "binary": config.chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--no-first-run", "--disable-dev-shm-usage",
                    "--window-size=1366,768",
                    format!("--user-data-dir={}", profile.display()),
                ],
                // The network events only: each request's real status.
                "perfLoggingPrefs": {"enableNetwork": true, "enablePage": false},
            }),
        );
        capabilities.insert(
            super::chrome_log::LOGGING_PREFS.to_owned(),
            super::chrome_log::logging_prefs(),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut builder = fantoccini::ClientBuilder::new(connector);
        builder.capabilities(capabilities);
        let attempt = builder.connect(url);
        match tokio::time::timeout_at(deadline.into(), attempt).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(error)) => Err(BrowserError::Session(error.to_string())),
            Err(_) => Err(BrowserError::Session(
                "no session before the time limit".to_owned(),
            )),
        }
    }

    /// Ends the session (Chromium quits and chromedriver reaps it), then
    /// kills whatever of the group is left, hung or not.
    async fn stop(&mut self) {
        let closing = self.client.clone().close();
        let _ = tokio::time::timeout(Duration::from_secs(5), closing).await;
        self.driver.stop().await;
    }
}
