//! Monitors as code: one YAML file describes sites, alert policies,
//! monitors, maintenance windows and status pages; `apply` makes the database match it (creating,
//! updating and, with `--prune`, deleting), `export` writes the database
//! back as such a file. Applying the same file twice changes nothing, and
//! so does applying what `export` wrote.
//!
//! Values are read with serde_yaml_ng; where a value breaks a rule, the
//! error names the file, the line (found with marked-yaml, which keeps
//! where each node stands) and the field.

use anyhow::{Context, Result};
use serde_json::Value;
use sightline_core::{
    AlertPolicySpec, MaintenanceWindowSpec, MonitorSpec, SiteSpec, StatusPageSpec, ValidationError,
};
use sightline_store::{NamedDocument, Stored};
use sightline_store::{Store, StoreError};
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

/// The sections a file may have. `server` holds the server's own settings
/// and is read by `serve`, not applied.
const SECTIONS: &[&str] = &[
    "server",
    "sites",
    "alert_policies",
    "monitors",
    "maintenance_windows",
    "status_pages",
];

/// What a file declares.
#[derive(Debug, Default)]
pub struct Declared {
    sites: Vec<SiteSpec>,
    monitors: Vec<MonitorSpec>,
    windows: Vec<MaintenanceWindowSpec>,
    policies: Vec<AlertPolicySpec>,
    pages: Vec<StatusPageSpec>,
    /// Where the monitors and pages name vault secrets: each must exist when the
    /// file is applied.
    secret_uses: Vec<SecretUse>,
}

/// A vault secret named in the file, with where.
#[derive(Debug)]
struct SecretUse {
    name: String,
    /// Refusing the file if the secret does not exist.
    missing: FileError,
}

/// A rule a file breaks, with where.
#[derive(Debug)]
pub struct FileError {
    file: String,
    line: Option<usize>,
    field: String,
    message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FileError {}

impl Declared {
    /// Whether the file declares anything to apply.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
            && self.monitors.is_empty()
            && self.windows.is_empty()
            && self.policies.is_empty()
            && self.pages.is_empty()
    }

    /// Reads and validates a file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Self::parse(&path.display().to_string(), &text)?)
    }

    /// Parses and validates the text of `file`.
    pub fn parse(file: &str, text: &str) -> Result<Self, FileError> {
        let error = |line: Option<usize>, field: &str, message: String| FileError {
            file: file.to_owned(),
            line,
            field: field.to_owned(),
            message,
        };
        if text.trim().is_empty() {
            return Ok(Declared::default());
        }
        let document: Value = serde_yaml_ng::from_str(text).map_err(|e| {
            let line = e.location().map(|at| at.line());
            error(line, "", e.to_string())
        })?;
        let positions = marked_yaml::parse_yaml(0, text).ok();
        let locate = |path: &str| positions.as_ref().and_then(|root| line_of(root, path));
        let invalid = |section: &str, index: usize, e: ValidationError| {
            let path =
                sightline_core::validation::join_path(&format!("{section}[{index}]"), &e.field);
            error(locate(&path), &path, e.message)
        };
        let Value::Object(sections) = document else {
            return Err(error(
                Some(1),
                "",
                "the file must be a mapping of sections".to_owned(),
            ));
        };
        for key in sections.keys() {
            if !SECTIONS.contains(&key.as_str()) {
                return Err(error(
                    locate(key),
                    key,
                    format!("unknown section; expected one of {}", SECTIONS.join(", ")),
                ));
            }
        }
        let list = |name: &str| -> Result<Vec<Value>, FileError> {
            match sections.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => Ok(items.clone()),
                Some(_) => Err(error(locate(name), name, "must be a list".to_owned())),
            }
        };
        let mut declared = Declared::default();
        for (index, item) in list("sites")?.into_iter().enumerate() {
            declared
                .sites
                .push(SiteSpec::from_json(item).map_err(|e| invalid("sites", index, e))?);
        }
        for (index, item) in list("monitors")?.into_iter().enumerate() {
            let monitor =
                MonitorSpec::from_json(item).map_err(|e| invalid("monitors", index, e))?;
            for reference in monitor.secret_references() {
                declared.secret_uses.push(SecretUse {
                    missing: invalid("monitors", index, reference.not_in_vault()),
                    name: reference.name,
                });
            }
            declared.monitors.push(monitor);
        }
        for (index, item) in list("alert_policies")?.into_iter().enumerate() {
            declared.policies.push(
                AlertPolicySpec::from_json(item)
                    .map_err(|e| invalid("alert_policies", index, e))?,
            );
        }
        for (index, item) in list("maintenance_windows")?.into_iter().enumerate() {
            declared.windows.push(
                MaintenanceWindowSpec::from_json(item)
                    .map_err(|e| invalid("maintenance_windows", index, e))?,
            );
        }
        for (index, item) in list("status_pages")?.into_iter().enumerate() {
            let page =
                StatusPageSpec::from_json(item).map_err(|e| invalid("status_pages", index, e))?;
            for reference in page.secret_references() {
                declared.secret_uses.push(SecretUse {
                    missing: invalid("status_pages", index, reference.not_in_vault()),
                    name: reference.name,
                });
            }
            declared.pages.push(page);
        }
        let duplicate = |section: &str, names: Vec<&str>| -> Result<(), FileError> {
            let mut seen = BTreeSet::new();
            for (index, name) in names.into_iter().enumerate() {
                if !seen.insert(name) {
                    let path = format!("{section}[{index}].name");
                    return Err(error(
                        locate(&path),
                        &path,
                        format!("`{name}` is named twice"),
                    ));
                }
            }
            Ok(())
        };
        duplicate(
            "sites",
            declared.sites.iter().map(|s| s.name.as_str()).collect(),
        )?;
        duplicate(
            "monitors",
            declared
                .monitors
                .iter()
                .map(|m| m.settings.name.as_str())
                .collect(),
        )?;
        duplicate(
            "alert_policies",
            declared.policies.iter().map(|p| p.name.as_str()).collect(),
        )?;
        duplicate(
            "maintenance_windows",
            declared.windows.iter().map(|w| w.name.as_str()).collect(),
        )?;
        let mut domains = BTreeSet::new();
        for (index, page) in declared.pages.iter().enumerate() {
            let path = format!("status_pages[{index}].slug");
            if declared.pages[..index].iter().any(|p| p.slug == page.slug) {
                return Err(error(
                    locate(&path),
                    &path,
                    format!("`{}` is named twice", page.slug),
                ));
            }
            if let Some(domain) = &page.domain
                && !domains.insert(domain.as_str())
            {
                let path = format!("status_pages[{index}].domain");
                return Err(error(
                    locate(&path),
                    &path,
                    format!("`{domain}` is the domain of another page"),
                ));
            }
        }
        Ok(declared)
    }
}

