//! Records every change made through the API in the audit log: the gate
//! hands each authenticated write here, which reads the object as the API
//! shows it before the change, lets the handler run, reads it again after
//! and stores who, when, from where and both views. Because it sits in the
//! one place every request passes, no route can change the configuration
//! without leaving an entry; what a route counts as an object is the table
//! in [`Target::of`].

use crate::auth::{Credential, Principal};
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sightline_store::NewAuditEntry;
use std::net::SocketAddr;
use tower::ServiceExt;

/// The largest answer of a GET read for the log.
const MAX_LOGGED_BODY: usize = 4 << 20;

/// A collection of objects under `/api/v1`, as the audit log names them.
struct Collection {
    /// The path segment: `monitors`.
    segment: &'static str,
    /// The kind the log shows: `monitor`.
    kind: &'static str,
    /// Whether `GET /api/v1/{segment}/{id}` answers one object; otherwise it
    /// is found in the collection's list.
    item_route: bool,
}

/// Every collection whose changes are logged.
const COLLECTIONS: [Collection; 8] = [
    Collection {
        segment: "monitors",
        kind: "monitor",
        item_route: true,
    },
    Collection {
        segment: "sites",
        kind: "site",
        item_route: true,
    },
    Collection {
        segment: "alert-policies",
        kind: "alert policy",
        item_route: true,
    },
    Collection {
        segment: "maintenance-windows",
        kind: "maintenance window",
        item_route: true,
    },
    Collection {
        segment: "status-pages",
        kind: "status page",
        item_route: true,
    },
    Collection {
        segment: "users",
        kind: "user",
        item_route: true,
    },
    Collection {
        segment: "tokens",
        kind: "token",
        item_route: false,
    },
    Collection {
        segment: "secrets",
        kind: "secret",
        item_route: false,
    },
];

/// What a write request changes.
#[derive(Debug, PartialEq)]
pub(crate) struct Target {
    /// The kind of object.
    kind: &'static str,
    /// `created`, `changed` or `deleted`.
    action: &'static str,
    /// The object's path under `/api/v1`, once known (a creation learns its
    /// id from the answer).
    object: Option<String>,
    /// The path of the list the object is in.
    list: String,
    /// Whether the object answers its own GET.
    item_route: bool,
}

impl Target {
    /// What `method` on `path` changes, or `None` for a request that
    /// changes no configuration (logging in, a test run, an
    /// acknowledgement, the agent protocol: each has its own record).
    pub(crate) fn of(method: &Method, path: &str) -> Option<Target> {
        let rest = path.strip_prefix("/api/v1/")?;
        let segments: Vec<&str> = rest.split('/').collect();
        let collection = COLLECTIONS.iter().find(|c| c.segment == segments[0])?;
        let listed = |action, object: Option<String>| Target {
            kind: collection.kind,
            action,
            object,
            list: format!("/api/v1/{}", collection.segment),
            item_route: collection.item_route,
        };
        // A status page's incidents are objects of their own; what is done
        // to an incident's updates changes the incident.
        let incident = |page: &str, action, object: Option<String>| Target {
            kind: "status page incident",
            action,
            object,
            list: format!("/api/v1/status-pages/{page}/incidents"),
            item_route: true,
        };
        let changed = if method == Method::DELETE {
            "deleted"
        } else {
            "changed"
        };
        Some(match (method, segments.as_slice()) {
            (&Method::POST, [_]) => listed("created", None),
            (&Method::PUT | &Method::PATCH | &Method::DELETE, [_, id]) if !id.is_empty() => {
                listed(changed, Some(path.to_owned()))
            }
            (&Method::POST, ["status-pages", page, "incidents"]) => incident(page, "created", None),
            (&Method::PATCH | &Method::DELETE, ["status-pages", page, "incidents", _]) => {
                incident(page, changed, Some(path.to_owned()))
            }
            (&Method::POST, ["status-pages", page, "incidents", incident_id, "updates"])
            | (&Method::PATCH, ["status-pages", page, "incidents", incident_id, "updates", _]) => {
                incident(
                    page,
                    "changed",
                    Some(format!(
                        "/api/v1/status-pages/{page}/incidents/{incident_id}"
                    )),
                )
            }
            _ => return None,
        })
    }

