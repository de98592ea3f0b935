//! Public status pages: what a team tells its own customers is up. A page
//! names groups of components under public names; a component stands for
//! one or more monitors, or for a RUM site (what real visitors see). The
//! monitors' own names, URLs, errors and checkpoints are never part of
//! what a page shows: the page only ever knows them by the component.

use crate::validation::{at_most, from_json_value, require_text, within_bounds};
use crate::{ValidationError, monitor::SecretReference};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The most components a page may have.
pub const MAX_COMPONENTS: usize = 100;
/// The largest logo, decoded: the page itself weighs under 50 KB.
pub const MAX_LOGO_BYTES: usize = 32 * 1024;
/// The image types a logo may have.
pub const LOGO_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "image/svg+xml",
];

/// A status page as configured (API and YAML alike).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusPageSpec {
    /// Its address: `/status/{slug}` (lower-case letters, digits and `-`).
    #[schema(example = "shop")]
    pub slug: String,
    /// The page's heading (`Shop status`).
    pub title: String,
    /// A line or two under the title.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// A host name of the team's own (`status.shop.example`): a request
    /// whose `Host` is this name gets the page at `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The logo, as a `data:` URL (`data:image/png;base64,…`), at most
    /// 32 KB decoded; kept in the database with the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    /// The groups of components, in the order shown.
    #[serde(default)]
    pub groups: Vec<ComponentGroup>,
    /// Makes the page private: `{{secrets.NAME}}`, the vault secret a
    /// visitor must type to see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Makes the page private: `{{secrets.NAME}}`, the vault secret a
    /// script gives as `Authorization: Bearer …` or `?token=…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Open a public incident with a neutral text when a component has a
    /// confirmed outage (off unless asked for).
    #[serde(default, skip_serializing_if = "is_false")]
    pub auto_incidents: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// A named group of components (`Website`, `API`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentGroup {
    /// The group's public name.
    pub name: String,
    /// Its components, in the order shown.
    #[serde(default)]
    pub components: Vec<Component>,
}

/// What a page shows one state for: monitors, or a RUM site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// The public name (`Store front`); never a monitor's own name.
    pub name: String,
    /// The monitors behind it, by name: it is down when any of them is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monitors: Vec<String>,
    /// A RUM site behind it, by name: real visitors' page views and
    /// largest contentful paint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
}

impl Component {
    /// The component's key in addresses (badges): its name in lower case,
    /// with every run of other characters than letters and digits a `-`.
    pub fn key(&self) -> String {
        component_key(&self.name)
    }
}

/// See [`Component::key`].
pub fn component_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            key.push(c);
        } else if !key.is_empty() && !key.ends_with('-') {
            key.push('-');
        }
    }
    while key.ends_with('-') {
        key.pop();
    }
    key
}

/// A logo read from its `data:` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    /// Its media type, one of [`LOGO_TYPES`].
    pub media_type: String,
    /// The image.
    pub bytes: Vec<u8>,
}

