//! The routes: each module owns its handlers and its request and response
//! shapes; this module puts them together with the OpenAPI document and the
//! authentication gate in front of `/api/v1`.

mod acknowledge_link;
mod alert_policies;
mod audit_log;
mod checkpoints;
mod health;
mod incidents;
mod maintenance;
mod monitor_overview;
mod monitor_types;
mod monitors;
mod notifications;
mod openapi;
mod rum;
mod script;
mod secrets;
mod session;
mod session_oidc;
mod site_rum;
mod sites;
mod status_pages;
pub(crate) mod status_public;
mod tokens;
pub(crate) mod ui;
mod users;

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sightline_core::Role;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sightline API",
        description = "Configure monitors and RUM sites, read results, incidents and real-user metrics. \
                       Authenticate with the session cookie from `POST /api/v1/session` or with \
                       `Authorization: Bearer <token>`. Every error answers `{\"code\", \"message\"}` \
                       (plus `field` for bad input). Request bodies are strict: an unknown field is \
                       refused with 422 naming it."
    ),
    modifiers(&SecuritySchemes),
    security(("bearer" = []), ("session" = [])),
    components(schemas(ErrorBody)),
    tags(
        (name = "health", description = "Liveness, readiness and metrics"),
        (name = "session", description = "Logging in and out"),
        (name = "users", description = "People who log in"),
        (name = "tokens", description = "API tokens for scripts and agents"),
        (name = "sites", description = "Websites measured by real-user monitoring"),
        (name = "monitors", description = "Synthetic checks, their results and uptime"),
        (name = "maintenance", description = "Maintenance windows: results recorded, not counted"),
        (name = "secrets", description = "The vault: secrets checks use as {{secrets.NAME}}"),
        (name = "alerting", description = "Notifications: e-mail and webhooks through the outbox"),
        (name = "checkpoints", description = "Where checks run, and the protocol agents lease and report with"),
        (name = "rum", description = "Real-user monitoring: the beacon collector"),
        (name = "status pages", description = "Public status pages, and the incidents people write on them"),
        (name = "audit log", description = "Who changed what in the configuration, when and from where (admins)"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// Every documented route.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    application().merge(beacons())
}

/// The beacon endpoint, served on a shorter stack of layers than the rest:
/// it needs no authentication gate and shapes its own errors, and it is the
/// one route under heavy load (those two layers cost a fifth of the
/// collector's throughput).
pub(crate) fn beacons() -> OpenApiRouter<AppState> {
    rum::router()
}

/// Every route but [`beacons`].
pub(crate) fn application() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(script::router())
        .merge(acknowledge_link::router())
        .merge(ui::router())
        .nest(
            "/api/v1",
            OpenApiRouter::new()
                .merge(session::router())
                .merge(session_oidc::router())
                .merge(users::router())
                .merge(tokens::router())
                .merge(sites::router())
                .merge(site_rum::router())
                .merge(monitors::router())
                .merge(monitor_overview::router())
                .merge(monitor_types::router())
                .merge(maintenance::router())
                .merge(secrets::router())
                .merge(checkpoints::router())
                .merge(notifications::router())
                .merge(alert_policies::router())
                .merge(incidents::router())
                .merge(status_pages::router())
                .merge(audit_log::router()),
        )
}

/// The completed OpenAPI document.
pub(crate) fn document() -> serde_json::Value {
    openapi::complete(router().split_for_parts().1)
}

/// Routes under `/api/v1` that answer without authentication.
fn is_public(method: &Method, path: &str) -> bool {
    matches!(
        (method, path),
        (&Method::POST, "/api/v1/session")
            | (
                &Method::GET,
                "/api/v1/openapi.json"
                    | "/api/v1/session/options"
                    | "/api/v1/session/oidc"
                    | "/api/v1/session/oidc/callback"
            )
    )
}

/// Routes a viewer may call with a method other than GET: their own
/// session and password.
fn is_self_service(path: &str) -> bool {
    matches!(path, "/api/v1/session" | "/api/v1/session/password")
}

/// Whether `path` is `prefix` or lies under it.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The least role that may make this request: admins alone change people,
/// tokens and the vault and read the audit log; editors change the rest of
/// the configuration; everyone reads, and changes their own session and
/// password.
fn least_role(method: &Method, path: &str) -> Role {
    let reads_only = method == Method::GET || method == Method::HEAD;
    if under(path, "/api/v1/audit-log") {
        Role::Admin
    } else if reads_only || is_self_service(path) {
        Role::Viewer
    } else if ["/api/v1/users", "/api/v1/tokens", "/api/v1/secrets"]
        .iter()
        .any(|prefix| under(path, prefix))
    {
        Role::Admin
    } else {
        Role::Editor
    }
}

/// Why a request that needs `needed` is refused to anyone below it.
fn refusal(needed: Role) -> &'static str {
    match needed {
        Role::Admin => "only admins manage users, tokens and secrets and read the audit log",
        _ => "viewers can read but not change anything",
    }
}

/// The gate in front of `/api/v1`: a change authenticated by the session
/// cookie must come from the UI's own origin, every route needs a session
/// or a token, and each request needs the role [`least_role`] names. Handlers find the [`Principal`] in
/// the request's extensions.
pub(crate) async fn require_auth(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if !request.uri().path().starts_with("/api/v1/") {
        return next.run(request).await;
    }
    let mut response = gate(state, request, next).await;
    // API answers hold private data: no cache keeps them, unless a route
    // says otherwise (a screenshot never changes).
    response
        .headers_mut()
        .entry(axum::http::header::CACHE_CONTROL)
        .or_insert(axum::http::HeaderValue::from_static("no-store"));
    response
}

