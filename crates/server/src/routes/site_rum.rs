//! RUM queries for one site: `summary` (page views, percentiles of every
//! metric, Core Web Vitals ratings), `timeseries` (one metric and
//! percentile per time bucket, optionally per value of a dimension) and
//! `breakdown` (the top values of one dimension). Every query takes `from` and `to`
//! (RFC 3339 or Unix milliseconds; the last 24 hours by default) and any
//! dimension as a filter (`?device=mobile&page=/cart`), combined with AND.

use super::parse_id;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use sightline_core::Timestamp;
use sightline_core::rum::Aggregate;
use sightline_core::rum::{Dimension, Metric, MetricSet};
use sightline_rum::query::{Scope, aggregate, aggregate_cells, top_values};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(summary))
        .routes(routes!(timeseries))
        .routes(routes!(breakdown))
}

/// The longest period one query may cover.
const MAX_SPAN: Duration = Duration::from_secs(400 * 24 * 3600);

/// Reads `from`, `to` and the dimension filters; anything else is refused.
fn scope(
    params: &HashMap<String, String>,
    now: Timestamp,
    allowed_extra: &[&str],
) -> Result<Scope, ApiError> {
    let time = |name: &str| super::time_param(params, name);
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
    /// Beacons of the site's pages that were not stored, by reason
    /// (`robot`, `origin`, `rate_limit`, `malformed`), counted by the hour:
    /// the hours the period touches. Filters do not apply to them.
    ignored_beacons: BTreeMap<String, i64>,
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
    super::QueryParams(params): super::QueryParams,
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
        ignored_beacons: state
            .store
            .ignored_beacons(site.id, scope.from, scope.to)
            .await?,
    }))
}

fn metric_summary(total: &Aggregate, metric: Metric) -> MetricSummary {
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
    MetricSummary {
        count: total.sketch(metric).map_or(0, |sketch| sketch.count()),
        p50: total.percentile(metric, 50.0),
        p75: total.percentile(metric, 75.0),
        p95: total.percentile(metric, 95.0),
        ratings,
    }
}

fn bad(field: &str, message: String) -> ApiError {
    ApiError::BadQuery {
        field: field.to_owned(),
        message,
    }
}

fn parse_dimension(field: &str, text: &str) -> Result<Dimension, ApiError> {
    Dimension::from_name(text).ok_or_else(|| {
        bad(
            field,
            format!(
                "unknown dimension `{text}`; dimensions are {}",
                Dimension::ALL.map(Dimension::name).join(", ")
            ),
        )
    })
}

/// One point of a series.
#[derive(Serialize, utoipa::ToSchema)]
struct Point {
    /// Start of the bucket, RFC 3339.
    t: String,
    /// Page views in the bucket.
    page_views: u64,
    /// The percentile of the metric; null when no page view measured it.
    value: Option<f64>,
}

/// The points of one group (or of all page views).
#[derive(Serialize, utoipa::ToSchema)]
struct Series {
    /// The group's value; absent without `group_by`.
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    /// Page views of the group in the whole period.
    page_views: u64,
    /// Only buckets that have page views, oldest first.
    points: Vec<Point>,
}

/// A metric's percentile over time.
#[derive(Serialize, utoipa::ToSchema)]
struct Timeseries {
    /// The metric.
    metric: Metric,
    /// The percentile (0 to 100).
    percentile: f64,
    /// Bucket length in seconds.
    bucket_seconds: u64,
    /// One series, or one per group (the largest `limit` groups).
    series: Vec<Series>,
}

/// One metric's percentile per time bucket. `bucket` is a duration (`5m`,
/// `1h`, `1d`; buckets are aligned to the epoch, UTC); `group_by` splits the
/// series by a dimension's values (the `limit` largest, 10 by default).
#[utoipa::path(get, path = "/sites/{id}/rum/timeseries", tag = "rum",
    params(
        ("id" = i64, Path),
        ("metric" = String, Query, description = "a metric name (`lcp`, `inp`, `cls`, `fcp`, `ttfb`, `load`, …)"),
        ("percentile" = Option<f64>, Query, description = "0 to 100; 75 by default"),
        ("bucket" = Option<String>, Query, description = "bucket length, at least 1m; about 100 buckets by default"),
        ("group_by" = Option<String>, Query, description = "a dimension to split the series by"),
        ("limit" = Option<u32>, Query, description = "groups at most, 10 by default"),
        ("from" = Option<String>, Query, description = "start, RFC 3339 or Unix ms"),
        ("to" = Option<String>, Query, description = "end, RFC 3339 or Unix ms"),
    ),
    responses(
        (status = 200, body = Timeseries),
        (status = 400, description = "an unknown parameter or filter", body = ErrorBody),
        (status = 404, body = ErrorBody)
    ))]
