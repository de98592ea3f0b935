//! Delivering the outbox: notifications are leased (one sender at a time,
//! across processes), sent, and marked sent, or retried with backoff until
//! they expire. A notification is in the outbox before any attempt, so a
//! crash between storing and sending delays it, never loses it.

use crate::smtp::{Email, Mailer};
use sightline_core::Timestamp;
use sightline_store::{Channel, Notification, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How the outbox is worked.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// How long a sender holds a notification it is sending.
    pub lease: Duration,
    /// Notifications taken per pass.
    pub batch: i64,
    /// The wait before the first retry; each further retry waits twice as
    /// long, up to `max_retry`.
    pub first_retry: Duration,
    /// The longest wait between retries.
    pub max_retry: Duration,
    /// How often the outbox is looked at when nobody says it has work.
    pub poll: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            lease: Duration::from_secs(120),
            batch: 50,
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

/// Sends what the outbox holds.
#[derive(Debug, Clone)]
pub struct Deliverer {
    store: Store,
    mailer: Option<Mailer>,
    http: reqwest::Client,
    config: OutboxConfig,
    owner: String,
    wake: Arc<Notify>,
}

impl Deliverer {
    /// A sender for `store`'s outbox. Without a mailer, e-mail waits in the
    /// outbox (and says why) until one is configured.
    pub fn new(store: Store, mailer: Option<Mailer>, config: OutboxConfig) -> Self {
        Deliverer {
            store,
            mailer,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap_or_default(),
            config,
            owner: format!("sender-{}", uuid::Uuid::new_v4()),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Tell this to look at the outbox now (after enqueueing).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// One pass: sends every due notification it can lease; returns how
    /// many were delivered.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let mut delivered = 0;
        loop {
            let leased = self
                .store
                .lease_due_notifications(&self.owner, self.config.lease, self.config.batch)
                .await?;
            let taken = leased.len() as i64;
            for notification in leased {
                match self.attempt(&notification).await {
                    Delivery::Sent(answer) => {
                        tracing::info!(
                            id = notification.id,
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
                            recipient = %notification.recipient,
                            %reason,
                            "notification not delivered; will retry"
                        );
                        self.store
                            .mark_notification_failed(
                                notification.id,
                                &self.owner,
                                &reason,
                                retry_at,
                            )
                            .await?;
                    }
                }
            }
            if taken < self.config.batch {
                return Ok(delivered);
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
        match notification.channel {
            Channel::Email => {
                let Some(mailer) = &self.mailer else {
                    return Delivery::Failed(
                        "no SMTP server is configured (--smtp-host)".to_owned(),
                    );
                };
                let email: Email = match serde_json::from_str(&notification.payload) {
                    Ok(email) => email,
                    Err(e) => return Delivery::Failed(format!("unreadable e-mail payload: {e}")),
                };
                match mailer.send(&notification.recipient, &email).await {
                    Ok(answer) => Delivery::Sent(answer),
                    Err(error) => Delivery::Failed(error.to_string()),
                }
            }
            Channel::Webhook => {
                let sent = self
                    .http
                    .post(&notification.recipient)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(notification.payload.clone())
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        Delivery::Sent(format!("HTTP {}", response.status().as_u16()))
                    }
                    Ok(response) => Delivery::Failed(format!(
                        "the webhook answered HTTP {}",
                        response.status().as_u16()
                    )),
                    Err(error) => Delivery::Failed(format!("webhook: {error}")),
                }
            }
        }
    }

    /// Works the outbox until `stopping` turns true: at once when woken,
    /// else every `poll`. A pass under way when it turns finishes first, so
    /// that no send is cut off halfway.
    pub async fn run(self, mut stopping: tokio::sync::watch::Receiver<bool>) {
        while !*stopping.borrow() {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if let Err(error) = self.deliver_due().await {
                tracing::warn!(%error, "working the outbox");
            }
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep(self.config.poll) => {}
                changed = stopping.changed() => if changed.is_err() { return },
            }
        }
    }
}
