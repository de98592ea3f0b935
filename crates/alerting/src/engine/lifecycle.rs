//! Incident lifecycle: opening incidents for checkpoints gone offline and
//! for sites gone silent or slow, closing what recovered, holding back
//! dependants of a monitor that is down.

use super::world::World;
use super::{Engine, EngineError, lines};
use sightline_core::IncidentClass;
use sightline_core::Timestamp;
use sightline_core::correlation::{self, TrafficVerdict};
use sightline_store::{
    Checkpoint, Incident, IncidentKind, Monitor, NewJob, Severity, Site, StoreError,
};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// How long an offline checkpoint that no monitor names is left alone
/// before the monitors are looked at again.
const UNNAMED_RECHECK: Duration = Duration::from_secs(60);

impl Engine {
    /// Opens an incident for every checkpoint that was in contact before,
    /// is offline now, and runs checks of an enabled monitor: one incident
    /// for the checkpoint, where its monitors fail nothing (their checks
    /// move to their other checkpoints).
    pub(super) async fn watch_checkpoints(
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
    pub(super) fn recently_unnamed(&self, checkpoint_id: i64) -> bool {
        self.unnamed.lock().is_ok_and(|unnamed| {
            unnamed
                .get(&checkpoint_id)
                .is_some_and(|at| at.elapsed() < UNNAMED_RECHECK)
        })
    }

    /// Opens incidents for sites whose real-user traffic went silent while
    /// their monitors pass, and for sites whose Core Web Vitals turned poor.
    pub(super) async fn watch_sites(
        &self,
        world: &World,
        open: &mut Vec<Incident>,
        silence: bool,
        performance: bool,
    ) -> Result<usize, EngineError> {
        let mut opened = 0;
        // When each monitor last came back up: traffic from while a site
        // was down says nothing of its RUM script.
        let mut back_up: HashMap<i64, i64> = HashMap::new();
        if silence {
            let since = world.now.minus(correlation::LONGEST_WINDOW);
            for incident in self.store.incidents_closed_since(since).await? {
                if let (Some(monitor), Some(closed)) = (incident.monitor_id, incident.closed_at) {
                    let latest = back_up.entry(monitor).or_insert(closed);
                    *latest = (*latest).max(closed);
                }
            }
        }
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
            let last_down = linked
                .iter()
                .filter_map(|monitor| back_up.get(&monitor.id).copied())
                .max();
            if silence
                && all_up
                && !has_open(open, IncidentKind::RumSilent)
                && let Some(verdict @ TrafficVerdict::Silent { .. }) = self
                    .traffic
                    .recent_verdict(&self.store, site, world.now, last_down.map(Timestamp::from))
                    .await?
            {
                let cause = format!("{}, while its checks pass", capitalise(&verdict.describe()));
                open.push(
                    self.open_for_site(site, IncidentClass::RumSilent, &cause)
                        .await?,
                );
                opened += 1;
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
    pub(super) async fn open_for_site(
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
    pub(super) async fn recovery_of(
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
                    .recent_verdict(&self.store, site, world.now, None)
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
    pub(super) async fn hold_dependants(
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

    /// The problem of the monitor's latest confirmed error.
    /// When monitors recovered, checks the rest of their outage (the same
    /// site, or host and port) that is still down at once, instead of at
    /// their next slot: a page check that runs every few minutes then closes
    /// with the site, and the outage ends in one recovery notice.
    pub(super) async fn recheck_the_rest(
        &self,
        world: &World,
        closed: &[Incident],
        still_open: &[Incident],
    ) -> Result<usize, StoreError> {
        let groups: HashSet<String> = closed
            .iter()
            .filter_map(|incident| world.monitor(incident.monitor_id))
            .map(|monitor| lines::group_of(monitor, &world.sites))
            .collect();
        if groups.is_empty() {
            return Ok(0);
        }
        let mut jobs = Vec::new();
        let mut rechecked = 0;
        for monitor in still_open
            .iter()
            .filter_map(|incident| world.monitor(incident.monitor_id))
            .filter(|monitor| monitor.spec.settings.enabled && !world.busy.contains(&monitor.id))
            .filter(|monitor| groups.contains(&lines::group_of(monitor, &world.sites)))
        {
            rechecked += 1;
            for name in &monitor.spec.settings.checkpoints {
                if let Some(checkpoint) = world.checkpoints.iter().find(|c| &c.name == name) {
                    jobs.push(NewJob {
                        monitor_id: monitor.id,
                        checkpoint_id: checkpoint.id,
                        due_at: world.now,
                        attempt: 0,
                    });
                }
            }
        }
        if jobs.is_empty() {
            return Ok(0);
        }
        self.store.enqueue_jobs(&jobs).await?;
        tracing::info!(
            monitors = rechecked,
            "checking the rest of a recovering outage now"
        );
        if let Some(checks) = &self.rechecks {
            checks.notify_waiters();
        }
        Ok(rechecked)
    }

    pub(super) async fn last_problem(&self, monitor: &Monitor) -> Result<String, StoreError> {
        self.problem_since(
            monitor.id,
            monitor.status_since.unwrap_or(Timestamp::from(0)),
        )
        .await
    }

    /// What the monitor's latest failing check since about `since` said.
    pub(super) async fn problem_since(
        &self,
        monitor_id: i64,
        since: Timestamp,
    ) -> Result<String, StoreError> {
        let results = self
            .store
            .check_results(
                monitor_id,
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
}

/// Why a checkpoint's incident opened: how long it has been silent, and
/// what became of its monitors' checks.
pub(super) fn offline_cause(
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

pub(super) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
