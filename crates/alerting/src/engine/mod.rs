//! The alerting engine. Each pass:
//!
//! 1. opens an incident for every monitor confirmed down;
//! 2. every few seconds, watches RUM sites: real-user traffic that went
//!    silent while the site's checks pass, and Core Web Vitals gone poor,
//!    open incidents of their own (`watch_sites`);
//! 3. classifies each monitor incident against its site's traffic
//!    (confirmed outage, or a synthetic failure while real users are still
//!    served), holds back the incidents of monitors whose parent is down,
//!    closes what recovered;
//! 4. works out who must hear of what (levels reached, routed by class;
//!    reminders; recovery notices) and puts one message per recipient in the
//!    outbox listing every incident due to them, grouped by host or site.
//!
//! Incidents of monitors whose relatives are still being checked wait a few
//! seconds, so that a host going down reaches each recipient once, listing
//! all its monitors. Every notification claims its (incident, step,
//! recipient) keys in the store, so passes may run in any process, any
//! number of times, after any restart, and each is still told once.

use crate::ack_links::AckLinks;
use crate::render::{MessageKind, RenderError, Templates};
use crate::traffic::TrafficWatch;
use sightline_core::checkpoint::DEFAULT_OFFLINE_AFTER;
use sightline_core::{AlertPolicySpec, Timestamp};
use sightline_store::{Severity, Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use world::{Told, World};

mod dispatch;
mod lifecycle;
mod lines;
mod routing;
mod world;

/// The longest a closed incident's recovery notice waits for the rest of
/// its outage (the same site, host and port) to recover with it.
const RECOVERY_HOLD: Duration = Duration::from_secs(180);
/// How often RUM sites are watched for silence.
const SILENCE_EVERY: Duration = Duration::from_secs(5);
/// How often RUM sites are watched for poor Core Web Vitals.
const PERFORMANCE_EVERY: Duration = Duration::from_secs(60);

/// Why a pass failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A template did not render.
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// What one pass changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Incidents opened.
    pub opened: usize,
    /// Incidents closed.
    pub closed: usize,
    /// Messages queued (one may cover several incidents).
    pub queued: usize,
}

/// Keeps incidents and notifications in step with monitor status and
/// real-user traffic.
#[derive(Debug)]
pub struct Engine {
    store: Store,
    templates: Arc<Templates>,
    server: String,
    outbox: Arc<Notify>,
    traffic: TrafficWatch,
    watched: Mutex<Watched>,
    offline_after: Duration,
    /// Offline checkpoints no enabled monitor named when last looked at,
    /// and when: looked at again a minute later, not on every pass.
    unnamed: Mutex<HashMap<i64, Instant>>,
    /// Told when checks are queued outside the schedule.
    rechecks: Option<Arc<Notify>>,
    /// Signs the acknowledgement links of e-mails.
    ack_links: Option<AckLinks>,
    /// Passes completed by [`Engine::run`].
    passes: Arc<std::sync::atomic::AtomicU64>,
}

/// When sites were last watched.
#[derive(Debug, Default)]
struct Watched {
    silence: Option<Instant>,
    performance: Option<Instant>,
}

impl Engine {
    /// An engine over `store`; `server` is the public URL links point to,
    /// `outbox` is told when notifications are queued.
    pub fn new(
        store: Store,
        templates: Arc<Templates>,
        server: String,
        outbox: Arc<Notify>,
    ) -> Self {
        Engine {
            store,
            templates,
            server,
            outbox,
            traffic: TrafficWatch::default(),
            watched: Mutex::new(Watched::default()),
            offline_after: DEFAULT_OFFLINE_AFTER,
            unnamed: Mutex::new(HashMap::new()),
            rechecks: None,
            ack_links: None,
            passes: Arc::default(),
        }
    }

    /// How many passes [`Engine::run`] has completed: what the server's
    /// metrics show, and what a test waits on to know the engine has looked
    /// again (instead of sleeping and hoping it has).
    pub fn passes(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.passes.clone()
    }

    /// Puts a signed acknowledgement link in each alert e-mail.
    pub fn with_ack_links(mut self, links: AckLinks) -> Self {
        self.ack_links = Some(links);
        self
    }