/// The line (1-based) of the node at a field path like
/// `monitors[2].expect.status[0]`, or of the deepest node on the way there
/// that exists (a missing field is reported where its parent is).
fn line_of(root: &marked_yaml::Node, path: &str) -> Option<usize> {
    let mut node = root;
    let mut line = node.span().start().map(|at| at.line());
    for segment in path_segments(path) {
        // A field is reported where its key stands; a list item where it starts.
        let next = match (&segment, node) {
            (Segment::Key(key), marked_yaml::Node::Mapping(mapping)) => mapping
                .iter()
                .find(|(name, _)| name.as_str() == key)
                .map(|(name, value)| (name.span().start().map(|at| at.line()), value)),
            (Segment::Index(index), marked_yaml::Node::Sequence(sequence)) => sequence
                .get_node(*index)
                .map(|item| (item.span().start().map(|at| at.line()), item)),
            _ => None,
        };
        let Some((at, next)) = next else {
            break;
        };
        node = next;
        line = at.or(line);
    }
    line
}

enum Segment {
    Key(String),
    Index(usize),
}

fn path_segments(path: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    for part in path.split('.').filter(|part| !part.is_empty()) {
        let (key, mut rest) = match part.find('[') {
            Some(at) => (&part[..at], &part[at..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            segments.push(Segment::Key(key.to_owned()));
        }
        while let Some(end) = rest.find(']') {
            if let Ok(index) = rest[1..end].parse() {
                segments.push(Segment::Index(index));
            }
            rest = &rest[end + 1..];
        }
    }
    segments
}

/// What a change did (or, in a dry run, would do) to a stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The file names it and the database did not have it.
    Create,
    /// Both have it, and they differ.
    Update,
    /// Pruned: the database has it and the file does not name it.
    Delete,
}

/// One object `apply` changed, so that a dry run and a real one say the
/// same thing in the right tense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What was done to it.
    pub action: Action,
    /// Its kind, as the file names it: `monitor`, `site`, …
    pub what: &'static str,
    /// Its name.
    pub name: String,
}

impl Change {
    fn new(action: Action, what: &'static str, name: &str) -> Self {
        Self {
            action,
            what,
            name: name.to_owned(),
        }
    }

    /// `created monitor `x``, or `would create monitor `x`` in a dry run.
    pub fn describe(&self, dry_run: bool) -> String {
        let verb = match (self.action, dry_run) {
            (Action::Create, false) => "created",
            (Action::Update, false) => "updated",
            (Action::Delete, false) => "deleted",
            (Action::Create, true) => "would create",
            (Action::Update, true) => "would update",
            (Action::Delete, true) => "would delete",
        };
        format!("{verb} {} `{}`", self.what, self.name)
    }
}

