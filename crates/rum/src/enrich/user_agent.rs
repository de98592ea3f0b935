//! Browser, OS and device from the User-Agent string (uap-core rules), made
//! exact with User-Agent Client Hints where the browser sends them: reduced
//! UA strings freeze the OS version (Windows 10, macOS 10.15.7, Android 10),
//! the hints do not.

use sightline_core::rum::ClientHints;
use std::sync::OnceLock;

/// The uap-core rule set, embedded.
const UAP_RULES: &str = include_str!("../../data/uap-core/regexes.yaml");

/// What a User-Agent says about the visitor's software.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Software {
    /// `Chrome`, `Firefox`, `Safari`, `Edge`…
    pub browser: String,
    /// `Chrome 120`.
    pub browser_version: String,
    /// `Windows`, `macOS`, `Android`, `iOS`, `Linux`…
    pub os: String,
    /// `Windows 11`, `Android 14`.
    pub os_version: String,
    /// `desktop`, `mobile` or `tablet`.
    pub device: &'static str,
    /// A crawler, a monitoring robot or a headless browser.
    pub is_bot: bool,
}

/// The compiled uap-core rules.
pub struct UserAgentParser(ua_parser::Extractor<'static>);

impl std::fmt::Debug for UserAgentParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserAgentParser")
    }
}

/// Why the rules did not load (a broken embedded file is a build defect).
#[derive(Debug, thiserror::Error)]
#[error("the uap-core rules do not load: {0}")]
pub struct RulesError(String);

impl UserAgentParser {
    /// The parser, compiled once per process (compiling takes a moment).
    pub fn shared() -> Result<&'static UserAgentParser, RulesError> {
        static PARSER: OnceLock<Result<UserAgentParser, String>> = OnceLock::new();
        PARSER
            .get_or_init(|| {
                let rules: ua_parser::Regexes<'static> =
                    serde_yaml_ng::from_str(UAP_RULES).map_err(|e| e.to_string())?;
                ua_parser::Extractor::try_from(rules)
                    .map(UserAgentParser)
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| RulesError(e.clone()))
    }

    /// Reads a User-Agent string, corrected by Client Hints.
    pub fn parse(&self, user_agent: &str, hints: Option<&ClientHints>) -> Software {
        let browser = self.0.ua.extract(user_agent);
        let os = self.0.os.extract(user_agent);
        let device = self.0.dev.extract(user_agent);
        let (mut browser_family, browser_major) = match &browser {
            Some(found) => (found.family.to_string(), found.major.map(str::to_owned)),
            None => ("Other".to_owned(), None),
        };
        let is_bot = device.as_ref().is_some_and(|d| d.device == "Spider")
            || browser_family.contains("Headless")
            || user_agent.trim().is_empty();
        browser_family = browser_name(&browser_family).to_owned();
        let (mut os_family, mut os_version) = match &os {
            Some(found) => (
                canonical_os(&found.os),
                found
                    .major
                    .as_ref()
                    .map(|major| match (found.os.as_ref(), found.minor.as_ref()) {
                        ("Mac OS X", Some(minor)) if major == "10" => format!("{major}.{minor}"),
                        _ => major.to_string(),
                    }),
            ),
            None => ("Other".to_owned(), None),
        };
        if let Some(hints) = hints
            && let (Some(platform), Some(version)) = (&hints.platform, &hints.platform_version)
            && let Some((family, version)) = os_from_hints(platform, version)
        {
            os_family = family;
            os_version = Some(version);
        }
        Software {
            browser_version: join(&browser_family, browser_major.as_deref()),
            browser: browser_family,
            os_version: join(&os_family, os_version.as_deref()),
            os: os_family,
            device: device_type(user_agent, hints),
            is_bot,
        }
    }
}

/// uap-core's browser families that name a form factor, with the name
/// Sightline shows: a browser is named as its product, and whether it ran on
/// a phone is the device dimension's to say. Every other family is kept as
/// uap-core names it.
pub const BROWSER_RENAMES: [(&str, &str); 9] = [
    ("Chrome Mobile", "Chrome"),
    ("Chrome Mobile iOS", "Chrome"),
    ("Chrome Mobile WebView", "Chrome WebView"),
    ("Firefox Mobile", "Firefox"),
    ("Firefox iOS", "Firefox"),
    ("Mobile Safari", "Safari"),
    ("Mobile Safari UI/WKWebView", "Safari WebView"),
    ("Edge Mobile", "Edge"),
    ("Opera Mobile", "Opera"),
];