/// Reads a logo's `data:` URL (`data:image/png;base64,…`).
pub fn parse_logo(url: &str) -> Result<Logo, String> {
    let rest = url
        .strip_prefix("data:")
        .ok_or("must be a data: URL like data:image/png;base64,…")?;
    let (header, data) = rest
        .split_once(',')
        .ok_or("must be a data: URL like data:image/png;base64,…")?;
    let media_type = header
        .strip_suffix(";base64")
        .ok_or("must be base64-encoded (data:TYPE;base64,…)")?
        .to_ascii_lowercase();
    if !LOGO_TYPES.contains(&media_type.as_str()) {
        return Err(format!(
            "`{media_type}` is not an image type a logo may have; expected one of {}",
            LOGO_TYPES.join(", ")
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("is not valid base64: {e}"))?;
    if bytes.is_empty() {
        return Err("holds no image".to_owned());
    }
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(format!(
            "is {} KB; a logo may be at most {} KB",
            bytes.len().div_ceil(1024),
            MAX_LOGO_BYTES / 1024
        ));
    }
    Ok(Logo { media_type, bytes })
}

/// Whether a slug is lower-case letters, digits and inner `-`, 1 to 64 long.
fn is_slug(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// Whether a domain is a DNS host name of at least two labels, in lower
/// case, without a port, scheme or path.
fn is_host_name(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    text.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        && !labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

/// The vault secret a private page's password or token names, when the
/// value is exactly one `{{secrets.NAME}}`.
fn secret_name(value: &str) -> Option<String> {
    let names = crate::monitor::template::placeholders(value);
    let [name] = names.as_slice() else {
        return None;
    };
    let secret = name.strip_prefix("secrets.")?;
    let inner = value.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (inner.trim() == name).then(|| secret.to_owned())
}

impl StatusPageSpec {
    /// Parses and validates a page from a JSON (or YAML-turned-JSON) document.
    pub fn from_json(value: serde_json::Value) -> Result<Self, ValidationError> {
        within_bounds(&value)?;
        let spec: StatusPageSpec = from_json_value(value)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks the rules the types do not express.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if !is_slug(&self.slug) {
            return Err(ValidationError::new(
                "slug",
                format!(
                    "`{}` is not a slug: use 1 to 64 lower-case letters, digits and inner `-`",
                    self.slug
                ),
            ));
        }
        require_text("title", &self.title, 200)?;
        if self.description.chars().count() > 2000 {
            return Err(ValidationError::new(
                "description",
                "must be at most 2000 characters",
            ));
        }
        if let Some(domain) = &self.domain
            && !is_host_name(domain)
        {
            return Err(ValidationError::new(
                "domain",
                format!(
                    "`{domain}` is not a host name like status.example.com (lower case, no scheme, port or path)"
                ),
            ));
        }
        if let Some(logo) = &self.logo {
            parse_logo(logo).map_err(|message| ValidationError::new("logo", message))?;
        }
        for (field, value) in [("password", &self.password), ("token", &self.token)] {
            if let Some(value) = value
                && secret_name(value).is_none()
            {
                return Err(ValidationError::new(
                    field,
                    "must be a vault secret, written {{secrets.NAME}}, so that no configuration file holds it",
                ));
            }
        }
        if self.password.is_some() && self.token.is_some() {
            return Err(ValidationError::new(
                "token",
                "a page is private by a password or by a token, not both",
            ));
        }
        at_most("groups", &self.groups, MAX_COMPONENTS)?;
        let mut keys = std::collections::BTreeMap::new();
        for (g, group) in self.groups.iter().enumerate() {
            let at = format!("groups[{g}]");
            require_text(&format!("{at}.name"), &group.name, 100)?;
            for (c, component) in group.components.iter().enumerate() {
                let at = format!("{at}.components[{c}]");
                require_text(&format!("{at}.name"), &component.name, 100)?;
                let key = component.key();
                if key.is_empty() {
                    return Err(ValidationError::new(
                        format!("{at}.name"),
                        "must hold a letter or a digit",
                    ));
                }
                if let Some(other) = keys.insert(key, component.name.clone()) {
                    return Err(ValidationError::new(
                        format!("{at}.name"),
                        format!(
                            "`{}` is too like `{other}`, named before on this page: their addresses would be the same",
                            component.name
                        ),
                    ));
                }
                match (&component.monitors[..], &component.site) {
                    ([], None) => {
                        return Err(ValidationError::new(
                            at,
                            "name its `monitors` or its RUM `site`",
                        ));
                    }
                    ([_, ..], Some(_)) => {
                        return Err(ValidationError::new(
                            format!("{at}.site"),
                            "a component is monitors or a RUM site, not both",
                        ));
                    }
                    _ => {}
                }
                at_most(&format!("{at}.monitors"), &component.monitors, 50)?;
                for (m, monitor) in component.monitors.iter().enumerate() {
                    require_text(&format!("{at}.monitors[{m}]"), monitor, 200)?;
                }
                if let Some(site) = &component.site {
                    require_text(&format!("{at}.site"), site, 200)?;
                }
            }
        }
        if keys.len() > MAX_COMPONENTS {
            return Err(ValidationError::new(
                "groups",
                format!("may hold at most {MAX_COMPONENTS} components"),
            ));
        }
        Ok(())
    }

    /// Refuses a page naming a monitor, a site or a vault secret that does
    /// not exist, naming the field.
    pub fn validate_names(
        &self,
        monitors: &std::collections::BTreeSet<String>,
        sites: &std::collections::BTreeSet<String>,
        secrets: &std::collections::BTreeSet<String>,
    ) -> Result<(), ValidationError> {
        for (g, group) in self.groups.iter().enumerate() {
            for (c, component) in group.components.iter().enumerate() {
                let at = format!("groups[{g}].components[{c}]");
                for (m, monitor) in component.monitors.iter().enumerate() {
                    if !monitors.contains(monitor) {
                        return Err(ValidationError::new(
                            format!("{at}.monitors[{m}]"),
                            format!("no monitor is named `{monitor}`"),
                        ));
                    }
                }
                if let Some(site) = &component.site
                    && !sites.contains(site)
                {
                    return Err(ValidationError::new(
                        format!("{at}.site"),
                        format!("no site is named `{site}`"),
                    ));
                }
            }
        }
        match self
            .secret_references()
            .into_iter()
            .find(|reference| !secrets.contains(&reference.name))
        {
            Some(missing) => Err(missing.not_in_vault()),
            None => Ok(()),
        }
    }

    /// Every component, with the name of its group, in page order.
    pub fn components(&self) -> impl Iterator<Item = (&ComponentGroup, &Component)> {
        self.groups
            .iter()
            .flat_map(|group| group.components.iter().map(move |c| (group, c)))
    }

    /// Whether a visitor needs a password or a token to see the page.
    pub fn is_private(&self) -> bool {
        self.password.is_some() || self.token.is_some()
    }

    /// The vault secrets the page names (its password or token): what must
    /// exist before it may be saved.
    pub fn secret_references(&self) -> Vec<SecretReference> {
        [("password", &self.password), ("token", &self.token)]
            .into_iter()
            .filter_map(|(field, value)| {
                Some(SecretReference {
                    field: field.to_owned(),
                    name: secret_name(value.as_deref()?)?,
                })
            })
            .collect()
    }
}

/// Where a written incident stands, as its updates say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IncidentState {
    /// Something is wrong; the cause is not known yet.
    Investigating,
    /// The cause is known; a fix is under way.
    Identified,
    /// A fix is in; the team watches that it holds.
    Monitoring,
    /// Over.
    Resolved,
}

impl IncidentState {
    /// Every state, in the order an incident usually goes through them.
    pub const ALL: [IncidentState; 4] = [
        IncidentState::Investigating,
        IncidentState::Identified,
        IncidentState::Monitoring,
        IncidentState::Resolved,
    ];

    /// The name stored and sent (`investigating`).
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Investigating => "investigating",
            IncidentState::Identified => "identified",
            IncidentState::Monitoring => "monitoring",
            IncidentState::Resolved => "resolved",
        }
    }

    /// The state as a page's readers see it (`Investigating`).
    pub fn label(self) -> &'static str {
        match self {
            IncidentState::Investigating => "Investigating",
            IncidentState::Identified => "Identified",
            IncidentState::Monitoring => "Monitoring",
            IncidentState::Resolved => "Resolved",
        }
    }
}