/// What `apply` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The objects changed, in order.
    pub changes: Vec<Change>,
    /// How many declared objects were already as declared.
    pub unchanged: usize,
}

/// Makes the database match `declared`; with `prune`, also deletes what it
/// does not name. A dry run only says what it would change.
pub async fn apply(
    store: &Store,
    declared: &Declared,
    prune: bool,
    dry_run: bool,
) -> Result<Applied> {
    if !declared.secret_uses.is_empty() {
        let known: BTreeSet<String> = store
            .sealed_secrets()
            .await?
            .into_iter()
            .map(|secret| secret.name)
            .collect();
        if let Some(missing) = declared
            .secret_uses
            .iter()
            .find(|used| !known.contains(&used.name))
        {
            return Err(anyhow::anyhow!(missing.missing.to_string()));
        }
    }
    // A page names monitors and sites: those of the file, or stored; it
    // is checked before anything changes.
    if !declared.pages.is_empty() {
        let mut monitor_names: BTreeSet<String> = store
            .list_monitors()
            .await?
            .into_iter()
            .map(|m| m.spec.settings.name)
            .collect();
        monitor_names.extend(declared.monitors.iter().map(|m| m.settings.name.clone()));
        let mut site_names: BTreeSet<String> = store
            .list_sites()
            .await?
            .into_iter()
            .map(|s| s.spec.name)
            .collect();
        site_names.extend(declared.sites.iter().map(|s| s.name.clone()));
        let secrets: BTreeSet<String> = declared
            .secret_uses
            .iter()
            .map(|used| used.name.clone())
            .collect();
        for page in &declared.pages {
            page.validate_names(&monitor_names, &site_names, &secrets)
                .map_err(|e| anyhow::anyhow!("status page `{}`: {e}", page.slug))?;
        }
    }
    let mut applied = Applied::default();
    let sites = store.list_sites().await?;
    for spec in &declared.sites {
        match sites.iter().find(|site| site.spec.name == spec.name) {
            None => {
                if !dry_run {
                    store
                        .create_site(spec, &sightline_server::new_site_key())
                        .await?;
                }
                applied
                    .changes
                    .push(Change::new(Action::Create, "site", &spec.name));
            }
            Some(site) if site.spec == *spec => applied.unchanged += 1,
            Some(site) => {
                if !dry_run {
                    store.update_site(site.id, spec).await?;
                }
                applied
                    .changes
                    .push(Change::new(Action::Update, "site", &spec.name));
            }
        }
    }
    let policies = apply_named(store, &declared.policies, dry_run, &mut applied).await?;
    let monitors = store.list_monitors().await?;
    for spec in &declared.monitors {
        let existing = monitors
            .iter()
            .find(|m| m.spec.settings.name == spec.settings.name);
        let result = match existing {
            Some(monitor) if monitor.spec == *spec => {
                applied.unchanged += 1;
                continue;
            }
            None if dry_run => Ok(Action::Create),
            Some(_) if dry_run => Ok(Action::Update),
            None => store.create_monitor(spec).await.map(|_| Action::Create),
            Some(monitor) => store
                .update_monitor(monitor.id, spec)
                .await
                .map(|_| Action::Update),
        };
        let action = result.map_err(|e| named(e, "monitor", &spec.settings.name))?;
        applied
            .changes
            .push(Change::new(action, "monitor", &spec.settings.name));
    }
    let windows = apply_named(store, &declared.windows, dry_run, &mut applied).await?;
    let pages = apply_named(store, &declared.pages, dry_run, &mut applied).await?;
    if prune {
        prune_named(store, pages, &declared.pages, dry_run, &mut applied).await?;
        prune_named(store, windows, &declared.windows, dry_run, &mut applied).await?;
        prune_named(store, policies, &declared.policies, dry_run, &mut applied).await?;
        for monitor in monitors {
            let name = &monitor.spec.settings.name;
            if !declared.monitors.iter().any(|m| &m.settings.name == name) {
                if !dry_run {
                    store.delete_monitor(monitor.id).await?;
                }
                applied
                    .changes
                    .push(Change::new(Action::Delete, "monitor", name));
            }
        }
        for site in sites {
            if !declared.sites.iter().any(|s| s.name == site.spec.name) {
                if !dry_run {
                    store.delete_site(site.id).await?;
                }
                applied
                    .changes
                    .push(Change::new(Action::Delete, "site", &site.spec.name));
            }
        }
    }
    Ok(applied)
}

