//! Every problem of a monitor document at once, for a form that shows each
//! field's error on save instead of one at a time.
//!
//! Parsing stops at the first problem. To find the next, the field at fault
//! is set to the value the type's minimal example gives it (or left out
//! when the example has none) and the document is parsed again: each
//! problem found is one of the document as written, since only fields
//! already reported are changed.

use super::MonitorSpec;
use super::catalogue::example;
use crate::ValidationError;
use serde_json::{Map, Value};

/// Most problems reported for one document.
const MAX_PROBLEMS: usize = 25;

/// One step of a field's path: a key or a list index.
#[derive(Debug, PartialEq)]
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

/// `steps[2].url` as `steps`, `2`, `url`.
fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut found = Vec::new();
    for part in path.split('.').filter(|part| !part.is_empty()) {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|key| !key.is_empty()) {
            found.push(Segment::Key(key));
        }
        for index in pieces {
            if let Ok(index) = index.trim_end_matches(']').parse() {
                found.push(Segment::Index(index));
            }
        }
    }
    found
}

fn child<'a>(value: &'a Value, segment: &Segment) -> Option<&'a Value> {
    match segment {
        Segment::Key(key) => value.get(*key),
        Segment::Index(index) => value.get(*index),
    }
}

fn child_mut<'a>(value: &'a mut Value, segment: &Segment) -> Option<&'a mut Value> {
    match segment {
        Segment::Key(key) => value.get_mut(*key),
        Segment::Index(index) => value.get_mut(*index),
    }
}

/// Puts a valid value where `path` is wrong: the example's value there
/// (for a list item, the example's first item), or else nothing. Whether
/// the document changed.
fn repair(document: &mut Value, path: &str, example: &Value) -> bool {
    let segments = segments(path);
    // Within a list, the whole item is replaced, so that later items keep
    // their places (and their errors their paths).
    let end = segments
        .iter()
        .position(|segment| matches!(segment, Segment::Index(_)))
        .map_or(segments.len(), |index| index + 1);
    let Some((last, parents)) = segments[..end].split_last() else {
        return false;
    };
    let replacement = match last {
        Segment::Index(_) => parents
            .iter()
            .try_fold(example, |value, segment| child(value, segment))
            .and_then(|list| list.get(0)),
        Segment::Key(_) => segments[..end]
            .iter()
            .try_fold(example, |value, segment| child(value, segment)),
    }
    .cloned();
    let Some(parent) = parents
        .iter()
        .try_fold(document, |value, segment| child_mut(value, segment))
    else {
        return false;
    };
    match (last, replacement) {
        (Segment::Key(key), Some(value)) => match parent.as_object_mut() {
            Some(object) => object.insert((*key).to_owned(), value).as_ref() != object.get(*key),
            None => false,
        },
        (Segment::Key(key), None) => parent
            .as_object_mut()
            .is_some_and(|object| object.remove(*key).is_some()),
        (Segment::Index(index), replacement) => match parent.as_array_mut() {
            Some(list) if *index < list.len() => match replacement {
                Some(value) if list[*index] != value => {
                    list[*index] = value;
                    true
                }
                Some(_) => false,
                // Nothing to put in its place: the whole list goes.
                None => {
                    list.clear();
                    true
                }
            },
            _ => false,
        },
    }
}

impl MonitorSpec {
    /// Every problem of `document`, in the order parsing meets them (at
    /// most 25); empty when it is a valid monitor.
    pub fn problems(document: &Value) -> Vec<ValidationError> {
        let type_name = document.get("type").and_then(Value::as_str).unwrap_or("");
        let mut base = Map::new();
        base.insert("name".to_owned(), Value::from("example"));
        if let Value::Object(own) = example(type_name) {
            base.extend(own);
        }
        let example = Value::Object(base);
        let mut document = document.clone();
        let mut found: Vec<ValidationError> = Vec::new();
        while found.len() < MAX_PROBLEMS {
            let Err(problem) = MonitorSpec::from_json(document.clone()) else {
                break;
            };
            let seen = found.iter().any(|earlier| earlier.field == problem.field);
            if seen {
                break;
            }
            let repaired =
                !problem.field.is_empty() && repair(&mut document, &problem.field, &example);
            found.push(problem);
            if !repaired {
                break;
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(document: Value) -> Vec<String> {
        MonitorSpec::problems(&document)
            .into_iter()
            .map(|problem| problem.field)
            .collect()
    }

    #[test]
    fn each_wrong_field_is_named_once() {
        let mut found = fields(json!({"name": "", "type": "http", "url": "not a url",
            "every": "often", "expect": {"status": [99]}, "timeout": "1ms"}));
        found.sort();
        assert_eq!(
            found,
            ["every", "expect.status[0]", "name", "timeout", "url"]
        );
    }

    #[test]
    fn a_wrong_step_keeps_the_places_of_the_others() {
        let found = fields(json!({"name": "journey", "type": "transaction", "steps": [
            {"navigate": "https://shop.example.com/"},
            {"click": ""},
            {"navigate": "https://shop.example.com/cart"},
            {"wait_for": "#cart", "timeout": "forever"}]}));
        assert!(found.iter().any(|f| f.starts_with("steps[1]")), "{found:?}");
        assert!(found.iter().any(|f| f.starts_with("steps[3]")), "{found:?}");
    }

    #[test]
    fn a_valid_monitor_has_none_and_an_unknown_type_stops_at_it() {
        assert!(
            fields(json!({"name": "home", "type": "http", "url": "https://a.example/"})).is_empty()
        );
        assert_eq!(fields(json!({"name": "home", "type": "gopher"})), ["type"]);
    }
}