    /// Says whom to tell when the engine queues checks (of the rest of an
    /// outage, when part of it recovers), so that they run at once.
    pub fn with_rechecks(mut self, checks: Arc<Notify>) -> Self {
        self.rechecks = Some(checks);
        self
    }

    /// Says how long a checkpoint may go without contact before it is
    /// offline (and an incident of its own).
    pub fn with_offline_after(mut self, offline_after: Duration) -> Self {
        self.offline_after = offline_after;
        self
    }

    /// One pass over monitor status, site traffic and open incidents.
    pub async fn pass(&self) -> Result<Pass, EngineError> {
        let mut pass = Pass::default();
        let down = self.store.monitors_down_or_in_incident().await?;
        let mut open = self
            .store
            .list_incidents(true, None, Timestamp::from(0), 100_000)
            .await?;
        for monitor in &down {
            let is_down = monitor.status == "down" && monitor.spec.settings.enabled;
            let has_incident = open
                .iter()
                .any(|incident| incident.monitor_id == Some(monitor.id));
            if is_down && !has_incident {
                let cause = self.last_problem(monitor).await?;
                let incident = self
                    .store
                    .open_incident(monitor.id, Severity::Critical, &cause)
                    .await?;
                open.push(incident);
                pass.opened += 1;
            }
        }
        let checkpoints = self.store.list_checkpoints().await?;
        pass.opened += self.watch_checkpoints(&checkpoints, &mut open).await?;
        let (silence, performance) = self.sites_due();
        if open.is_empty() && !silence && !performance {
            return Ok(pass);
        }
        let world = World {
            monitors: self.store.list_monitors().await?,
            sites: self.store.list_sites().await?,
            checkpoints,
            policies: self
                .store
                .list_documents::<AlertPolicySpec>()
                .await?
                .into_iter()
                .map(|stored| stored.spec)
                .collect(),
            busy: self.store.monitors_with_jobs().await?.into_iter().collect(),
            now: self.store.now(),
        };
        if silence || performance {
            let opened = self
                .watch_sites(&world, &mut open, silence, performance)
                .await?;
            pass.opened += opened;
        }
        open.sort_by_key(|incident| incident.id);
        let mut closed = Vec::new();
        let mut still_open = Vec::new();
        for incident in open {
            match self
                .recovery_of(&world, &incident, (silence, performance))
                .await?
            {
                Some(message) => {
                    let incident = self.store.close_incident(incident.id, &message).await?;
                    closed.push(incident);
                }
                None => still_open.push(incident),
            }
        }
        pass.closed = closed.len();
        self.hold_dependants(&world, &mut still_open).await?;

        self.recheck_the_rest(&world, &closed, &still_open).await?;

        let mut due = Vec::new();
        let mut lines = HashMap::new();
        let mut open_groups: HashMap<String, Vec<i64>> = HashMap::new();
        let mut open_told = Vec::new();
        for incident in &still_open {
            let Some(told) = self.prepare(&world, incident, &still_open).await? else {
                continue;
            };
            open_groups
                .entry(told.line.group.clone())
                .or_default()
                .push(incident.id);
            lines.insert(incident.id, told.line.clone());
            open_told.push(told);
        }
        // Once someone is on an outage (any of its incidents acknowledged),
        // it is neither reminded of nor escalated further; incident tools
        // hear of the acknowledgement instead.
        let acknowledged = self.acknowledged_groups(&world, &open_told).await?;
        for told in &open_told {
            if acknowledged.contains(&told.line.group) {
                due.extend(self.acknowledgement_due(told).await?);
            } else if !told.waiting {
                due.extend(self.levels_due(&world, told).await?);
            }
        }
        // Recoveries: of what closed now, and of what closed a little
        // earlier while the rest of its outage was still down.
        let mut recovered = closed;
        for incident in self
            .store
            .incidents_closed_since(world.now.minus(RECOVERY_HOLD * 2))
            .await?
        {
            if !recovered.iter().any(|known| known.id == incident.id) {
                recovered.push(incident);
            }
        }
        // When each group's latest recovery within the hold happened.
        let mut recovering: HashMap<String, i64> = HashMap::new();
        for incident in &recovered {
            let Some(told) = self.prepare(&world, incident, &still_open).await? else {
                continue;
            };
            // One outage is one recovery notice: while others of its group
            // that were down with it are down still (and about to be
            // re-checked), a closed one waits.
            let closed_at = incident.closed_at.unwrap_or(world.now.as_millis());
            let waiting = world.now.as_millis() - closed_at < RECOVERY_HOLD.as_millis() as i64;
            let down_with_it = open_groups
                .get(&told.line.group)
                .into_iter()
                .flatten()
                .filter_map(|id| lines.get(id))
                .any(|line| line.opened_at.as_millis() < closed_at);
            if waiting {
                let latest = recovering
                    .entry(told.line.group.clone())
                    .or_insert(closed_at);
                *latest = (*latest).max(closed_at);
            }
            if !(waiting && down_with_it) {
                due.extend(self.recovery_due(&told).await?);
            }
            lines.insert(incident.id, told.line);
        }
        // Nor is an outage that is recovering reminded of: what is still
        // down in it (down since before its latest recovery) is being
        // checked again.
        due.retain(|item| {
            item.kind != MessageKind::Reminder
                || !lines.get(&item.incident_id).is_some_and(|line| {
                    recovering
                        .get(&line.group)
                        .is_some_and(|closed| line.opened_at.as_millis() < *closed)
                })
        });
        pass.queued = self.send(due, &lines, &open_groups).await?;
        if pass.queued > 0 {
            self.outbox.notify_waiters();
        }
        Ok(pass)
    }

