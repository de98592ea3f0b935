//! A remote checkpoint: leases its checkpoint's due checks from a server
//! over the checkpoint protocol (`/api/v1/checkpoints/{name}/…`), runs them
//! where it stands at their due times, and reports the results.
//!
//! Every result goes to the disk spool first and leaves it only once the
//! server has answered 204, so a server that cannot be reached costs
//! nothing but delay: leased checks keep running, their results wait in
//! order, and are reported oldest first when the server is back.

mod spool;

pub use spool::{Spool, SpoolError, Spooled};

use crate::coordinator::JobReport;
use crate::probe::Prober;
use crate::scheduler::{LOOKAHEAD, TICK};
use crate::secrets::Secrets;
use sightline_core::{Clock, MonitorSpec, Timestamp};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tracing::Instrument;

/// How often an idle agent asks for work: as seldom as keeps every check on
/// its slot. A job exists from [`LOOKAHEAD`] before it is due, give or take
/// a scheduler [`TICK`]; asking this often leaves 250 ms for the lease
/// request itself and the wait until the due time.
const POLL: Duration = LOOKAHEAD
    .saturating_sub(TICK)
    .saturating_sub(Duration::from_millis(250));
/// How often an agent busy with as many checks as it may run still tells
/// the server it is alive, well within the server's offline threshold.
const CONTACT_EVERY: Duration = Duration::from_secs(2);
/// Results per report request at most.
const REPORT_BATCH: usize = 100;
/// Bytes of results per report request at most (screenshots are large;
/// the server takes 32 MiB).
const REPORT_BYTES: usize = 16 * 1024 * 1024;
/// The longest wait between attempts while the server cannot be reached:
/// one small request every few seconds costs nothing, and a server that is
/// back hears from its agents at once.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Where the agent reports and what it may do.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The server's base URL (`https://sightline.example.com`).
    pub server: url::Url,
    /// A token bound to this checkpoint.
    pub token: String,
    /// The checkpoint's name.
    pub checkpoint: String,
    /// Where results wait until the server has them.
    pub spool: PathBuf,
    /// The spool's bound, in bytes.
    pub spool_bytes: u64,
    /// Checks run at once at most.
    pub concurrency: usize,
}

/// Why the agent cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The spool cannot be opened.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The HTTP client cannot be built.
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    /// The server's URL cannot carry the protocol's paths.
    #[error("`{0}` cannot be the server's URL")]
    ServerUrl(String),
}

/// A running remote checkpoint.
#[derive(Debug)]
pub struct Agent {
    config: AgentConfig,
    prober: Prober,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    spool: Arc<Mutex<Spool>>,
    spooled: Arc<Notify>,
    /// Jobs running here or whose results wait in the spool: a lease that
    /// ran out while the server was away hands them out again, and they
    /// must not run twice.
    in_hand: Mutex<HashSet<i64>>,
    /// Told when a lease succeeds after failures: the reporter stops
    /// waiting and sends what it kept.
    server_back: Notify,
}

/// What a lease answers.
#[derive(Debug, serde::Deserialize)]
struct Lease {
    jobs: Vec<Leased>,
    #[serde(default)]
    secrets: std::collections::BTreeMap<String, String>,
}

/// A job as the server leases it.
#[derive(Debug, serde::Deserialize)]
struct Leased {
    job_id: i64,
    monitor_id: i64,
    due_at: i64,
    attempt: i64,
    spec: serde_json::Value,
    /// The proof of this lease, sent back with the result.
    lease: String,
}

