//! Status pages over the API: the pages (what the public sees at
//! `/status/{slug}`) and the incidents people write on them, with their
//! updates.

use super::{parse_id, without_read_only};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::JsonDocument;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sightline_core::StatusPageSpec;
use sightline_core::status_page::{IncidentState, MAX_INCIDENT_TITLE, MAX_UPDATE_TEXT};
use sightline_core::validation::{from_json_value, require_text};
use sightline_store::{NewStatusIncident, StatusIncident, StatusPage};
use std::collections::BTreeSet;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pages, create_page))
        .routes(routes!(preview_page))
        .routes(routes!(get_page, replace_page, delete_page))
        .routes(routes!(list_incidents, create_incident))
        .routes(routes!(get_incident, edit_incident, delete_incident))
        .routes(routes!(add_update))
        .routes(routes!(edit_update))
}

const READ_ONLY: &[&str] = &["id", "url", "created_at", "updated_at"];

/// A status page as the API shows it; what a GET answers can be PUT back.
#[derive(Serialize, utoipa::ToSchema)]
struct PageView {
    /// Stable id.
    id: i64,
    /// Where the public sees it (`/status/shop`).
    url: String,
    /// The page as configured.
    #[serde(flatten)]
    spec: StatusPageSpec,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
}

fn view(page: StatusPage) -> PageView {
    PageView {
        id: page.id,
        url: format!("/status/{}", page.spec.slug),
        spec: page.spec,
        created_at: page.created_at.to_rfc3339(),
        updated_at: page.updated_at.to_rfc3339(),
    }
}

/// Validates a page against what exists: its monitors, sites and vault
/// secrets, and the domains of the other pages and of the server itself.
async fn checked(
    state: &AppState,
    document: serde_json::Value,
    id: Option<i64>,
) -> ApiResult<StatusPageSpec> {
    let spec = StatusPageSpec::from_json(without_read_only(document, READ_ONLY))?;
    let monitors: BTreeSet<String> = state
        .store
        .list_monitors()
        .await?
        .into_iter()
        .map(|monitor| monitor.spec.settings.name)
        .collect();
    let sites: BTreeSet<String> = state
        .store
        .list_sites()
        .await?
        .into_iter()
        .map(|site| site.spec.name)
        .collect();
    let secrets: BTreeSet<String> = state
        .store
        .sealed_secrets()
        .await?
        .into_iter()
        .map(|secret| secret.name)
        .collect();
    spec.validate_names(&monitors, &sites, &secrets)?;
    if let Some(domain) = &spec.domain {
        let own = super::status_public::host_name(super::status_public::public_authority(
            &state.config.public_url,
        ));
        if *domain == own {
            return Err(ApiError::invalid(
                "domain",
                "is this server's own address; a page's domain must be one of its own",
            ));
        }
        let pages = state.store.list_documents::<StatusPageSpec>().await?;
        if let Some(other) = pages
            .iter()
            .find(|page| Some(page.id) != id && page.spec.domain.as_ref() == Some(domain))
        {
            return Err(ApiError::Conflict {
                field: Some("domain".to_owned()),
                message: format!(
                    "`{domain}` is already the domain of page `{}`",
                    other.spec.slug
                ),
            });
        }
    }
    Ok(spec)
}

/// Every status page.
#[utoipa::path(get, path = "/status-pages", tag = "status pages",
    responses((status = 200, body = Vec<PageView>)))]
async fn list_pages(State(state): State<AppState>, _: Principal) -> ApiResult<Json<Vec<PageView>>> {
    let pages = state.store.list_documents::<StatusPageSpec>().await?;
    Ok(Json(pages.into_iter().map(view).collect()))
}

/// Creates a status page (admins and editors). Its components name monitors or a
/// RUM site; the public sees only the components' names.
#[utoipa::path(post, path = "/status-pages", tag = "status pages", request_body = StatusPageSpec,
    responses(
        (status = 201, body = PageView),
        (status = 409, description = "the slug or the domain is taken", body = ErrorBody),
        (status = 422, description = "invalid page", body = ErrorBody)
    ))]
async fn create_page(
    State(state): State<AppState>,
    _: Principal,
    JsonDocument(document): JsonDocument,
) -> ApiResult<(StatusCode, Json<PageView>)> {
    let spec = checked(&state, document, None).await?;
    let page = state.store.create_document(&spec).await?;
    state.status_pages.forget();
    Ok((StatusCode::CREATED, Json(view(page))))
}

