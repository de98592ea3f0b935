//! The beacon the RUM script sends once per page view, and the rules it must
//! keep. Anything outside them is refused whole: a beacon is never stored
//! half-valid.

use super::metric::{Metric, MetricValues};
use crate::ValidationError;
use crate::validation::from_json_slice;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The largest beacon body accepted.
pub const MAX_BEACON_BYTES: usize = 8 * 1024;

/// One page view as the browser reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Beacon {
    /// The site key from the snippet's `data-site`.
    pub site: String,
    /// The page's URL as the browser had it (query and fragment are removed
    /// by the collector unless the site keeps them).
    pub url: url::Url,
    /// How the page was reached.
    #[serde(default)]
    pub nav: NavigationType,
    /// The measurements, by metric name.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// The browsing environment.
    #[serde(default)]
    pub env: BeaconEnvironment,
    /// User-Agent Client Hints, where the browser offers them.
    #[serde(default)]
    pub hints: Option<ClientHints>,
}

/// How a page view came about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NavigationType {
    /// A link, typed URL or form.
    #[default]
    Navigate,
    /// A reload.
    Reload,
    /// Back or forward through history.
    BackForward,
    /// A prerendered page that was then shown.
    Prerender,
    /// A route change of a single-page app (History API).
    Soft,
}

impl NavigationType {
    /// The stored and displayed name.
    pub fn name(self) -> &'static str {
        match self {
            NavigationType::Navigate => "navigate",
            NavigationType::Reload => "reload",
            NavigationType::BackForward => "back_forward",
            NavigationType::Prerender => "prerender",
            NavigationType::Soft => "soft",
        }
    }
}

/// The browsing environment of a page view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeaconEnvironment {
    /// Viewport width in CSS pixels.
    pub vw: Option<u32>,
    /// Viewport height in CSS pixels.
    pub vh: Option<u32>,
    /// Device pixel ratio.
    pub dpr: Option<f64>,
    /// Effective connection type (`4g`, `3g`, `2g`, `slow-2g`).
    pub ect: Option<String>,
    /// The browser's language (`en-US`).
    pub lang: Option<String>,
}

/// User-Agent Client Hints as `navigator.userAgentData.getHighEntropyValues`
/// returns them (the script sends the object as it is). They stay exact
/// where the User-Agent string is reduced. Keys a browser adds later are
/// ignored rather than refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientHints {
    /// The browser brands with their major versions (GREASE brands included).
    #[serde(default)]
    pub brands: Vec<ClientHintsBrand>,
    /// The same brands with their full versions.
    #[serde(default)]
    pub full_version_list: Vec<ClientHintsBrand>,
    /// Whether the browser says it is on a mobile device.
    pub mobile: Option<bool>,
    /// The OS (`Windows`, `macOS`, `Android`, `Linux`, `Chrome OS`).
    pub platform: Option<String>,
    /// The OS version (`15.0.0` is Windows 11).
    pub platform_version: Option<String>,
    /// The device model on Android.
    pub model: Option<String>,
}

/// One brand of the Client Hints brand list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientHintsBrand {
    /// `Google Chrome`, `Chromium`, `Microsoft Edge`, or a GREASE brand.
    pub brand: String,
    /// The full version (`120.0.6099.71`) or the major one.
    pub version: String,
}

impl Beacon {
    /// Parses and checks a beacon body. The error names the offending field.
    pub fn parse(body: &[u8]) -> Result<Beacon, ValidationError> {
        if body.len() > MAX_BEACON_BYTES {
            return Err(ValidationError::new(
                "",
                format!("the beacon is larger than {MAX_BEACON_BYTES} bytes"),
            ));
        }
        let beacon: Beacon = from_json_slice(body)?;
        beacon.validate()?;
        Ok(beacon)
    }

    /// Checks every value against its range.
    pub fn validate(&self) -> Result<(), ValidationError> {
        bounded_text("site", &self.site, 64)?;
        bounded_text("url", self.url.as_str(), 2048)?;
        if !matches!(self.url.scheme(), "http" | "https") || self.url.host_str().is_none() {
            return Err(ValidationError::new("url", "must be an http(s) URL"));
        }
        for (name, value) in &self.metrics {
            let field = || format!("metrics.{name}");
            let metric = Metric::from_name(name)
                .ok_or_else(|| ValidationError::new(field(), "is not a known metric"))?;
            if !value.is_finite() || *value < 0.0 || *value > metric.max_value() {
                return Err(ValidationError::new(
                    field(),
                    format!("{value} is outside 0..={}", metric.max_value()),
                ));
            }
        }
        if self.metrics.contains_key(Metric::Settle.name()) != (self.nav == NavigationType::Soft) {
            return Err(ValidationError::new(
                "metrics.settle",
                "is given for soft navigations, and only for them",
            ));
        }
        self.env.validate().map_err(|e| e.within("env"))?;
        if let Some(hints) = &self.hints {
            hints.validate().map_err(|e| e.within("hints"))?;
        }
        Ok(())
    }

    /// The measurements as values by metric.
    pub fn metric_values(&self) -> MetricValues {
        let mut values = MetricValues::default();
        for (name, value) in &self.metrics {
            if let Some(metric) = Metric::from_name(name) {
                values.set(metric, Some(*value));
            }
        }
        values
    }
}

