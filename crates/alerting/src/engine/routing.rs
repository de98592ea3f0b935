//! Routing: who must hear of what, level by level, reminder by reminder,
//! and of the recovery.

use super::world::{Told, World};
use super::{Engine, EngineError};
use crate::channels::{self, Notifier};
use crate::render::MessageKind;
use chrono_tz::Tz;
use sightline_core::alert_channels::ChannelSettings;
use sightline_core::alert_policy::{Escalation, EscalationLevel};
use sightline_core::{AlertPolicySpec, IncidentClass};
use sightline_store::Notification;
use std::collections::HashMap;
use std::time::Duration;

/// One incident's part in a message to one recipient.
#[derive(Debug, Clone)]
pub(super) struct Due {
    pub(super) incident_id: i64,
    pub(super) step: String,
    pub(super) kind: MessageKind,
    pub(super) notifier: &'static dyn Notifier,
    /// Who it goes to (see [`channels::recipient`]).
    pub(super) recipient: String,
    /// The target's settings as the policy wrote them.
    pub(super) target: ChannelSettings,
    /// The time zone its policy gives times in.
    pub(super) zone: Tz,
    /// How often its policy reminds.
    pub(super) remind_every: Option<Duration>,
}

impl std::fmt::Debug for dyn Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Due {
    pub(super) fn claim_key(&self) -> String {
        format!(
            "incident/{}/{}/{}",
            self.incident_id, self.step, self.recipient
        )
    }
}

impl Engine {
    /// The levels (and reminders) an open incident has reached, for the
    /// recipients routed its class.
    pub(super) async fn levels_due(
        &self,
        world: &World,
        told: &Told<'_>,
    ) -> Result<Vec<Due>, EngineError> {
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
        // When each recipient was first told of this incident: their
        // reminders count from then, not from when it opened, so that one
        // reached at a later level is not reminded in the same minute.
        let mut first_told: HashMap<String, i64> = HashMap::new();
        if told
            .policies
            .iter()
            .any(|policy| policy.remind_every.is_some())
        {
            for sent in self.store.incident_notifications(incident.id).await? {
                first_told
                    .entry(sent.recipient.clone())
                    .or_insert(sent.created_at.as_millis());
            }
        }
        let mut due = Vec::new();
        for policy in &told.policies {
            let zone = policy.zone();
            let from = due.len();
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
                    zone,
                ));
                // A failure that turns out to hit real users is told again to
                // those told of it before; told at once, it is one message.
                if told.class == IncidentClass::ConfirmedOutage {
                    due.extend(recipients(
                        level,
                        incident.id,
                        &format!("level-{index}-{}", told.class.as_str()),
                        MessageKind::Down,
                        zone,
                    ));
                }
                // Reminders: a recipient's n-th once n intervals have passed
                // since they were first told.
                if let Some(every) = policy.remind_every {
                    let every = every.as_millis().max(1) as i64;
                    due.extend(
                        recipients(level, incident.id, "", MessageKind::Reminder, zone)
                            .into_iter()
                            .filter_map(|mut item| {
                                let since = *first_told.get(&item.recipient)?;
                                let reminders = (world.now.as_millis() - since) / every;
                                if reminders < 1 {
                                    return None;
                                }
                                item.step = format!("reminder-{reminders}");
                                Some(item)
                            }),
                    );
                }
            }
            for item in &mut due[from..] {
                item.remind_every = policy.remind_every;
            }
        }
        Ok(due)
    }

    /// The acknowledgement of an incident, for the incident tools
    /// (PagerDuty, Opsgenie) its levels told: their alert is marked as
    /// being handled. E-mail and chat hear of it in their next message.
    pub(super) async fn acknowledgement_due(
        &self,
        told: &Told<'_>,
    ) -> Result<Vec<Due>, EngineError> {
        let sent = self.store.incident_notifications(told.incident.id).await?;
        let mut due = Vec::new();
        for policy in &told.policies {
            for level in &policy.levels {
                due.extend(
                    recipients(
                        level,
                        told.incident.id,
                        "acknowledged",
                        MessageKind::Acknowledged,
                        policy.zone(),
                    )
                    .into_iter()
                    .filter(|item| item.notifier.per_incident())
                    .filter(|item| told_of_it(&sent, item, told.incident.id)),
                );
            }
        }
        Ok(due)
    }

    /// Recovery notices for everyone the incident's levels told.
    pub(super) async fn recovery_due(&self, told: &Told<'_>) -> Result<Vec<Due>, EngineError> {
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
        for policy in policies {
            for level in &policy.levels {
                due.extend(
                    recipients(
                        level,
                        told.incident.id,
                        "recovered",
                        MessageKind::Recovered,
                        policy.zone(),
                    )
                    .into_iter()
                    .filter(|item| told_of_it(&sent, item, told.incident.id)),
                );
            }
        }
        Ok(due)
    }
}

/// Whether `item`'s recipient was told of incident `incident_id`: by any
/// message about it, or, for an incident tool (an alert per incident), by a
/// message of its own (one that joined another's alert has none to close).
fn told_of_it(sent: &[Notification], item: &Due, incident_id: i64) -> bool {
    sent.iter().any(|n| {
        n.recipient == item.recipient
            && (!item.notifier.per_incident() || n.incident_id == Some(incident_id))
    })
}

/// One [`Due`] per target of `level` whose channel sends this kind (incident
/// tools remind by themselves).
pub(super) fn recipients(
    level: &EscalationLevel,
    incident_id: i64,
    step: &str,
    kind: MessageKind,
    zone: Tz,
) -> Vec<Due> {
    level
        .targets()
        .into_iter()
        .filter_map(|(name, target)| {
            let notifier = channels::notifier(name)?;
            if kind == MessageKind::Reminder && !notifier.reminds() {
                return None;
            }
            Some(Due {
                incident_id,
                step: step.to_owned(),
                kind,
                notifier,
                recipient: channels::recipient(name, &target),
                target,
                zone,
                remind_every: None,
            })
        })
        .collect()
}