impl std::str::FromStr for IncidentState {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        IncidentState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| {
                format!("`{text}` is not a state; expected investigating, identified, monitoring or resolved")
            })
    }
}

/// The longest title of a written incident.
pub const MAX_INCIDENT_TITLE: usize = 200;
/// The longest text of one update.
pub const MAX_UPDATE_TEXT: usize = 5000;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(extra: serde_json::Value) -> serde_json::Value {
        let mut page = json!({"slug": "shop", "title": "Shop status", "groups": [
            {"name": "Website", "components": [
                {"name": "Store front", "monitors": ["shop home", "shop checkout"]},
                {"name": "What visitors see", "site": "shop"}
            ]}
        ]});
        for (key, value) in extra.as_object().unwrap() {
            page[key] = value.clone();
        }
        page
    }

    fn error(extra: serde_json::Value) -> ValidationError {
        StatusPageSpec::from_json(page(extra)).unwrap_err()
    }

    #[test]
    fn a_page_reads_back_as_written() {
        let spec = StatusPageSpec::from_json(page(json!({}))).unwrap();
        assert_eq!(serde_json::to_value(&spec).unwrap(), page(json!({})));
        let keys: Vec<String> = spec.components().map(|(_, c)| c.key()).collect();
        assert_eq!(keys, ["store-front", "what-visitors-see"]);
        assert!(!spec.is_private());
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        assert_eq!(error(json!({"slug": "Shop"})).field, "slug");
        assert_eq!(error(json!({"slug": "-shop"})).field, "slug");
        assert_eq!(error(json!({"title": " "})).field, "title");
        assert_eq!(
            error(json!({"domain": "https://status.shop.example"})).field,
            "domain"
        );
        assert_eq!(error(json!({"domain": "localhost"})).field, "domain");
        assert_eq!(error(json!({"domain": "10.0.0.1"})).field, "domain");
        assert_eq!(error(json!({"password": "hunter2"})).field, "password");
        assert_eq!(
            error(json!({"token": "x {{secrets.T}}"})).field,
            "token",
            "a token is only the secret"
        );
        assert_eq!(
            error(json!({"password": "{{secrets.P}}", "token": "{{secrets.T}}"})).field,
            "token"
        );
        assert_eq!(error(json!({"colour": "red"})).field, "colour");
        let both = error(json!({"groups": [{"name": "W", "components": [
            {"name": "A", "monitors": ["a"], "site": "s"}]}]}));
        assert_eq!(both.field, "groups[0].components[0].site");
        let neither = error(json!({"groups": [{"name": "W", "components": [{"name": "A"}]}]}));
        assert_eq!(neither.field, "groups[0].components[0]");
        let twice = error(json!({"groups": [
            {"name": "W", "components": [{"name": "Store front", "site": "s"}]},
            {"name": "X", "components": [{"name": "store  FRONT!", "site": "t"}]}]}));
        assert_eq!(twice.field, "groups[1].components[0].name");
        assert!(twice.message.contains("`Store front`"), "{}", twice.message);
        let symbols =
            error(json!({"groups": [{"name": "W", "components": [{"name": "!!", "site": "s"}]}]}));
        assert_eq!(symbols.field, "groups[0].components[0].name");
    }

    #[test]
    fn private_pages_name_their_vault_secret() {
        let spec = StatusPageSpec::from_json(page(json!({"password": "{{ secrets.STATUS_PW }}"})))
            .unwrap();
        assert!(spec.is_private());
        assert_eq!(
            spec.secret_references(),
            [SecretReference {
                field: "password".into(),
                name: "STATUS_PW".into()
            }]
        );
        assert_eq!(error(json!({"password": "{{uuid}}"})).field, "password");
    }

    #[test]
    fn logos_are_small_images_in_data_urls() {
        let png = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\nrest")
        );
        let spec = StatusPageSpec::from_json(page(json!({"logo": png}))).unwrap();
        let logo = parse_logo(spec.logo.as_deref().unwrap()).unwrap();
        assert_eq!(logo.media_type, "image/png");
        assert!(logo.bytes.starts_with(b"\x89PNG"));
        for bad in [
            "https://example.com/logo.png",
            "data:text/html;base64,PGI+",
            "data:image/png,raw",
            "data:image/png;base64,!!!",
        ] {
            assert_eq!(error(json!({ "logo": bad })).field, "logo", "{bad}");
        }
        let big = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_LOGO_BYTES + 1])
        );
        let too_big = error(json!({ "logo": big }));
        assert!(too_big.message.contains("at most 32 KB"), "{too_big}");
    }

    #[test]
    fn keys_keep_letters_and_digits_of_any_script() {
        assert_eq!(component_key("  API (v2) — EU "), "api-v2-eu");
        assert_eq!(component_key("Büro"), "büro");
    }
}
