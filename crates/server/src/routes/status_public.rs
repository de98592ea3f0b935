//! The public side of status pages: the page at `/status/{slug}` (or at
//! `/` of its own domain), its JSON, Atom feed, badges and logo, and the
//! password form of a private page. Every answer comes from the page's
//! snapshot (see [`crate::status`]); none needs a session, and none says
//! more than the page shows.

use crate::state::AppState;
use crate::status::{Access, Snapshot, digest, render, same_digest, subscriptions};
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::Arc;

/// What a status page's HTML may load: its own inline style and images
/// from its own origin; no script at all; framed only by the UI's preview.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
    form-action 'self'; frame-ancestors 'self'; base-uri 'none'";

/// The cookie that says a visitor typed a private page's password.
const ACCESS_COOKIE: &str = "sightline_status";

/// A request that came in on a page's own domain (its path was rewritten
/// to the page's).
#[derive(Clone, Copy, Debug)]
pub(crate) struct OwnDomain;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/status", get(not_found))
        .route("/status/{slug}", get(page))
        .route("/status/{slug}/access", post(unlock))
        .route("/status/{slug}/status.json", get(json))
        .route("/status/{slug}/feed.atom", get(feed))
        .route("/status/{slug}/badges/{key}/{kind}", get(badge))
        .route("/status/{slug}/logo", get(logo))
        .route("/status/{slug}/subscribe", post(subscribe))
        .route(
            "/status/{slug}/confirm/{token}",
            get(confirm_form).post(confirm),
        )
        .route(
            "/status/{slug}/unsubscribe/{token}",
            get(unsubscribe_form).post(unsubscribe),
        )
}

/// Serves a page's own domain: a request whose `Host` is a page's domain
/// is answered as the page's address (`/` is the page, `/feed.atom` its
/// feed); nothing else of the server is reachable there.
pub(crate) async fn own_domains(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(host_name);
    let ours = host.as_deref().is_some_and(|host| {
        host == host_name(public_authority(&state.config.public_url))
            || host == "localhost"
            || host.parse::<std::net::IpAddr>().is_ok()
            || host.starts_with('[')
    });
    if let (Some(host), false) = (host, ours)
        && let Some(slug) = state.status_pages.slug_of_domain(&state, &host).await
    {
        let path = request.uri().path();
        let rewritten = if path == "/" {
            format!("/status/{slug}")
        } else {
            format!("/status/{slug}{path}")
        };
        let query = request
            .uri()
            .query()
            .map(|query| format!("?{query}"))
            .unwrap_or_default();
        if let Ok(uri) = format!("{rewritten}{query}").parse() {
            *request.uri_mut() = uri;
            request.extensions_mut().insert(OwnDomain);
        }
    }
    next.run(request).await
}

pub(crate) fn public_authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// A `Host` without its port, in lower case.
pub(crate) fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if host.starts_with('[') {
        host.split(']').next().map_or(host, |h| h).to_owned() + "]"
    } else {
        host.rsplit_once(':')
            .map_or(host, |(name, _)| name)
            .to_owned()
    };
    name.to_ascii_lowercase()
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_POLICY),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The plain 404 page of status pages (the application's fallback for
/// any path under `/status/`).
pub(crate) async fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        render::notice_html(
            "Page not found",
            "There is no status page at this address.",
            None,
            None,
        ),
    )
}

/// Where the page's own addresses start.
fn base(slug: &str, own_domain: bool) -> String {
    if own_domain {
        String::new()
    } else {
        format!("/status/{slug}")
    }
}

/// The page's home: `/` on its own domain, else `/status/{slug}`.
fn home(slug: &str, own_domain: bool) -> String {
    if own_domain {
        "/".to_owned()
    } else {
        base(slug, false)
    }
}