impl BeaconEnvironment {
    fn validate(&self) -> Result<(), ValidationError> {
        for (field, value) in [("vw", self.vw), ("vh", self.vh)] {
            if value.is_some_and(|pixels| pixels > 100_000) {
                return Err(ValidationError::new(field, "must be at most 100000"));
            }
        }
        if let Some(dpr) = self.dpr
            && !(dpr > 0.0 && dpr <= 16.0)
        {
            return Err(ValidationError::new("dpr", "must be between 0 and 16"));
        }
        if let Some(ect) = &self.ect
            && !matches!(ect.as_str(), "slow-2g" | "2g" | "3g" | "4g")
        {
            return Err(ValidationError::new(
                "ect",
                format!("`{ect}` is not an effective connection type"),
            ));
        }
        if let Some(lang) = &self.lang {
            bounded_text("lang", lang, 35)?;
        }
        Ok(())
    }
}

impl ClientHints {
    fn validate(&self) -> Result<(), ValidationError> {
        for (field, brands) in [
            ("brands", &self.brands),
            ("fullVersionList", &self.full_version_list),
        ] {
            if brands.len() > 10 {
                return Err(ValidationError::new(field, "must have at most 10 entries"));
            }
            for (index, brand) in brands.iter().enumerate() {
                bounded_text(&format!("{field}[{index}].brand"), &brand.brand, 64)?;
                bounded_text(&format!("{field}[{index}].version"), &brand.version, 32)?;
            }
        }
        for (field, value) in [
            ("platform", &self.platform),
            ("platformVersion", &self.platform_version),
            ("model", &self.model),
        ] {
            // Empty values are allowed: desktop browsers send an empty model.
            if value.as_ref().is_some_and(|value| {
                value.chars().count() > 64 || value.chars().any(char::is_control)
            }) {
                return Err(ValidationError::new(
                    field,
                    "must be at most 64 printable characters",
                ));
            }
        }
        Ok(())
    }
}

fn bounded_text(field: &str, value: &str, max_chars: usize) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if value.chars().count() > max_chars || value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max_chars} printable characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn beacon(extra: serde_json::Value) -> Vec<u8> {
        let mut document = json!({
            "site": "abc123", "url": "https://shop.example.com/cart?id=7#top", "nav": "navigate",
            "metrics": {"lcp": 1234.5, "fcp": 800.0, "cls": 0.02, "ttfb": 180.0, "load": 2100.0},
            "env": {"vw": 1280, "vh": 720, "dpr": 2.0, "ect": "4g", "lang": "en-US"},
            "hints": {"brands": [{"brand": "Google Chrome", "version": "120"}], "mobile": false,
                      "platform": "Windows", "platformVersion": "15.0.0", "model": "",
                      "fullVersionList": [{"brand": "Google Chrome", "version": "120.0.6099.71"}]}
        });
        if let (Some(document), serde_json::Value::Object(extra)) =
            (document.as_object_mut(), extra)
        {
            document.extend(extra);
        }
        serde_json::to_vec(&document).unwrap()
    }

    #[test]
    fn a_full_beacon_parses() {
        let parsed = Beacon::parse(&beacon(json!({}))).unwrap();
        assert_eq!(parsed.metric_values().get(Metric::Lcp), Some(1234.5));
        assert_eq!(
            parsed.hints.unwrap().platform_version.as_deref(),
            Some("15.0.0")
        );
    }

    #[test]
    fn bad_beacons_are_refused_with_the_field_named() {
        let cases = [
            (json!({"metrics": {"lcp": -1.0}}), "metrics.lcp"),
            (json!({"metrics": {"lcp": 1e12}}), "metrics.lcp"),
            (json!({"metrics": {"cls": 500.0}}), "metrics.cls"),
            (json!({"metrics": {"speed": 1.0}}), "metrics.speed"),
            (json!({"metrics": {"lcp": "fast"}}), "metrics.lcp"),
            (json!({"metrics": {"settle": 10.0}}), "metrics.settle"),
            (json!({"nav": "soft"}), "metrics.settle"),
            (json!({"nav": "teleport"}), "nav"),
            (json!({"url": "javascript:alert(1)"}), "url"),
            (
                json!({"url": "https://x.example/".to_owned() + &"a".repeat(3000)}),
                "url",
            ),
            (json!({"site": ""}), "site"),
            (json!({"env": {"dpr": 0.0}}), "env.dpr"),
            (json!({"env": {"ect": "5g"}}), "env.ect"),
            (json!({"env": {"vw": -5}}), "env.vw"),
            (
                json!({"hints": {"brands": [{"brand": "x"}]}}),
                "hints.brands[0].version",
            ),
            (json!({"cookie": "x"}), "cookie"),
            (
                json!({"hints": {"platformVersion": "1\n"}}),
                "hints.platformVersion",
            ),
        ];
        for (extra, field) in cases {
            let text = extra.to_string();
            let error = Beacon::parse(&beacon(extra)).unwrap_err();
            assert_eq!(error.field, field, "{text}: {error}");
        }
    }

    #[test]
    fn malformed_bodies_are_refused() {
        assert!(Beacon::parse(b"").is_err());
        assert!(Beacon::parse(b"{\"site\": ").is_err());
        assert!(Beacon::parse(&[0xff, 0xfe, 0x00]).is_err());
        let deep = "[".repeat(5000) + &"]".repeat(5000);
        assert!(Beacon::parse(deep.as_bytes()).is_err());
        assert!(Beacon::parse(&vec![b' '; MAX_BEACON_BYTES + 1]).is_err());
        assert!(
            Beacon::parse(
                b"{\"site\":\"a\",\"url\":\"https://x.example/\",\"metrics\":{\"lcp\":1e999}}"
            )
            .is_err()
        );
    }
}
