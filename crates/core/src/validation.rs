//! The one error type for input that breaks a rule, naming the field it is about.

/// Input that breaks a rule. `field` is a dotted path into the submitted
/// document (`expect.status[0]`, `steps[2].url`) so that the API, the CLI and
/// the UI can point at the exact place; `message` says what is wrong in words
/// a user understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// Dotted path of the offending field; empty when the whole document is wrong.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ValidationError {
    /// A rule broken by `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error, seen from a containing document: `url` under `steps[1]`
    /// becomes `steps[1].url`.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = join_path(parent, &self.field);
        self
    }
}

/// Joins a parent path and a child path with a dot, unless the child is an
/// index (`[3]`) or either side is empty.
pub fn join_path(parent: &str, child: &str) -> String {
    match (parent.is_empty(), child.is_empty()) {
        (true, _) => child.to_owned(),
        (_, true) => parent.to_owned(),
        _ if child.starts_with('[') => format!("{parent}{child}"),
        _ => format!("{parent}.{child}"),
    }
}

/// What [`require_text`] accepts, as a JSON Schema pattern: not only white
/// space, and no control characters.
pub const TEXT_PATTERN: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// The most characters any text of a configuration document may have (a
/// request body of an API check is the longest there is reason for).
pub const MAX_TEXT_CHARS: usize = 65_536;
/// The most items any list (or keys any map) of a configuration document
/// may have.
pub const MAX_ITEMS: usize = 1_000;

/// Refuses a configuration document with a text or a list larger than any
/// configuration needs, naming the first one: every document is stored,
/// and sent to everyone who lists what it belongs to.
pub fn within_bounds(value: &serde_json::Value) -> Result<(), ValidationError> {
    fn walk(value: &serde_json::Value, path: &str) -> Result<(), ValidationError> {
        match value {
            serde_json::Value::String(text) if text.chars().count() > MAX_TEXT_CHARS => Err(
                ValidationError::new(path, format!("must be at most {MAX_TEXT_CHARS} characters")),
            ),
            serde_json::Value::Array(items) => {
                if items.len() > MAX_ITEMS {
                    return Err(ValidationError::new(
                        path,
                        format!("must have at most {MAX_ITEMS} items"),
                    ));
                }
                for (index, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{index}]"))?;
                }
                Ok(())
            }
            serde_json::Value::Object(fields) => {
                if fields.len() > MAX_ITEMS {
                    return Err(ValidationError::new(
                        path,
                        format!("must have at most {MAX_ITEMS} keys"),
                    ));
                }
                for (key, item) in fields {
                    if key.chars().count() > 256 {
                        return Err(ValidationError::new(
                            path,
                            "has a key longer than 256 characters",
                        ));
                    }
                    walk(item, &join_path(path, key))?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    walk(value, "")
}

/// Refuses a list longer than `max`, naming it.
pub fn at_most<T>(field: &str, items: &[T], max: usize) -> Result<(), ValidationError> {
    if items.len() > max {
        return Err(ValidationError::new(
            field,
            format!("must have at most {max} items, not {}", items.len()),
        ));
    }
    Ok(())
}

/// Parses a JSON document into `T`, reporting a type error, a missing field or
/// an unknown field with the path where it happened.
///
/// Valid input is read once, by reference and without path tracking; only
/// input that fails is read again to name the offending field.
pub fn from_json_value<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, ValidationError> {
    if let Ok(parsed) = T::deserialize(&value) {
        return Ok(parsed);
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." { String::new() } else { path };
        let inner = error.into_inner().to_string();
        // Serde reports a missing field at the object that lacks it; name the
        // field itself.
        let field = match missing_field_name(&inner) {
            Some(name) => join_path(&field, name),
            None => field,
        };
        ValidationError::new(field, inner)
    })
}

fn missing_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// Parses JSON text straight into `T` (no intermediate document), with the
/// same field-naming errors as [`from_json_value`].
///
/// Valid input is parsed once, without path tracking (which allocates for
/// every key and took most of a beacon's parsing time); only input that
/// fails is parsed again to name the offending field.
pub fn from_json_slice<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ValidationError> {
    match serde_json::from_slice(bytes) {
        Ok(parsed) => Ok(parsed),
        Err(_) => from_json_slice_tracked(bytes),
    }
}

/// [`from_json_slice`]'s second pass, which knows where it is in the input.
fn from_json_slice_tracked<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, ValidationError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ValidationError::new("", format!("not valid JSON: {inner}"));
        }
        let field = if path == "." { String::new() } else { path };
        let message = inner.to_string();
        let field = match missing_field_name(&message) {
            Some(name) => join_path(&field, name),
            None => field,
        };
        ValidationError::new(field, message)
    })?;
    deserializer
        .end()
        .map_err(|e| ValidationError::new("", format!("not valid JSON: {e}")))?;
    Ok(parsed)
}

/// Checks that a name-like text is present and not absurdly long.
pub fn require_text(field: &str, value: &str, max_chars: usize) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if value.chars().count() > max_chars {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod bounds_tests {
    use super::*;

    #[test]
    fn oversized_texts_and_lists_are_named() {
        let ok = serde_json::json!({"name": "x", "tags": vec!["a"; 10]});
        assert_eq!(within_bounds(&ok), Ok(()));
        let long = serde_json::json!({"steps": [{"url": "u".repeat(MAX_TEXT_CHARS + 1)}]});
        assert_eq!(within_bounds(&long).unwrap_err().field, "steps[0].url");
        let many = serde_json::json!({"tags": vec!["t"; MAX_ITEMS + 1]});
        assert_eq!(within_bounds(&many).unwrap_err().field, "tags");
        assert_eq!(at_most("tags", &[1, 2, 3], 2).unwrap_err().field, "tags");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        port: u16,
    }

    #[test]
    fn type_errors_name_the_nested_field() {
        let err =
            from_json_value::<Outer>(serde_json::json!({"inner": [{"port": 1}, {"port": "x"}]}))
                .unwrap_err();
        assert_eq!(err.field, "inner[1].port");
        assert!(err.message.contains("invalid type"), "{}", err.message);
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = from_json_value::<Outer>(serde_json::json!({"inner": [{"port": 1, "prot": 2}]}))
            .unwrap_err();
        assert_eq!(err.field, "inner[0].prot");
    }

    #[test]
    fn paths_join_with_dots_and_brackets() {
        assert_eq!(join_path("steps", "[2]"), "steps[2]");
        assert_eq!(join_path("steps[2]", "url"), "steps[2].url");
        assert_eq!(join_path("", "url"), "url");
    }
}