/// A page not saved yet, as the public would see it.
#[derive(Serialize, utoipa::ToSchema)]
struct Preview {
    /// The page's HTML, as served at `/status/{slug}`.
    html: String,
}

/// Renders a page from the document given, without saving it (admins
/// and editors): the editor's preview. With the `id` of a saved page, its written
/// incidents are shown too.
#[utoipa::path(post, path = "/status-pages/preview", tag = "status pages", request_body = StatusPageSpec,
    responses((status = 200, body = Preview), (status = 422, description = "invalid page", body = ErrorBody)))]
async fn preview_page(
    State(state): State<AppState>,
    _: Principal,
    JsonDocument(document): JsonDocument,
) -> ApiResult<Json<Preview>> {
    let id = document.get("id").and_then(serde_json::Value::as_i64);
    let spec = checked(&state, document, id).await?;
    let now = state.store.now();
    let page = StatusPage {
        id: id.unwrap_or(0),
        spec,
        created_at: now,
        updated_at: now,
    };
    let html = crate::status::preview(&state, &page).await?;
    Ok(Json(Preview { html }))
}

/// One status page.
#[utoipa::path(get, path = "/status-pages/{id}", tag = "status pages", params(("id" = i64, Path)),
    responses((status = 200, body = PageView), (status = 404, body = ErrorBody)))]
async fn get_page(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<PageView>> {
    let page = state
        .store
        .document::<StatusPageSpec>(parse_id(&id)?)
        .await?;
    Ok(Json(view(page)))
}

/// Replaces a status page (admins and editors).
#[utoipa::path(put, path = "/status-pages/{id}", tag = "status pages", params(("id" = i64, Path)),
    request_body = StatusPageSpec,
    responses(
        (status = 200, body = PageView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "the slug or the domain is taken", body = ErrorBody),
        (status = 422, description = "invalid page", body = ErrorBody)
    ))]
async fn replace_page(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
    JsonDocument(document): JsonDocument,
) -> ApiResult<Json<PageView>> {
    let id = parse_id(&id)?;
    let spec = checked(&state, document, Some(id)).await?;
    let page = state.store.update_document(id, &spec).await?;
    state.status_pages.forget();
    Ok(Json(view(page)))
}

/// Removes a status page with its incidents and subscribers (admins and editors).
#[utoipa::path(delete, path = "/status-pages/{id}", tag = "status pages", params(("id" = i64, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody)))]
async fn delete_page(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_document::<StatusPageSpec>(parse_id(&id)?)
        .await?;
    state.status_pages.forget();
    Ok(StatusCode::NO_CONTENT)
}

/// An incident written on a page.
#[derive(Serialize, utoipa::ToSchema)]
struct IncidentView {
    /// Stable id.
    id: i64,
    /// The page it is on.
    page_id: i64,
    /// Its headline.
    title: String,
    /// The components it affects, by name.
    components: Vec<String>,
    /// Where it stands: its latest update's state.
    state: IncidentState,
    /// Whether the server opened it for a confirmed outage.
    automatic: bool,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
    /// RFC 3339, once resolved.
    resolved_at: Option<String>,
    /// Its updates, oldest first.
    updates: Vec<UpdateView>,
}

/// One update of a written incident.
#[derive(Serialize, utoipa::ToSchema)]
struct UpdateView {
    /// Stable id.
    id: i64,
    /// The incident's state as of this update.
    state: IncidentState,
    /// What it says.
    message: String,
    /// Who wrote it; none when the server did.
    author: Option<String>,
    /// RFC 3339.
    at: String,
}

impl From<StatusIncident> for IncidentView {
    fn from(incident: StatusIncident) -> Self {
        IncidentView {
            id: incident.id,
            page_id: incident.page_id,
            state: incident.state(),
            title: incident.title,
            components: incident.components,
            automatic: incident.auto_key.is_some(),
            created_at: incident.created_at.to_rfc3339(),
            updated_at: incident.updated_at.to_rfc3339(),
            resolved_at: incident.resolved_at.map(|at| at.to_rfc3339()),
            updates: incident
                .updates
                .into_iter()
                .map(|update| UpdateView {
                    id: update.id,
                    state: update.state,
                    message: update.message,
                    author: update.author,
                    at: update.at.to_rfc3339(),
                })
                .collect(),
        }
    }
}

