//! Synthetic monitoring: the runners that check a site the way a visitor or
//! a client would (HTTP, multi-step API, TCP, DNS, TLS, ICMP), each
//! reporting what it found with a timing breakdown.

mod probe;
mod secrets;

pub use probe::{Prober, ProberConfig, ProberError, TlsSetupError};
pub use secrets::Secrets;