/// The snapshot of the page, or the answer instead of it: 404 for no such
/// page, 401 for a private page the visitor has not unlocked.
async fn visible(
    state: &AppState,
    slug: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    own_domain: bool,
) -> Result<Arc<Snapshot>, Response> {
    let snapshot = match state.status_pages.snapshot(state, slug).await {
        Ok(Some(snapshot)) => snapshot,
        Ok(None) => return Err(not_found().await),
        Err(error) => {
            tracing::error!(%error, "building a status page");
            return Err(html(
                StatusCode::SERVICE_UNAVAILABLE,
                render::notice_html(
                    "Status unavailable",
                    "This status page cannot be shown right now. Try again in a minute.",
                    None,
                    None,
                ),
            ));
        }
    };
    let allowed = match &snapshot.access {
        Access::Public => true,
        Access::Closed => false,
        Access::Password(hash) => {
            let expected = state.status_pages.access_cookie(slug, hash);
            crate::auth::cookie_values(headers, ACCESS_COOKIE)
                .any(|value| same_digest(&digest(&value), &digest(&expected)))
        }
        Access::Token(hash) => crate::auth::bearer_token(headers)
            .or(query.get("token").map(String::as_str))
            .is_some_and(|token| same_digest(&digest(token), hash)),
    };
    if allowed {
        return Ok(snapshot);
    }
    let form = format!("{}/access", base(slug, own_domain));
    let (message, form) = match snapshot.access {
        Access::Password(_) => (
            "This status page is private. Type its password to see it.",
            Some(form.as_str()),
        ),
        Access::Token(_) => ("This status page is private: open it with its token.", None),
        _ => ("This status page is private.", None),
    };
    Err(html(
        StatusCode::UNAUTHORIZED,
        render::notice_html("Private status page", message, form, None),
    ))
}

/// A snapshot's answer with `Last-Modified` (and 304 for a client that has
/// it), kept by caches no longer than the snapshot stands; a private page
/// is kept by no shared cache.
fn respond(
    state: &AppState,
    snapshot: &Snapshot,
    asset: &crate::assets::CompressedAsset,
    headers: &HeaderMap,
) -> Response {
    let private = snapshot.access != Access::Public;
    let cache = if private {
        "private, no-cache"
    } else {
        match state.status_pages.refresh().as_secs() {
            0..=5 => "public, max-age=5",
            _ => "public, max-age=30",
        }
    };
    let modified = httpdate::fmt_http_date(snapshot.changed_at);
    let unchanged_since = headers.get(header::IF_NONE_MATCH).is_none()
        && headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|since| since.to_str().ok())
            .and_then(|since| httpdate::parse_http_date(since).ok())
            .is_some_and(|since| {
                httpdate::parse_http_date(&modified).is_ok_and(|modified| modified <= since)
            });
    let mut response = if unchanged_since {
        let mut response = asset.respond(headers, cache);
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        *response.body_mut() = axum::body::Body::empty();
        response.headers_mut().remove(header::CONTENT_ENCODING);
        response
    } else {
        asset.respond(headers, cache)
    };
    if let Ok(value) = HeaderValue::from_str(&modified) {
        response.headers_mut().insert(header::LAST_MODIFIED, value);
    }
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    response
}

async fn page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    own: Option<axum::Extension<OwnDomain>>,
    headers: HeaderMap,
) -> Response {
    let own_domain = own.is_some();
    match visible(&state, &slug, &headers, &query, own_domain).await {
        Ok(snapshot) => {
            let asset = match (&snapshot.html_own_domain, own_domain) {
                (Some(asset), true) => asset,
                _ => &snapshot.html,
            };
            respond(&state, &snapshot, asset, &headers)
        }
        Err(response) => response,
    }
}

async fn json(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    own: Option<axum::Extension<OwnDomain>>,
    headers: HeaderMap,
) -> Response {
    match visible(&state, &slug, &headers, &query, own.is_some()).await {
        Ok(snapshot) => respond(&state, &snapshot, &snapshot.json, &headers),
        Err(response) => response,
    }
}

async fn feed(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    own: Option<axum::Extension<OwnDomain>>,
    headers: HeaderMap,
) -> Response {
    match visible(&state, &slug, &headers, &query, own.is_some()).await {
        Ok(snapshot) => respond(&state, &snapshot, &snapshot.feed, &headers),
        Err(response) => response,
    }
}