/// A new incident: its headline, the components it affects and its first
/// update.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewIncident {
    /// Its headline (`Checkout is slow`).
    title: String,
    /// The components it affects, by name (on this page).
    #[serde(default)]
    components: Vec<String>,
    /// Where it stands; `investigating` unless said.
    #[serde(default = "investigating")]
    state: IncidentState,
    /// What the first update says.
    message: String,
}

fn investigating() -> IncidentState {
    IncidentState::Investigating
}

/// A change of an incident's headline or components.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct IncidentEdit {
    /// Its new headline.
    title: Option<String>,
    /// The components it affects now.
    components: Option<Vec<String>>,
}

/// A new update.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUpdate {
    /// Where the incident stands now.
    state: IncidentState,
    /// What to tell the page's readers.
    message: String,
}

/// A correction of what an update says.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateEdit {
    /// What it says now.
    message: String,
}

fn check_title(title: &str) -> ApiResult<()> {
    Ok(require_text("title", title, MAX_INCIDENT_TITLE)?)
}

fn check_message(message: &str) -> ApiResult<()> {
    if message.trim().is_empty() {
        return Err(ApiError::invalid("message", "must not be empty"));
    }
    if message.chars().count() > MAX_UPDATE_TEXT {
        return Err(ApiError::invalid(
            "message",
            format!("must be at most {MAX_UPDATE_TEXT} characters"),
        ));
    }
    Ok(())
}

/// Refuses components the page does not have.
fn check_components(page: &StatusPage, components: &[String]) -> ApiResult<()> {
    for (index, name) in components.iter().enumerate() {
        if !page.spec.components().any(|(_, c)| c.name == *name) {
            return Err(ApiError::invalid(
                format!("components[{index}]"),
                format!("the page has no component named `{name}`"),
            ));
        }
    }
    Ok(())
}

/// The incident `incident` of page `page`, or 404.
async fn incident_of(state: &AppState, page: &str, incident: &str) -> ApiResult<StatusIncident> {
    let page = parse_id(page)?;
    let incident = state.store.status_incident(parse_id(incident)?).await?;
    if incident.page_id != page {
        return Err(ApiError::NotFound("status incident"));
    }
    Ok(incident)
}

