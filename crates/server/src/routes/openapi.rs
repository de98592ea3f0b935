//! Finishing touches on the generated OpenAPI document: what every route
//! shares is added once here instead of in each handler's annotation.

use serde_json::{Value, json};

/// The generated document, completed:
///
/// - every `/api/v1` operation lists the error answers the shared layers can
///   give (401, 403 for writes, 408, 413/415/422 for bodies, 422 for a bad
///   id, 503), each with the one error shape;
/// - `additionalProperties: false` is dropped from schemas. The server does
///   refuse unknown fields (422 naming the field), but in JSON Schema that
///   keyword also forbids the extra properties of every view that extends a
///   spec with `allOf` (a monitor with its `id` and `status`), which would make
///   the documented answers invalid against their own schemas.
pub(crate) fn complete(document: utoipa::openapi::OpenApi) -> Value {
    let mut document = serde_json::to_value(document).unwrap_or(Value::Null);
    drop_closed_objects(&mut document);
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
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
    if method != "get" && path != "/api/v1/session" {
        add("403", "viewers can read but not change anything");
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