async fn badge(
    State(state): State<AppState>,
    Path((slug, key, kind)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    own: Option<axum::Extension<OwnDomain>>,
    headers: HeaderMap,
) -> Response {
    let snapshot = match visible(&state, &slug, &headers, &query, own.is_some()).await {
        Ok(snapshot) => snapshot,
        Err(response) => return response,
    };
    let Some((status, uptime)) = snapshot.badges.get(&key) else {
        return not_found().await;
    };
    match kind.as_str() {
        "state.svg" => respond(&state, &snapshot, status, &headers),
        "uptime.svg" => respond(&state, &snapshot, uptime, &headers),
        _ => not_found().await,
    }
}

async fn logo(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    own: Option<axum::Extension<OwnDomain>>,
    headers: HeaderMap,
) -> Response {
    let snapshot = match visible(&state, &slug, &headers, &query, own.is_some()).await {
        Ok(snapshot) => snapshot,
        Err(response) => return response,
    };
    let Some(logo) = &snapshot.logo else {
        return not_found().await;
    };
    (
        [
            (header::CONTENT_TYPE, logo.media_type.clone()),
            (header::CACHE_CONTROL, "public, max-age=300".to_owned()),
            // An SVG opened on its own runs nothing.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; sandbox".to_owned(),
            ),
        ],
        logo.bytes.clone(),
    )
        .into_response()
}

/// The subscription form.
#[derive(serde::Deserialize)]
struct Subscription {
    #[serde(default)]
    email: String,
}

fn notice(status: StatusCode, heading: &str, message: &str, back: &str) -> Response {
    html(
        status,
        render::notice_html(heading, message, None, Some(back)),
    )
}

async fn subscribe(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    own: Option<axum::Extension<OwnDomain>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<Subscription>,
) -> Response {
    let own_domain = own.is_some();
    if let Err(response) = visible(&state, &slug, &headers, &query, own_domain).await {
        return response;
    }
    let back = home(&slug, own_domain);
    let Ok(address) = sightline_core::Email::parse(form.email.trim()) else {
        return notice(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not an e-mail address",
            "Type the address the updates should go to, like you@example.com.",
            &back,
        );
    };
    if !state.status_pages.may_subscribe(&slug) {
        return notice(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many subscriptions",
            "Too many subscriptions were asked for on this page just now. Try again in a minute.",
            &back,
        );
    }
    let page = match state.status_pages.page(&state, &slug).await {
        Ok(Some(page)) => page,
        Ok(None) => return not_found().await,
        Err(error) => return crate::error::ApiError::from(error).into_response(),
    };
    if let Err(error) = subscriptions::subscribe(&state, &page, &address.to_string()).await {
        tracing::error!(%error, "subscribing to a status page");
        return notice(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not subscribed",
            "The subscription could not be recorded. Try again in a minute.",
            &back,
        );
    }
    notice(
        StatusCode::OK,
        "Check your inbox",
        &format!(
            "If {address} does not follow this page yet, a message is on its way with a link that confirms the subscription."
        ),
        &back,
    )
}

async fn confirm_form(
    Path((slug, token)): Path<(String, String)>,
    own: Option<axum::Extension<OwnDomain>>,
) -> Response {
    if !subscriptions::plausible_token(&token) {
        return not_found().await;
    }
    let action = format!("{}/confirm/{token}", base(&slug, own.is_some()));
    html(
        StatusCode::OK,
        render::confirm_html(
            "Confirm your subscription",
            "You will get an e-mail whenever this page posts about an incident.",
            &action,
            "Confirm",
        ),
    )
}

