//! Monitors: create, read, change and remove synthetic checks.

use super::{bounded_number, only_params, parse_id, time_param, without_read_only};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::JsonDocument;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use sightline_core::monitor::CheckReport;
use sightline_core::{MonitorSpec, Timestamp};
use sightline_store::{CheckResult, Monitor, UptimeCounts};
use std::collections::HashMap;
use std::time::Duration;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_monitors, create_monitor))
        .routes(routes!(validate_monitor))
        .routes(routes!(try_monitor))
        .routes(routes!(get_monitor, replace_monitor, delete_monitor))
        .routes(routes!(monitor_results))
        .routes(routes!(monitor_result))
        .routes(routes!(result_screenshot))
        .routes(routes!(monitor_uptime))
        .routes(routes!(monitor_series))
        .routes(routes!(run_monitor))
}

const READ_ONLY: &[&str] = &[
    "id",
    "site_id",
    "status",
    "status_since",
    "endpoint",
    "created_at",
    "updated_at",
];

/// A monitor as the API shows it: its document plus what the server adds.
/// What a GET answers can be PUT back unchanged.
#[derive(Serialize, utoipa::ToSchema)]
struct MonitorView {
    /// Stable id.
    id: i64,
    /// The linked RUM site's id.
    site_id: Option<i64>,
    /// `up`, `degraded`, `down`, `unknown`, `paused` or `maintenance`;
    /// only a confirmed failure makes it `down`.
    status: String,
    /// Since when (RFC 3339).
    status_since: Option<String>,
    /// The host and port it talks to (`shop.example.com:443`), or the host
    /// alone (DNS, ping): one outage of a server takes down the monitors
    /// that share it, and alerts and the overview group them by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    /// The monitor as configured.
    #[serde(flatten)]
    spec: MonitorSpec,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
}

impl From<Monitor> for MonitorView {
    fn from(monitor: Monitor) -> Self {
        let status = monitor.shown_status().to_owned();
        MonitorView {
            id: monitor.id,
            site_id: monitor.site_id,
            status,
            status_since: monitor.status_since.map(|at| at.to_rfc3339()),
            endpoint: monitor.spec.check.endpoint(),
            spec: monitor.spec,
            created_at: monitor.created_at.to_rfc3339(),
            updated_at: monitor.updated_at.to_rfc3339(),
        }
    }
}

/// Every monitor.
#[utoipa::path(get, path = "/monitors", tag = "monitors", responses((status = 200, body = Vec<MonitorView>)))]
async fn list_monitors(
    State(state): State<AppState>,
    _: Principal,
) -> ApiResult<Json<Vec<MonitorView>>> {
    let monitors = state.store.list_monitors().await?;
    Ok(Json(monitors.into_iter().map(MonitorView::from).collect()))
}

/// Creates a monitor (admins and editors). The body is validated against its
/// type; an error names the field.
#[utoipa::path(post, path = "/monitors", tag = "monitors", request_body = MonitorSpec,
    responses(
        (status = 201, body = MonitorView),
        (status = 409, description = "the name is taken", body = ErrorBody),
        (status = 422, description = "invalid monitor", body = ErrorBody)
    ))]
async fn create_monitor(
    State(state): State<AppState>,
    _: Principal,
    JsonDocument(document): JsonDocument,
) -> ApiResult<(StatusCode, Json<MonitorView>)> {
    let spec = parse_monitor(document)?;
    runnable(&state, &spec).await?;
    let monitor = state.store.create_monitor(&spec).await?;
    Ok((StatusCode::CREATED, Json(monitor.into())))
}

/// Checks a monitor's settings without saving them (admins and editors), by the
/// same rules and with the same messages as creating one: for forms that
/// validate as people type. Answers the settings as they would be saved.
#[utoipa::path(post, path = "/monitors/validate", tag = "monitors", request_body = MonitorSpec,
    responses(
        (status = 200, description = "valid", body = MonitorSpec),
        (status = 422, description = "invalid monitor", body = ErrorBody)
    ))]
