//! The audit log over the API: who changed what, when and from where, with
//! what each change did, for admins.

use super::{QueryParams, bounded_number, only_params};
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;
use sightline_store::{AuditEntry, AuditQuery};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_entries))
}

/// One change as the log shows it.
#[derive(Serialize, utoipa::ToSchema)]
struct EntryView {
    /// Stable id; pass the last one seen as `before` for the next page.
    id: i64,
    /// When (RFC 3339).
    at: String,
    /// Who: their e-mail address, or `command line`.
    actor: String,
    /// Their user id, while the account exists.
    actor_id: Option<i64>,
    /// How they proved it: `session`, `token N`, `command line`.
    credential: String,
    /// From where: the client's address.
    address: Option<String>,
    /// `created`, `changed` or `deleted`.
    action: String,
    /// `monitor`, `site`, `alert policy`, `maintenance window`, `status page`,
    /// `status page incident`, `user`, `token` or `secret`.
    kind: String,
    /// The object's id (a secret's name).
    object_id: Option<String>,
    /// The object's name at the time.
    object_name: Option<String>,
    /// The object before, as the API showed it.
    #[schema(value_type = Option<Object>)]
    before: Option<Value>,
    /// The object after, as the API showed it.
    #[schema(value_type = Option<Object>)]
    after: Option<Value>,
    /// What differs between the two, field by field.
    changes: Vec<FieldChange>,
}

/// One field a change touched.
#[derive(Serialize, utoipa::ToSchema, Debug, PartialEq)]
struct FieldChange {
    /// Where, dotted: `expect.status`, `levels.0.email`.
    path: String,
    /// The value before (absent when the field was added).
    #[schema(value_type = Option<Object>)]
    before: Option<Value>,
    /// The value after (absent when the field was removed).
    #[schema(value_type = Option<Object>)]
    after: Option<Value>,
}

impl From<AuditEntry> for EntryView {
    fn from(entry: AuditEntry) -> Self {
        let e = entry.entry;
        let mut changes = Vec::new();
        if e.before.is_some() && e.after.is_some() {
            differences("", e.before.as_ref(), e.after.as_ref(), &mut changes);
        }
        EntryView {
            id: entry.id,
            at: entry.at.to_rfc3339(),
            actor: e.actor,
            actor_id: e.actor_id,
            credential: e.credential,
            address: e.address,
            action: e.action,
            kind: e.kind,
            object_id: e.object_id,
            object_name: e.object_name,
            before: e.before,
            after: e.after,
            changes,
        }
    }
}

/// Fields that change with every change and say nothing about it.
const STAMPS: [&str; 1] = ["updated_at"];

/// Adds to `out` every leaf under `path` that differs between `before` and
/// `after`; objects are compared key by key, anything else as a whole.
fn differences(
    path: &str,
    before: Option<&Value>,
    after: Option<&Value>,
    out: &mut Vec<FieldChange>,
) {
    if before == after {
        return;
    }
    if let (Some(Value::Object(old)), Some(Value::Object(new))) = (before, after) {
        let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            if path.is_empty() && STAMPS.contains(&key.as_str()) {
                continue;
            }
            let inner = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            differences(&inner, old.get(key), new.get(key), out);
        }
        return;
    }
    out.push(FieldChange {
        path: path.to_owned(),
        before: before.cloned(),
        after: after.cloned(),
    });
}

/// Changes to the configuration, newest first (admins only). Filters
/// combine; `before` pages back from an entry's id.
#[utoipa::path(get, path = "/audit-log", tag = "audit log",
    params(
        ("kind" = Option<String>, Query, description = "only this kind of object: `monitor`, `user`…"),
        ("object_id" = Option<String>, Query, description = "only this object (with `kind`)"),
        ("actor" = Option<String>, Query, description = "only changes by this e-mail address"),
        ("before" = Option<i64>, Query, description = "only entries older than this id"),
        ("limit" = Option<i64>, Query, description = "at most this many, 1 to 500 (100)")
    ),
    responses(
        (status = 200, body = Vec<EntryView>),
        (status = 400, description = "an unknown or malformed parameter", body = ErrorBody)
    ))]
async fn list_entries(
    State(state): State<AppState>,
    QueryParams(params): QueryParams,
) -> ApiResult<Json<Vec<EntryView>>> {
    only_params(&params, &["kind", "object_id", "actor", "before", "limit"])?;
    let query = AuditQuery {
        kind: params.get("kind").cloned(),
        object_id: params.get("object_id").cloned(),
        actor: params.get("actor").map(|actor| actor.trim().to_lowercase()),
        before_id: params
            .contains_key("before")
            .then(|| bounded_number(&params, "before", 0, 1..=i64::MAX))
            .transpose()?,
        limit: u32::try_from(bounded_number(&params, "limit", 100, 1..=500)?).unwrap_or(100),
    };
    let entries = state.store.audit_log(&query).await?;
    Ok(Json(entries.into_iter().map(EntryView::from).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_are_listed_field_by_field() {
        let before =
            json!({"name": "shop", "every": "1m", "expect": {"status": [200]}, "updated_at": "a"});
        let after = json!({"name": "shop", "every": "30s", "expect": {"status": [200, 204], "body_contains": "ok"}, "updated_at": "b"});
        let mut out = Vec::new();
        differences("", Some(&before), Some(&after), &mut out);
        assert_eq!(
            out,
            [
                FieldChange {
                    path: "every".into(),
                    before: Some(json!("1m")),
                    after: Some(json!("30s"))
                },
                FieldChange {
                    path: "expect.body_contains".into(),
                    before: None,
                    after: Some(json!("ok"))
                },
                FieldChange {
                    path: "expect.status".into(),
                    before: Some(json!([200])),
                    after: Some(json!([200, 204]))
                },
            ]
        );
        let mut none = Vec::new();
        differences("", Some(&before), Some(&before), &mut none);
        assert!(none.is_empty());
    }
}