async fn timeseries(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
    super::QueryParams(params): super::QueryParams,
) -> ApiResult<Json<Timeseries>> {
    let site = state.store.site(parse_id(&id)?).await?;
    let scope = scope(
        &params,
        state.store.now(),
        &["metric", "percentile", "bucket", "group_by", "limit"],
    )?;
    let metric_name = params
        .get("metric")
        .ok_or_else(|| bad("metric", "a metric is required".to_owned()))?;
    let metric = Metric::from_name(metric_name)
        .ok_or_else(|| bad("metric", format!("unknown metric `{metric_name}`")))?;
    let percentile = match params.get("percentile") {
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|p| (0.0..=100.0).contains(p))
            .ok_or_else(|| {
                bad(
                    "percentile",
                    format!("`{text}` is not a number from 0 to 100"),
                )
            })?,
        None => 75.0,
    };
    let span = scope.to.as_millis() - scope.from.as_millis();
    let bucket = match params.get("bucket") {
        Some(text) => sightline_core::duration_text::parse(text).map_err(|e| bad("bucket", e))?,
        None => default_bucket(span),
    };
    let bucket_ms = i64::try_from(bucket.as_millis()).unwrap_or(i64::MAX);
    if bucket_ms < 60_000 || span / bucket_ms > 10_000 {
        return Err(bad(
            "bucket",
            "buckets must be at least 1m and at most 10000 in the period".to_owned(),
        ));
    }
    let group = params
        .get("group_by")
        .map(|text| parse_dimension("group_by", text))
        .transpose()?;
    let limit = parse_limit(&params)?;
    let only = MetricSet::of(&[metric]);
    let cells =
        aggregate_cells(&state.store, site.id, &scope, Some(bucket_ms), group, only).await?;
    let mut series: BTreeMap<String, Series> = BTreeMap::new();
    for ((start, value), aggregate) in &cells {
        let entry = series.entry(value.clone()).or_insert_with(|| Series {
            group: group.map(|_| value.clone()),
            page_views: 0,
            points: Vec::new(),
        });
        entry.page_views += aggregate.page_views();
        entry.points.push(Point {
            t: Timestamp::from_millis(*start).to_rfc3339(),
            page_views: aggregate.page_views(),
            value: aggregate.percentile(metric, percentile),
        });
    }
    let mut series: Vec<Series> = series.into_values().collect();
    series.sort_by(|a, b| {
        b.page_views
            .cmp(&a.page_views)
            .then_with(|| a.group.cmp(&b.group))
    });
    series.truncate(limit);
    Ok(Json(Timeseries {
        metric,
        percentile,
        bucket_seconds: bucket.as_secs(),
        series,
    }))
}

/// About a hundred buckets of a round length.
fn default_bucket(span_ms: i64) -> Duration {
    const ROUND: [u64; 8] = [
        60,
        300,
        900,
        3600,
        3 * 3600,
        6 * 3600,
        24 * 3600,
        7 * 24 * 3600,
    ];
    let wanted = (span_ms / 100 / 1000).max(60) as u64;
    let seconds = ROUND
        .iter()
        .copied()
        .find(|round| *round >= wanted)
        .unwrap_or(7 * 24 * 3600);
    Duration::from_secs(seconds)
}

fn parse_limit(params: &HashMap<String, String>) -> Result<usize, ApiError> {
    match params.get("limit") {
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=100).contains(limit))
            .ok_or_else(|| bad("limit", format!("`{text}` is not a number from 1 to 100"))),
        None => Ok(10),
    }
}

/// One value of the broken-down dimension.
#[derive(Serialize, utoipa::ToSchema)]
struct BreakdownRow {
    /// The dimension's value.
    value: String,
    /// Page views with it.
    page_views: u64,
    /// The Core Web Vitals and other rated metrics for it.
    metrics: BTreeMap<String, MetricSummary>,
}

/// The top values of a dimension.
#[derive(Serialize, utoipa::ToSchema)]
struct Breakdown {
    /// The dimension.
    dimension: Dimension,
    /// The values with the most page views, most first.
    rows: Vec<BreakdownRow>,
    /// How many values there were in all.
    total_values: usize,
}

/// The values of one dimension with the most page views (`limit`, 10 by
/// default), each with its page views and the rated metrics' percentiles.
#[utoipa::path(get, path = "/sites/{id}/rum/breakdown", tag = "rum",
    params(
        ("id" = i64, Path),
        ("dimension" = String, Query, description = "page, device, browser, browser_version, os, os_version, country or navigation_type"),
        ("limit" = Option<u32>, Query, description = "rows at most, 10 by default"),
        ("from" = Option<String>, Query, description = "start, RFC 3339 or Unix ms"),
        ("to" = Option<String>, Query, description = "end, RFC 3339 or Unix ms"),
    ),
    responses(
        (status = 200, body = Breakdown),
        (status = 400, description = "an unknown parameter or filter", body = ErrorBody),
        (status = 404, body = ErrorBody)
    ))]
async fn breakdown(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
    super::QueryParams(params): super::QueryParams,
) -> ApiResult<Json<Breakdown>> {
    let site = state.store.site(parse_id(&id)?).await?;
    let scope = scope(&params, state.store.now(), &["dimension", "limit"])?;
    let name = params
        .get("dimension")
        .ok_or_else(|| bad("dimension", "a dimension is required".to_owned()))?;
    let dimension = parse_dimension("dimension", name)?;
    let limit = parse_limit(&params)?;
    let rated = MetricSet::of(&Metric::RATED);
    let ranking = top_values(&state.store, site.id, &scope, dimension, limit, rated).await?;
    let rows = ranking
        .top
        .into_iter()
        .map(|(value, aggregate)| BreakdownRow {
            page_views: aggregate.page_views(),
            metrics: Metric::RATED
                .into_iter()
                .map(|metric| (metric.name().to_owned(), metric_summary(&aggregate, metric)))
                .collect(),
            value,
        })
        .collect();
    Ok(Json(Breakdown {
        dimension,
        rows,
        total_values: ranking.values,
    }))
}