async fn validate_monitor(
    State(state): State<AppState>,
    _: Principal,
    JsonDocument(document): JsonDocument,
) -> ApiResult<Json<MonitorSpec>> {
    let spec = parse_monitor(document)?;
    runnable(&state, &spec).await?;
    Ok(Json(spec))
}

/// Runs unsaved settings once from this server (admins and editors) and answers
/// what the check found, so that a monitor can be tried before it is saved.
/// Nothing is stored.
#[utoipa::path(post, path = "/monitors/try", tag = "monitors", request_body = MonitorSpec,
    responses(
        (status = 200, description = "what the check found", body = CheckReport),
        (status = 403, description = "asked by a check's own request", body = ErrorBody),
        (status = 422, description = "invalid monitor", body = ErrorBody)
    ))]
async fn try_monitor(
    State(state): State<AppState>,
    _: Principal,
    headers: axum::http::HeaderMap,
    JsonDocument(document): JsonDocument,
) -> ApiResult<Json<CheckReport>> {
    not_from_a_check(&headers)?;
    let spec = parse_monitor(document)?;
    runnable(&state, &spec).await?;
    let report = state
        .synthetic
        .try_once(&spec)
        .await
        .map_err(|error| ApiError::Internal(format!("opening the vault: {error}")))?;
    Ok(Json(report))
}

/// One monitor.
#[utoipa::path(get, path = "/monitors/{id}", tag = "monitors", params(("id" = i64, Path)),
    responses((status = 200, body = MonitorView), (status = 404, body = ErrorBody)))]
async fn get_monitor(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<MonitorView>> {
    Ok(Json(state.store.monitor(parse_id(&id)?).await?.into()))
}

/// Replaces a monitor's configuration; its history stays (admins and editors).
#[utoipa::path(put, path = "/monitors/{id}", tag = "monitors", params(("id" = i64, Path)), request_body = MonitorSpec,
    responses(
        (status = 200, body = MonitorView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody),
        (status = 422, description = "invalid monitor", body = ErrorBody)
    ))]
async fn replace_monitor(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
    JsonDocument(document): JsonDocument,
) -> ApiResult<Json<MonitorView>> {
    let id = parse_id(&id)?;
    let spec = parse_monitor(document)?;
    runnable(&state, &spec).await?;
    Ok(Json(state.store.update_monitor(id, &spec).await?.into()))
}