async fn gate(state: AppState, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    // Cookies go with every request a browser sends, whichever page asked
    // for it; tokens only where a script put them.
    let without_token = !parts
        .headers
        .contains_key(axum::http::header::AUTHORIZATION);
    if without_token
        && crate::same_origin::changes_state(&parts.method)
        && crate::same_origin::is_cross_origin(&parts, &state.config.public_url)
    {
        return ApiError::CrossOrigin.into_response();
    }
    if is_public(&parts.method, parts.uri.path()) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let principal = match Principal::from_request_parts(&mut parts, &state).await {
        Ok(principal) => principal,
        Err(error) => return error.into_response(),
    };
    let agent_path = parts.uri.path().starts_with("/api/v1/checkpoints/");
    if principal.checkpoint_id.is_some() && !agent_path {
        return ApiError::Forbidden(
            "an agent token may only use its checkpoint's protocol".to_owned(),
        )
        .into_response();
    }
    let agent = agent_path && principal.checkpoint_id.is_some();
    let needed = least_role(&parts.method, parts.uri.path());
    if !agent && principal.role < needed {
        return ApiError::Forbidden(refusal(needed).to_owned()).into_response();
    }
    match crate::audit::Target::of(&parts.method, parts.uri.path()) {
        Some(target) => {
            let request = Request::from_parts(parts, body);
            crate::audit::around(state, principal, target, request, next).await
        }
        None => next.run(Request::from_parts(parts, body)).await,
    }
}

/// The tracing span of a request, labelled by route template.
pub(crate) fn request_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |path| path.as_str());
    tracing::info_span!("request", method = %request.method(), route, path = %request.uri().path())
}

/// Query parameters by name. One given empty (`?since=`) is refused,
/// naming it, as the document says; one given twice keeps its last value.
pub(crate) struct QueryParams(pub std::collections::HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let mut params = std::collections::HashMap::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if value.is_empty() {
                return Err(ApiError::BadQuery {
                    message: format!("`{name}` is empty; leave it out for its default"),
                    field: name.into_owned(),
                });
            }
            params.insert(name.into_owned(), value.into_owned());
        }
        Ok(QueryParams(params))
    }
}

/// Path parameter ids, with a clear error for a non-number.
pub(crate) fn parse_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::invalid("id", format!("`{text}` is not an id")))
}

/// Reads a time parameter given as RFC 3339 or Unix milliseconds.
pub(crate) fn time_param(
    params: &std::collections::HashMap<String, String>,
    name: &str,
) -> Result<Option<sightline_core::Timestamp>, ApiError> {
    let Some(text) = params.get(name) else {
        return Ok(None);
    };
    let millis = match text.parse::<i64>() {
        Ok(millis) => millis,
        Err(_) => chrono::DateTime::parse_from_rfc3339(text)
            .map(|time| time.timestamp_millis())
            .map_err(|_| ApiError::BadQuery {
                field: name.to_owned(),
                message: format!("`{text}` is neither an RFC 3339 time nor Unix milliseconds"),
            })?,
    };
    if !(EARLIEST_TIME_MS..=LATEST_TIME_MS).contains(&millis) {
        return Err(ApiError::BadQuery {
            field: name.to_owned(),
            message: "must be within the years 1 to 9999".to_owned(),
        });
    }
    Ok(Some(sightline_core::Timestamp::from_millis(millis)))
}

/// The first millisecond of the year 1 and the last of the year 9999:
/// the times RFC 3339 can write. Others are no time a question about
/// monitoring can mean (and their arithmetic overflows).
pub(crate) const EARLIEST_TIME_MS: i64 = -62_135_596_800_000;
/// See [`EARLIEST_TIME_MS`].
pub(crate) const LATEST_TIME_MS: i64 = 253_402_300_799_999;

/// A whole-number parameter within `range`, `default` when absent.
pub(crate) fn bounded_number(
    params: &std::collections::HashMap<String, String>,
    name: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ApiError> {
    let Some(text) = params.get(name) else {
        return Ok(default);
    };
    match text.parse::<i64>() {
        Ok(number) if range.contains(&number) => Ok(number),
        _ => Err(ApiError::BadQuery {
            field: name.to_owned(),
            message: format!(
                "`{text}` is not a number from {} to {}",
                range.start(),
                range.end()
            ),
        }),
    }
}

/// Refuses query parameters other than `allowed`.
pub(crate) fn only_params(
    params: &std::collections::HashMap<String, String>,
    allowed: &[&str],
) -> Result<(), ApiError> {
    match params.keys().find(|name| !allowed.contains(&name.as_str())) {
        Some(name) => Err(ApiError::BadQuery {
            field: name.clone(),
            message: format!(
                "unknown parameter `{name}`; expected {}",
                allowed.join(", ")
            ),
        }),
        None => Ok(()),
    }
}

/// Removes the read-only keys a GET answer carries, so that what was read
/// can be sent back as it is.
pub(crate) fn without_read_only(
    mut document: serde_json::Value,
    keys: &[&str],
) -> serde_json::Value {
    if let Some(object) = document.as_object_mut() {
        for key in keys {
            object.remove(*key);
        }
    }
    document
}
