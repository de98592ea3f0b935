//! Sightline's domain: the types every other crate speaks in and the pure logic
//! that decides what is valid.
//!
//! Monitor specifications, RUM site definitions, user roles and the validation
//! rules that the API, the YAML files and the UI all share live here, so that a
//! rule is written once and every entry point gives the same answer with the
//! same field name.
//!
//! This crate must never do I/O: no tokio, no sqlx, no axum, no clock reads.
//! Anything that needs the outside world takes it as an argument.

pub mod alert_channels;
pub mod alert_policy;
pub mod checkpoint;
pub mod correlation;
pub mod duration_text;
pub mod maintenance;
pub mod monitor;
pub mod rum;
pub mod site;
pub mod status_page;
pub mod time;
pub mod user;
pub mod validation;

pub use alert_policy::AlertPolicySpec;
pub use correlation::IncidentClass;
pub use maintenance::MaintenanceWindowSpec;
pub use monitor::{CheckSpec, MonitorSpec};
pub use site::SiteSpec;
pub use status_page::StatusPageSpec;
pub use time::{Clock, ManualClock, Timestamp};
pub use user::{Email, Role};
pub use validation::ValidationError;