/// Creates and updates named documents (windows, policies) as declared;
/// returns what was stored before, for pruning.
async fn apply_named<T: NamedDocument + PartialEq>(
    store: &Store,
    declared: &[T],
    dry_run: bool,
    applied: &mut Applied,
) -> Result<Vec<Stored<T>>> {
    let existing = store.list_documents::<T>().await?;
    for spec in declared {
        match existing
            .iter()
            .find(|stored| stored.spec.name() == spec.name())
        {
            Some(stored) if stored.spec == *spec => applied.unchanged += 1,
            Some(stored) => {
                if !dry_run {
                    store.update_document(stored.id, spec).await?;
                }
                applied
                    .changes
                    .push(Change::new(Action::Update, T::WHAT, spec.name()));
            }
            None => {
                if !dry_run {
                    store.create_document(spec).await?;
                }
                applied
                    .changes
                    .push(Change::new(Action::Create, T::WHAT, spec.name()));
            }
        }
    }
    Ok(existing)
}

/// Deletes the stored named documents `declared` does not name.
async fn prune_named<T: NamedDocument>(
    store: &Store,
    existing: Vec<Stored<T>>,
    declared: &[T],
    dry_run: bool,
    applied: &mut Applied,
) -> Result<()> {
    for stored in existing {
        if !declared
            .iter()
            .any(|spec| spec.name() == stored.spec.name())
        {
            if !dry_run {
                store.delete_document::<T>(stored.id).await?;
            }
            applied
                .changes
                .push(Change::new(Action::Delete, T::WHAT, stored.spec.name()));
        }
    }
    Ok(())
}

fn named(error: StoreError, what: &str, name: &str) -> anyhow::Error {
    anyhow::anyhow!("{what} `{name}`: {error}")
}

/// The database's sites, alert policies, monitors, maintenance windows and
/// status pages as a file `apply`
/// reads back unchanged.
pub async fn export(store: &Store) -> Result<String> {
    let sites: Vec<Value> = store
        .list_sites()
        .await?
        .into_iter()
        .map(|site| serde_json::to_value(site.spec))
        .collect::<Result<_, _>>()?;
    let monitors: Vec<Value> = store
        .list_monitors()
        .await?
        .into_iter()
        .map(|monitor| monitor.spec.to_json())
        .collect();
    let windows = named_values::<MaintenanceWindowSpec>(store).await?;
    let policies = named_values::<AlertPolicySpec>(store).await?;
    let pages = named_values::<StatusPageSpec>(store).await?;
    let mut document = serde_json::Map::new();
    for (name, items) in [
        ("sites", sites),
        ("alert_policies", policies),
        ("monitors", monitors),
        ("maintenance_windows", windows),
        ("status_pages", pages),
    ] {
        if !items.is_empty() {
            document.insert(name.to_owned(), Value::Array(items));
        }
    }
    Ok(serde_yaml_ng::to_string(&Value::Object(document))?)
}

/// Every stored document of a kind, as written in a file.
async fn named_values<T: NamedDocument>(store: &Store) -> Result<Vec<Value>> {
    Ok(store
        .list_documents::<T>()
        .await?
        .into_iter()
        .map(|stored| serde_json::from_str(&stored.spec.text()))
        .collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "sites:
  - name: shop
    origins: [\"https://shop.example.com\"]
monitors:
  - name: shop home
    type: http
    url: https://shop.example.com/
    every: 1m
    site: shop
    expect:
      status: [200, 999]
";

    #[test]
    fn errors_name_the_file_line_and_field() {
        let error = Declared::parse("monitors.yaml", FILE).unwrap_err();
        assert_eq!(
            error.to_string(),
            "monitors.yaml:11: monitors[0].expect.status[1]: 999 is not an HTTP status code (100-599)"
        );
        let missing =
            Declared::parse("m.yaml", "monitors:\n  - name: x\n    type: http\n").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "m.yaml:2: monitors[0].url: missing field `url`"
        );
        let unknown = Declared::parse("m.yaml", "monitor:\n  - name: x\n").unwrap_err();
        assert!(
            unknown
                .to_string()
                .starts_with("m.yaml:1: monitor: unknown section"),
            "{unknown}"
        );
        let broken = Declared::parse("m.yaml", "monitors:\n  - name: [x\n").unwrap_err();
        assert!(broken.to_string().starts_with("m.yaml:"), "{broken}");
        let twice = Declared::parse(
            "m.yaml",
            "monitors:\n  - {name: a, type: tcp, host: x.test, port: 1}\n  - {name: a, type: tcp, host: y.test, port: 1}\n",
        )
        .unwrap_err();
        assert_eq!(
            twice.to_string(),
            "m.yaml:3: monitors[1].name: `a` is named twice"
        );
    }
}
