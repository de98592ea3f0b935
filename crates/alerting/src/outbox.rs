//! Delivering the outbox: each notification is leased on its own, just
//! before it is sent (across processes: a sender holds only the message it
//! is sending, so a slow SMTP server cannot make another process send what
//! this one still holds), sent, and marked sent, or retried with backoff
//! until it expires. A notification is in the outbox before any attempt, so
//! a crash between storing and sending delays it, never loses it.

use crate::channels::{self, Outgoing, SecretSource, Sending};
use crate::smtp::Mailer;
use sightline_core::Timestamp;
use sightline_core::alert_channels::{ChannelSettings, fill_secrets};
use sightline_store::{Notification, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How the outbox is worked.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// How long a sender holds the one notification it is sending: longer
    /// than any attempt may take (the SMTP timeout, [`HTTP_TIMEOUT`]).
    pub lease: Duration,
    /// Notifications sent at once by one process, each leased on its own.
    pub senders: usize,
    /// The wait before the first retry; each further retry waits twice as
    /// long, up to `max_retry`.
    pub first_retry: Duration,
    /// The longest wait between retries.
    pub max_retry: Duration,
    /// How often the outbox is looked at when nobody says it has work.
    pub poll: Duration,
}

/// The longest an HTTP channel's receiver may take to answer.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            lease: Duration::from_secs(120),
            senders: 4,
            first_retry: Duration::from_secs(15),
            max_retry: Duration::from_secs(15 * 60),
            poll: Duration::from_secs(2),
        }
    }
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Handed over; the receiving server's answer.
    Sent(String),
    /// Not handed over; why.
    Failed(String),
}

/// Told of every delivery attempt: what the server's metrics count
/// notifications sent and failed by channel with.
pub trait DeliveryTally: Send + Sync + std::fmt::Debug {
    /// An attempt on `channel` (a channel's name, or `other` for one this
    /// version does not know) was handed over (`sent`) or failed.
    fn attempted(&self, channel: &str, sent: bool);
}

/// Sends what the outbox holds.
#[derive(Debug, Clone)]
pub struct Deliverer {
    store: Store,
    mailer: Option<Mailer>,
    http: reqwest::Client,
    config: OutboxConfig,
    owner: String,
    wake: Arc<Notify>,
    secrets: Option<Arc<dyn SecretSource>>,
    tally: Option<Arc<dyn DeliveryTally>>,
    passes: Arc<std::sync::atomic::AtomicU64>,
}

impl Deliverer {
    /// A sender for `store`'s outbox. Without a mailer, e-mail waits in the
    /// outbox (and says why) until one is configured.
    pub fn new(store: Store, mailer: Option<Mailer>, config: OutboxConfig) -> Self {
        Deliverer {
            store,
            mailer,
            http: reqwest::Client::builder()
                .timeout(HTTP_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            config,
            owner: format!("sender-{}", uuid::Uuid::new_v4()),
            wake: Arc::new(Notify::new()),
            secrets: None,
            tally: None,
            passes: Arc::default(),
        }
    }

    /// How many passes [`Deliverer::run`] has completed, each having sent
    /// (or tried) every notification then due.
    pub fn passes(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.passes.clone()
    }

    /// Tells `tally` of every delivery attempt.
    pub fn with_tally(mut self, tally: Arc<dyn DeliveryTally>) -> Self {
        self.tally = Some(tally);
        self
    }

    /// Fills `{{secrets.NAME}}` in channel settings from `source` (the
    /// vault) when a message is sent.
    pub fn with_secrets(mut self, source: Arc<dyn SecretSource>) -> Self {
        self.secrets = Some(source);
        self
    }

    /// Tell this to look at the outbox now (after enqueueing).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// One pass: sends every due notification, up to `senders` at once,
    /// each leased just before it is sent; returns how many were delivered.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let senders = (0..self.config.senders.max(1)).map(|_| self.send_while_due());
        let mut delivered = 0;
        for sent in futures_util::future::join_all(senders).await {
            delivered += sent?;
        }
        Ok(delivered)
    }

    /// Leases, sends and records one notification at a time until none is
    /// due.
    async fn send_while_due(&self) -> Result<usize, StoreError> {
        let mut delivered = 0;
        loop {
            let Some(notification) = self
                .store
                .lease_due_notifications(&self.owner, self.config.lease, 1)
                .await?
                .pop()
            else {
                return Ok(delivered);
            };
            let delivery = self.attempt(&notification).await;
            if let Some(tally) = &self.tally {
                // Channel names come from the registry, never from a request;
                // one it does not know is counted as `other`.
                let channel = match channels::notifier(&notification.channel) {
                    Some(_) => notification.channel.as_str(),
                    None => "other",
                };
                tally.attempted(channel, matches!(delivery, Delivery::Sent(_)));
            }
            match delivery {
                Delivery::Sent(answer) => {
                    tracing::info!(
                        id = notification.id,
                        channel = %notification.channel,
                        recipient = %notification.recipient,
                        %answer,
                        "notification delivered"
                    );
                    if self
                        .store
                        .mark_notification_sent(notification.id, &self.owner, &answer)
                        .await?
                    {
                        delivered += 1;
                    }
                }
                Delivery::Failed(reason) => {
                    let retry_at = self.retry_at(notification.attempts);
                    tracing::warn!(
                        id = notification.id,
                        channel = %notification.channel,
                        recipient = %notification.recipient,
                        %reason,
                        "notification not delivered; will retry"
                    );
                    self.store
                        .mark_notification_failed(notification.id, &self.owner, &reason, retry_at)
                        .await?;
                }
            }
        }
    }

