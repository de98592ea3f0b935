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

use crate::render::{IncidentLine, MessageContext, MessageKind, RenderError, Templates};
use crate::traffic::{TrafficWatch, site_of};
use sightline_core::alert_policy::{Escalation, EscalationLevel};
use sightline_core::checkpoint::DEFAULT_OFFLINE_AFTER;
use sightline_core::correlation::TrafficVerdict;
use sightline_core::{AlertPolicySpec, CheckSpec, IncidentClass, Timestamp};
use sightline_store::{
    Channel, Checkpoint, Claim, Enqueued, Incident, IncidentKind, Monitor, NewNotification,
    Severity, Site, Store, StoreError,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long an alert may wait in the outbox before it is given up.
const ALERT_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// The longest a new incident waits for its monitor's relatives (same
/// host, parent, dependants) to be checked, so that they are told together.
const GROUP_WAIT: Duration = Duration::from_secs(15);
/// The longest a new incident waits for its site's traffic to give a
/// verdict, so that its first message says whether real users are hit.
const CLASSIFY_WAIT: Duration = Duration::from_secs(30);
/// How often RUM sites are watched for silence.
const SILENCE_EVERY: Duration = Duration::from_secs(5);
/// How often RUM sites are watched for poor Core Web Vitals.
const PERFORMANCE_EVERY: Duration = Duration::from_secs(60);
/// How long an offline checkpoint that no monitor names is left alone
/// before the monitors are looked at again.
const UNNAMED_RECHECK: Duration = Duration::from_secs(60);
/// Attempts to store a grouped message whose claims another process took
/// meanwhile.
const CLAIM_ATTEMPTS: usize = 4;

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
}

/// When sites were last watched.
#[derive(Debug, Default)]
struct Watched {
    silence: Option<Instant>,
    performance: Option<Instant>,
}

/// One incident's part in a message to one recipient.
#[derive(Debug, Clone)]
struct Due {
    incident_id: i64,
    step: String,
    kind: MessageKind,
    channel: Channel,
    recipient: String,
}

impl Due {
    fn claim_key(&self) -> String {
        format!(
            "incident/{}/{}/{}",
            self.incident_id, self.step, self.recipient
        )
    }
}

/// Everything a pass knows.
struct World {
    monitors: Vec<Monitor>,
    sites: Vec<Site>,
    checkpoints: Vec<Checkpoint>,
    policies: Vec<AlertPolicySpec>,
    /// Monitors with a check queued or running.
    busy: HashSet<i64>,
    now: Timestamp,
}

impl World {
    fn monitor(&self, id: Option<i64>) -> Option<&Monitor> {
        self.monitors.iter().find(|monitor| Some(monitor.id) == id)
    }

    fn site(&self, id: Option<i64>) -> Option<&Site> {
        self.sites.iter().find(|site| Some(site.id) == id)
    }

    fn policy(&self, name: Option<&str>) -> Option<&AlertPolicySpec> {
        self.policies
            .iter()
            .find(|policy| Some(policy.name.as_str()) == name)
    }

    /// The monitors watching `site`.
    fn linked(&self, site: &Site) -> Vec<&Monitor> {
        self.monitors
            .iter()
            .filter(|monitor| monitor.spec.settings.enabled)
            .filter(|monitor| site_of(monitor, &self.sites).is_some_and(|s| s.id == site.id))
            .collect()
    }

    fn checkpoint(&self, id: Option<i64>) -> Option<&Checkpoint> {
        self.checkpoints
            .iter()
            .find(|checkpoint| Some(checkpoint.id) == id)
    }

    /// The enabled monitors that run from `checkpoint`.
    fn running_from(&self, checkpoint: &Checkpoint) -> Vec<&Monitor> {
        self.monitors
            .iter()
            .filter(|monitor| monitor.spec.settings.enabled)
            .filter(|monitor| monitor.spec.settings.checkpoints.contains(&checkpoint.name))
            .collect()
    }

