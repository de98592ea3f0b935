//! DNS lookup checks.

use super::validate_host;
use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// Resolve a name and compare the answers with what is expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsCheck {
    /// The name to look up (`shop.example.com`).
    pub host: String,
    /// The record type to ask for; `A` by default.
    #[serde(default)]
    pub record_type: DnsRecordType,
    /// Ask this resolver (`1.1.1.1`, `10.0.0.53:5353`) instead of the system's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
    /// Values that must all be among the answers (addresses, host names, TXT text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<String>,
}

/// The DNS record types a check may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub enum DnsRecordType {
    /// IPv4 address.
    #[default]
    A,
    /// IPv6 address.
    #[serde(rename = "AAAA")]
    Aaaa,
    /// Canonical name.
    #[serde(rename = "CNAME")]
    Cname,
    /// Mail exchanger.
    #[serde(rename = "MX")]
    Mx,
    /// Text.
    #[serde(rename = "TXT")]
    Txt,
    /// Name server.
    #[serde(rename = "NS")]
    Ns,
}

impl DnsCheck {
    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        validate_host("host", self.host.trim_end_matches('.'))?;
        if let Some(resolver) = &self.resolver {
            let valid = resolver.parse::<std::net::SocketAddr>().is_ok()
                || resolver.parse::<std::net::IpAddr>().is_ok();
            if !valid {
                return Err(ValidationError::new(
                    "resolver",
                    format!("`{resolver}` is not an IP address or IP:port"),
                ));
            }
        }
        for (index, value) in self.expect.iter().enumerate() {
            if value.trim().is_empty() {
                return Err(ValidationError::new(
                    format!("expect[{index}]"),
                    "must not be empty",
                ));
            }
            let address_expected =
                matches!(self.record_type, DnsRecordType::A | DnsRecordType::Aaaa);
            if address_expected && value.parse::<std::net::IpAddr>().is_err() {
                return Err(ValidationError::new(
                    format!("expect[{index}]"),
                    format!("`{value}` is not an IP address"),
                ));
            }
        }
        Ok(())
    }
}
