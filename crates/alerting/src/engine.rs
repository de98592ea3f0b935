//! The alerting engine, first part: it keeps incidents in step with monitor
//! status (one opens when a monitor is confirmed down, it closes when the
//! monitor recovers) and puts the notifications their alert policy asks for
//! in the outbox.
//!
//! Every pass looks at the whole state and only adds what is missing, with
//! a dedupe key per (incident, level or recovery, recipient), so that
//! passes may run in any process, any number of times, after any restart,
//! and each notification is still queued once.

use crate::render::{IncidentLine, MessageContext, MessageKind, RenderError, Templates};
use sightline_core::alert_policy::{Escalation, EscalationLevel};
use sightline_core::{AlertPolicySpec, CheckSpec, Timestamp};
use sightline_store::{Channel, Incident, Monitor, NewNotification, Severity, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long an alert may wait in the outbox before it is given up.
const ALERT_LIFETIME: Duration = Duration::from_secs(24 * 3600);

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
    /// Notifications queued.
    pub queued: usize,
}

/// Keeps incidents and notifications in step with monitor status.
#[derive(Debug)]
pub struct Engine {
    store: Store,
    templates: Arc<Templates>,
    server: String,
    outbox: Arc<Notify>,
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
        }
    }

    /// One pass over every monitor and open incident.
    pub async fn pass(&self) -> Result<Pass, EngineError> {
        let mut pass = Pass::default();
        let monitors = self.store.monitors_down_or_in_incident().await?;
        let mut open = self
            .store
            .list_incidents(true, Timestamp::from(0), 100_000)
            .await?;
        let policies: Vec<AlertPolicySpec> = self
            .store
            .list_documents::<AlertPolicySpec>()
            .await?
            .into_iter()
            .map(|stored| stored.spec)
            .collect();
        let now = self.store.now();
        for monitor in &monitors {
            let down = monitor.status == "down" && monitor.spec.settings.enabled;
            let incident = open
                .iter()
                .find(|incident| incident.monitor_id == monitor.id);
            if down && incident.is_none() {
                let cause = self.last_problem(monitor).await?;
                let incident = self
                    .store
                    .open_incident(monitor.id, Severity::Critical, &cause)
                    .await?;
                open.push(incident);
                pass.opened += 1;
            }
        }
        for incident in &open {
            let Some(monitor) = monitors.iter().find(|m| m.id == incident.monitor_id) else {
                continue;
            };
            let policy = monitor
                .spec
                .settings
                .alert_policy
                .as_ref()
                .and_then(|name| policies.iter().find(|policy| &policy.name == name));
            let recovered = !matches!(monitor.status.as_str(), "down" | "maintenance");
            if recovered {
                self.store
                    .close_incident(
                        incident.id,
                        &format!("{} recovered", monitor.spec.settings.name),
                    )
                    .await?;
                pass.closed += 1;
                if let Some(policy) = policy.filter(|policy| policy.notify_recovery) {
                    pass.queued += self.recovery(policy, monitor, incident, now).await?;
                }
                continue;
            }
            if monitor.status == "maintenance" {
                continue;
            }
            if let Some(policy) = policy {
                pass.queued += self.escalate(policy, monitor, incident, now).await?;
            }
        }
        if pass.queued > 0 {
            self.outbox.notify_waiters();
        }
        Ok(pass)
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

    /// Queues the levels of `policy` the incident has reached.
    async fn escalate(
        &self,
        policy: &AlertPolicySpec,
        monitor: &Monitor,
        incident: &Incident,
        now: Timestamp,
    ) -> Result<usize, EngineError> {
        let errors = self
            .store
            .check_totals(
                monitor.id,
                incident.opened_at.minus(Duration::from_secs(3600)),
                now.plus(Duration::from_secs(1)),
            )
            .await?
            .confirmed_errors;
        let down_for =
            Duration::from_millis((now.as_millis() - incident.opened_at.as_millis()).max(0) as u64);
        let mut queued = 0;
        for (index, level) in policy.levels.iter().enumerate() {
            let reached = match level.after {
                Escalation::ConfirmedErrors(count) => errors >= i64::from(count),
                Escalation::Down(after) => down_for >= after,
            };
            if !reached {
                continue;
            }
            let context = self.context(MessageKind::Down, monitor, incident, now);
            queued += self
                .queue(level, incident, &format!("level-{index}"), &context)
                .await?;
            // Reminders: the n-th once n intervals have passed, to this
            // level's recipients.
            if let Some(every) = policy.remind_every {
                let reminders = down_for.as_millis() / every.as_millis().max(1);
                if reminders > 0 {
                    let context = self.context(MessageKind::Reminder, monitor, incident, now);
                    queued += self
                        .queue(level, incident, &format!("reminder-{reminders}"), &context)
                        .await?;
                }
            }
        }
        Ok(queued)
    }

    /// Tells everyone the policy's reached levels told that it is over.
    async fn recovery(
        &self,
        policy: &AlertPolicySpec,
        monitor: &Monitor,
        incident: &Incident,
        now: Timestamp,
    ) -> Result<usize, EngineError> {
        let told = self.store.incident_notifications(incident.id).await?;
        let context = self.context(MessageKind::Recovered, monitor, incident, now);
        let mut queued = 0;
        for level in &policy.levels {
            let reached: Vec<&str> = level
                .email
                .iter()
                .chain(&level.webhook)
                .map(String::as_str)
                .filter(|recipient| told.iter().any(|n| n.recipient == *recipient))
                .collect();
            if reached.is_empty() {
                continue;
            }
            let only_told = EscalationLevel {
                after: level.after,
                email: level
                    .email
                    .iter()
                    .filter(|r| reached.contains(&r.as_str()))
                    .cloned()
                    .collect(),
                webhook: level
                    .webhook
                    .iter()
                    .filter(|r| reached.contains(&r.as_str()))
                    .cloned()
                    .collect(),
            };
            queued += self
                .queue(&only_told, incident, "recovered", &context)
                .await?;
        }
        Ok(queued)
    }

    fn context(
        &self,
        kind: MessageKind,
        monitor: &Monitor,
        incident: &Incident,
        now: Timestamp,
    ) -> MessageContext {
        let minutes = (now.as_millis() - incident.opened_at.as_millis()).max(0) / 60_000;
        MessageContext {
            kind,
            incidents: vec![IncidentLine {
                monitor: monitor.spec.settings.name.clone(),
                target: target(&monitor.spec.check),
                problem: incident.cause.clone(),
                checkpoints: monitor.spec.settings.checkpoints.clone(),
                timings: None,
                classification: incident.correlation.clone(),
                traffic: None,
                since: incident.opened_at.to_rfc3339(),
                duration: Some(format!("{minutes} min")),
                link: format!(
                    "{}/incidents/{}",
                    self.server.trim_end_matches('/'),
                    incident.id
                ),
            }],
            group: None,
            server: self.server.clone(),
        }
    }

    /// Queues one message for each recipient of `level`.
    async fn queue(
        &self,
        level: &EscalationLevel,
        incident: &Incident,
        step: &str,
        context: &MessageContext,
    ) -> Result<usize, EngineError> {
        let email = self.templates.email(context)?;
        let mut queued = 0;
        for (channel, recipients) in [
            (Channel::Email, &level.email),
            (Channel::Webhook, &level.webhook),
        ] {
            for recipient in recipients {
                let payload = match channel {
                    Channel::Email => serde_json::to_value(&email).unwrap_or_default(),
                    Channel::Webhook => serde_json::json!({
                        "type": context.kind,
                        "text": email.subject,
                        "incident": incident.id,
                        "details": email.text,
                    }),
                };
                let fresh = self
                    .store
                    .enqueue_notification(&NewNotification {
                        dedupe_key: format!("incident/{}/{step}/{recipient}", incident.id),
                        incident_id: Some(incident.id),
                        channel,
                        recipient: recipient.clone(),
                        subject: email.subject.clone(),
                        payload,
                        lifetime: ALERT_LIFETIME,
                    })
                    .await?;
                if fresh {
                    queued += 1;
                }
            }
        }
        Ok(queued)
    }

    /// Passes forever: when woken (a result changed a status) and every
    /// `every` (for time-based levels).
    pub async fn run(self, wake: Arc<Notify>, every: Duration) {
        loop {
            let woken = wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if let Err(error) = self.pass().await {
                tracing::warn!(%error, "alerting pass");
            }
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep(every) => {}
            }
        }
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
    }
}
