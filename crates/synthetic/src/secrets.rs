//! Secret values a check may use (`{{secrets.NAME}}`) and the masking that
//! keeps them out of everything a check reports.

use crate::secret_forms::SecretForms;
use sightline_core::MonitorSpec;
use sightline_core::monitor::CheckReport;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

/// Values shorter than this are not masked: replacing every `a` or `1` in a
/// report would hide more than it protects.
const SHORTEST_MASKED: usize = 4;

/// The names of the vault secrets the given monitors use
/// (`{{secrets.NAME}}` anywhere in their settings); empty when none does,
/// and then the vault need not be opened.
pub fn secret_names<'a>(specs: impl IntoIterator<Item = &'a MonitorSpec>) -> BTreeSet<String> {
    specs
        .into_iter()
        .flat_map(MonitorSpec::secret_references)
        .map(|reference| reference.name)
        .collect()
}

/// The vault's secrets, decrypted, for one run of checks. The forms their
/// values take are compiled for masking on first use, once for all clones
/// (a lease that only hands values on to an agent never compiles them).
#[derive(Clone, Default)]
pub struct Secrets {
    values: BTreeMap<String, String>,
    forms: Arc<OnceLock<Option<SecretForms>>>,
}

impl PartialEq for Secrets {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl Eq for Secrets {}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl Secrets {
    /// Secrets from name-value pairs.
    pub fn new(values: impl IntoIterator<Item = (String, String)>) -> Self {
        Secrets {
            values: values.into_iter().collect(),
            forms: Arc::default(),
        }
    }

    /// The compiled forms of the values long enough to mask; `None` when
    /// there are none.
    fn forms(&self) -> Option<&SecretForms> {
        self.forms
            .get_or_init(|| {
                SecretForms::new(
                    self.values
                        .values()
                        .filter(|value| value.chars().count() >= SHORTEST_MASKED)
                        .map(String::as_str),
                )
            })
            .as_ref()
    }

    /// One secret's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Only the secrets named in `names` (from [`secret_names`]): what a
    /// remote checkpoint needs to run its checks, and nothing more.
    pub fn only(&self, names: &BTreeSet<String>) -> BTreeMap<String, String> {
        names
            .iter()
            .filter_map(|name| Some((name.clone(), self.values.get(name)?.clone())))
            .collect()
    }

    /// `text` with every secret value, in every form it takes (as typed,
    /// percent-encoded, JSON- or HTML-escaped, base64), replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        match self.forms() {
            Some(forms) => forms.mask(text).into_owned(),
            None => text.to_owned(),
        }
    }

    /// Masks every text a report carries: the problem and all strings of
    /// the detail (body excerpts, URLs, headers, step messages).
    pub fn mask_report(&self, report: &mut CheckReport) {
        let Some(forms) = self.forms() else {
            return;
        };
        if let Some(problem) = &mut report.problem {
            problem.message = forms.mask(&problem.message).into_owned();
        }
        mask_json(forms, &mut report.detail);
    }
}

/// Masks every string in a JSON value.
fn mask_json(forms: &SecretForms, value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => {
            if let std::borrow::Cow::Owned(masked) = forms.mask(text) {
                *text = masked;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| mask_json(forms, v)),
        serde_json::Value::Object(fields) => {
            fields.values_mut().for_each(|v| mask_json(forms, v));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_core::monitor::{Problem, ProblemKind};

    #[test]
    fn secret_values_are_masked_everywhere_and_never_debug_printed() {
        let secrets = Secrets::new([("KEY".to_owned(), "hunter22".to_owned())]);
        let mut report = CheckReport::failed(
            Problem::new(ProblemKind::Status, "sent hunter22, got 401"),
            5,
        );
        report.detail = serde_json::json!({"steps": [{"url": "https://x/?k=hunter22"}]});
        secrets.mask_report(&mut report);
        assert_eq!(report.problem.unwrap().message, "sent ***, got 401");
        assert_eq!(report.detail["steps"][0]["url"], "https://x/?k=***");
        assert!(!format!("{secrets:?}").contains("hunter22"));
    }
}
