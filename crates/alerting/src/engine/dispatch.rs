//! Dispatch: one message per recipient and kind in the outbox, listing
//! every incident due to them, each claim made once.

use super::routing::Due;
use super::{Engine, EngineError};
use crate::channels::Message;
use crate::render::{IncidentLine, MessageContext, MessageKind};
use crate::smtp::Email;
use crate::when;
use sha2::{Digest, Sha256};
use sightline_core::Timestamp;
use sightline_store::{Claim, Enqueued, NewNotification};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// How long an alert may wait in the outbox before it is given up.
const ALERT_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Attempts to store a grouped message whose claims another process took
/// meanwhile.
const CLAIM_ATTEMPTS: usize = 4;

impl Engine {
    /// Puts one message per recipient and kind in the outbox, listing every
    /// incident due to them, minus what was told before.
    pub(super) async fn send(
        &self,
        due: Vec<Due>,
        lines: &HashMap<i64, IncidentLine>,
        open_groups: &HashMap<String, Vec<i64>>,
    ) -> Result<usize, EngineError> {
        if due.is_empty() {
            return Ok(0);
        }
        let keys: Vec<String> = due.iter().map(Due::claim_key).collect();
        let taken: HashSet<String> = self.store.claimed(&keys).await?.into_iter().collect();
        let due = self
            .join_told_outages(due, &taken, lines, open_groups)
            .await?;
        // One message per recipient and kind; per outage (site, or host and
        // port) as well for channels that keep an alert per incident: one
        // outage is one alert there, keyed by its first incident.
        type Key = (String, &'static str, MessageKind, Option<String>);
        let mut messages: BTreeMap<Key, Vec<Due>> = BTreeMap::new();
        for item in due {
            if taken.contains(&item.claim_key()) {
                continue;
            }
            let alone = item.notifier.per_incident().then(|| {
                lines
                    .get(&item.incident_id)
                    .map_or_else(|| item.incident_id.to_string(), |line| line.group.clone())
            });
            messages
                .entry((
                    item.recipient.clone(),
                    item.notifier.name(),
                    item.kind,
                    alone,
                ))
                .or_default()
                .push(item);
        }
        // A reminder quotes what the checks say now, not what they said
        // when the incident opened.
        let mut current = HashMap::new();
        for items in messages.values() {
            for item in items
                .iter()
                .filter(|item| item.kind == MessageKind::Reminder)
            {
                let Some(line) = lines.get(&item.incident_id) else {
                    continue;
                };
                if let (Some(monitor_id), false) = (line.monitor_id, current.contains_key(&line.id))
                {
                    let mut line = line.clone();
                    line.problem = self.problem_since(monitor_id, line.opened_at).await?;
                    current.insert(line.id, line);
                }
            }
        }
        let refreshed;
        let lines = if current.is_empty() {
            lines
        } else {
            let mut with_current = lines.clone();
            with_current.extend(current);
            refreshed = with_current;
            &refreshed
        };
        let mut queued = 0;
        for ((recipient, _, kind, _), mut items) in messages {
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

    /// One outage is one alert per recipient, whatever order its monitors'
    /// confirmations land in: an incident whose recipient was told of
    /// another open incident of the same group (site, or host and port) is
    /// told by that message (its claim is made for it, so its reminders and
    /// recovery follow in the same thread). Returns the rest of `due`.
    async fn join_told_outages(
        &self,
        due: Vec<Due>,
        taken: &HashSet<String>,
        lines: &HashMap<i64, IncidentLine>,
        open_groups: &HashMap<String, Vec<i64>>,
    ) -> Result<Vec<Due>, EngineError> {
        type Thread = Option<(i64, Timestamp)>;
        let mut told: HashMap<(String, &'static str, String), Thread> = HashMap::new();
        // Reminders going out now, by recipient and group: an incident that
        // joins the thread is named in them.
        let reminding: HashMap<(String, String), String> = due
            .iter()
            .filter(|item| item.kind == MessageKind::Reminder && !taken.contains(&item.claim_key()))
            .filter_map(|item| {
                let group = lines.get(&item.incident_id)?.group.clone();
                Some(((item.recipient.clone(), group), item.step.clone()))
            })
            .collect();
        let mut rest = Vec::with_capacity(due.len());
        for item in due {
            if item.kind != MessageKind::Down || taken.contains(&item.claim_key()) {
                rest.push(item);
                continue;
            }
            let Some(line) = lines.get(&item.incident_id) else {
                rest.push(item);
                continue;
            };
            let others: Vec<i64> = open_groups
                .get(&line.group)
                .into_iter()
                .flatten()
                .copied()
                .filter(|id| *id != item.incident_id)
                .collect();
            if others.is_empty() {
                rest.push(item);
                continue;
            }
            let key = (
                item.recipient.clone(),
                item.notifier.name(),
                line.group.clone(),
            );
            let first = match told.get(&key) {
                Some(first) => *first,
                None => {
                    let first = self
                        .store
                        .first_message_about(&item.recipient, item.notifier.name(), &others)
                        .await?
                        .map(|message| (message.id, message.created_at));
                    told.insert(key, first);
                    first
                }
            };
            let Some((message, told_at)) = first else {
                rest.push(item);
                continue;
            };
            let mut claims = vec![Claim {
                key: item.claim_key(),
                incident_id: item.incident_id,
            }];
            // The reminders the thread had before this incident joined it
            // are not its to send again; one going out now names it.
            let now_reminding = reminding
                .get(&(item.recipient.clone(), line.group.clone()))
                .cloned();
            if let Some(every) = item.remind_every {
                let passed = (self.store.now().as_millis() - told_at.as_millis()).max(0)
                    / every.as_millis().max(1) as i64;
                for n in 1..=passed {
                    let mut reminder = item.clone();
                    reminder.step = format!("reminder-{n}");
                    if Some(&reminder.step) != now_reminding.as_ref() {
                        claims.push(Claim {
                            key: reminder.claim_key(),
                            incident_id: item.incident_id,
                        });
                    }
                }
            }
            self.store.add_claims(message, &claims).await?;
            if let Some(step) = now_reminding {
                let mut reminder = item;
                reminder.kind = MessageKind::Reminder;
                reminder.step = step;
                if !taken.contains(&reminder.claim_key()) {
                    rest.push(reminder);
                }
            }
        }
        Ok(rest)
    }

    /// Renders and stores one message about `items` (same recipient, kind
    /// and channel) with its claims.
    pub(super) async fn enqueue(
        &self,
        recipient: &str,
        kind: MessageKind,
        items: &[Due],
        lines: &HashMap<i64, IncidentLine>,
    ) -> Result<Enqueued, EngineError> {
        let mut ids: Vec<i64> = items.iter().map(|item| item.incident_id).collect();
        ids.dedup();
        let zone = items[0].zone;
        let now = self.store.now();
        let mut incidents: Vec<IncidentLine> = ids
            .iter()
            .filter_map(|id| lines.get(id).cloned())
            .map(|mut line| {
                line.since_text = when::moment(line.opened_at, now, zone);
                line
            })
            .collect();
        incidents.sort_by(|a, b| (&a.group, &a.monitor).cmp(&(&b.group, &b.monitor)));
        let first_group = incidents.first().map(|line| line.group.clone());
        let group = first_group.filter(|group| incidents.iter().all(|line| &line.group == group));
        let reminder = items
            .iter()
            .filter_map(|item| item.step.strip_prefix("reminder-")?.parse().ok())
            .max();
        let down_for = incidents
            .iter()
            .map(|line| line.opened_at)
            .min()
            .map(|opened| {
                when::span(Duration::from_millis(
                    (now.as_millis() - opened.as_millis()).max(0) as u64,
                ))
            });
        let notifier = items[0].notifier;
        let acknowledged = incidents
            .iter()
            .find_map(|line| Some((line.acknowledged_by.clone()?, line.acknowledged_at?)))
            .map(|(by, at)| {
                format!(
                    "{by} is on it (acknowledged {}).",
                    when::moment(Timestamp::from(at), now, zone)
                )
            });
        // Whoever reads an alert may say they are on it, from the message.
        let acknowledge_link = match (&self.ack_links, incidents.first()) {
            (Some(links), Some(first))
                if notifier.name() == "email"
                    && matches!(kind, MessageKind::Down | MessageKind::Reminder)
                    && acknowledged.is_none() =>
            {
                Some(links.link(&self.server, first.id, recipient, now))
            }
            _ => None,
        };
        let context = MessageContext {
            kind,
            incidents,
            group,
            server: self.server.clone(),
            reminder,
            down_for,
            acknowledge_link,
            acknowledged,
        };
        let mut email = self.templates.email(&context)?;
        if notifier.name() == "email" {
            email.message_id = Some(message_id(&items[0].claim_key(), &self.server));
            // Later messages about these incidents answer the first one;
            // reminders and the recovery under its subject, so that mail
            // clients show one thread per incident. A new level or class
            // (now hitting real users) is news: it keeps its own subject.
            if let Some(first) = self
                .store
                .first_message_about(recipient, notifier.name(), &ids)
                .await?
            {
                let opened: Option<Email> = serde_json::from_value(first.payload_json()).ok();
                email.in_reply_to = opened.and_then(|opened| opened.message_id);
                if kind != MessageKind::Down {
                    email.subject = first.subject;
                }
            }
        }
        let claims: Vec<Claim> = items
            .iter()
            .map(|item| Claim {
                key: item.claim_key(),
                incident_id: item.incident_id,
            })
            .collect();
        let payload = notifier.payload(&Message {
            context: &context,
            email: &email,
        });
        Ok(self
            .store
            .enqueue_claimed(
                &NewNotification {
                    dedupe_key: claims[0].key.clone(),
                    incident_id: Some(ids[0]),
                    channel: notifier.name().to_owned(),
                    recipient: recipient.to_owned(),
                    target: serde_json::to_value(&items[0].target).unwrap_or_default(),
                    subject: email.subject.clone(),
                    payload,
                    lifetime: ALERT_LIFETIME,
                },
                &claims,
            )
            .await?)
    }
}

/// A `Message-ID` for the message that makes the claim `key`: the same on
/// every retry, unique per server (its host names the right-hand side).
fn message_id(key: &str, server: &str) -> String {
    let host = url::Url::parse(server)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| "sightline.invalid".to_owned());
    let digest = Sha256::digest(format!("{server}\n{key}").as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("<alert.{hex}@{host}>")
}
