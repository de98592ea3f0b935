//! Message lines: each incident as one line of a message, with its class
//! from the site's traffic, and whether it must wait before it is told.

use super::world::{Told, World};
use super::{Engine, EngineError};
use crate::render::IncidentLine;
use crate::traffic::site_of;
use sightline_core::correlation::TrafficVerdict;
use sightline_core::{CheckSpec, IncidentClass, Timestamp};
use sightline_store::{Incident, IncidentKind, Monitor, Severity, Site};
use std::time::Duration;

/// The longest a new incident waits for its monitor's relatives (same
/// host, parent, dependants) to be checked, so that they are told together.
const GROUP_WAIT: Duration = Duration::from_secs(15);
/// The longest a new incident waits for its site's traffic to give a
/// verdict, so that its first message says whether real users are hit.
const CLASSIFY_WAIT: Duration = Duration::from_secs(30);

impl Engine {
    /// The incident's line in messages, its class and whether it must wait;
    /// `None` when its subject is gone.
    pub(super) async fn prepare<'a>(
        &self,
        world: &'a World,
        incident: &'a Incident,
        open: &[Incident],
    ) -> Result<Option<Told<'a>>, EngineError> {
        let now = world.now;
        let age =
            Duration::from_millis((now.as_millis() - incident.opened_at.as_millis()).max(0) as u64);
        // A closed incident lasted until it closed, not until this pass.
        let lasted = Duration::from_millis(
            (incident.closed_at.unwrap_or(now.as_millis()) - incident.opened_at.as_millis()).max(0)
                as u64,
        );
        let link = format!(
            "{}/incidents/{}",
            self.server.trim_end_matches('/'),
            incident.id
        );
        let since = incident.opened_at.to_rfc3339();
        let since_text = since.clone();
        let opened_at = incident.opened_at;
        let duration = Some(crate::when::span(lasted));
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
                id: incident.id,
                critical: false,
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
                group: CHECKPOINTS_GROUP.to_owned(),
                dependants: Vec::new(),
                since,
                since_text,
                opened_at,
                monitor_id: None,
                acknowledged_by: incident.acknowledged_by.clone(),
                acknowledged_at: incident.acknowledged_at,
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
                id: incident.id,
                critical: class.is_critical(),
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
                since_text,
                opened_at,
                monitor_id: None,
                acknowledged_by: incident.acknowledged_by.clone(),
                acknowledged_at: incident.acknowledged_at,
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
        let group = group_of(monitor, &world.sites);
        let line = IncidentLine {
            id: incident.id,
            critical: class == IncidentClass::Down || class.is_critical(),
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
            since_text,
            opened_at,
            monitor_id: Some(monitor.id),
            acknowledged_by: incident.acknowledged_by.clone(),
            acknowledged_at: incident.acknowledged_at,
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
    pub(super) async fn classify(
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
                    "no verdict: site {} has less than {} min of real-user traffic recorded",
                    site.spec.name,
                    sightline_core::correlation::MIN_RECENT_SPAN.as_secs() / 60
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
}

/// What an incident is grouped under in messages: the checkpoints for an
/// offline checkpoint, the site for a site's own incident, else its
/// monitor's group; `None` when what it was about is gone.
pub(super) fn group_of_incident(incident: &Incident, world: &World) -> Option<String> {
    match incident.kind {
        IncidentKind::CheckpointOffline => world
            .checkpoint(incident.checkpoint_id)
            .map(|_| CHECKPOINTS_GROUP.to_owned()),
        IncidentKind::MonitorDown => world
            .monitor(incident.monitor_id)
            .map(|monitor| group_of(monitor, &world.sites)),
        IncidentKind::RumSilent | IncidentKind::RumPerformance => world
            .site(incident.site_id)
            .map(|site| site.spec.name.clone()),
    }
}

/// The group of every offline checkpoint's incident.
const CHECKPOINTS_GROUP: &str = "checkpoints";

/// What one outage of a monitor is grouped under in messages: its site,
/// else the host and port it checks, else its own name.
pub(super) fn group_of(monitor: &Monitor, sites: &[Site]) -> String {
    site_of(monitor, sites)
        .map(|site| site.spec.name.clone())
        .or_else(|| monitor.spec.check.endpoint())
        .unwrap_or_else(|| monitor.spec.settings.name.clone())
}

/// What a check looks at, in a few words.
pub(super) fn target(check: &CheckSpec) -> String {
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
