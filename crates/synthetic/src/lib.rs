//! Synthetic monitoring: the runners that check a site the way a visitor or
//! a client would (HTTP, multi-step API, TCP, DNS, TLS, ICMP), the
//! scheduler that turns monitors into due checks, the checkpoint protocol
//! (lease, run, report) every checkpoint speaks, and the rules that turn a
//! failure into a confirmed error.

pub mod agent;
pub mod browser;
pub mod checkpoint;
pub mod confirmation;
pub mod coordinator;
pub mod directory;
pub mod lease_proof;
mod probe;
pub mod related;
pub mod runtime;
pub mod scheduler;
mod secret_forms;
mod secrets;
pub mod vault;

/// The header every request of an HTTP or API check carries, so that a
/// Sightline server can tell a check's request from a person's: it refuses
/// to run checks for one (a monitor calling its own "run now" would run
/// itself without end).
pub const CHECK_HEADER: &str = "sightline-check";

pub use coordinator::{Coordinator, JobReport, ResultTally};
pub use lease_proof::LeaseProofs;
pub use probe::{Prober, ProberConfig, ProberError, TlsSetupError};
pub use runtime::{Synthetic, SyntheticConfig};
pub use secrets::{Secrets, secret_names};
pub use vault::{Vault, VaultError};
