//! What a pass knows: the monitors, sites, checkpoints and policies it
//! reads once, and each open incident as it is about to be told.

use crate::render::IncidentLine;
use crate::traffic::site_of;
use sightline_core::{AlertPolicySpec, IncidentClass, Timestamp};
use sightline_store::{Checkpoint, Incident, Monitor, Site};
use std::collections::HashSet;

/// Everything a pass knows.
pub(super) struct World {
    pub(super) monitors: Vec<Monitor>,
    pub(super) sites: Vec<Site>,
    pub(super) checkpoints: Vec<Checkpoint>,
    pub(super) policies: Vec<AlertPolicySpec>,
    /// Monitors with a check queued or running.
    pub(super) busy: HashSet<i64>,
    pub(super) now: Timestamp,
}

impl World {
    pub(super) fn monitor(&self, id: Option<i64>) -> Option<&Monitor> {
        self.monitors.iter().find(|monitor| Some(monitor.id) == id)
    }

    pub(super) fn site(&self, id: Option<i64>) -> Option<&Site> {
        self.sites.iter().find(|site| Some(site.id) == id)
    }

    pub(super) fn policy(&self, name: Option<&str>) -> Option<&AlertPolicySpec> {
        self.policies
            .iter()
            .find(|policy| Some(policy.name.as_str()) == name)
    }

    /// The monitors watching `site`.
    pub(super) fn linked(&self, site: &Site) -> Vec<&Monitor> {
        self.monitors
            .iter()
            .filter(|monitor| monitor.spec.settings.enabled)
            .filter(|monitor| site_of(monitor, &self.sites).is_some_and(|s| s.id == site.id))
            .collect()
    }

    pub(super) fn checkpoint(&self, id: Option<i64>) -> Option<&Checkpoint> {
        self.checkpoints
            .iter()
            .find(|checkpoint| Some(checkpoint.id) == id)
    }

    /// The enabled monitors that run from `checkpoint`.
    pub(super) fn running_from(&self, checkpoint: &Checkpoint) -> Vec<&Monitor> {
        self.monitors
            .iter()
            .filter(|monitor| monitor.spec.settings.enabled)
            .filter(|monitor| monitor.spec.settings.checkpoints.contains(&checkpoint.name))
            .collect()
    }

    /// The policies told about a checkpoint: those of the monitors that run
    /// from it, each once.
    pub(super) fn checkpoint_policies(&self, checkpoint: &Checkpoint) -> Vec<&AlertPolicySpec> {
        let mut policies: Vec<&AlertPolicySpec> = Vec::new();
        for monitor in self.running_from(checkpoint) {
            if let Some(policy) = self.policy(monitor.spec.settings.alert_policy.as_deref())
                && !policies.iter().any(|known| known.name == policy.name)
            {
                policies.push(policy);
            }
        }
        policies
    }

    /// The policy told about a site: its own, else its monitors' first.
    pub(super) fn site_policy(&self, site: &Site) -> Option<&AlertPolicySpec> {
        let name = site.spec.alert_policy.clone().or_else(|| {
            self.linked(site)
                .iter()
                .find_map(|monitor| monitor.spec.settings.alert_policy.clone())
        });
        self.policy(name.as_deref())
    }
}

/// An incident as this pass sees it, ready to be told.
pub(super) struct Told<'a> {
    pub(super) incident: &'a Incident,
    pub(super) class: IncidentClass,
    pub(super) line: IncidentLine,
    pub(super) policies: Vec<&'a AlertPolicySpec>,
    /// Waiting for relatives' checks or a traffic verdict.
    pub(super) waiting: bool,
}
