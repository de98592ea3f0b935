//! Country from the client address, with any MaxMind-format database
//! (GeoIP2/GeoLite2 Country, or the free country files that key the code
//! as `country_code`). The address is used for the lookup and never kept.

use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;

/// A country database loaded in memory.
pub struct GeoIp(maxminddb::Reader<Vec<u8>>);

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp")
            .field("database_type", &self.0.metadata().database_type)
            .finish()
    }
}

/// A database that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot load the GeoIP database {path}: {reason}")]
pub struct GeoIpError {
    path: String,
    reason: String,
}

#[derive(Deserialize)]
struct CountryRecord<'a> {
    #[serde(borrow, default)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

impl GeoIp {
    /// Loads a database file.
    pub fn open(path: &Path) -> Result<Self, GeoIpError> {
        maxminddb::Reader::open_readfile(path)
            .map(GeoIp)
            .map_err(|e| GeoIpError {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
    }

    /// The ISO 3166 code of the address's country, if the database knows it.
    pub fn country(&self, address: IpAddr) -> Option<String> {
        let found = self.0.lookup(address).ok()?;
        let record: CountryRecord<'_> = found.decode().ok()??;
        let code = record
            .country
            .and_then(|country| country.iso_code)
            .or(record.country_code)?;
        (code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()))
            .then(|| code.to_ascii_uppercase())
    }
}