/// The name Sightline shows for a uap-core browser family
/// ([`BROWSER_RENAMES`]).
pub fn browser_name(family: &str) -> &str {
    BROWSER_RENAMES
        .iter()
        .find(|(from, _)| *from == family)
        .map_or(family, |(_, to)| to)
}

/// The name Sightline shows for a uap-core OS family: `Mac OS X` is
/// `macOS`, as Apple names it now; every other family is kept.
pub fn os_name(family: &str) -> String {
    canonical_os(family)
}

fn join(family: &str, version: Option<&str>) -> String {
    match version {
        Some(version) if !version.is_empty() => format!("{family} {version}"),
        _ => family.to_owned(),
    }
}

fn canonical_os(family: &str) -> String {
    match family {
        "Mac OS X" => "macOS".to_owned(),
        other => other.to_owned(),
    }
}

/// The OS and version the Client Hints state. Windows reports its platform
/// version as 13 and up for Windows 11, 1 to 10 for Windows 10.
fn os_from_hints(platform: &str, version: &str) -> Option<(String, String)> {
    let major: u32 = version.split('.').next()?.parse().ok()?;
    match platform {
        "Windows" if major >= 13 => Some(("Windows".to_owned(), "11".to_owned())),
        "Windows" if major >= 1 => Some(("Windows".to_owned(), "10".to_owned())),
        "macOS" | "Android" | "iOS" | "Chrome OS" if major > 0 => {
            Some((platform.to_owned(), major.to_string()))
        }
        _ => None,
    }
}

/// Desktop, mobile or tablet: the long-standing reading of `Mobi`, the
/// tablet names, and Android without `Mobile`, with the Client Hints'
/// `mobile` flag where given.
fn device_type(user_agent: &str, hints: Option<&ClientHints>) -> &'static str {
    let tablet = ["iPad", "Tablet", "Kindle", "Silk/", "PlayBook"]
        .iter()
        .any(|name| user_agent.contains(name))
        || (user_agent.contains("Android") && !user_agent.contains("Mobile"));
    if tablet {
        return "tablet";
    }
    match hints.and_then(|hints| hints.mobile) {
        Some(true) => "mobile",
        Some(false) if !user_agent.contains("Android") => "desktop",
        _ if ["Mobi", "iPhone", "iPod", "Windows Phone"]
            .iter()
            .any(|name| user_agent.contains(name)) =>
        {
            "mobile"
        }
        _ => "desktop",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

    fn parse(user_agent: &str, hints: Option<ClientHints>) -> Software {
        UserAgentParser::shared()
            .unwrap()
            .parse(user_agent, hints.as_ref())
    }

    #[test]
    fn common_browsers_are_recognised() {
        let chrome = parse(CHROME_WINDOWS, None);
        assert_eq!(
            (
                chrome.browser.as_str(),
                chrome.browser_version.as_str(),
                chrome.os_version.as_str(),
                chrome.device
            ),
            ("Chrome", "Chrome 120", "Windows 10", "desktop")
        );
        let iphone = parse(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
            None,
        );
        assert_eq!(
            (
                iphone.browser_version.as_str(),
                iphone.os_version.as_str(),
                iphone.device
            ),
            ("Safari 17", "iOS 17", "mobile"),
            "a mobile browser is named as its product; the device says it was a phone"
        );
        let ipad = parse(
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
            None,
        );
        assert_eq!(ipad.device, "tablet");
        let firefox = parse(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0",
            None,
        );
        assert_eq!(
            (
                firefox.browser_version.as_str(),
                firefox.os_version.as_str()
            ),
            ("Firefox 121", "macOS 10.15")
        );
        let android = parse(
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
            None,
        );
        assert_eq!(
            (
                android.browser.as_str(),
                android.device,
                android.os_version.as_str()
            ),
            ("Chrome", "mobile", "Android 10")
        );
    }

    #[test]
    fn client_hints_correct_reduced_user_agents() {
        let hints = ClientHints {
            platform: Some("Windows".into()),
            platform_version: Some("15.0.0".into()),
            mobile: Some(false),
            ..ClientHints::default()
        };
        assert_eq!(parse(CHROME_WINDOWS, Some(hints)).os_version, "Windows 11");
        let hints = ClientHints {
            platform: Some("Android".into()),
            platform_version: Some("14.0.0".into()),
            mobile: Some(true),
            ..ClientHints::default()
        };
        let android = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
        assert_eq!(parse(android, Some(hints)).os_version, "Android 14");
    }

    #[test]
    fn robots_are_recognised() {
        assert!(
            parse(
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                None
            )
            .is_bot
        );
        assert!(parse("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", None).is_bot);
        assert!(parse("", None).is_bot);
        assert!(!parse(CHROME_WINDOWS, None).is_bot);
    }
}