/// Removes a monitor with its results and incidents (admins and editors).
#[utoipa::path(delete, path = "/monitors/{id}", tag = "monitors", params(("id" = i64, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody)))]
async fn delete_monitor(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.store.delete_monitor(parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One check result as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ResultView {
    /// Stable id.
    id: i64,
    /// The checkpoint that ran it.
    checkpoint: String,
    /// The due time it answers (RFC 3339).
    due_at: String,
    /// When it started (RFC 3339).
    started_at: String,
    /// 0 for the scheduled run, 1 and up for confirmation re-runs.
    attempt: i64,
    /// Ran in a maintenance window: recorded, not counted.
    in_maintenance: bool,
    /// A failure a re-run confirmed.
    confirmed_error: bool,
    /// What the check found: outcome, problem, status, timings, detail.
    #[serde(flatten)]
    report: ReportView,
    /// The screenshots a browser check took, each at its own URL (gone
    /// from there once past screenshot retention).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    screenshots: Vec<ScreenshotLink>,
}

/// What a check found, as a result shows it: the report without the
/// screenshots' bytes, which are served at their own URLs.
#[derive(Serialize, utoipa::ToSchema)]
struct ReportView {
    /// How it went.
    outcome: sightline_core::monitor::CheckOutcome,
    /// Why it was degraded or failed; absent when up.
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<sightline_core::monitor::Problem>,
    /// The (last) HTTP status, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    status_code: Option<u16>,
    /// Timing breakdown.
    timings: sightline_core::monitor::PhaseTimings,
    /// How long the whole check took, in milliseconds.
    duration_ms: i64,
    /// Response size in bytes, where there is a response.
    #[serde(skip_serializing_if = "Option::is_none")]
    response_bytes: Option<i64>,
    /// Type-specific detail (redirects, certificate, answers, steps).
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

impl From<CheckReport> for ReportView {
    fn from(report: CheckReport) -> Self {
        ReportView {
            outcome: report.outcome,
            problem: report.problem,
            status_code: report.status_code,
            timings: report.timings,
            duration_ms: report.duration_ms,
            response_bytes: report.response_bytes,
            detail: report.detail,
        }
    }
}

/// Where a result's screenshot is, and what it shows.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
struct ScreenshotLink {
    /// Its number within the result, from 1.
    number: i64,
    /// What it shows (`failed at step 3`).
    label: String,
    /// The transaction step it was taken at, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    step: Option<i64>,
    /// The PNG image, under `/api/v1`.
    #[serde(default)]
    url: String,
}

impl ResultView {
    fn new(stored: CheckResult, checkpoints: &HashMap<i64, String>) -> Self {
        let mut result = stored.result;
        // The images themselves are served one by one; the detail's list
        // of them becomes links.
        let listed = match &mut result.report.detail {
            serde_json::Value::Object(detail) => detail.remove("screenshots"),
            _ => None,
        };
        let screenshots = listed
            .and_then(|listed| serde_json::from_value::<Vec<ScreenshotLink>>(listed).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|link| ScreenshotLink {
                url: format!(
                    "/api/v1/monitors/{}/results/{}/screenshots/{}",
                    result.monitor_id, stored.id, link.number
                ),
                ..link
            })
            .collect();
        ResultView {
            screenshots,
            id: stored.id,
            checkpoint: checkpoints
                .get(&result.checkpoint_id)
                .cloned()
                .unwrap_or_default(),
            due_at: result.due_at.to_rfc3339(),
            started_at: result.started_at.to_rfc3339(),
            attempt: result.attempt,
            in_maintenance: result.in_maintenance,
            confirmed_error: result.confirmed_error,
            report: result.report.into(),
        }
    }
}

/// The period a report asks for: `to` (default now) and `from` (default
/// `span` before `to`), refused unless `from` comes first.
fn period(
    state: &AppState,
    params: &HashMap<String, String>,
    span: Duration,
) -> ApiResult<(Timestamp, Timestamp)> {
    let to = time_param(params, "to")?.unwrap_or_else(|| state.store.now());
    let from = time_param(params, "from")?.unwrap_or_else(|| to.minus(span));
    if from >= to {
        return Err(ApiError::BadQuery {
            field: "from".to_owned(),
            message: "`from` must be before `to`".to_owned(),
        });
    }
    Ok((from, to))
}

async fn checkpoint_names(state: &AppState) -> ApiResult<HashMap<i64, String>> {
    Ok(state
        .store
        .list_checkpoints()
        .await?
        .into_iter()
        .map(|checkpoint| (checkpoint.id, checkpoint.name))
        .collect())
}

/// A monitor's results, newest first.
#[utoipa::path(get, path = "/monitors/{id}/results", tag = "monitors",
    params(
        ("id" = i64, Path),
        ("from" = Option<String>, Query, description = "start, RFC 3339 or Unix ms (default: 24 h before `to`)"),
        ("to" = Option<String>, Query, description = "end, RFC 3339 or Unix ms (default: now)"),
        ("limit" = Option<i64>, Query, description = "at most this many (default 100, at most 1000)")
    ),
    responses((status = 200, body = Vec<ResultView>), (status = 404, body = ErrorBody)))]
async fn monitor_results(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
    super::QueryParams(params): super::QueryParams,
) -> ApiResult<Json<Vec<ResultView>>> {
    only_params(&params, &["from", "to", "limit"])?;
    let monitor = state.store.monitor(parse_id(&id)?).await?;
    let to = time_param(&params, "to")?
        .unwrap_or_else(|| state.store.now().plus(Duration::from_millis(1)));
    let from =
        time_param(&params, "from")?.unwrap_or_else(|| to.minus(Duration::from_secs(86_400)));
    let limit = bounded_number(&params, "limit", 100, 1..=1000)?;
    let names = checkpoint_names(&state).await?;
    let results = state
        .store
        .check_results(monitor.id, from, to, limit)
        .await?;
    Ok(Json(
        results
            .into_iter()
            .map(|stored| ResultView::new(stored, &names))
            .collect(),
    ))
}

/// One result of a monitor, with its whole detail (the waterfall of a
/// browser check, the steps of a transaction).
#[utoipa::path(get, path = "/monitors/{id}/results/{result_id}", tag = "monitors",
    params(("id" = i64, Path), ("result_id" = i64, Path)),
    responses((status = 200, body = ResultView), (status = 404, body = ErrorBody)))]
