//! RUM queries for one site: `summary` (page views, percentiles of every
//! metric, Core Web Vitals ratings). Every query takes `from` and `to`
//! (RFC 3339 or Unix milliseconds; the last 24 hours by default) and any
//! dimension as a filter (`?device=mobile&page=/cart`), combined with AND.

use super::parse_id;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Serialize;
use sightline_core::Timestamp;
use sightline_core::rum::{Dimension, Metric};
use sightline_rum::query::{Scope, aggregate};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(summary))
}

/// The longest period one query may cover.
const MAX_SPAN: Duration = Duration::from_secs(400 * 24 * 3600);

/// Reads `from`, `to` and the dimension filters; anything else is refused.
fn scope(
    params: &HashMap<String, String>,
    now: Timestamp,
    allowed_extra: &[&str],
) -> Result<Scope, ApiError> {
    let time = |name: &str| -> Result<Option<Timestamp>, ApiError> {
        let Some(text) = params.get(name) else {
            return Ok(None);
        };
        if let Ok(millis) = text.parse::<i64>() {
            return Ok(Some(Timestamp::from_millis(millis)));
        }
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|time| Some(Timestamp::from_millis(time.timestamp_millis())))
            .map_err(|_| ApiError::BadQuery {
                field: name.to_owned(),
                message: format!("`{text}` is neither an RFC 3339 time nor Unix milliseconds"),
            })
    };
    let to = time("to")?.unwrap_or(now);
    let from = time("from")?.unwrap_or_else(|| to.minus(Duration::from_secs(24 * 3600)));
    if from >= to {
        return Err(ApiError::BadQuery {
            field: "from".to_owned(),
            message: "`from` must be before `to`".to_owned(),
        });
    }
    if to.as_millis() - from.as_millis() > MAX_SPAN.as_millis() as i64 {
        return Err(ApiError::BadQuery {
            field: "from".to_owned(),
            message: "the period may cover at most 400 days".to_owned(),
        });
    }
    let mut filters = Vec::new();
    for (name, value) in params {
        if name == "from" || name == "to" || allowed_extra.contains(&name.as_str()) {
            continue;
        }
        let dimension = Dimension::from_name(name).ok_or_else(|| ApiError::BadQuery {
            field: name.clone(),
            message: format!(
                "unknown filter `{name}`; filters are {}",
                Dimension::ALL.map(Dimension::name).join(", ")
            ),
        })?;
        filters.push((dimension, value.clone()));
    }
    filters.sort();
    Ok(Scope { from, to, filters })
}

/// One metric over the period.
#[derive(Serialize, utoipa::ToSchema)]
struct MetricSummary {
    /// Page views that measured it.
    count: u64,
    /// Median.
    p50: Option<f64>,
    /// 75th percentile (the one Google rates).
    p75: Option<f64>,
    /// 95th percentile.
    p95: Option<f64>,
    /// For Core Web Vitals: the shares of good, needs-improvement and poor values.
    #[serde(skip_serializing_if = "Option::is_none")]
    ratings: Option<RatingShares>,
}

/// Shares (0 to 1) of values by Google's thresholds.
#[derive(Serialize, utoipa::ToSchema)]
struct RatingShares {
    /// At or below the "good" threshold.
    good: f64,
    /// Between the thresholds.
    needs_improvement: f64,
    /// Above the "poor" threshold.
    poor: f64,
}

/// What a site's real users saw over a period.
#[derive(Serialize, utoipa::ToSchema)]
struct Summary {
    /// RFC 3339, inclusive.
    from: String,
    /// RFC 3339, exclusive.
    to: String,
    /// The filters applied.
    filters: BTreeMap<String, String>,
    /// Page views in the period.
    page_views: u64,
    /// Every metric by name (percentiles within 1 %).
    metrics: BTreeMap<String, MetricSummary>,
}

/// Page views and the percentiles and ratings of every metric over a period.
#[utoipa::path(get, path = "/sites/{id}/rum/summary", tag = "rum",
    params(
        ("id" = i64, Path),
        ("from" = Option<String>, Query, description = "start, RFC 3339 or Unix ms (default: 24 h before `to`)"),
        ("to" = Option<String>, Query, description = "end, RFC 3339 or Unix ms (default: now)"),
    ),
    responses(
        (status = 200, body = Summary),
        (status = 400, description = "an unknown filter or a malformed time", body = ErrorBody),
        (status = 404, body = ErrorBody)
    ))]
async fn summary(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Summary>> {
    let site = state.store.site(parse_id(&id)?).await?;
    let scope = scope(&params, state.store.now(), &[])?;
    let total = aggregate(&state.store, site.id, &scope).await?;
    let metrics = Metric::ALL
        .into_iter()
        .map(|metric| {
            let ratings = total
                .ratings(metric)
                .map(|[good, needs_improvement, poor]| {
                    let all = (good + needs_improvement + poor).max(1) as f64;
                    RatingShares {
                        good: good as f64 / all,
                        needs_improvement: needs_improvement as f64 / all,
                        poor: poor as f64 / all,
                    }
                });
            let summary = MetricSummary {
                count: total.sketch(metric).map_or(0, |sketch| sketch.count()),
                p50: total.percentile(metric, 50.0),
                p75: total.percentile(metric, 75.0),
                p95: total.percentile(metric, 95.0),
                ratings,
            };
            (metric.name().to_owned(), summary)
        })
        .collect();
    Ok(Json(Summary {
        from: scope.from.to_rfc3339(),
        to: scope.to.to_rfc3339(),
        filters: scope
            .filters
            .iter()
            .map(|(d, v)| (d.name().to_owned(), v.clone()))
            .collect(),
        page_views: total.page_views(),
        metrics,
    }))
}
