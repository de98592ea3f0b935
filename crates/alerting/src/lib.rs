//! Alerting: the outbox that every notification goes through and the
//! notifiers that deliver it (e-mail over SMTP, webhooks, Slack, Teams,
//! PagerDuty, Opsgenie, Discord, Telegram).

pub mod ack_links;
pub mod channels;
pub mod engine;
pub mod outbox;
pub mod render;
pub mod smtp;
#[cfg(feature = "testing")]
pub mod testing;
pub mod traffic;
pub mod when;

pub use ack_links::{AckGrant, AckLinkError, AckLinks};
pub use channels::{Notifier, SecretLookup, SecretSource};
pub use engine::{Engine, EngineError, Pass};
pub use outbox::{Deliverer, Delivery, DeliveryTally, OutboxConfig};
pub use render::{IncidentLine, MessageContext, MessageKind, RenderError, Templates};
pub use smtp::{Email, Mailer, SendError, SmtpSecurity, SmtpSettings};
