//! Finishing touches on the generated OpenAPI document: what every route
//! shares is added once here instead of in each handler's annotation.

use serde_json::{Value, json};
use sightline_core::alert_channels::{CHANNELS, FieldForm};

/// The generated document, completed:
///
/// - every `/api/v1` operation lists the error answers the shared layers can
///   give (401, 403 for writes, 408, 413/415/422 for bodies, 422 for a bad
///   id, 503), each with the one error shape;
/// - query parameters that many routes share (`from`, `to`, `since`,
///   `limit`, the RUM dimensions and metrics) get their exact schemas here,
///   the RUM queries list their dimension filters, and every operation with
///   query parameters lists the 400 a bad one gets;
/// - the rules of fields that their types do not carry (texts that must
///   not be blank, e-mail addresses, checkpoint names, fields that go
///   together) are stated from one table, [`FIELD_RULES`];
/// - `additionalProperties: false` (the server refuses unknown fields, 422
///   naming the field) is kept, except in schemas that are parts of others
///   (`allOf`, `oneOf`, `anyOf`): there it would also forbid the other
///   parts' properties (a monitor's view is its spec with `id` and
///   `status`), making documented answers invalid against their own
///   schemas.
pub(crate) fn complete(document: utoipa::openapi::OpenApi) -> Value {
    let mut document = serde_json::to_value(document).unwrap_or(Value::Null);
    let composed = composed_schemas(&document);
    if let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            if composed.contains(name) {
                drop_closed_objects(schema);
            }
        }
        state_field_rules(schemas);
    }
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
                if path.contains("/rum/") {
                    add_rum_filters(operation);
                }
                describe_query_parameters(path, operation);
                describe_name_parameter(path, operation);
                add_shared_answers(path, method, operation);
            }
        }
    }
    document
}

fn drop_closed_objects(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.get("additionalProperties") == Some(&Value::Bool(false)) {
                object.remove("additionalProperties");
            }
            object.values_mut().for_each(drop_closed_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_closed_objects),
        _ => {}
    }
}

fn add_shared_answers(path: &str, method: &str, operation: &mut Value) {
    let is_api = path.starts_with("/api/v1/") && path != "/api/v1/openapi.json";
    let has_body = operation.get("requestBody").is_some();
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut add = |status: &str, description: &str| {
        responses.entry(status.to_owned()).or_insert_with(|| {
            json!({
                "description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
            })
        });
    };
    add("503", "overloaded, or the database is unavailable");
    if !is_api {
        return;
    }
    add("408", "the request took too long");
    if !(path == "/api/v1/session" && method == "post") {
        add("401", "no valid session cookie or token");
    }
    let needed = axum::http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_or(sightline_core::Role::Viewer, |method| {
            super::least_role(&method, path)
        });
    if needed > sightline_core::Role::Viewer {
        add("403", super::refusal(needed));
    }
    if has_body {
        add("413", "the body is larger than 1 MiB");
        add("415", "the body is not JSON");
        add(
            "422",
            "the body is malformed or breaks a rule; `field` names where",
        );
    }
    if path.contains("{id}") {
        add("404", "no such resource");
        add("422", "the id is not a number");
    }
}

/// The RUM dimensions a query may filter by (`?device=mobile`), one
/// parameter each.
fn add_rum_filters(operation: &mut Value) {
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for dimension in sightline_core::rum::Dimension::ALL {
        parameters.push(json!({
            "name": dimension.name(),
            "in": "query",
            "required": false,
            "description": format!("only page views whose {} is this value (filters combine with AND)", dimension.name()),
            "schema": {"type": "string"},
        }));
    }
}

/// A time as the API reads it: Unix milliseconds, or RFC 3339.
fn time_schema() -> Value {
    json!({"anyOf": [
        {"type": "integer", "format": "int64", "minimum": super::EARLIEST_TIME_MS, "maximum": super::LATEST_TIME_MS},
        {"type": "string", "format": "date-time"}
    ]})
}