impl Agent {
    /// An agent for `config`, running checks with `prober`.
    pub fn new(
        config: AgentConfig,
        prober: Prober,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AgentError> {
        if config.server.cannot_be_a_base() {
            return Err(AgentError::ServerUrl(config.server.to_string()));
        }
        let mut spool = Spool::open(&config.spool, config.spool_bytes)?;
        let in_hand = spool
            .oldest(usize::MAX)?
            .into_iter()
            .map(|spooled| spooled.report.job_id)
            .collect();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .user_agent(format!("sightline-agent/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| AgentError::Client(error.to_string()))?;
        Ok(Agent {
            config,
            prober,
            clock,
            http,
            spool: Arc::new(Mutex::new(spool)),
            spooled: Arc::new(Notify::new()),
            in_hand: Mutex::new(in_hand),
            server_back: Notify::new(),
        })
    }

    fn url(&self, step: &str) -> String {
        let base = self.config.server.as_str().trim_end_matches('/');
        format!(
            "{base}/api/v1/checkpoints/{}/{step}",
            self.config.checkpoint
        )
    }

    /// Leases, runs and reports until the process ends.
    /// Everything it logs is under `agent{checkpoint=…}`, so its lines
    /// tell themselves apart from a server's in a shared journal.
    pub async fn run(self) {
        let span = tracing::info_span!("agent", checkpoint = %self.config.checkpoint);
        async {
            let agent = Arc::new(self);
            let reporter = tokio::spawn(agent.clone().report_forever().in_current_span());
            agent.lease_forever().await;
            reporter.abort();
        }
        .instrument(span)
        .await;
    }

    async fn lease_forever(self: Arc<Self>) {
        let permits = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut backoff = Backoff::default();
        loop {
            let free = permits.available_permits();
            if free == 0 {
                // Busy with every check it may run: wait for one to end,
                // but keep in contact meanwhile (a lease of none).
                if let Ok(permit) = tokio::time::timeout(CONTACT_EVERY, permits.acquire()).await {
                    drop(permit);
                    continue;
                }
            }
            let Lease { jobs, secrets } = match self.lease(free.min(1000)).await {
                Ok(lease) => {
                    if backoff.reset() {
                        self.server_back.notify_one();
                    }
                    lease
                }
                Err(error) => {
                    let wait = backoff.next();
                    tracing::warn!(%error, retry_in = ?wait, "leasing checks");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            if jobs.is_empty() {
                tokio::time::sleep(POLL).await;
                continue;
            }
            // Kept in memory for these checks only, never written down.
            let secrets = Arc::new(Secrets::new(secrets));
            for job in jobs {
                if !self.take(job.job_id) {
                    continue;
                }
                let spec = match MonitorSpec::from_json(job.spec) {
                    Ok(spec) => spec,
                    Err(error) => {
                        // A server newer than this agent: say so, and let
                        // the lease run out for another checkpoint.
                        tracing::error!(monitor = job.monitor_id, %error, "a leased check this agent cannot read (is the agent older than the server?)");
                        self.release(&[job.job_id]);
                        continue;
                    }
                };
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let agent = self.clone();
                let secrets = secrets.clone();
                tokio::spawn(
                    async move {
                        let due_at = Timestamp::from(job.due_at);
                        let wait = due_at.as_millis() - agent.clock.now().as_millis();
                        if wait > 0 {
                            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                        }
                        let started_at = agent.clock.now();
                        let report = agent.prober.run(&spec, &secrets).await;
                        agent
                            .keep(JobReport {
                                job_id: job.job_id,
                                monitor_id: job.monitor_id,
                                due_at,
                                attempt: job.attempt,
                                started_at,
                                report,
                                lease: job.lease,
                            })
                            .await;
                        drop(permit);
                    }
                    .in_current_span(),
                );
            }
        }
    }

    /// Marks a leased job as in hand; `false` when it already is.
    fn take(&self, job_id: i64) -> bool {
        let mut in_hand = self
            .in_hand
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        in_hand.insert(job_id)
    }

    /// Jobs whose results the server has (or will never take).
    fn release(&self, job_ids: &[i64]) {
        let mut in_hand = self
            .in_hand
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for job_id in job_ids {
            in_hand.remove(job_id);
        }
    }

    async fn lease(&self, max: usize) -> Result<Lease, String> {
        let response = self
            .http
            .post(self.url("lease"))
            .bearer_auth(&self.config.token)
            .json(&serde_json::json!({
                "max": max,
                "agent_version": env!("CARGO_PKG_VERSION"),
            }))
            .send()
            .await
            .map_err(|error| format!("the server cannot be reached: {error}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(format!("the server answered {status}: {body}"));
        }
        response
            .json()
            .await
            .map_err(|error| format!("the server's answer is not a lease: {error}"))
    }

    /// Runs `work` on the spool off the async threads (its writes sync to
    /// disk); `None` if that task died.
    async fn with_spool<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Spool) -> T + Send + 'static,
    ) -> Option<T> {
        let spool = self.spool.clone();
        tokio::task::spawn_blocking(move || {
            work(
                &mut spool
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            )
        })
        .await
        .ok()
    }

    /// Puts a result in the spool and wakes the reporter.
    async fn keep(&self, report: JobReport) {
        match self.with_spool(move |spool| spool.push(&report)).await {
            Some(Ok(0)) => {}
            Some(Ok(dropped)) => {
                tracing::warn!(
                    dropped,
                    "the result spool is full: dropped the oldest results"
                )
            }
            Some(Err(error)) => tracing::error!(%error, "a result could not be kept"),
            None => tracing::error!("a result could not be kept"),
        }
        self.spooled.notify_one();
    }

    /// Reports spooled results, oldest first, for ever.
    async fn report_forever(self: Arc<Self>) {
        let mut backoff = Backoff::default();
        loop {
            let batch = match self.with_spool(|spool| spool.oldest(REPORT_BATCH)).await {
                Some(Ok(batch)) => batch,
                Some(Err(error)) => {
                    tracing::error!(%error, "reading the result spool");
                    tokio::time::sleep(backoff.next()).await;
                    continue;
                }
                None => return,
            };
            if batch.is_empty() {
                let woken = self.spooled.notified();
                tokio::select! {
                    () = woken => {}
                    () = tokio::time::sleep(POLL) => {}
                }
                continue;
            }
            let batch = within_bytes(batch);
            match self.report(&batch).await {
                Ok(()) => {
                    backoff.reset();
                    self.forget(&batch).await;
                }
                Err(Refused::Invalid(reason)) if batch.len() > 1 => {
                    // Find the one the server refuses: send them one by one.
                    tracing::warn!(%reason, "the server refused a batch of results; sending them one by one");
                    for one in batch {
                        match self.report(std::slice::from_ref(&one)).await {
                            Ok(()) => self.forget(std::slice::from_ref(&one)).await,
                            Err(Refused::Invalid(reason)) => {
                                tracing::error!(monitor = one.report.monitor_id, %reason, "the server refused a result; dropping it");
                                self.forget(std::slice::from_ref(&one)).await;
                            }
                            Err(Refused::Later(_)) => break,
                        }
                    }
                }
                Err(Refused::Invalid(reason)) => {
                    tracing::error!(%reason, "the server refused a result; dropping it");
                    self.forget(&batch).await;
                }
                Err(Refused::Later(reason)) => {
                    let wait = backoff.next();
                    tracing::warn!(%reason, retry_in = ?wait, waiting = batch.len(), "reporting results");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = self.server_back.notified() => {
                            backoff.reset();
                        }
                    }
                }
            }
        }
    }

    async fn report(&self, batch: &[Spooled]) -> Result<(), Refused> {
        let reports: Vec<&JobReport> = batch.iter().map(|spooled| &spooled.report).collect();
        let response = self
            .http
            .post(self.url("results"))
            .bearer_auth(&self.config.token)
            .json(&reports)
            .send()
            .await
            .map_err(|error| Refused::Later(format!("the server cannot be reached: {error}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let reason = format!("the server answered {status}: {body}");
        // A result the server will never take (it names what is wrong, or
        // the job is not this checkpoint's to report any more) is dropped;
        // anything else (overload, a server being restarted, a token not
        // yet valid) is tried again.
        let code = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|error| error["code"].as_str().map(str::to_owned));
        if status == reqwest::StatusCode::UNPROCESSABLE_ENTITY
            || status == reqwest::StatusCode::PAYLOAD_TOO_LARGE
            || matches!(
                code.as_deref(),
                Some("not_leased" | "completed_elsewhere" | "running_elsewhere")
            )
        {
            Err(Refused::Invalid(reason))
        } else {
            Err(Refused::Later(reason))
        }
    }

    async fn forget(&self, batch: &[Spooled]) {
        let job_ids: Vec<i64> = batch.iter().map(|spooled| spooled.report.job_id).collect();
        self.release(&job_ids);
        let sequences: Vec<u64> = batch.iter().map(|spooled| spooled.sequence).collect();
        let removed = self
            .with_spool(move |spool| {
                sequences
                    .into_iter()
                    .try_for_each(|sequence| spool.remove(sequence))
            })
            .await;
        if let Some(Err(error)) = removed {
            // Reported again later; the server stores a result once.
            tracing::warn!(%error, "removing reported results from the spool");
        }
    }
}

/// Why a report did not go through.
enum Refused {
    /// The server will never take it.
    Invalid(String),
    /// Try again later.
    Later(String),
}

/// The oldest results that fit one request.
fn within_bytes(batch: Vec<Spooled>) -> Vec<Spooled> {
    let mut total = 0;
    let mut kept = Vec::with_capacity(batch.len());
    for spooled in batch {
        let size: usize = spooled
            .report
            .report
            .screenshots
            .iter()
            .map(|shot| shot.png.len() * 4 / 3 + 200)
            .sum::<usize>()
            + 2048;
        if !kept.is_empty() && total + size > REPORT_BYTES {
            break;
        }
        total += size;
        kept.push(spooled);
    }
    kept
}

/// Waits that double from 1 s up to [`MAX_BACKOFF`].
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        Duration::from_secs(1u64 << (self.failures - 1).min(5)).min(MAX_BACKOFF)
    }

    /// Starts over; returns whether there had been failures.
    fn reset(&mut self) -> bool {
        std::mem::take(&mut self.failures) > 0
    }
}
