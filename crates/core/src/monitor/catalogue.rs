//! The catalogue of monitor types: for each type, its fields with their
//! kind, whether they are required, their help, choices and defaults. It is
//! read from the same definitions that parse and validate a monitor (the
//! types' schemas, their doc comments, and what parsing fills in for a
//! field left out), so that a form built from it cannot drift from them.

use super::{CheckSpec, MonitorSettings, MonitorSpec};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use utoipa::{PartialSchema, ToSchema};

/// One monitor type.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MonitorType {
    /// As written in `type:` (`http`).
    pub name: String,
    /// What it checks, in a sentence.
    pub summary: String,
    /// The smallest monitor of this type that is valid, without the shared
    /// settings (`{"url": "https://shop.example.com/"}`).
    #[schema(value_type = Object)]
    pub example: Value,
    /// Its own fields, nested ones by dotted path (`expect.status`).
    pub fields: Vec<Field>,
}

/// One field of a monitor.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Field {
    /// Its name, or dotted path within an object (`expect.body_contains`).
    pub path: String,
    /// `string`, `integer`, `number`, `boolean`, `list`, `map` or `object`.
    pub kind: String,
    /// For a list: the kind of its items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<String>,
    /// A monitor without it is refused.
    pub required: bool,
    /// What it is for, from its documentation.
    pub help: String,
    /// The only values it takes, when they are few.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub choices: Vec<Value>,
    /// What it is when left out, where that is a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub default: Option<Value>,
    /// An example value, where the definition gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub example: Option<Value>,
    /// For a list of objects (steps): the fields of each item.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub item_fields: Vec<Field>,
    /// For an object of one of several forms (`auth`): the field that
    /// names the form (`scheme`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// For an object of one of several forms: each form.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
}

impl Field {
    /// An object field: a group of its own fields, or one of several forms.
    fn object(path: String, required: bool, help: String) -> Field {
        Field {
            path,
            kind: "object".to_owned(),
            items: None,
            required,
            help,
            choices: Vec::new(),
            default: None,
            example: None,
            item_fields: Vec::new(),
            tag: None,
            variants: Vec::new(),
        }
    }
}

/// One form of an object that takes one of several (`basic` credentials).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Variant {
    /// The value of the tag field that picks it (`basic`).
    pub name: String,
    /// What it is, from its documentation.
    pub help: String,
    /// Its fields besides the tag.
    #[schema(no_recursion)]
    pub fields: Vec<Field>,
}

/// The catalogue: the settings every monitor shares, and each type.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Catalogue {
    /// Settings every monitor has (`name`, `every`, `checkpoints`, …).
    pub settings: Vec<Field>,
    /// Each type, in the order the API lists them.
    pub types: Vec<MonitorType>,
}

/// The smallest valid monitor of each type, without the shared settings.
pub(crate) fn example(type_name: &str) -> Value {
    match type_name {
        "http" | "browser" => json!({"url": "https://shop.example.com/"}),
        "tcp" => json!({"host": "db.example.com", "port": 5432}),
        "dns" | "tls" | "ping" => json!({"host": "shop.example.com"}),
        "api" => json!({"steps": [{"name": "health", "url": "https://api.example.com/health"}]}),
        "transaction" => json!({"steps": [{"navigate": "https://shop.example.com/"}]}),
        _ => json!({}),
    }
}

/// How deep nested objects are opened into dotted paths.
const DEPTH: usize = 3;

struct Schemas(HashMap<String, Value>);

impl Schemas {
    fn load() -> Self {
        let mut found = Vec::new();
        <CheckSpec as ToSchema>::schemas(&mut found);
        <MonitorSettings as ToSchema>::schemas(&mut found);
        let mut named: HashMap<String, Value> = found
            .into_iter()
            .filter_map(|(name, schema)| Some((name, serde_json::to_value(schema).ok()?)))
            .collect();
        for (name, schema) in [
            ("MonitorSettings", MonitorSettings::schema()),
            ("CheckSpec", CheckSpec::schema()),
        ] {
            if let Ok(schema) = serde_json::to_value(schema) {
                named.insert(name.to_owned(), schema);
            }
        }
        Schemas(named)
    }