    /// The policies told about a checkpoint: those of the monitors that run
    /// from it, each once.
    fn checkpoint_policies(&self, checkpoint: &Checkpoint) -> Vec<&AlertPolicySpec> {
        let mut policies: Vec<&AlertPolicySpec> = Vec::new();
        for monitor in self.running_from(checkpoint) {
            if let Some(policy) = self.policy(monitor.spec.settings.alert_policy.as_deref()) {
                if !policies.iter().any(|known| known.name == policy.name) {
                    policies.push(policy);
                }
            }
        }
        policies
    }

    /// The policy told about a site: its own, else its monitors' first.
    fn site_policy(&self, site: &Site) -> Option<&AlertPolicySpec> {
        let name = site.spec.alert_policy.clone().or_else(|| {
            self.linked(site)
                .iter()
                .find_map(|monitor| monitor.spec.settings.alert_policy.clone())
        });
        self.policy(name.as_deref())
    }
}

/// An incident as this pass sees it, ready to be told.
struct Told<'a> {
    incident: &'a Incident,
    class: IncidentClass,
    line: IncidentLine,
    policies: Vec<&'a AlertPolicySpec>,
    /// Waiting for relatives' checks or a traffic verdict.
    waiting: bool,
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
        }
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

        let mut due = Vec::new();
        let mut lines = HashMap::new();
        for incident in &still_open {
            let Some(told) = self.prepare(&world, incident, &still_open).await? else {
                continue;
            };
            if !told.waiting {
                due.extend(self.levels_due(&world, &told).await?);
            }
            lines.insert(incident.id, told.line);
        }
        for incident in &closed {
            let Some(told) = self.prepare(&world, incident, &still_open).await? else {
                continue;
            };
            due.extend(self.recovery_due(&told).await?);
            lines.insert(incident.id, told.line);
        }
        pass.queued = self.send(due, &lines).await?;
        if pass.queued > 0 {
            self.outbox.notify_waiters();
        }
        Ok(pass)
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

    /// Opens an incident for every checkpoint that was in contact before,
    /// is offline now, and runs checks of an enabled monitor: one incident
    /// for the checkpoint, where its monitors fail nothing (their checks
    /// move to their other checkpoints).
    async fn watch_checkpoints(
        &self,
        checkpoints: &[Checkpoint],
        open: &mut Vec<Incident>,
    ) -> Result<usize, EngineError> {
        let now = self.store.now();
        let newly_offline: Vec<&Checkpoint> = checkpoints
            .iter()
            .filter(|c| c.last_seen_at.is_some())
            .filter(|c| c.is_offline(now, self.offline_after))
            .filter(|c| {
                !open
                    .iter()
                    .any(|incident| incident.checkpoint_id == Some(c.id))
            })
            .filter(|c| !self.recently_unnamed(c.id))
            .collect();
        if newly_offline.is_empty() {
            return Ok(0);
        }
        let monitors = self.store.list_monitors().await?;
        let mut opened = 0;
        for offline in newly_offline {
            let named: Vec<&Monitor> = monitors
                .iter()
                .filter(|monitor| monitor.spec.settings.enabled)
                .filter(|monitor| monitor.spec.settings.checkpoints.contains(&offline.name))
                .collect();
            if named.is_empty() {
                if let Ok(mut unnamed) = self.unnamed.lock() {
                    unnamed.insert(offline.id, Instant::now());
                }
                continue;
            }
            let cause = offline_cause(offline, &named, checkpoints, now, self.offline_after);
            let mut incident = self
                .store
                .open_checkpoint_incident(offline.id, Severity::Warning, &cause)
                .await?;
            let class = IncidentClass::CheckpointOffline;
            self.store
                .set_incident_correlation(
                    incident.id,
                    Severity::Warning,
                    class.as_str(),
                    class.label(),
                )
                .await?;
            incident.correlation = Some(class.as_str().to_owned());
            open.push(incident);
            opened += 1;
        }
        Ok(opened)
    }

    /// Whether an offline checkpoint was found named by no enabled monitor
    /// within the last minute.
    fn recently_unnamed(&self, checkpoint_id: i64) -> bool {
        self.unnamed.lock().is_ok_and(|unnamed| {
            unnamed
                .get(&checkpoint_id)
                .is_some_and(|at| at.elapsed() < UNNAMED_RECHECK)
        })
    }

    /// Opens incidents for sites whose real-user traffic went silent while
    /// their monitors pass, and for sites whose Core Web Vitals turned poor.
    async fn watch_sites(
        &self,
        world: &World,
        open: &mut Vec<Incident>,
        silence: bool,
        performance: bool,
    ) -> Result<usize, EngineError> {
        let mut opened = 0;
        for site in &world.sites {
            let linked = world.linked(site);
            if linked.is_empty() && site.spec.alert_policy.is_none() {
                continue;
            }
            let has_open = |open: &[Incident], kind| {
                open.iter()
                    .any(|incident| incident.site_id == Some(site.id) && incident.kind == kind)
            };
            let all_up = !linked.is_empty()
                && linked
                    .iter()
                    .all(|monitor| matches!(monitor.status.as_str(), "up" | "degraded"));
            if silence && all_up && !has_open(open, IncidentKind::RumSilent) {
                if let Some(verdict @ TrafficVerdict::Silent { .. }) = self
                    .traffic
                    .recent_verdict(&self.store, site, world.now)
                    .await?
                {
                    let cause =
                        format!("{}, while its checks pass", capitalise(&verdict.describe()));
                    open.push(
                        self.open_for_site(site, IncidentClass::RumSilent, &cause)
                            .await?,
                    );
                    opened += 1;
                }
            }
            if performance && !has_open(open, IncidentKind::RumPerformance) {
                let poor = self
                    .traffic
                    .poor_vitals(&self.store, site, world.now)
                    .await?;
                if !poor.is_empty() {
                    let cause = poor
                        .iter()
                        .map(|vital| vital.describe())
                        .collect::<Vec<_>>()
                        .join("; ");
                    open.push(
                        self.open_for_site(site, IncidentClass::RumPerformance, &cause)
                            .await?,
                    );
                    opened += 1;
                }
            }
        }
        Ok(opened)
    }

    /// Opens a site incident of a RUM class, classified as such.
    async fn open_for_site(
        &self,
        site: &Site,
        class: IncidentClass,
        cause: &str,
    ) -> Result<Incident, EngineError> {
        let kind = match class {
            IncidentClass::RumPerformance => IncidentKind::RumPerformance,
            _ => IncidentKind::RumSilent,
        };
        let mut incident = self
            .store
            .open_site_incident(kind, site.id, Severity::Warning, cause)
            .await?;
        self.store
            .set_incident_correlation(
                incident.id,
                Severity::Warning,
                class.as_str(),
                class.label(),
            )
            .await?;
        incident.severity = Severity::Warning;
        incident.correlation = Some(class.as_str().to_owned());
        Ok(incident)
    }

    /// Why an open incident is over, if it is. Site traffic is read only
    /// when that watch is due (`silence`, `performance`), not every pass.
    async fn recovery_of(
        &self,
        world: &World,
        incident: &Incident,
        (silence, performance): (bool, bool),
    ) -> Result<Option<String>, EngineError> {
        match incident.kind {
            IncidentKind::MonitorDown => {
                let Some(monitor) = world.monitor(incident.monitor_id) else {
                    return Ok(Some("the monitor was removed".to_owned()));
                };
                let recovered = !matches!(monitor.status.as_str(), "down" | "maintenance")
                    || !monitor.spec.settings.enabled;
                Ok(recovered.then(|| format!("{} recovered", monitor.spec.settings.name)))
            }
            IncidentKind::RumSilent => {
                let Some(site) = world.site(incident.site_id) else {
                    return Ok(Some("the site was removed".to_owned()));
                };
                let linked = world.linked(site);
                if let Some(down) = linked.iter().find(|monitor| monitor.status == "down") {
                    return Ok(Some(format!(
                        "{} is down: its incident takes over",
                        down.spec.settings.name
                    )));
                }
                if !silence {
                    return Ok(None);
                }
                let verdict = self
                    .traffic
                    .recent_verdict(&self.store, site, world.now)
                    .await?;
                Ok(match verdict {
                    Some(verdict @ TrafficVerdict::Normal { .. }) => {
                        Some(capitalise(&verdict.describe()))
                    }
                    _ => None,
                })
            }
            IncidentKind::CheckpointOffline => {
                let Some(offline) = world.checkpoint(incident.checkpoint_id) else {
                    return Ok(Some("the checkpoint was removed".to_owned()));
                };
                let back = !offline.is_offline(world.now, self.offline_after);
                Ok(back.then(|| {
                    format!(
                        "checkpoint {} is back in contact (at {})",
                        offline.name,
                        offline.last_contact().to_rfc3339()
                    )
                }))
            }
            IncidentKind::RumPerformance => {
                let Some(site) = world.site(incident.site_id) else {
                    return Ok(Some("the site was removed".to_owned()));
                };
                if !performance {
                    return Ok(None);
                }
                let poor = self
                    .traffic
                    .poor_vitals(&self.store, site, world.now)
                    .await?;
                Ok(poor
                    .is_empty()
                    .then(|| "Core Web Vitals are no longer poor".to_owned()))
            }
        }
    }

    /// Holds back incidents whose monitor depends on one that is down, and
    /// releases those whose parent recovered.
    async fn hold_dependants(
        &self,
        world: &World,
        open: &mut [Incident],
    ) -> Result<(), EngineError> {
        let mut held: HashSet<i64> = HashSet::new();
        for index in 0..open.len() {
            let incident = open[index].clone();
            let Some(monitor) = world.monitor(incident.monitor_id) else {
                continue;
            };
            let parent = monitor
                .spec
                .settings
                .depends_on
                .as_deref()
                .and_then(|name| world.monitors.iter().find(|m| m.spec.settings.name == name))
                .and_then(|parent| {
                    open.iter().find(|other| {
                        other.monitor_id == Some(parent.id) && !held.contains(&other.id)
                    })
                })
                .map(|parent_incident| parent_incident.id);
            let name = &monitor.spec.settings.name;
            let parent_name = monitor.spec.settings.depends_on.clone().unwrap_or_default();
            match (parent, incident.held_by) {
                (Some(parent_id), None) => {
                    self.store
                        .set_incident_held(
                            incident.id,
                            Some(parent_id),
                            &format!("held back: {name} depends on {parent_name}, which is down"),
                        )
                        .await?;
                    self.store
                        .add_incident_event(
                            parent_id,
                            "dependant",
                            &format!("{name}, which depends on {parent_name}, is down too"),
                        )
                        .await?;
                    open[index].held_by = Some(parent_id);
                    held.insert(incident.id);
                }
                (Some(_), Some(_)) => {
                    held.insert(incident.id);
                }
                (None, Some(_)) => {
                    self.store
                        .set_incident_held(
                            incident.id,
                            None,
                            &format!("released: {parent_name} is no longer down, {name} still is"),
                        )
                        .await?;
                    open[index].held_by = None;
                }
                (None, None) => {}
            }
        }
        Ok(())
    }

    /// The incident's line in messages, its class and whether it must wait;
    /// `None` when its subject is gone.
    async fn prepare<'a>(
        &self,
        world: &'a World,
        incident: &'a Incident,
        open: &[Incident],
    ) -> Result<Option<Told<'a>>, EngineError> {
        let now = world.now;
        let age =
            Duration::from_millis((now.as_millis() - incident.opened_at.as_millis()).max(0) as u64);
        let minutes = age.as_secs() / 60;
        let link = format!(
            "{}/incidents/{}",
            self.server.trim_end_matches('/'),
            incident.id
        );
        let since = incident.opened_at.to_rfc3339();
        let duration = Some(format!("{minutes} min"));
        let stored_class = incident
            .correlation
            .as_deref()
            .and_then(IncidentClass::parse);
        if incident.kind == IncidentKind::CheckpointOffline {
            let Some(offline) = world.checkpoint(incident.checkpoint_id) else {
                return Ok(None);
            };
            let class = IncidentClass::CheckpointOffline;
            let monitors: Vec<String> = world
                .running_from(offline)
                .iter()
                .map(|monitor| monitor.spec.settings.name.clone())
                .collect();
            let line = IncidentLine {
                monitor: format!("checkpoint {}", offline.name),
                site: false,
                checkpoint: true,
                target: format!(
                    "{} monitor{} run from it",
                    monitors.len(),
                    if monitors.len() == 1 { "" } else { "s" }
                ),
                problem: incident.cause.clone(),
                checkpoints: Vec::new(),
                timings: None,
                class: class.as_str().to_owned(),
                classification: Some(class.label().to_owned()),
                explanation: Some(class.explanation().to_owned()),
                traffic: None,
                group: "checkpoints".to_owned(),
                dependants: Vec::new(),
                since,
                duration,
                link,
            };
            return Ok(Some(Told {
                incident,
                class,
                line,
                policies: world.checkpoint_policies(offline),
                waiting: false,
            }));
        }
        if incident.kind != IncidentKind::MonitorDown {
            let Some(site) = world.site(incident.site_id) else {
                return Ok(None);
            };
            let class = stored_class.unwrap_or(IncidentClass::RumSilent);
            let line = IncidentLine {
                monitor: format!("site {}", site.spec.name),
                site: true,
                checkpoint: false,
                target: site.spec.origins.join(", "),
                problem: incident.cause.clone(),
                checkpoints: Vec::new(),
                timings: None,
                class: class.as_str().to_owned(),
                classification: Some(class.label().to_owned()),
                explanation: Some(class.explanation().to_owned()),
                traffic: None,
                group: site.spec.name.clone(),
                dependants: Vec::new(),
                since,
                duration,
                link,
            };
            return Ok(Some(Told {
                incident,
                class,
                line,
                policies: world.site_policy(site).into_iter().collect(),
                waiting: false,
            }));
        }
        let Some(monitor) = world.monitor(incident.monitor_id) else {
            return Ok(None);
        };
        let site = site_of(monitor, &world.sites);
        let (class, traffic, verdict_pending) =
            self.classify(incident, site, stored_class, now).await?;
        let relatives_busy = world.monitors.iter().any(|other| {
            other.id != monitor.id
                && world.busy.contains(&other.id)
                && monitor.spec.is_related(&other.spec)
                && !open.iter().any(|o| o.monitor_id == Some(other.id))
        });
        let waiting = incident.held_by.is_some()
            || monitor.status == "maintenance"
            || (relatives_busy && age < GROUP_WAIT)
            || (verdict_pending && age < CLASSIFY_WAIT);
        let dependants = open
            .iter()
            .filter(|other| other.held_by == Some(incident.id))
            .filter_map(|other| world.monitor(other.monitor_id))
            .map(|m| m.spec.settings.name.clone())
            .collect();
        let group = site
            .map(|site| site.spec.name.clone())
            .or_else(|| monitor.spec.check.host())
            .unwrap_or_else(|| monitor.spec.settings.name.clone());
        let line = IncidentLine {
            monitor: monitor.spec.settings.name.clone(),
            site: false,
            checkpoint: false,
            target: target(&monitor.spec.check),
            problem: incident.cause.clone(),
            checkpoints: monitor.spec.settings.checkpoints.clone(),
            timings: None,
            class: class.as_str().to_owned(),
            classification: (class != IncidentClass::Down).then(|| class.label().to_owned()),
            explanation: (class != IncidentClass::Down).then(|| class.explanation().to_owned()),
            traffic,
            group,
            dependants,
            since,
            duration,
            link,
        };
        let policies = world
            .policy(monitor.spec.settings.alert_policy.as_deref())
            .into_iter()
            .collect();
        Ok(Some(Told {
            incident,
            class,
            line,
            policies,
            waiting,
        }))
    }

    /// A monitor incident's class from its site's traffic since it opened:
    /// silent makes it a confirmed outage, normal a synthetic failure. A
    /// confirmed outage stays one. Returns the class, the traffic picture in
    /// words, and whether a verdict is still to come.
    async fn classify(
        &self,
        incident: &Incident,
        site: Option<&Site>,
        stored: Option<IncidentClass>,
        now: Timestamp,
    ) -> Result<(IncidentClass, Option<String>, bool), EngineError> {
        let Some(site) = site else {
            return Ok((stored.unwrap_or(IncidentClass::Down), None, false));
        };
        let Some(baseline) = self.traffic.baseline(&self.store, site, now).await? else {
            return Ok((
                stored.unwrap_or(IncidentClass::Down),
                Some(format!(
                    "no verdict: site {} has less than {} hours of real-user traffic recorded",
                    site.spec.name,
                    sightline_core::correlation::MIN_RECENT_HOURS
                )),
                false,
            ));
        };
        let verdict = self
            .traffic
            .verdict(&self.store, site, incident.opened_at, now)
            .await?;
        let found = match verdict {
            Some(TrafficVerdict::Silent { .. }) => Some(IncidentClass::ConfirmedOutage),
            Some(TrafficVerdict::Normal { .. }) => Some(IncidentClass::SyntheticFailure),
            _ => None,
        };
        let class = match (stored, found) {
            (Some(IncidentClass::ConfirmedOutage), _) => IncidentClass::ConfirmedOutage,
            (_, Some(found)) => found,
            (Some(stored), None) => stored,
            (None, None) => IncidentClass::Down,
        };
        let traffic = verdict.map(|verdict| verdict.describe());
        if Some(class) != stored && class != IncidentClass::Down {
            let severity = if class.is_critical() {
                Severity::Critical
            } else {
                Severity::Warning
            };
            self.store
                .set_incident_correlation(
                    incident.id,
                    severity,
                    class.as_str(),
                    &format!(
                        "{}: {}",
                        class.label(),
                        traffic.as_deref().unwrap_or_default()
                    ),
                )
                .await?;
        }
        let pending = class == IncidentClass::Down && baseline.silence_window().is_some();
        Ok((class, traffic, pending))
    }

    /// The levels (and reminders) an open incident has reached, for the
    /// recipients routed its class.
    async fn levels_due(&self, world: &World, told: &Told<'_>) -> Result<Vec<Due>, EngineError> {
        if told.policies.is_empty() {
            return Ok(Vec::new());
        }
        let incident = told.incident;
        let errors = match incident.monitor_id {
            Some(monitor_id) => {
                self.store
                    .check_totals(
                        monitor_id,
                        incident.opened_at.minus(Duration::from_secs(3600)),
                        world.now.plus(Duration::from_secs(1)),
                    )
                    .await?
                    .counts
                    .confirmed_errors
            }
            None => i64::MAX,
        };
        let down_for = Duration::from_millis(
            (world.now.as_millis() - incident.opened_at.as_millis()).max(0) as u64,
        );
        let mut due = Vec::new();
        for policy in &told.policies {
            for (index, level) in policy.levels.iter().enumerate() {
                if !level.routes(told.class) {
                    continue;
                }
                let reached = match level.after {
                    Escalation::ConfirmedErrors(count) => errors >= i64::from(count),
                    Escalation::Down(after) => down_for >= after,
                };
                if !reached {
                    continue;
                }
                due.extend(recipients(
                    level,
                    incident.id,
                    &format!("level-{index}"),
                    MessageKind::Down,
                ));
                // A failure that turns out to hit real users is told again to
                // those told of it before; told at once, it is one message.
                if told.class == IncidentClass::ConfirmedOutage {
                    due.extend(recipients(
                        level,
                        incident.id,
                        &format!("level-{index}-{}", told.class.as_str()),
                        MessageKind::Down,
                    ));
                }
                // Reminders: the n-th once n intervals have passed.
                if let Some(every) = policy.remind_every {
                    let reminders = down_for.as_millis() / every.as_millis().max(1);
                    if reminders > 0 {
                        due.extend(recipients(
                            level,
                            incident.id,
                            &format!("reminder-{reminders}"),
                            MessageKind::Reminder,
                        ));
                    }
                }
            }
        }
        Ok(due)
    }

    /// Recovery notices for everyone the incident's levels told.
    async fn recovery_due(&self, told: &Told<'_>) -> Result<Vec<Due>, EngineError> {
        let policies: Vec<&&AlertPolicySpec> = told
            .policies
            .iter()
            .filter(|policy| policy.notify_recovery)
            .collect();
        if policies.is_empty() {
            return Ok(Vec::new());
        }
        let sent = self.store.incident_notifications(told.incident.id).await?;
        let mut due = Vec::new();
        for level in policies.iter().flat_map(|policy| &policy.levels) {
            due.extend(
                recipients(level, told.incident.id, "recovered", MessageKind::Recovered)
                    .into_iter()
                    .filter(|item| sent.iter().any(|n| n.recipient == item.recipient)),
            );
        }
        Ok(due)
    }

    /// Puts one message per recipient and kind in the outbox, listing every
    /// incident due to them, minus what was told before.
    async fn send(
        &self,
        due: Vec<Due>,
        lines: &HashMap<i64, IncidentLine>,
    ) -> Result<usize, EngineError> {
        if due.is_empty() {
            return Ok(0);
        }
        let keys: Vec<String> = due.iter().map(Due::claim_key).collect();
        let taken: HashSet<String> = self.store.claimed(&keys).await?.into_iter().collect();
        let mut messages: BTreeMap<(String, &'static str, MessageKind), Vec<Due>> = BTreeMap::new();
        for item in due {
            if taken.contains(&item.claim_key()) {
                continue;
            }
            messages
                .entry((item.recipient.clone(), item.channel.as_str(), item.kind))
                .or_default()
                .push(item);
        }
        let mut queued = 0;
        for ((recipient, _, kind), mut items) in messages {
            items.sort_by_key(|item| (item.incident_id, item.step.clone()));
            for _ in 0..CLAIM_ATTEMPTS {
                if items.is_empty() {
                    break;
                }
                match self.enqueue(&recipient, kind, &items, lines).await? {
                    Enqueued::Queued => {
                        queued += 1;
                        break;
                    }
                    Enqueued::AlreadyClaimed(taken) => {
                        items.retain(|item| !taken.contains(&item.claim_key()));
                    }
                }
            }
        }
        Ok(queued)
    }

    /// Renders and stores one message about `items` (same recipient, kind
    /// and channel) with its claims.
    async fn enqueue(
        &self,
        recipient: &str,
        kind: MessageKind,
        items: &[Due],
        lines: &HashMap<i64, IncidentLine>,
    ) -> Result<Enqueued, EngineError> {
        let mut ids: Vec<i64> = items.iter().map(|item| item.incident_id).collect();
        ids.dedup();
        let mut incidents: Vec<IncidentLine> =
            ids.iter().filter_map(|id| lines.get(id).cloned()).collect();
        incidents.sort_by(|a, b| (&a.group, &a.monitor).cmp(&(&b.group, &b.monitor)));
        let first_group = incidents.first().map(|line| line.group.clone());
        let group = first_group.filter(|group| incidents.iter().all(|line| &line.group == group));
        let context = MessageContext {
            kind,
            incidents,
            group,
            server: self.server.clone(),
        };
        let email = self.templates.email(&context)?;
        let channel = items[0].channel;
        let claims: Vec<Claim> = items
            .iter()
            .map(|item| Claim {
                key: item.claim_key(),
                incident_id: item.incident_id,
            })
            .collect();
        let payload = match channel {
            Channel::Email => serde_json::to_value(&email).unwrap_or_default(),
            // Slack and compatible chats show `text`; anything else reads
            // the incidents.
            Channel::Webhook => serde_json::json!({
                "type": kind,
                "text": email.subject,
                "incident_ids": ids,
                "incidents": context.incidents,
                "details": email.text,
            }),
        };
        Ok(self
            .store
            .enqueue_claimed(
                &NewNotification {
                    dedupe_key: claims[0].key.clone(),
                    incident_id: Some(ids[0]),
                    channel,
                    recipient: recipient.to_owned(),
                    subject: email.subject.clone(),
                    payload,
                    lifetime: ALERT_LIFETIME,
                },
                &claims,
            )
            .await?)
    }

    /// The problem of the monitor's latest confirmed error.
    async fn last_problem(&self, monitor: &Monitor) -> Result<String, StoreError> {
        let since = monitor.status_since.unwrap_or(Timestamp::from(0));
        let results = self
            .store
            .check_results(
                monitor.id,
                since.minus(Duration::from_secs(3600)),
                self.store.now().plus(Duration::from_secs(1)),
                20,
            )
            .await?;
        Ok(results
            .iter()
            .find_map(|stored| stored.result.report.problem.as_ref())
            .map(|problem| problem.message.clone())
            .unwrap_or_else(|| "confirmed down".to_owned()))
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
            if let Err(error) = self.pass().await {
                tracing::warn!(%error, "alerting pass");
            }
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep(every) => {}
                changed = stopping.changed() => if changed.is_err() { return },
            }
        }
    }
}

