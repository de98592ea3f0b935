//! TCP connect checks, with an optional greeting banner (SMTP, POP3, IMAP, FTP).

use super::validate_host;
use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// Connect to a port and optionally read the server's greeting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    /// Host name or IP address.
    pub host: String,
    /// Port, 1-65535.
    pub port: u16,
    /// Text the first bytes the server sends must contain (`220` for SMTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_banner: Option<String>,
}

impl TcpCheck {
    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        validate_host("host", &self.host)?;
        if self.port == 0 {
            return Err(ValidationError::new("port", "must be between 1 and 65535"));
        }
        if self.expect_banner.as_deref() == Some("") {
            return Err(ValidationError::new("expect_banner", "must not be empty"));
        }
        Ok(())
    }
}
