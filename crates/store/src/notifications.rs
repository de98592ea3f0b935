//! The notification outbox: every message is stored before it is sent, and
//! leased by one sender at a time until delivered or expired.

use crate::backend::{read, write};
use crate::stored_names::stored_names;
use crate::{Result, Store, StoreError};
use sightline_core::Timestamp;
use std::time::Duration;

/// Where a notification is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationStatus {
    /// Waiting to be sent (or retried).
    Pending,
    /// Delivered.
    Sent,
    /// Given up on: it could not be delivered before it expired.
    Expired,
}

stored_names!(NotificationStatus { Pending = "pending", Sent = "sent", Expired = "expired" });

/// A notification to put in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    /// Makes enqueueing idempotent: one message per (incident, level, kind,
    /// recipient), however many processes try.
    pub dedupe_key: String,
    /// The incident it is about, if any.
    pub incident_id: Option<i64>,
    /// How it travels: `email` or a channel of core `alert_channels`.
    pub channel: String,
    /// Who it goes to, as claims and people name them: an e-mail address,
    /// or the channel and a digest of the target's settings (a webhook URL
    /// may itself be a secret, so it is not spelled out).
    pub recipient: String,
    /// The target's settings as the policy wrote them (secrets unfilled).
    pub target: serde_json::Value,
    /// Subject line (e-mail) or summary (webhook).
    pub subject: String,
    /// The rendered message, as the sender needs it.
    pub payload: serde_json::Value,
    /// Stop trying after this long.
    pub lifetime: Duration,
}

/// What a notification speaks for: one incident at one step (a level, a
/// reminder, the recovery) for one recipient. Each claim is made once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// `incident/{id}/{step}/{recipient}`.
    pub key: String,
    /// The incident.
    pub incident_id: i64,
}

/// What became of a notification put in the outbox with its claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored, with every claim.
    Queued,
    /// Nothing stored: these claims were already made (by another message,
    /// another process, or before a restart).
    AlreadyClaimed(Vec<String>),
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Notification {
    /// Stable id.
    pub id: i64,
    /// See [`NewNotification::dedupe_key`].
    pub dedupe_key: String,
    /// The incident it is about.
    pub incident_id: Option<i64>,
    /// How it travels.
    pub channel: String,
    /// Who it goes to (see [`NewNotification::recipient`]).
    pub recipient: String,
    /// The target's settings, JSON text; absent on notifications stored
    /// before channels had settings (the recipient says it all).
    pub target: Option<String>,
    /// Subject line.
    pub subject: String,
    /// The rendered message, as JSON text.
    pub payload: String,
    /// Where it is in its life.
    #[sqlx(try_from = "String")]
    pub status: NotificationStatus,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was enqueued.
    #[sqlx(try_from = "i64")]
    pub created_at: Timestamp,
    /// Not to be tried before this.
    #[sqlx(try_from = "i64")]
    pub next_attempt_at: Timestamp,
    /// Given up on after this.
    #[sqlx(try_from = "i64")]
    pub expires_at: Timestamp,
    /// When it was delivered.
    pub sent_at: Option<i64>,
    /// What the receiving server answered when it was delivered.
    pub delivery_answer: Option<String>,
}

const NOTIFICATION_COLUMNS: &str = "id, dedupe_key, incident_id, channel, recipient, target, subject, payload, status, \
     attempts, last_error, created_at, next_attempt_at, expires_at, sent_at, delivery_answer";

impl Notification {
    /// The rendered message as a JSON document.
    pub fn payload_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

impl Store {
    /// Puts a notification in the outbox. Returns `false` when one with the
    /// same dedupe key is already there (enqueued by another process or
    /// before a restart), in which case nothing changes. A notification
    /// about an incident claims its dedupe key for it.
    pub async fn enqueue_notification(&self, notification: &NewNotification) -> Result<bool> {
        let claims: Vec<Claim> = notification
            .incident_id
            .map(|incident_id| Claim {
                key: notification.dedupe_key.clone(),
                incident_id,
            })
            .into_iter()
            .collect();
        Ok(self.enqueue_claimed(notification, &claims).await? == Enqueued::Queued)
    }