/// The exact schema of a query parameter shared by several routes, given
/// what the handlers accept.
fn query_schema(path: &str, name: &str) -> Option<Value> {
    let names = |all: Vec<&str>| json!({"type": "string", "enum": all});
    Some(match name {
        "from" | "to" | "since" => time_schema(),
        "limit" if path.ends_with("/results") => {
            json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": 1000})
        }
        "limit" => json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": 100}),
        "percentile" => json!({"type": "number", "minimum": 0, "maximum": 100}),
        "dimension" | "group_by" => names(
            sightline_core::rum::Dimension::ALL
                .iter()
                .map(|d| d.name())
                .collect(),
        ),
        "metric" => names(
            sightline_core::rum::Metric::ALL
                .iter()
                .map(|m| m.name())
                .collect(),
        ),
        "bucket" => json!({"type": "string", "pattern": "^[1-9][0-9]{0,2}[mhd]$"}),
        "periods" => json!({
            "type": "array",
            "uniqueItems": true,
            "minItems": 1,
            "maxItems": 6,
            "items": {"type": "string", "pattern": "^([1-9][0-9]?|[1-3][0-9][0-9]|400)d$|^([1-9][0-9]{0,2}|[1-8][0-9]{3}|9[0-5][0-9][0-9]|9600)h$"}
        }),
        _ => return None,
    })
}

fn describe_query_parameters(path: &str, operation: &mut Value) {
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    let mut has_query = false;
    for parameter in parameters.iter_mut() {
        if parameter["in"] != "query" {
            continue;
        }
        has_query = true;
        let name = parameter["name"].as_str().unwrap_or_default().to_owned();
        if let Some(schema) = query_schema(path, &name) {
            if schema["type"] == "array" {
                // Comma-separated, as `periods=24h,7d` is written.
                parameter["style"] = json!("form");
                parameter["explode"] = json!(false);
            }
            parameter["schema"] = schema;
        }
        // An empty value is refused rather than read as absent.
        if parameter["schema"]["type"] == "string" {
            parameter["schema"]["minLength"] = json!(1);
        }
    }
    if has_query
        && let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
    {
        responses.entry("400".to_owned()).or_insert_with(|| {
                json!({
                    "description": "a query parameter is unknown or malformed; `field` names it",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
                })
            });
    }
}

/// The rules of the names in paths: a vault secret's, a checkpoint's.
fn describe_name_parameter(path: &str, operation: &mut Value) {
    let pattern = if path.starts_with("/api/v1/secrets/") {
        "^[A-Za-z][A-Za-z0-9_]{0,63}$"
    } else if path.starts_with("/api/v1/checkpoints/{name}") {
        "^[a-z0-9_-]{1,64}$"
    } else {
        return;
    };
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for parameter in parameters.iter_mut() {
        if parameter["in"] == "path" && parameter["name"] == "name" {
            parameter["schema"] = json!({"type": "string", "pattern": pattern});
        }
    }
}

/// A rule a field's type does not carry.
#[derive(Clone, Copy)]
enum FieldRule {
    /// A text [`sightline_core::validation::require_text`] checks, of at
    /// most this many characters.
    Text(usize),
    /// A list of at most `.0` such texts of at most `.1` characters.
    Texts(usize, usize),
    /// An e-mail address ([`sightline_core::Email`]).
    Email,
    /// A list of e-mail addresses.
    Emails,
    /// A monitor's checkpoints: distinct names, at least one.
    Checkpoints,
    /// A list with at least one item.
    NotEmpty,
}

