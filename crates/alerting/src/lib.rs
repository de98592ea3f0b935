//! Alerting: the outbox that every notification goes through and the
//! senders that deliver it (e-mail over SMTP, webhooks).

pub mod outbox;
pub mod smtp;
#[cfg(feature = "testing")]
pub mod testing;

pub use outbox::{Deliverer, Delivery, OutboxConfig};
pub use smtp::{Email, Mailer, SendError, SmtpSecurity, SmtpSettings};
