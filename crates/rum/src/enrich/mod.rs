//! Turns a valid beacon into a page view: the page from the URL, software
//! and device from the User-Agent and Client Hints, the country from the
//! client address. Robots are recognised here and dropped by the caller.

mod geo;
mod user_agent;

pub use geo::{GeoIp, GeoIpError};
pub use user_agent::{
    BROWSER_RENAMES, RulesError, Software, UserAgentParser, browser_name, os_name,
};

use sightline_core::Timestamp;
use sightline_core::rum::{Beacon, Dimension, DimensionValues, PageView, page_path};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;

/// The enrichment sources of a collector.
#[derive(Debug)]
pub struct Enricher {
    user_agents: &'static UserAgentParser,
    geo: Option<GeoIp>,
    /// Parsed User-Agents: real traffic has few distinct ones, and parsing
    /// against the full rule set is the costliest step of a beacon.
    parsed: RwLock<HashMap<SoftwareKey, Software>>,
}

/// What parsing depends on: the User-Agent and the Client Hints it uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SoftwareKey {
    user_agent: String,
    platform: Option<String>,
    platform_version: Option<String>,
    mobile: Option<bool>,
}

/// Parsed User-Agents kept at most; the cache starts over when full.
const PARSED_CACHE_MAX: usize = 10_000;

/// Why a valid beacon is not a page view worth keeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAPageView {
    /// A crawler, robot or headless browser.
    Bot,
}

impl Enricher {
    /// An enricher with the embedded User-Agent rules and, if given, a country database.
    pub fn new(geo: Option<GeoIp>) -> Result<Self, RulesError> {
        Ok(Self {
            user_agents: UserAgentParser::shared()?,
            geo,
            parsed: RwLock::new(HashMap::new()),
        })
    }

    fn software(
        &self,
        user_agent: &str,
        hints: Option<&sightline_core::rum::ClientHints>,
    ) -> Software {
        let key = SoftwareKey {
            user_agent: user_agent.to_owned(),
            platform: hints.and_then(|hints| hints.platform.clone()),
            platform_version: hints.and_then(|hints| hints.platform_version.clone()),
            mobile: hints.and_then(|hints| hints.mobile),
        };
        if let Some(found) = self
            .parsed
            .read()
            .ok()
            .and_then(|cache| cache.get(&key).cloned())
        {
            return found;
        }
        let software = self.user_agents.parse(user_agent, hints);
        if let Ok(mut cache) = self.parsed.write() {
            if cache.len() >= PARSED_CACHE_MAX {
                cache.clear();
            }
            cache.insert(key, software.clone());
        }
        software
    }

    /// The page view a beacon describes. The client address is used for the
    /// country and forgotten.
    pub fn page_view(
        &self,
        site_id: i64,
        keep_query_string: bool,
        beacon: &Beacon,
        user_agent: &str,
        client: IpAddr,
        at: Timestamp,
    ) -> Result<PageView, NotAPageView> {
        let software = self.software(user_agent, beacon.hints.as_ref());
        if software.is_bot {
            return Err(NotAPageView::Bot);
        }
        let page = page_path(&beacon.url, keep_query_string);
        let country = self
            .geo
            .as_ref()
            .and_then(|geo| geo.country(client))
            .unwrap_or_else(|| "unknown".to_owned());
        let mut dimensions = DimensionValues::default();
        dimensions.set(Dimension::Page, page);
        dimensions.set(Dimension::Device, software.device);
        dimensions.set(Dimension::Browser, software.browser);
        dimensions.set(Dimension::BrowserVersion, software.browser_version);
        dimensions.set(Dimension::Os, software.os);
        dimensions.set(Dimension::OsVersion, software.os_version);
        dimensions.set(Dimension::Country, country);
        dimensions.set(Dimension::NavigationType, beacon.nav.name());
        Ok(PageView {
            site_id,
            at,
            dimensions,
            metrics: beacon.metric_values(),
        })
    }
}
