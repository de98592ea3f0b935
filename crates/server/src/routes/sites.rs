//! RUM sites: create, read, change and remove the websites real users are measured on.

use super::{parse_id, without_read_only};
use crate::auth::{self, Principal};
use crate::error::{ApiResult, ErrorBody};
use crate::json::JsonDocument;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use sightline_core::SiteSpec;
use sightline_store::Site;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sites, create_site))
        .routes(routes!(get_site, replace_site, delete_site))
        .routes(routes!(site_watch))
}

const READ_ONLY: &[&str] = &["id", "site_key", "snippet", "created_at", "updated_at"];

/// A site as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
struct SiteView {
    /// Stable id.
    id: i64,
    /// The public key pages send beacons with.
    site_key: String,
    /// The line to paste into the site's pages.
    snippet: String,
    /// What the user configured.
    #[serde(flatten)]
    spec: SiteSpec,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
}

impl SiteView {
    fn new(site: Site, public_url: &str) -> Self {
        let snippet = format!(
            r#"<script async src="{}/rum.js" data-site="{}"></script>"#,
            public_url.trim_end_matches('/'),
            site.site_key
        );
        SiteView {
            id: site.id,
            site_key: site.site_key,
            snippet,
            spec: site.spec,
            created_at: site.created_at.to_rfc3339(),
            updated_at: site.updated_at.to_rfc3339(),
        }
    }
}

/// Every site.
#[utoipa::path(get, path = "/sites", tag = "sites", responses((status = 200, body = Vec<SiteView>)))]
async fn list_sites(State(state): State<AppState>, _: Principal) -> ApiResult<Json<Vec<SiteView>>> {
    let sites = state.store.list_sites().await?;
    let url = &state.config.public_url;
    Ok(Json(
        sites
            .into_iter()
            .map(|site| SiteView::new(site, url))
            .collect(),
    ))
}

/// Creates a site with a new site key (admins and editors).
#[utoipa::path(post, path = "/sites", tag = "sites", request_body = SiteSpec,
    responses(
        (status = 201, body = SiteView),
        (status = 409, description = "the name is taken", body = ErrorBody),
        (status = 422, description = "invalid site", body = ErrorBody)
    ))]
async fn create_site(
    State(state): State<AppState>,
    _: Principal,
    JsonDocument(document): JsonDocument,
) -> ApiResult<(StatusCode, Json<SiteView>)> {
    let spec = SiteSpec::from_json(without_read_only(document, READ_ONLY))?;
    // Site keys are public (they are in every page) but unguessable, so
    // nobody can send beacons for a site they cannot see.
    let site_key = auth::new_secret()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect::<String>();
    let site = state.store.create_site(&spec, &site_key).await?;
    Ok((
        StatusCode::CREATED,
        Json(SiteView::new(site, &state.config.public_url)),
    ))
}

/// One site.
#[utoipa::path(get, path = "/sites/{id}", tag = "sites", params(("id" = i64, Path)),
    responses((status = 200, body = SiteView), (status = 404, body = ErrorBody)))]
async fn get_site(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<SiteView>> {
    let site = state.store.site(parse_id(&id)?).await?;
    Ok(Json(SiteView::new(site, &state.config.public_url)))
}

/// Replaces a site's configuration; its key stays (admins and editors).
#[utoipa::path(put, path = "/sites/{id}", tag = "sites", params(("id" = i64, Path)), request_body = SiteSpec,
    responses(
        (status = 200, body = SiteView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody),
        (status = 422, description = "invalid site", body = ErrorBody)
    ))]
async fn replace_site(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
    JsonDocument(document): JsonDocument,
) -> ApiResult<Json<SiteView>> {
    let id = parse_id(&id)?;
    let spec = SiteSpec::from_json(without_read_only(document, READ_ONLY))?;
    let site = state.store.update_site(id, &spec).await?;
    Ok(Json(SiteView::new(site, &state.config.public_url)))
}

/// Removes a site (admins and editors); refused while monitors are linked to it.
#[utoipa::path(delete, path = "/sites/{id}", tag = "sites", params(("id" = i64, Path)),
    responses(
        (status = 204, description = "removed"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "monitors are linked to it", body = ErrorBody)
    ))]
async fn delete_site(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.store.delete_site(parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a site's silence watch expects now.
#[derive(Serialize, utoipa::ToSchema)]
struct WatchView {
    /// Whether it can tell silence now (a verdict for monitors failing, and
    /// the "is the RUM script still on the pages?" alert).
    armed: bool,
    /// `hour_of_week`, `recent_hours`, `recent_rate` (the first hours:
    /// from 30 minutes of traffic, wary of its short history) or `learning`.
    model: String,
    /// Page views five minutes should bring, 95 % of the time.
    expects: Option<sightline_core::correlation::Expectation>,
    /// The window silence is judged over (seconds).
    silence_window_seconds: Option<u64>,
    /// In words: `watching: expects 55–80 page views per 5 min`.
    summary: String,
}

/// What the site's silence watch expects now: whether it is armed, and the
/// page views it expects in five minutes.
#[utoipa::path(get, path = "/sites/{id}/watch", tag = "sites", params(("id" = i64, Path)),
    responses((status = 200, body = WatchView), (status = 404, body = ErrorBody)))]
async fn site_watch(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<WatchView>> {
    let site = state.store.site(parse_id(&id)?).await?;
    let watch = sightline_alerting::traffic::TrafficWatch::default()
        .watching(&state.store, &site, state.store.now())
        .await?;
    let armed = watch.silence_window.is_some();
    let summary = match (watch.expects, armed) {
        (Some(expects), true) => format!(
            "watching: expects {}–{} page views per 5 min",
            expects.low, expects.high
        ),
        (Some(expects), false) => format!(
            "not armed: {}–{} page views per 5 min are too few to tell silence",
            expects.low, expects.high
        ),
        (None, _) => format!(
            "learning: a verdict after {} min of real-user traffic",
            sightline_core::correlation::MIN_RECENT_SPAN.as_secs() / 60
        ),
    };
    Ok(Json(WatchView {
        armed,
        model: watch.model.to_owned(),
        expects: watch.expects,
        silence_window_seconds: watch.silence_window.map(|window| window.as_secs()),
        summary,
    }))
}