    /// The object's id: its path's last segment.
    fn id(&self) -> Option<String> {
        let object = self.object.as_deref()?;
        object.rsplit('/').next().map(str::to_owned)
    }
}

/// Runs a write that changes `target` and logs it when it succeeds.
pub(crate) async fn around(
    state: AppState,
    principal: Principal,
    target: Target,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .cloned();
    let address =
        peer.map(|ConnectInfo(peer)| state.client_ip(peer, request.headers()).to_string());
    let asker = Asker {
        state: &state,
        principal: &principal,
        peer,
    };
    let before = current(&asker, &target).await;
    let (request, set_secretly) = if matches!(target.kind, "user" | "secret") {
        secret_fields_set(request).await
    } else {
        (Some(request), Vec::new())
    };
    let Some(request) = request else {
        return ApiError::PayloadTooLarge {
            limit: crate::API_BODY_LIMIT,
        }
        .into_response();
    };
    let mut response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    let mut target = target;
    // A creation learns its object's id from the answer, which the
    // handler built whole in memory: reading it back costs no more.
    let mut answered = None;
    if target.object.is_none() {
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        answered = serde_json::from_slice::<Value>(&bytes).ok();
        if let Some(id) = answered.as_ref().and_then(|answer| answer.get("id")) {
            target.object = Some(format!("{}/{}", target.list, id_text(id)));
        }
        response = Response::from_parts(parts, Body::from(bytes));
    }
    let after = match target.action {
        "deleted" => None,
        _ if target.kind == "secret" => Some(secret_name(&target)),
        _ => match current(&asker, &target).await {
            Some(view) => Some(view),
            None => answered.map(without_secrets),
        },
    };
    // A password or a secret's value set anew shows as such, never itself.
    let after = after.map(|mut view| {
        if let Some(object) = view.as_object_mut() {
            for field in &set_secretly {
                object.insert((*field).to_owned(), Value::from("set anew"));
            }
        }
        view
    });
    let action = if target.kind == "secret" && before.is_none() {
        "created"
    } else {
        target.action
    };
    let shown = after.as_ref().or(before.as_ref());
    let entry = NewAuditEntry {
        actor_id: Some(principal.user.id),
        actor: principal.user.email.clone(),
        credential: match principal.credential {
            Credential::Session => "session".to_owned(),
            Credential::Token(id) => format!("token {id}"),
        },
        address,
        action: action.to_owned(),
        kind: target.kind.to_owned(),
        object_id: target.id(),
        object_name: shown.and_then(name_of),
        before,
        after,
    };
    if let Err(error) = state.store.record_audit(&entry).await {
        tracing::error!(%error, kind = target.kind, "the audit log did not take a change");
    }
    response
}

/// Fields of a user or a secret whose values are secret: the log says they
/// were set, not to what.
const SECRET_FIELDS: [&str; 2] = ["password", "value"];

/// Which of [`SECRET_FIELDS`] the request's JSON body sets, with the
/// request rebuilt to run; `None` for a body over the API's limit.
async fn secret_fields_set(request: Request) -> (Option<Request>, Vec<&'static str>) {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, crate::API_BODY_LIMIT).await else {
        return (None, Vec::new());
    };
    let set = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(fields)) => SECRET_FIELDS
            .into_iter()
            .filter(|name| fields.get(*name).is_some_and(|value| !value.is_null()))
            .collect(),
        _ => Vec::new(),
    };
    (Some(Request::from_parts(parts, Body::from(bytes))), set)
}

/// Who reads the object for the log: the one who changes it, so that the
/// log holds what they saw.
struct Asker<'a> {
    state: &'a AppState,
    principal: &'a Principal,
    peer: Option<ConnectInfo<SocketAddr>>,
}