/// Which fields follow which rule, by schema and property.
const FIELD_RULES: &[(&str, &str, FieldRule)] = &[
    ("MonitorSettings", "name", FieldRule::Text(200)),
    ("MonitorSettings", "site", FieldRule::Text(100)),
    ("MonitorSettings", "alert_policy", FieldRule::Text(100)),
    ("MonitorSettings", "depends_on", FieldRule::Text(200)),
    (
        "MonitorSettings",
        "tags",
        FieldRule::Texts(sightline_core::monitor::MAX_TAGS, 64),
    ),
    ("MonitorSettings", "checkpoints", FieldRule::Checkpoints),
    ("SiteSpec", "name", FieldRule::Text(100)),
    ("SiteSpec", "alert_policy", FieldRule::Text(100)),
    ("AlertPolicySpec", "name", FieldRule::Text(100)),
    ("AlertPolicySpec", "levels", FieldRule::NotEmpty),
    ("EscalationLevel", "email", FieldRule::Emails),
    ("MaintenanceWindowSpec", "name", FieldRule::Text(200)),
    (
        "MaintenanceWindowSpec",
        "monitors",
        FieldRule::Texts(sightline_core::validation::MAX_ITEMS, 200),
    ),
    (
        "MaintenanceWindowSpec",
        "tags",
        FieldRule::Texts(sightline_core::validation::MAX_ITEMS, 64),
    ),
    ("ApiStep", "name", FieldRule::Text(200)),
    ("CreateToken", "name", FieldRule::Text(100)),
    ("LogIn", "email", FieldRule::Email),
    ("CreateUser", "email", FieldRule::Email),
    ("TestRequest", "email", FieldRule::Email),
];

fn text_rule(max: usize) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max,
           "pattern": sightline_core::validation::TEXT_PATTERN})
}

fn email_rule() -> Value {
    json!({"type": "string", "maxLength": 254, "pattern": sightline_core::user::EMAIL_PATTERN})
}