/// A page's incidents: those open and those of the last 90 days, newest first.
#[utoipa::path(get, path = "/status-pages/{id}/incidents", tag = "status pages", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<IncidentView>), (status = 404, body = ErrorBody)))]
async fn list_incidents(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<IncidentView>>> {
    let page = state
        .store
        .document::<StatusPageSpec>(parse_id(&id)?)
        .await?;
    let since = state
        .store
        .now()
        .minus(std::time::Duration::from_secs(90 * 86_400));
    let incidents = state.store.status_incidents(page.id, since).await?;
    Ok(Json(
        incidents.into_iter().map(IncidentView::from).collect(),
    ))
}

/// Posts an incident on a page with its first update (admins and editors).
#[utoipa::path(post, path = "/status-pages/{id}/incidents", tag = "status pages", params(("id" = i64, Path)),
    request_body = NewIncident,
    responses((status = 201, body = IncidentView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_incident(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonDocument(document): JsonDocument,
) -> ApiResult<(StatusCode, Json<IncidentView>)> {
    let page = state
        .store
        .document::<StatusPageSpec>(parse_id(&id)?)
        .await?;
    let request: NewIncident = from_json_value(document)?;
    check_title(&request.title)?;
    check_message(&request.message)?;
    check_components(&page, &request.components)?;
    let author = principal.user.email.to_string();
    let incident = state
        .store
        .create_status_incident(&NewStatusIncident {
            page_id: page.id,
            title: request.title.trim(),
            components: &request.components,
            auto_key: None,
            state: request.state,
            message: request.message.trim(),
            author: Some(&author),
        })
        .await?
        .ok_or(ApiError::NotFound("status page"))?;
    state.status_pages.forget();
    crate::status::subscriptions::announce(&state, &page, &incident).await?;
    Ok((StatusCode::CREATED, Json(incident.into())))
}

/// One incident of a page.
#[utoipa::path(get, path = "/status-pages/{id}/incidents/{incident}", tag = "status pages",
    params(("id" = i64, Path), ("incident" = i64, Path)),
    responses((status = 200, body = IncidentView), (status = 404, body = ErrorBody)))]
async fn get_incident(
    State(state): State<AppState>,
    _: Principal,
    Path((id, incident)): Path<(String, String)>,
) -> ApiResult<Json<IncidentView>> {
    Ok(Json(incident_of(&state, &id, &incident).await?.into()))
}

/// Changes an incident's headline or components (admins and editors).
#[utoipa::path(patch, path = "/status-pages/{id}/incidents/{incident}", tag = "status pages",
    params(("id" = i64, Path), ("incident" = i64, Path)), request_body = IncidentEdit,
    responses((status = 200, body = IncidentView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn edit_incident(
    State(state): State<AppState>,
    _: Principal,
    Path((id, incident)): Path<(String, String)>,
    JsonDocument(document): JsonDocument,
) -> ApiResult<Json<IncidentView>> {
    let existing = incident_of(&state, &id, &incident).await?;
    let request: IncidentEdit = from_json_value(document)?;
    let page = state
        .store
        .document::<StatusPageSpec>(existing.page_id)
        .await?;
    let title = request.title.unwrap_or(existing.title);
    let components = request.components.unwrap_or(existing.components);
    check_title(&title)?;
    check_components(&page, &components)?;
    let incident = state
        .store
        .edit_status_incident(existing.id, title.trim(), &components)
        .await?;
    state.status_pages.forget();
    Ok(Json(incident.into()))
}

/// Removes an incident and its updates (admins and editors).
#[utoipa::path(delete, path = "/status-pages/{id}/incidents/{incident}", tag = "status pages",
    params(("id" = i64, Path), ("incident" = i64, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody)))]
async fn delete_incident(
    State(state): State<AppState>,
    _: Principal,
    Path((id, incident)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let existing = incident_of(&state, &id, &incident).await?;
    state.store.delete_status_incident(existing.id).await?;
    state.status_pages.forget();
    Ok(StatusCode::NO_CONTENT)
}

/// Adds an update: the incident takes its state (`resolved` ends it; any
/// other state after that opens it again). Admins only.
#[utoipa::path(post, path = "/status-pages/{id}/incidents/{incident}/updates", tag = "status pages",
    params(("id" = i64, Path), ("incident" = i64, Path)), request_body = NewUpdate,
    responses((status = 201, body = IncidentView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_update(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, incident)): Path<(String, String)>,
    JsonDocument(document): JsonDocument,
) -> ApiResult<(StatusCode, Json<IncidentView>)> {
    let existing = incident_of(&state, &id, &incident).await?;
    let request: NewUpdate = from_json_value(document)?;
    check_message(&request.message)?;
    let author = principal.user.email.to_string();
    let incident = state
        .store
        .add_status_update(
            existing.id,
            request.state,
            request.message.trim(),
            Some(&author),
        )
        .await?;
    state.status_pages.forget();
    let page = state
        .store
        .document::<StatusPageSpec>(existing.page_id)
        .await?;
    crate::status::subscriptions::announce(&state, &page, &incident).await?;
    Ok((StatusCode::CREATED, Json(incident.into())))
}

/// Corrects what an update says (admins and editors); its state and time stay.
#[utoipa::path(patch, path = "/status-pages/{id}/incidents/{incident}/updates/{update}", tag = "status pages",
    params(("id" = i64, Path), ("incident" = i64, Path), ("update" = i64, Path)), request_body = UpdateEdit,
    responses((status = 200, body = IncidentView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn edit_update(
    State(state): State<AppState>,
    _: Principal,
    Path((id, incident, update)): Path<(String, String, String)>,
    JsonDocument(document): JsonDocument,
) -> ApiResult<Json<IncidentView>> {
    let existing = incident_of(&state, &id, &incident).await?;
    let request: UpdateEdit = from_json_value(document)?;
    check_message(&request.message)?;
    let incident = state
        .store
        .edit_status_update(existing.id, parse_id(&update)?, request.message.trim())
        .await?;
    state.status_pages.forget();
    Ok(Json(incident.into()))
}