    /// The schema a property points at: itself, its `$ref`, or the one
    /// non-null alternative of an optional one.
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.rsplit('/').next().unwrap_or_default();
            return self.0.get(name).map_or(schema, |found| self.resolve(found));
        }
        if let Some(alternatives) = schema["oneOf"].as_array() {
            let real: Vec<&Value> = alternatives
                .iter()
                .filter(|a| a["type"] != "null")
                .collect();
            if let [only] = real.as_slice() {
                return self.resolve(only);
            }
        }
        schema
    }

    /// The fields of an object schema, nested objects opened up to `depth`.
    fn fields(&self, schema: &Value, prefix: &str, depth: usize) -> Vec<Field> {
        let schema = self.resolve(schema);
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(properties) = schema["properties"].as_object() else {
            return Vec::new();
        };
        let mut fields = Vec::new();
        for (name, property) in properties {
            let path = format!("{prefix}{name}");
            let target = self.resolve(property);
            let help = property["description"]
                .as_str()
                .or_else(|| target["description"].as_str())
                .unwrap_or_default()
                .replace('\n', " ");
            let kind = kind_of(target);
            let required = required.contains(&name.as_str());
            if kind == "object" && depth > 0 && target["properties"].is_object() {
                fields.push(Field::object(path.clone(), required, help));
                fields.extend(self.fields(target, &format!("{path}."), depth - 1));
                continue;
            }
            if let Some((tag, variants)) = self.variants(target, depth) {
                fields.push(Field {
                    tag: Some(tag),
                    variants,
                    ..Field::object(path, required, help)
                });
                continue;
            }
            let items = (kind == "list").then(|| kind_of(self.resolve(&target["items"])));
            let item_fields = if items.as_deref() == Some("object") && depth > 0 {
                self.fields(&target["items"], "", depth - 1)
            } else {
                Vec::new()
            };
            let choices = target["enum"]
                .as_array()
                .cloned()
                .or_else(|| target["items"]["enum"].as_array().cloned())
                .unwrap_or_default();
            let example = [&property["example"], &target["example"]]
                .into_iter()
                .find(|value| !value.is_null())
                .cloned();
            fields.push(Field {
                path,
                kind,
                items,
                required,
                help,
                choices,
                default: None,
                example,
                item_fields,
                tag: None,
                variants: Vec::new(),
            });
        }
        fields
    }

    /// The forms of an object that is one of several, each named by the
    /// same one-value field (serde's internally tagged enum): that field's
    /// name and each form. `None` for any other schema.
    fn variants(&self, schema: &Value, depth: usize) -> Option<(String, Vec<Variant>)> {
        let alternatives = schema["oneOf"].as_array()?;
        let mut tag_name: Option<String> = None;
        let mut variants = Vec::new();
        for alternative in alternatives {
            let alternative = self.resolve(alternative);
            let properties = alternative["properties"].as_object()?;
            let (tag, value) =
                properties.iter().find_map(|(name, property)| {
                    match property["enum"].as_array().map(Vec::as_slice) {
                        Some([Value::String(value)]) => Some((name.clone(), value.clone())),
                        _ => None,
                    }
                })?;
            if tag_name.get_or_insert_with(|| tag.clone()) != &tag {
                return None;
            }
            let fields = self
                .fields(alternative, "", depth.saturating_sub(1))
                .into_iter()
                .filter(|field| field.path != tag)
                .collect();
            variants.push(Variant {
                name: value,
                help: alternative["description"]
                    .as_str()
                    .unwrap_or_default()
                    .replace('\n', " "),
                fields,
            });
        }
        Some((tag_name?, variants))
    }
}

/// A schema's kind in the catalogue's words.
fn kind_of(schema: &Value) -> String {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let main = types.into_iter().find(|t| *t != "null");
    match main {
        Some("array") => "list",
        Some("object") if schema["properties"].is_null() => "map",
        Some(kind) => kind,
        None if schema["oneOf"].is_array() || schema["enum"].is_array() => "string",
        None => "object",
    }
    .to_owned()
}

/// The value at a dotted path.
fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |here, key| here.get(key))
}

/// Fills each field's default from what parsing made of `given`.
fn fill_defaults(fields: &mut [Field], given: &Value, parsed: &Value) {
    for field in fields {
        if field.kind == "object" || at(given, &field.path).is_some() {
            continue;
        }
        field.default = at(parsed, &field.path)
            .filter(|value| !value.is_null())
            .cloned();
    }
}