    /// Puts a notification in the outbox together with the claims it makes,
    /// all or nothing: when any claim (or the dedupe key) is taken, nothing
    /// is stored and the taken claims are returned, so that the caller can
    /// send the rest in a message without them.
    pub async fn enqueue_claimed(
        &self,
        notification: &NewNotification,
        claims: &[Claim],
    ) -> Result<Enqueued> {
        let now = self.now();
        let queued = write!(self.backend, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO notifications (dedupe_key, incident_id, channel, recipient, subject, payload, status, \
                     attempts, created_at, next_attempt_at, expires_at, target) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $8, $9) ON CONFLICT (dedupe_key) DO NOTHING \
                     RETURNING id",
                )
                .bind(&notification.dedupe_key)
                .bind(notification.incident_id)
                .bind(&notification.channel)
                .bind(&notification.recipient)
                .bind(&notification.subject)
                .bind(notification.payload.to_string())
                .bind(now.as_millis())
                .bind(now.plus(notification.lifetime).as_millis())
                .bind(notification.target.to_string())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(id) = id else {
                    return Ok(false);
                };
                let mut made = 0;
                for chunk in claims.chunks(1000) {
                    let mut insert = sqlx::QueryBuilder::new(
                        "INSERT INTO notification_claims (claim_key, incident_id, notification_id) ",
                    );
                    insert.push_values(chunk, |mut row, claim| {
                        row.push_bind(&claim.key)
                            .push_bind(claim.incident_id)
                            .push_bind(id);
                    });
                    insert.push(" ON CONFLICT (claim_key) DO NOTHING");
                    made += insert.build().execute(&mut *tx).await?.rows_affected();
                }
                if made as usize == claims.len() {
                    tx.commit().await?;
                    return Ok(true);
                }
                tx.rollback().await?;
                Ok::<_, sqlx::Error>(false)
            }
            .await
        })?;
        if queued {
            return Ok(Enqueued::Queued);
        }
        let mut keys: Vec<String> = claims.iter().map(|claim| claim.key.clone()).collect();
        keys.push(notification.dedupe_key.clone());
        let mut taken = self.claimed(&keys).await?;
        if taken.is_empty() {
            // Only the dedupe key was taken (a notification without claims).
            taken.push(notification.dedupe_key.clone());
        }
        Ok(Enqueued::AlreadyClaimed(taken))
    }

    /// Makes claims for a message already stored: an incident that joins
    /// an outage its recipient was told of is told by that message (and
    /// threads under it), not by one of its own. Claims made already stay
    /// as they are; returns how many were made.
    pub async fn add_claims(&self, notification_id: i64, claims: &[Claim]) -> Result<usize> {
        let mut made = 0;
        for chunk in claims.chunks(1000) {
            made += write!(self.backend, |pool| {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO notification_claims (claim_key, incident_id, notification_id) ",
                );
                insert.push_values(chunk, |mut row, claim| {
                    row.push_bind(&claim.key)
                        .push_bind(claim.incident_id)
                        .push_bind(notification_id);
                });
                insert.push(" ON CONFLICT (claim_key) DO NOTHING");
                insert
                    .build()
                    .execute(pool)
                    .await
                    .map(|done| done.rows_affected() as usize)
            })?;
        }
        Ok(made)
    }

    /// Which of these claims are made already.
    pub async fn claimed(&self, keys: &[String]) -> Result<Vec<String>> {
        let mut taken = Vec::new();
        for chunk in keys.chunks(1000) {
            let found: Vec<String> = read!(self.backend, |pool| {
                let mut select = sqlx::QueryBuilder::new(
                    "SELECT claim_key FROM notification_claims WHERE claim_key IN (",
                );
                let mut list = select.separated(", ");
                for key in chunk {
                    list.push_bind(key);
                }
                select.push(")");
                select.build_query_scalar().fetch_all(pool).await
            })?;
            taken.extend(found);
        }
        Ok(taken)
    }

    /// Leases up to `limit` due notifications to `owner` for `lease`. A
    /// notification leased by one sender is not handed to another until the
    /// lease runs out, so a sender that dies mid-send is replaced, not doubled.
    ///
    /// Each recipient gets its messages in the order they were stored: a
    /// notification waits while an earlier one to the same recipient is
    /// pending (being sent, or waiting for its retry), so that after an
    /// outage of the mail server a recovery never arrives before its alert,
    /// and an incident tool never sees a resolve before its trigger.
    pub async fn lease_due_notifications(
        &self,
        owner: &str,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<Notification>> {
        let now = self.now();
        // The condition is repeated outside the subquery: under PostgreSQL's
        // read committed, a row another process leased meanwhile is re-checked
        // against it and skipped.
        let sql = format!(
            "UPDATE notifications SET lease_owner = $1, lease_expires_at = $2 \
             WHERE id IN (SELECT id FROM notifications \
                          WHERE status = 'pending' AND next_attempt_at <= $3 \
                            AND (lease_expires_at IS NULL OR lease_expires_at <= $3) \
                            AND NOT EXISTS (SELECT 1 FROM notifications earlier \
                                            WHERE earlier.status = 'pending' \
                                              AND earlier.recipient = notifications.recipient \
                                              AND earlier.channel = notifications.channel \
                                              AND earlier.id < notifications.id) \
                          ORDER BY id LIMIT $4) \
               AND status = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at <= $3) \
             RETURNING {NOTIFICATION_COLUMNS}"
        );
        let mut leased: Vec<Notification> = write!(self.backend, |pool| {
            sqlx::query_as(&sql)
                .bind(owner)
                .bind(now.plus(lease).as_millis())
                .bind(now.as_millis())
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
        leased.sort_by_key(|notification| notification.id);
        Ok(leased)
    }

    /// How many notifications wait in the outbox (pending: not sent yet,
    /// nor expired), by channel.
    pub async fn pending_notifications(&self) -> Result<Vec<(String, i64)>> {
        Ok(read!(self.backend, |pool| {
            sqlx::query_as(
                "SELECT channel, COUNT(*) FROM notifications WHERE status = 'pending' \
                 GROUP BY channel ORDER BY channel",
            )
            .fetch_all(pool)
            .await
        })?)
    }

    /// Records a delivery and the receiver's answer. Only the lease holder
    /// may; returns whether it was.
    pub async fn mark_notification_sent(&self, id: i64, owner: &str, answer: &str) -> Result<bool> {
        let now = self.now().as_millis();
        let updated = write!(self.backend, |pool| {
            sqlx::query(
                "UPDATE notifications SET status = 'sent', sent_at = $1, attempts = attempts + 1, \
                 lease_owner = NULL, lease_expires_at = NULL, last_error = NULL, delivery_answer = $4 \
                 WHERE id = $2 AND lease_owner = $3 AND status = 'pending'",
            )
            .bind(now)
            .bind(id)
            .bind(owner)
            .bind(answer)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(updated == 1)
    }

    /// Records a failed attempt: retried at `retry_at`, or expired when that
    /// is past its expiry. Only the lease holder may; returns whether it was.
    pub async fn mark_notification_failed(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: Timestamp,
    ) -> Result<bool> {
        let updated = write!(self.backend, |pool| {
            sqlx::query(
                "UPDATE notifications SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, \
                 status = CASE WHEN $2 >= expires_at THEN 'expired' ELSE 'pending' END, \
                 lease_owner = NULL, lease_expires_at = NULL \
                 WHERE id = $3 AND lease_owner = $4 AND status = 'pending'",
            )
            .bind(error)
            .bind(retry_at.as_millis())
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(updated == 1)
    }

    /// One notification by id.
    pub async fn notification(&self, id: i64) -> Result<Notification> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1");
        read!(self.backend, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?
        .ok_or(StoreError::NotFound("notification"))
    }

    /// One notification by its dedupe key.
    pub async fn notification_by_key(&self, dedupe_key: &str) -> Result<Notification> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE dedupe_key = $1");
        read!(self.backend, |pool| sqlx::query_as(&sql)
            .bind(dedupe_key)
            .fetch_optional(pool)
            .await)?
        .ok_or(StoreError::NotFound("notification"))
    }

    /// The first message to `recipient` on `channel` about any of these
    /// incidents: the one later messages about them answer, so that mail
    /// clients show one thread.
    pub async fn first_message_about(
        &self,
        recipient: &str,
        channel: &str,
        incident_ids: &[i64],
    ) -> Result<Option<Notification>> {
        if incident_ids.is_empty() {
            return Ok(None);
        }
        Ok(read!(self.backend, |pool| {
            let mut select = sqlx::QueryBuilder::new(format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE recipient = "
            ));
            select.push_bind(recipient);
            select.push(" AND channel = ");
            select.push_bind(channel);
            select.push(
                " AND id IN (SELECT notification_id FROM notification_claims WHERE incident_id IN (",
            );
            let mut list = select.separated(", ");
            for id in incident_ids {
                list.push_bind(*id);
            }
            select.push(")) ORDER BY id LIMIT 1");
            select.build_query_as().fetch_optional(pool).await
        })?)
    }

    /// Notifications about one incident (alone or among others), oldest first.
    pub async fn incident_notifications(&self, incident_id: i64) -> Result<Vec<Notification>> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id IN \
             (SELECT notification_id FROM notification_claims WHERE incident_id = $1) ORDER BY id"
        );
        Ok(read!(self.backend, |pool| sqlx::query_as(&sql)
            .bind(incident_id)
            .fetch_all(pool)
            .await)?)
    }
}