/// Applies [`FIELD_RULES`], and the rules between fields of one object.
fn state_field_rules(schemas: &mut serde_json::Map<String, Value>) {
    for (schema, property, rule) in FIELD_RULES {
        let Some(field) = schemas
            .get_mut(*schema)
            .and_then(|schema| schema.pointer_mut(&format!("/properties/{property}")))
        else {
            continue;
        };
        let nullable = field["type"]
            .as_array()
            .is_some_and(|types| types.contains(&json!("null")));
        let description = field.get("description").cloned();
        let mut stated = match *rule {
            FieldRule::Text(max) => text_rule(max),
            FieldRule::Texts(items, max) => {
                json!({"type": "array", "maxItems": items, "items": text_rule(max)})
            }
            FieldRule::Email => email_rule(),
            FieldRule::Emails => json!({"type": "array", "items": email_rule()}),
            FieldRule::NotEmpty => {
                let mut list = field.clone();
                list["minItems"] = json!(1);
                list
            }
            FieldRule::Checkpoints => json!({
                "type": "array", "minItems": 1,
                "maxItems": sightline_core::monitor::MAX_CHECKPOINTS, "uniqueItems": true,
                "items": {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"}
            }),
        };
        if nullable {
            let kind = stated["type"].clone();
            stated["type"] = json!([kind, "null"]);
        }
        if let Some(description) = description {
            stated["description"] = description;
        }
        *field = stated;
    }
    // Fields that go together.
    let string = json!({"type": "string"});
    let present = |names: &[&str]| {
        let properties: serde_json::Map<String, Value> = names
            .iter()
            .map(|name| ((*name).to_owned(), string.clone()))
            .collect();
        json!({"required": names, "properties": properties})
    };
    let mut require = |schema: &str, rule: Value| {
        if let Some(schema) = schemas.get_mut(schema).and_then(Value::as_object_mut) {
            schema.extend(rule.as_object().cloned().unwrap_or_default());
        }
    };
    require(
        "MonitorSettings",
        json!({"not": present(&["every", "cron"])}),
    );
    require(
        "TestRequest",
        json!({"oneOf": [present(&["email"]), present(&["webhook"]),
                         {"required": ["channel", "target"]}]}),
    );
    require(
        "MaintenanceWindowSpec",
        json!({"oneOf": [
            {"allOf": [present(&["starts_at", "ends_at"]),
                       {"not": {"anyOf": [present(&["cron"]), present(&["duration"])]}}]},
            {"allOf": [present(&["cron", "duration"]),
                       {"not": {"anyOf": [present(&["starts_at"]), present(&["ends_at"])]}}]}
        ]}),
    );
    let recipients = |name: &str| json!({"required": [name], "properties": {name: {"type": "array", "minItems": 1}}});
    let any_recipient: Vec<Value> = std::iter::once("email")
        .chain(CHANNELS.iter().map(|kind| kind.name))
        .map(recipients)
        .collect();
    require("EscalationLevel", json!({"anyOf": any_recipient}));
    describe_channels(schemas);
}

/// A level's channels, one property each, from core's table: a list of
/// targets, each an object of that channel's settings (or, for a channel
/// whose first setting is a URL, that URL alone).
fn describe_channels(schemas: &mut serde_json::Map<String, Value>) {
    let Some(level) = schemas
        .get_mut("EscalationLevel")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut properties = level
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    properties.remove("channels");
    for kind in CHANNELS {
        let mut settings = serde_json::Map::new();
        let mut required = Vec::new();
        for field in kind.fields {
            let schema = match field.form {
                FieldForm::Url => json!({"type": "string", "format": "uri",
                    "description": format!("{} (http or https; may hold `{{{{secrets.NAME}}}}`)", field.label)}),
                FieldForm::Secret => json!({"type": "string", "minLength": 1,
                    "description": format!("{}: best given as `{{{{secrets.NAME}}}}`", field.label)}),
                FieldForm::ChatId => json!({"type": ["string", "integer"],
                    "description": format!("{}: a number (`-100123`) or a public `@channel`", field.label)}),
            };
            settings.insert(field.name.to_owned(), schema);
            if field.required {
                required.push(field.name);
            }
        }
        let object = json!({"type": "object", "properties": settings, "required": required,
                            "additionalProperties": false});
        let item = if kind.fields[0].form == FieldForm::Url {
            json!({"oneOf": [{"type": "string", "format": "uri"}, object]})
        } else {
            object
        };
        properties.insert(
            kind.name.to_owned(),
            json!({"type": "array", "maxItems": sightline_core::alert_channels::MAX_TARGETS,
                   "items": item, "description": format!("{}: {}", kind.label, kind.about)}),
        );
    }
    level.insert("properties".to_owned(), Value::Object(properties));
    level.insert("additionalProperties".to_owned(), Value::Bool(false));
    if let Some(required) = level.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|name| name != "channels");
    }
}

/// The names of the component schemas that are parts of others.
fn composed_schemas(document: &Value) -> std::collections::HashSet<String> {
    fn parts(value: &Value, found: &mut std::collections::HashSet<String>, inside: bool) {
        match value {
            Value::Object(object) => {
                if inside
                    && let Some(reference) = object.get("$ref").and_then(Value::as_str)
                    && let Some(name) = reference.strip_prefix("#/components/schemas/")
                {
                    found.insert(name.to_owned());
                }
                for (key, item) in object {
                    let composing = matches!(key.as_str(), "allOf" | "oneOf" | "anyOf");
                    parts(
                        item,
                        found,
                        composing || (inside && !key.starts_with("properties")),
                    );
                }
            }
            Value::Array(items) => items.iter().for_each(|item| parts(item, found, inside)),
            _ => {}
        }
    }
    let mut found = std::collections::HashSet::new();
    parts(document, &mut found, false);
    // A part of a part is a part too.
    loop {
        let before = found.len();
        let schemas = document
            .pointer("/components/schemas")
            .and_then(Value::as_object);
        for name in found.clone() {
            if let Some(schema) = schemas.and_then(|schemas| schemas.get(&name)) {
                parts(schema, &mut found, true);
            }
        }
        if found.len() == before {
            return found;
        }
    }
}
