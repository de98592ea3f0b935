//! ICMP echo checks.

use super::validate_host;
use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// Send echo requests and judge loss and round-trip time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PingCheck {
    /// Host name or IP address.
    pub host: String,
    /// Echo requests per check; 3 by default.
    #[serde(default = "default_count")]
    pub count: u8,
    /// Losing more than this share of packets (percent) is an error.
    #[serde(default)]
    pub max_loss_percent: u8,
    /// A mean round-trip time above this (milliseconds) is "degraded".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_rtt_ms: Option<u64>,
}

fn default_count() -> u8 {
    3
}

impl PingCheck {
    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        validate_host("host", &self.host)?;
        if !(1..=20).contains(&self.count) {
            return Err(ValidationError::new("count", "must be between 1 and 20"));
        }
        if self.max_loss_percent >= 100 {
            return Err(ValidationError::new(
                "max_loss_percent",
                "must be below 100",
            ));
        }
        Ok(())
    }
}