    /// When to retry after `attempts` failed attempts (this one included).
    fn retry_at(&self, attempts_before: i64) -> Timestamp {
        let doublings = attempts_before.clamp(0, 20) as u32;
        let wait = self
            .config
            .first_retry
            .saturating_mul(1 << doublings)
            .min(self.config.max_retry);
        self.store.now().plus(wait)
    }

    /// One attempt at delivering one notification.
    pub async fn attempt(&self, notification: &Notification) -> Delivery {
        let Some(notifier) = channels::notifier(&notification.channel) else {
            return Delivery::Failed(format!(
                "`{}` is not a channel this version knows",
                notification.channel
            ));
        };
        let target = match self.target(notification).await {
            Ok(target) => target,
            Err(why) => return Delivery::Failed(why),
        };
        let now = self.store.now();
        let sending = Sending {
            key: &notification.dedupe_key,
            unix_seconds: now.as_millis() / 1000,
            waited: Duration::from_millis(
                (now.as_millis() - notification.created_at.as_millis()).max(0) as u64,
            ),
            last_error: notification.last_error.as_deref(),
        };
        let outgoing = match notifier.outgoing(&target, &notification.payload_json(), &sending) {
            Ok(outgoing) => outgoing,
            Err(why) => return Delivery::Failed(why),
        };
        match outgoing {
            Outgoing::Email { to, email } => {
                let Some(mailer) = &self.mailer else {
                    return Delivery::Failed(
                        "no SMTP server is configured (--smtp-host)".to_owned(),
                    );
                };
                match mailer.send(&to, &email).await {
                    Ok(answer) => Delivery::Sent(answer),
                    Err(error) => Delivery::Failed(error.to_string()),
                }
            }
            Outgoing::Post { url, headers, body } => {
                let mut request = self
                    .http
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body);
                for (name, value) in headers {
                    request = request.header(name, value);
                }
                let response = match request.send().await {
                    Ok(response) => response,
                    Err(error) => return Delivery::Failed(http_error(notifier.name(), error)),
                };
                let status = response.status().as_u16();
                let answer = response.text().await.unwrap_or_default();
                notifier.judge(status, &answer)
            }
        }
    }

    /// The notification's target with its secrets filled in.
    async fn target(&self, notification: &Notification) -> Result<ChannelSettings, String> {
        let written: ChannelSettings = match &notification.target {
            Some(target) => serde_json::from_str(target)
                .map_err(|e| format!("unreadable target settings: {e}"))?,
            // Stored before targets had settings: the recipient was the
            // address or the URL.
            None => {
                let field = if notification.channel == "email" {
                    "address"
                } else {
                    "url"
                };
                ChannelSettings::from([(field.to_owned(), notification.recipient.clone())])
            }
        };
        let names = channels::secret_names(&written);
        if names.is_empty() {
            return Ok(written);
        }
        let Some(source) = &self.secrets else {
            return Err(format!(
                "the target uses secrets ({}) but the vault has no key (SIGHTLINE_VAULT_KEY)",
                names.into_iter().collect::<Vec<_>>().join(", ")
            ));
        };
        let values = source.lookup(names).await?;
        fill_secrets(&written, |name| values.get(name).cloned())
            .map_err(|name| format!("`{{{{{name}}}}}` is not in the vault"))
    }
    /// Works the outbox until `stopping` turns true: at once when woken,
    /// else every `poll`. A pass under way when it turns finishes first, so
    /// that no send is cut off halfway.
    pub async fn run(self, mut stopping: tokio::sync::watch::Receiver<bool>) {
        while !*stopping.borrow() {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.deliver_due().await {
                Ok(_) => {
                    self.passes
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                Err(error) => tracing::warn!(%error, "working the outbox"),
            }
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep(self.config.poll) => {}
                changed = stopping.changed() => if changed.is_err() { return },
            }
        }
    }
}

/// An HTTP failure in words that never hold the URL (a webhook's address,
/// a bot token in Telegram's path, may be secrets): reqwest's own words
/// without the URL, then the causes beneath them.
fn http_error(channel: &str, error: reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("{channel}: no answer within {} s", HTTP_TIMEOUT.as_secs());
    }
    let error = error.without_url();
    let mut words = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        words.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    format!("{channel}: {words}")
}