async fn monitor_result(
    State(state): State<AppState>,
    _: Principal,
    Path((id, result_id)): Path<(String, String)>,
) -> ApiResult<Json<ResultView>> {
    let stored = state
        .store
        .check_result(parse_id(&id)?, parse_id(&result_id)?)
        .await?;
    let names = checkpoint_names(&state).await?;
    Ok(Json(ResultView::new(stored, &names)))
}

/// A screenshot a browser check took, as PNG.
#[utoipa::path(get, path = "/monitors/{id}/results/{result_id}/screenshots/{number}", tag = "monitors",
    params(("id" = i64, Path), ("result_id" = i64, Path), ("number" = i64, Path, description = "from 1, as the result lists them")),
    responses(
        (status = 200, description = "the image", content_type = "image/png", body = Vec<u8>),
        (status = 404, description = "no such screenshot, or past screenshot retention", body = ErrorBody)
    ))]
async fn result_screenshot(
    State(state): State<AppState>,
    _: Principal,
    Path((id, result_id, number)): Path<(String, String, String)>,
) -> ApiResult<impl IntoResponse> {
    let screenshot = state
        .store
        .screenshot(parse_id(&id)?, parse_id(&result_id)?, parse_id(&number)?)
        .await?
        .ok_or(ApiError::NotFound("screenshot"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            // Screenshots never change once taken.
            (header::CACHE_CONTROL, "private, max-age=86400, immutable"),
        ],
        screenshot.png,
    ))
}

/// Response-time percentiles, in milliseconds.
#[derive(Serialize, utoipa::ToSchema)]
struct ResponsePercentiles {
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
}

/// Uptime over a period: an SLA report counting confirmed errors only.
#[derive(Serialize, utoipa::ToSchema)]
struct UptimeView {
    /// Start of the period (RFC 3339).
    from: String,
    /// End of the period (RFC 3339).
    to: String,
    /// The checks, errors and uptime.
    #[serde(flatten)]
    counts: UptimeCountsView,
    /// Response times of the checks.
    response_ms: ResponsePercentiles,
}

/// A period's checks and uptime, counting confirmed errors only.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UptimeCountsView {
    /// Scheduled checks outside maintenance windows.
    checks: i64,
    /// Failures a re-run confirmed.
    confirmed_errors: i64,
    /// Checks slower than their degraded threshold.
    degraded: i64,
    /// How long it was down in the period, in milliseconds: from the first
    /// failure of each confirmed failing streak to the next passing result
    /// (or a pause, or a maintenance window), up to now; never more than
    /// the period.
    downtime_ms: i64,
    /// Share of checks without a confirmed error; `null` without checks.
    uptime_percent: Option<f64>,
}

