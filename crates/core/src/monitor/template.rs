//! `{{name}}` placeholders in the requests of multi-step checks.
//!
//! A placeholder is a name (letters, digits, `_` and `.`, as in
//! `{{secrets.API_KEY}}`) between double braces; everything else is copied
//! as is, so JSON bodies with single braces need no escaping. A general
//! template engine would give `{%` and `{#` in request bodies a meaning they
//! do not have here.

/// Fills every placeholder with what `lookup` gives for its name. The error
/// is the first name `lookup` does not know.
pub fn fill(text: &str, mut lookup: impl FnMut(&str) -> Option<String>) -> Result<String, String> {
    let mut filled = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        let name = after[..end].trim();
        if !is_placeholder_name(name) {
            filled.push_str(&rest[..start + 2]);
            rest = after;
            continue;
        }
        filled.push_str(&rest[..start]);
        filled.push_str(&lookup(name).ok_or_else(|| name.to_owned())?);
        rest = &after[end + 2..];
    }
    filled.push_str(rest);
    Ok(filled)
}

/// The placeholder names used in `text`, in order of appearance.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let _ = fill(text, |name| {
        names.push(name.to_owned());
        Some(String::new())
    });
    names
}

fn is_placeholder_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "token" => Some("abc".to_owned()),
            "secrets.KEY" => Some("s3cret".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn placeholders_are_filled_and_braces_kept() {
        assert_eq!(
            fill(r#"{"t": "{{token}}", "k": "{{ secrets.KEY }}"}"#, vars).unwrap(),
            r#"{"t": "abc", "k": "s3cret"}"#
        );
        assert_eq!(
            fill("a {{ not a name }} b", vars).unwrap(),
            "a {{ not a name }} b"
        );
        assert_eq!(fill("open {{token", vars).unwrap(), "open {{token");
    }

    #[test]
    fn an_unknown_name_is_the_error() {
        assert_eq!(fill("x {{missing}} y", vars).unwrap_err(), "missing");
        assert_eq!(placeholders("{{a}}/{{b.c}}"), ["a", "b.c"]);
    }
}