/// The catalogue of every monitor type.
pub fn catalogue() -> Catalogue {
    let schemas = Schemas::load();
    let mut settings = schemas.fields(&schemas.0["MonitorSettings"], "", DEPTH);
    let mut types = Vec::new();
    let empty = Vec::new();
    for variant in schemas.0["CheckSpec"]["oneOf"].as_array().unwrap_or(&empty) {
        let parts = variant["allOf"].as_array().unwrap_or(&empty);
        let (Some(own), Some(tag)) = (parts.first(), parts.get(1)) else {
            continue;
        };
        let Some(name) = tag["properties"]["type"]["enum"][0].as_str() else {
            continue;
        };
        let given = example(name);
        let mut fields = schemas.fields(own, "", DEPTH);
        let mut document = given.as_object().cloned().unwrap_or_else(Map::new);
        document.insert("type".to_owned(), json!(name));
        document.insert("name".to_owned(), json!("example"));
        if let Ok(spec) = MonitorSpec::from_json(Value::Object(document))
            && let Ok(parsed) = serde_json::to_value(&spec)
        {
            fill_defaults(&mut fields, &given, &parsed);
            if types.is_empty() {
                fill_defaults(&mut settings, &json!({"name": "example"}), &parsed);
            }
        }
        types.push(MonitorType {
            name: name.to_owned(),
            summary: variant["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            example: given,
            fields,
        });
    }
    Catalogue { settings, types }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_is_listed_with_a_valid_example() {
        let catalogue = catalogue();
        let names: Vec<&str> = catalogue.types.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, CheckSpec::TYPE_NAMES);
        for kind in &catalogue.types {
            let mut document = kind.example.as_object().cloned().unwrap();
            document.insert("type".to_owned(), json!(kind.name));
            document.insert("name".to_owned(), json!("example"));
            MonitorSpec::from_json(Value::Object(document))
                .unwrap_or_else(|e| panic!("{}: {e}", kind.name));
            assert!(!kind.summary.is_empty(), "{}", kind.name);
            for field in &kind.fields {
                assert!(
                    !field.help.is_empty(),
                    "{}.{} has no help",
                    kind.name,
                    field.path
                );
            }
        }
    }

    #[test]
    fn fields_say_kind_requirement_choices_and_defaults() {
        let catalogue = catalogue();
        let field = |kind: &str, path: &str| -> Field {
            let found = catalogue.types.iter().find(|t| t.name == kind).unwrap();
            found
                .fields
                .iter()
                .find(|f| f.path == path)
                .unwrap_or_else(|| panic!("{kind} has no {path}"))
                .clone()
        };
        let url = field("http", "url");
        assert_eq!((url.kind.as_str(), url.required), ("string", true));
        let follow = field("http", "follow_redirects");
        assert_eq!(
            (follow.required, follow.default),
            (false, Some(json!(true)))
        );
        let status = field("http", "expect.status");
        assert_eq!(
            (status.kind.as_str(), status.items.as_deref()),
            ("list", Some("integer"))
        );
        assert!(status.help.contains("2xx"), "{}", status.help);
        let auth = field("http", "auth");
        assert_eq!(
            (auth.kind.as_str(), auth.tag.as_deref()),
            ("object", Some("scheme"))
        );
        let forms: Vec<(&str, Vec<&str>)> = auth
            .variants
            .iter()
            .map(|v| {
                (
                    v.name.as_str(),
                    v.fields.iter().map(|f| f.path.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            forms,
            [
                ("basic", vec!["password", "username"]),
                ("bearer", vec!["token"])
            ]
        );
        let record = field("dns", "record_type");
        assert!(record.choices.contains(&json!("AAAA")), "{record:?}");
        let failed = field("browser", "expect.no_failed_requests");
        assert_eq!(failed.items.as_deref(), Some("string"));
        let kinds: Vec<Value> = crate::monitor::REQUEST_KINDS
            .iter()
            .map(|k| json!(k))
            .collect();
        assert_eq!(failed.choices, kinds);
        assert!(failed.help.contains("must not fail"), "{}", failed.help);
        let steps = field("api", "steps");
        assert_eq!(steps.items.as_deref(), Some("object"));
        assert!(
            steps
                .item_fields
                .iter()
                .any(|f| f.path == "url" && f.required)
        );
        let every = catalogue
            .settings
            .iter()
            .find(|f| f.path == "every")
            .unwrap();
        assert!(every.help.contains("interval"), "{}", every.help);
        let checkpoints = catalogue
            .settings
            .iter()
            .find(|f| f.path == "checkpoints")
            .unwrap();
        assert_eq!(checkpoints.default, Some(json!(["local"])));
    }
}