    /// The groups (outages) someone is on: those with an acknowledged open
    /// incident, and those with an acknowledged incident that closed while
    /// one of the group still open was down with it. The rest of an
    /// acknowledged outage is not escalated for recovering piecemeal.
    async fn acknowledged_groups(
        &self,
        world: &World,
        open_told: &[Told<'_>],
    ) -> Result<HashSet<String>, EngineError> {
        let mut groups: HashSet<String> = open_told
            .iter()
            .filter(|told| told.incident.acknowledged_at.is_some())
            .map(|told| told.line.group.clone())
            .collect();
        let Some(earliest) = open_told
            .iter()
            .filter(|told| !groups.contains(&told.line.group))
            .map(|told| told.incident.opened_at)
            .min()
        else {
            return Ok(groups);
        };
        for closed in self
            .store
            .acknowledged_incidents_closed_since(earliest)
            .await?
        {
            let Some(group) = lines::group_of_incident(&closed, world) else {
                continue;
            };
            let closed_at = closed.closed_at.unwrap_or(world.now.as_millis());
            let down_with_it = open_told.iter().any(|open| {
                open.line.group == group && open.incident.opened_at.as_millis() < closed_at
            });
            if down_with_it {
                groups.insert(group);
            }
        }
        Ok(groups)
    }

    /// Whether sites are due to be watched for silence and for performance
    /// (and notes that they are being watched).
    fn sites_due(&self) -> (bool, bool) {
        let Ok(mut watched) = self.watched.lock() else {
            return (false, false);
        };
        let due = |last: &mut Option<Instant>, every: Duration| {
            let now = Instant::now();
            let due = last.is_none_or(|at| now.duration_since(at) >= every);
            if due {
                *last = Some(now);
            }
            due
        };
        (
            due(&mut watched.silence, SILENCE_EVERY),
            due(&mut watched.performance, PERFORMANCE_EVERY),
        )
    }

    /// Passes until `stopping` turns true: when woken (a result changed a
    /// status) and every `every` (for time-based levels and site traffic).
    /// A pass under way when it turns finishes first.
    pub async fn run(
        self,
        wake: Arc<Notify>,
        every: Duration,
        mut stopping: tokio::sync::watch::Receiver<bool>,
    ) {
        while !*stopping.borrow() {
            let woken = wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.pass().await {
                Ok(_) => {
                    self.passes
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                Err(error) => tracing::warn!(%error, "alerting pass"),
            }
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep(every) => {}
                changed = stopping.changed() => if changed.is_err() { return },
            }
        }
    }
}