/// The object as the API shows it to the asker now, or `None` when there
/// is none (yet, or any more).
async fn current(asker: &Asker<'_>, target: &Target) -> Option<Value> {
    let object = target.object.as_deref()?;
    if target.kind == "secret" {
        let names = read(asker, &target.list).await?;
        let name = target.id()?;
        let known = names
            .as_array()?
            .iter()
            .any(|secret| secret.get("name").and_then(Value::as_str) == Some(&name));
        return known.then(|| secret_name(target));
    }
    if target.item_route {
        return read(asker, object).await.map(without_secrets);
    }
    let id = target.id()?;
    let list = read(asker, &target.list).await?;
    list.as_array()?
        .iter()
        .find(|item| item.get("id").is_some_and(|found| id_text(found) == id))
        .cloned()
        .map(without_secrets)
}

/// An id as JSON (`7` or `"7"`) as it stands in a path.
fn id_text(id: &Value) -> String {
    match id {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A secret as the log keeps it: its name, never its value.
fn secret_name(target: &Target) -> Value {
    serde_json::json!({ "name": target.id() })
}

/// `GET path` answered by the API's own routes for the asker, when it
/// answers 200 with JSON.
async fn read(asker: &Asker<'_>, path: &str) -> Option<Value> {
    static ROUTES: std::sync::LazyLock<axum::Router<AppState>> =
        std::sync::LazyLock::new(|| crate::routes::application().split_for_parts().0);
    let mut request = Request::get(path).body(Body::empty()).ok()?;
    // The handlers find who asks in the extensions, as the gate leaves it.
    request.extensions_mut().insert(asker.principal.clone());
    if let Some(peer) = asker.peer {
        request.extensions_mut().insert(peer);
    }
    let response = ROUTES
        .clone()
        .with_state(asker.state.clone())
        .oneshot(request)
        .await
        .ok()?;
    if response.status() != StatusCode::OK {
        return None;
    }
    let bytes = axum::body::to_bytes(response.into_body(), MAX_LOGGED_BODY)
        .await
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// An answer without what must never be stored: a new token's secret.
fn without_secrets(mut view: Value) -> Value {
    if let Some(object) = view.as_object_mut() {
        for key in ["token", "password"] {
            object.remove(key);
        }
    }
    view
}

/// What people call an object: its name, e-mail address, headline or title.
fn name_of(view: &Value) -> Option<String> {
    ["name", "email", "title", "headline", "slug"]
        .iter()
        .find_map(|key| view.get(*key).and_then(Value::as_str))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_told_apart_from_what_changes_nothing() {
        let of = |method: Method, path: &str| {
            Target::of(&method, path).map(|t| (t.kind, t.action, t.object))
        };
        assert_eq!(
            of(Method::POST, "/api/v1/monitors"),
            Some(("monitor", "created", None))
        );
        assert_eq!(
            of(Method::PUT, "/api/v1/sites/4"),
            Some(("site", "changed", Some("/api/v1/sites/4".to_owned())))
        );
        assert_eq!(
            of(Method::DELETE, "/api/v1/tokens/9"),
            Some(("token", "deleted", Some("/api/v1/tokens/9".to_owned())))
        );
        assert_eq!(
            of(Method::POST, "/api/v1/status-pages/2/incidents/5/updates"),
            Some((
                "status page incident",
                "changed",
                Some("/api/v1/status-pages/2/incidents/5".to_owned())
            ))
        );
        for (method, path) in [
            (Method::POST, "/api/v1/session"),
            (Method::POST, "/api/v1/monitors/try"),
            (Method::POST, "/api/v1/monitors/validate"),
            (Method::POST, "/api/v1/monitors/3/run"),
            (Method::POST, "/api/v1/status-pages/preview"),
            (Method::POST, "/api/v1/incidents/3/acknowledge"),
            (Method::POST, "/api/v1/checkpoints/local/lease"),
            (Method::PUT, "/api/v1/session/password"),
            (Method::POST, "/api/v1/notifications/test"),
        ] {
            assert_eq!(of(method.clone(), path), None, "{method} {path}");
        }
    }

    #[test]
    fn secrets_never_reach_the_log() {
        let view = without_secrets(serde_json::json!({"id": 1, "name": "ci", "token": "slt_x"}));
        assert_eq!(view, serde_json::json!({"id": 1, "name": "ci"}));
        assert_eq!(name_of(&view).as_deref(), Some("ci"));
    }
}