/// One [`Due`] per recipient of `level`.
fn recipients(
    level: &EscalationLevel,
    incident_id: i64,
    step: &str,
    kind: MessageKind,
) -> Vec<Due> {
    let email = level.email.iter().map(|r| (Channel::Email, r));
    let webhook = level.webhook.iter().map(|r| (Channel::Webhook, r));
    email
        .chain(webhook)
        .map(|(channel, recipient)| Due {
            incident_id,
            step: step.to_owned(),
            kind,
            channel,
            recipient: recipient.clone(),
        })
        .collect()
}

/// Why a checkpoint's incident opened: how long it has been silent, and
/// what became of its monitors' checks.
fn offline_cause(
    offline: &Checkpoint,
    monitors: &[&Monitor],
    checkpoints: &[Checkpoint],
    now: Timestamp,
    offline_after: Duration,
) -> String {
    let silent_for = Duration::from_secs(
        ((now.as_millis() - offline.last_contact().as_millis()).max(0) / 1000) as u64,
    );
    let online = |name: &str| {
        checkpoints
            .iter()
            .any(|other| other.name == name && !other.is_offline(now, offline_after))
    };
    let (moved, stranded): (Vec<&&Monitor>, Vec<&&Monitor>) =
        monitors.iter().partition(|monitor| {
            monitor
                .spec
                .settings
                .checkpoints
                .iter()
                .any(|name| name != &offline.name && online(name))
        });
    let names = |list: &[&&Monitor]| {
        list.iter()
            .map(|monitor| monitor.spec.settings.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut cause = format!(
        "no contact for {} (last at {})",
        sightline_core::duration_text::format(silent_for),
        offline.last_contact().to_rfc3339()
    );
    if !moved.is_empty() {
        cause.push_str(&format!(
            "; the checks of {} run from their other checkpoints",
            names(&moved)
        ));
    }
    if !stranded.is_empty() {
        cause.push_str(&format!(
            "; {} name no other checkpoint online and are not checked",
            names(&stranded)
        ));
    }
    cause
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What a check looks at, in a few words.
fn target(check: &CheckSpec) -> String {
    match check {
        CheckSpec::Http(http) => http.url.clone(),
        CheckSpec::Tcp(tcp) => format!("{}:{}", tcp.host, tcp.port),
        CheckSpec::Dns(dns) => format!("{} ({:?})", dns.host, dns.record_type),
        CheckSpec::Tls(tls) => format!("{}:{}", tls.host, tls.port),
        CheckSpec::Ping(ping) => ping.host.clone(),
        CheckSpec::Api(api) => format!("{} steps", api.steps.len()),
        CheckSpec::Browser(browser) => browser.url.clone(),
        CheckSpec::Transaction(transaction) => format!(
            "{} steps from {}",
            transaction.steps.len(),
            transaction.start_url().unwrap_or("?")
        ),
    }
}