impl From<UptimeCounts> for UptimeCountsView {
    fn from(counts: UptimeCounts) -> Self {
        UptimeCountsView {
            checks: counts.checks,
            confirmed_errors: counts.confirmed_errors,
            degraded: counts.degraded,
            downtime_ms: counts.downtime_ms,
            uptime_percent: counts.uptime_percent(),
        }
    }
}

/// A monitor's uptime and response times over any period (default: the
/// last 30 days), answered from hourly and daily summaries.
#[utoipa::path(get, path = "/monitors/{id}/uptime", tag = "monitors",
    params(
        ("id" = i64, Path),
        ("from" = Option<String>, Query, description = "start, RFC 3339 or Unix ms (default: 30 days before `to`)"),
        ("to" = Option<String>, Query, description = "end, RFC 3339 or Unix ms (default: now)")
    ),
    responses((status = 200, body = UptimeView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn monitor_uptime(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
    super::QueryParams(params): super::QueryParams,
) -> ApiResult<Json<UptimeView>> {
    only_params(&params, &["from", "to"])?;
    let monitor = state.store.monitor(parse_id(&id)?).await?;
    let (from, to) = period(&state, &params, Duration::from_secs(30 * 86_400))?;
    let totals = state.store.check_totals(monitor.id, from, to).await?;
    Ok(Json(UptimeView {
        from: from.to_rfc3339(),
        to: to.to_rfc3339(),
        counts: totals.counts.into(),
        response_ms: ResponsePercentiles {
            p50: totals.response_ms.quantile(0.50),
            p95: totals.response_ms.quantile(0.95),
            p99: totals.response_ms.quantile(0.99),
        },
    }))
}

/// Steps a series may have, shortest first: each divides the next day or
/// hour evenly, so that buckets line up with the clock.
const SERIES_STEPS_MS: &[i64] = &[
    60_000,
    120_000,
    300_000,
    600_000,
    900_000,
    1_800_000,
    3_600_000,
    2 * 3_600_000,
    3 * 3_600_000,
    6 * 3_600_000,
    12 * 3_600_000,
    86_400_000,
    7 * 86_400_000,
];

/// The shortest step that covers `span_ms` in at most `buckets` buckets
/// (with room for the partial buckets at either end); `None` when even the
/// longest needs more.
fn series_step(span_ms: i64, buckets: i64) -> Option<i64> {
    SERIES_STEPS_MS
        .iter()
        .copied()
        .find(|step| span_ms.div_euclid(*step) + 2 <= buckets)
}

/// A monitor's checks over a period in equal buckets.
#[derive(Serialize, utoipa::ToSchema)]
struct SeriesView {
    /// The period asked for (RFC 3339).
    from: String,
    /// RFC 3339.
    to: String,
    /// How long each bucket is, in milliseconds: the shortest of 1, 2, 5,
    /// 10, 15 and 30 minutes, 1, 2, 3, 6 and 12 hours, 1 and 7 days that
    /// gives at most `buckets` buckets.
    step_ms: i64,
    /// Oldest first, every bucket present, empty ones with 0 checks.
    buckets: Vec<SeriesBucketView>,
    /// The spans of the maintenance windows covering the monitor that
    /// overlap the period (one-off and recurring), oldest first.
    maintenance: Vec<MaintenanceSpanView>,
}

/// A span of a maintenance window, as a chart shades it.
#[derive(Serialize, utoipa::ToSchema)]
struct MaintenanceSpanView {
    /// The window's name.
    window: String,
    /// Its start, Unix ms.
    start_ms: i64,
    /// Its end, Unix ms.
    end_ms: i64,
}

/// Most maintenance spans a series lists (a window every five minutes for
/// 90 days would otherwise be 26,000).
const MAX_MAINTENANCE_SPANS: usize = 2000;

/// One bucket of a series.
#[derive(Serialize, utoipa::ToSchema)]
struct SeriesBucketView {
    /// Its start, Unix ms.
    start_ms: i64,
    /// Scheduled checks outside maintenance.
    checks: i64,
    /// Failures a re-run confirmed.
    confirmed_errors: i64,
    /// Checks slower than their degraded threshold.
    degraded: i64,
    /// How long the monitor was down within it.
    downtime_ms: i64,
    /// Median response time, milliseconds; `null` without checks.
    p50_ms: Option<f64>,
    /// 95th percentile response time, milliseconds.
    p95_ms: Option<f64>,
}

/// A monitor's checks over any period in equal buckets sized to it (for
/// charts): counts, downtime and response-time quantiles, from the hourly
/// and daily summaries where buckets are whole hours.
#[utoipa::path(get, path = "/monitors/{id}/series", tag = "monitors",
    params(
        ("id" = i64, Path),
        ("from" = Option<String>, Query, description = "start, RFC 3339 or Unix ms (default: 24 h before `to`)"),
        ("to" = Option<String>, Query, description = "end, RFC 3339 or Unix ms (default: now)"),
        ("buckets" = Option<i64>, Query, description = "at most this many buckets (default 120, 10 to 2000)")
    ),
    responses((status = 200, body = SeriesView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn monitor_series(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
    super::QueryParams(params): super::QueryParams,
) -> ApiResult<Json<SeriesView>> {
    only_params(&params, &["from", "to", "buckets"])?;
    let monitor = state.store.monitor(parse_id(&id)?).await?;
    let (from, to) = period(&state, &params, Duration::from_secs(86_400))?;
    let buckets = bounded_number(&params, "buckets", 120, 10..=sightline_store::MAX_BUCKETS)?;
    let span = to.as_millis() - from.as_millis();
    let step = series_step(span, buckets).ok_or_else(|| ApiError::BadQuery {
        field: "buckets".to_owned(),
        message: format!(
            "{buckets} buckets of 7 days cannot cover this period: ask for more buckets or a shorter period"
        ),
    })?;
    let series = state.store.check_series(monitor.id, from, to, step).await?;
    let mut maintenance: Vec<MaintenanceSpanView> = state
        .store
        .list_maintenance_windows()
        .await?
        .into_iter()
        .filter(|window| {
            window
                .spec
                .applies_to(&monitor.spec.settings.name, &monitor.spec.settings.tags)
        })
        .flat_map(|window| {
            window
                .spec
                .spans(from, to, MAX_MAINTENANCE_SPANS)
                .into_iter()
                .map(move |(start, end)| MaintenanceSpanView {
                    window: window.spec.name.clone(),
                    start_ms: start.as_millis(),
                    end_ms: end.as_millis(),
                })
        })
        .collect();
    maintenance.sort_by_key(|span| span.start_ms);
    maintenance.truncate(MAX_MAINTENANCE_SPANS);
    Ok(Json(SeriesView {
        from: from.to_rfc3339(),
        to: to.to_rfc3339(),
        step_ms: step,
        buckets: series
            .into_iter()
            .map(|bucket| SeriesBucketView {
                start_ms: bucket.start,
                checks: bucket.totals.counts.checks,
                confirmed_errors: bucket.totals.counts.confirmed_errors,
                degraded: bucket.totals.counts.degraded,
                downtime_ms: bucket.totals.counts.downtime_ms,
                p50_ms: bucket.totals.response_ms.quantile(0.50),
                p95_ms: bucket.totals.response_ms.quantile(0.95),
            })
            .collect(),
        maintenance,
    }))
}

/// Runs a monitor now from each of its checkpoints (admins and editors) and
/// answers with the results once they are in; 202 with those in so far when
/// remote checkpoints take part or the checks outlast the request.
#[utoipa::path(post, path = "/monitors/{id}/run", tag = "monitors", params(("id" = i64, Path)),
    responses(
        (status = 200, description = "the results", body = Vec<ResultView>),
        (status = 202, description = "queued; the results are not in yet", body = Vec<ResultView>),
        (status = 403, description = "asked by a check's own request", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "a run asked for before is queued or running still", body = ErrorBody)
    ))]
async fn run_monitor(
    State(state): State<AppState>,
    _: Principal,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Vec<ResultView>>)> {
    not_from_a_check(&headers)?;
    let monitor = state.store.monitor(parse_id(&id)?).await?;
    let due_at = state.synthetic.run_now(monitor.id).await?;
    let expected = monitor.spec.settings.checkpoints.len();
    // Remote agents take their jobs at their own pace: only a run that
    // includes this server's own checkpoint is waited for, and never for
    // longer than a request may take.
    let runs_here = monitor
        .spec
        .settings
        .checkpoints
        .iter()
        .any(|name| name == sightline_synthetic::runtime::LOCAL_CHECKPOINT);
    let wait = if runs_here {
        (monitor.spec.timeout() + Duration::from_secs(2)).min(
            state
                .config
                .request_timeout
                .saturating_sub(Duration::from_secs(2)),
        )
    } else {
        Duration::ZERO
    };
    let give_up = tokio::time::Instant::now() + wait;
    loop {
        let found: Vec<CheckResult> = state
            .store
            .check_results(
                monitor.id,
                due_at,
                state.store.now().plus(Duration::from_secs(3600)),
                100,
            )
            .await?
            .into_iter()
            .filter(|stored| stored.result.due_at == due_at && stored.result.attempt == 0)
            .collect();
        let done = found.len() >= expected;
        if done || tokio::time::Instant::now() >= give_up {
            let names = checkpoint_names(&state).await?;
            let status = if done {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            let views = found
                .into_iter()
                .map(|stored| ResultView::new(stored, &names))
                .collect();
            return Ok((status, Json(views)));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Refuses to run checks for a request a check made (it carries
/// [`sightline_synthetic::CHECK_HEADER`]): a monitor whose request runs
/// itself would run without end.
fn not_from_a_check(headers: &axum::http::HeaderMap) -> ApiResult<()> {
    if headers.contains_key(sightline_synthetic::CHECK_HEADER) {
        return Err(ApiError::Forbidden(
            "a check's own request may not run checks (a monitor running itself would run \
             without end)"
                .to_owned(),
        ));
    }
    Ok(())
}

/// A monitor from a request's document (read-only fields left out), or
/// every problem it has at once, so that a form can mark each field.
fn parse_monitor(document: serde_json::Value) -> ApiResult<MonitorSpec> {
    let document = without_read_only(document, READ_ONLY);
    match MonitorSpec::from_json(document.clone()) {
        Ok(spec) => Ok(spec),
        Err(first) => {
            let mut problems = MonitorSpec::problems(&document);
            if problems.is_empty() {
                problems.push(first);
            }
            Err(ApiError::InvalidDocument(problems))
        }
    }
}

/// Refuses what cannot run here: settings naming a vault secret that does
/// not exist, a ping monitor where the system allows no ICMP sockets, a
/// browser monitor where there is no browser, so that it fails now and not
/// on every check. Secrets must exist even for a paused monitor.
async fn runnable(state: &AppState, spec: &MonitorSpec) -> ApiResult<()> {
    if !spec.secret_references().is_empty() {
        let known = state
            .store
            .sealed_secrets()
            .await?
            .into_iter()
            .map(|secret| secret.name)
            .collect();
        spec.validate_secrets(&known)?;
    }
    if !spec.settings.enabled {
        return Ok(());
    }
    let prober = state.synthetic.prober();
    let available = match spec.check {
        sightline_core::CheckSpec::Ping(_) => prober.ping_available(),
        sightline_core::CheckSpec::Browser(_) | sightline_core::CheckSpec::Transaction(_) => {
            prober.browser_available()
        }
        _ => Ok(()),
    };
    available.map_err(|reason| ApiError::invalid("type", reason))
}