async fn confirm(
    State(state): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    own: Option<axum::Extension<OwnDomain>>,
) -> Response {
    let back = home(&slug, own.is_some());
    let confirmed = state
        .store
        .confirm_status_subscriber(&crate::auth::secret_hash(&token))
        .await;
    match confirmed {
        Ok(Some(_)) => notice(
            StatusCode::OK,
            "You are subscribed",
            "You will get an e-mail whenever this page posts about an incident. Each one has a link to stop them.",
            &back,
        ),
        Ok(None) => notice(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "This confirmation link is not valid any more. Subscribe again from the page.",
            &back,
        ),
        Err(error) => crate::error::ApiError::from(error).into_response(),
    }
}

async fn unsubscribe_form(
    State(state): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    own: Option<axum::Extension<OwnDomain>>,
) -> Response {
    if subscriptions::unsubscribe_id(&state, &token).is_none() {
        return not_found().await;
    }
    let action = format!("{}/unsubscribe/{token}", base(&slug, own.is_some()));
    html(
        StatusCode::OK,
        render::confirm_html(
            "Unsubscribe",
            "You will get no more e-mail about incidents on this page.",
            &action,
            "Unsubscribe",
        ),
    )
}

async fn unsubscribe(
    State(state): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    own: Option<axum::Extension<OwnDomain>>,
) -> Response {
    let back = home(&slug, own.is_some());
    let Some(id) = subscriptions::unsubscribe_id(&state, &token) else {
        return not_found().await;
    };
    let subscriber = match state.store.status_subscriber(id).await {
        Ok(subscriber) => subscriber,
        Err(error) => return crate::error::ApiError::from(error).into_response(),
    };
    if let Some(subscriber) = subscriber {
        let page = state
            .store
            .document::<sightline_core::StatusPageSpec>(subscriber.page_id)
            .await;
        if let Err(error) = state.store.remove_status_subscriber(id).await {
            return crate::error::ApiError::from(error).into_response();
        }
        if let Ok(page) = page
            && let Err(error) = subscriptions::farewell(&state, &page.spec, &subscriber).await
        {
            tracing::warn!(%error, "telling a subscriber they are unsubscribed");
        }
    }
    notice(
        StatusCode::OK,
        "Unsubscribed",
        "You will get no more e-mail about incidents on this page.",
        &back,
    )
}

/// The password form of a private page.
#[derive(serde::Deserialize)]
struct Unlock {
    #[serde(default)]
    password: String,
}

async fn unlock(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    own: Option<axum::Extension<OwnDomain>>,
    axum::Form(form): axum::Form<Unlock>,
) -> Response {
    let own_domain = own.is_some();
    let snapshot = match state.status_pages.snapshot(&state, &slug).await {
        Ok(Some(snapshot)) => snapshot,
        _ => return not_found().await,
    };
    let Access::Password(hash) = &snapshot.access else {
        return not_found().await;
    };
    let page = base(&slug, own_domain);
    let home = home(&slug, own_domain);
    if !state.status_pages.may_try_password(&slug) {
        return html(
            StatusCode::TOO_MANY_REQUESTS,
            render::notice_html(
                "Too many attempts",
                "Too many wrong passwords were typed for this page. Wait a minute and try again.",
                None,
                None,
            ),
        );
    }
    if !same_digest(&digest(&form.password), hash) {
        return html(
            StatusCode::UNAUTHORIZED,
            render::notice_html(
                "Private status page",
                "That password is not this page's. Try again.",
                Some(&format!("{page}/access")),
                None,
            ),
        );
    }
    let cookie =
        cookie::Cookie::build((ACCESS_COOKIE, state.status_pages.access_cookie(&slug, hash)))
            .path(home.clone())
            .http_only(true)
            .same_site(cookie::SameSite::Lax)
            .secure(state.config.secure_cookies)
            .max_age(cookie::time::Duration::days(30))
            .build()
            .to_string();
    let mut response = Redirect::to(&home).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_their_port_and_case() {
        assert_eq!(host_name("Status.Shop.Example:8443"), "status.shop.example");
        assert_eq!(host_name("status.shop.example"), "status.shop.example");
        assert_eq!(host_name("[::1]:8080"), "[::1]");
        assert_eq!(
            public_authority("https://mon.example.com/base"),
            "mon.example.com"
        );
    }
}
