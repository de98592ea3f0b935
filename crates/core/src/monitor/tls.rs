//! TLS certificate checks.

use super::validate_host;
use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// Handshake with a TLS server and judge its certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsCheck {
    /// Host name or IP address to connect to.
    pub host: String,
    /// Port; 443 by default.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Name sent in SNI and matched against the certificate; `host` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Fewer days than this until expiry is "degraded".
    #[serde(default = "default_warn_days")]
    pub warn_days: u32,
    /// Fewer days than this until expiry is an error.
    #[serde(default = "default_error_days")]
    pub error_days: u32,
    /// The certificate must be valid for the server name.
    #[serde(default = "yes")]
    pub check_hostname: bool,
    /// The chain must lead to a trusted root.
    #[serde(default = "yes")]
    pub check_chain: bool,
    /// Text the issuer's name must contain (`Let's Encrypt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_issuer: Option<String>,
}

fn default_port() -> u16 {
    443
}

fn default_warn_days() -> u32 {
    21
}

fn default_error_days() -> u32 {
    7
}

fn yes() -> bool {
    true
}

impl TlsCheck {
    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        validate_host("host", &self.host)?;
        if self.port == 0 {
            return Err(ValidationError::new("port", "must be between 1 and 65535"));
        }
        if let Some(name) = &self.server_name {
            validate_host("server_name", name)?;
        }
        if self.error_days > self.warn_days {
            return Err(ValidationError::new(
                "error_days",
                "must not be more than warn_days",
            ));
        }
        Ok(())
    }
}
