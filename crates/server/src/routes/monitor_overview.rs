//! `GET /api/v1/monitors/overview`: every monitor's latest results and
//! uptime over a few periods in one answer, so that a dashboard of a
//! thousand monitors costs one request, not three thousand.

use super::monitors::UptimeCountsView;
use super::only_params;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use sightline_core::Timestamp;
use sightline_core::duration_text;
use sightline_store::{MonitorDigest, RecentResult};
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The periods asked for when the request names none.
const DEFAULT_PERIODS: &str = "24h,7d,30d";
/// At most this many periods per request.
const MAX_PERIODS: usize = 6;
/// The longest period: summaries are kept for years, but an overview is
/// about recent health.
const LONGEST_PERIOD: Duration = Duration::from_secs(400 * 86_400);

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(monitors_overview))
}

/// Every monitor at a glance.
#[derive(Serialize, utoipa::ToSchema)]
struct OverviewView {
    /// When the figures were taken (RFC 3339).
    at: String,
    /// The periods of `uptime`, as asked for (`24h`, `7d`, …).
    periods: Vec<String>,
    /// One entry per monitor, by id.
    monitors: Vec<MonitorDigestView>,
}

/// One monitor's latest results and uptime.
#[derive(Serialize, utoipa::ToSchema)]
struct MonitorDigestView {
    /// The monitor's id.
    monitor_id: i64,
    /// Its latest results (up to 30), oldest first.
    recent: Vec<RecentResultView>,
    /// Its uptime over each period, keyed by the period as asked for.
    uptime: BTreeMap<String, UptimeCountsView>,
}

/// One of a monitor's latest results.
#[derive(Serialize, utoipa::ToSchema)]
struct RecentResultView {
    /// The result's id, under `/monitors/{id}/results/{result_id}`.
    id: i64,
    /// When it started (RFC 3339).
    started_at: String,
    /// How long it took, in milliseconds.
    duration_ms: i64,
    /// `up`, `degraded` or `error`.
    outcome: String,
    /// 0 for the scheduled run, 1 and up for confirmation re-runs.
    attempt: i64,
    /// What went wrong, for errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl From<RecentResult> for RecentResultView {
    fn from(result: RecentResult) -> Self {
        RecentResultView {
            id: result.id,
            started_at: Timestamp::from(result.started_at).to_rfc3339(),
            duration_ms: result.duration_ms,
            outcome: result.outcome,
            attempt: result.attempt,
            error: result.error_message,
        }
    }
}

/// Every monitor's latest results (up to 30, for a sparkline or a status
/// strip) and its uptime over each period. Periods end now and start on
/// the hour: `24h` is the 24 whole hours before the current one and the
/// current one so far.
#[utoipa::path(get, path = "/monitors/overview", tag = "monitors",
    params(
        ("periods" = Option<String>, Query, description = "comma-separated durations (default `24h,7d,30d`), each a whole number of hours up to 400 days")
    ),
    responses((status = 200, body = OverviewView), (status = 400, body = ErrorBody)))]
async fn monitors_overview(
    State(state): State<AppState>,
    _: Principal,
    super::QueryParams(params): super::QueryParams,
) -> ApiResult<Json<OverviewView>> {
    only_params(&params, &["periods"])?;
    let names = params
        .get("periods")
        .map(String::as_str)
        .unwrap_or(DEFAULT_PERIODS);
    let periods = parse_periods(names)?;
    let now = state.store.now();
    let durations: Vec<Duration> = periods.iter().map(|(_, duration)| *duration).collect();
    let digests = state.store.monitor_digests(now, &durations).await?;
    let names: Vec<String> = periods.into_iter().map(|(name, _)| name).collect();
    Ok(Json(OverviewView {
        at: now.to_rfc3339(),
        monitors: digests
            .into_iter()
            .map(|digest| digest_view(digest, &names))
            .collect(),
        periods: names,
    }))
}

fn digest_view(digest: MonitorDigest, names: &[String]) -> MonitorDigestView {
    MonitorDigestView {
        monitor_id: digest.monitor_id,
        recent: digest.recent.into_iter().map(Into::into).collect(),
        uptime: names
            .iter()
            .cloned()
            .zip(digest.periods.into_iter().map(Into::into))
            .collect(),
    }
}

/// `24h,7d,30d` as names and durations; an error names the bad one.
fn parse_periods(text: &str) -> Result<Vec<(String, Duration)>, ApiError> {
    let bad = |message: String| ApiError::BadQuery {
        field: "periods".to_owned(),
        message,
    };
    let mut periods: Vec<(String, Duration)> = Vec::new();
    for name in text.split(',').map(str::trim) {
        let duration = duration_text::parse(name).map_err(|e| bad(format!("`{name}`: {e}")))?;
        if duration.is_zero() || duration.as_secs() % 3600 != 0 {
            return Err(bad(format!("`{name}` is not a whole number of hours")));
        }
        if duration > LONGEST_PERIOD {
            return Err(bad(format!("`{name}` is longer than 400 days")));
        }
        if periods.iter().any(|(known, _)| known == name) {
            return Err(bad(format!("`{name}` is asked for twice")));
        }
        periods.push((name.to_owned(), duration));
    }
    if periods.len() > MAX_PERIODS {
        return Err(bad(format!("at most {MAX_PERIODS} periods")));
    }
    Ok(periods)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_whole_hours_named_once() {
        let periods = parse_periods("24h, 7d,30d").unwrap();
        assert_eq!(
            periods,
            [
                ("24h".to_owned(), Duration::from_secs(86_400)),
                ("7d".to_owned(), Duration::from_secs(7 * 86_400)),
                ("30d".to_owned(), Duration::from_secs(30 * 86_400)),
            ]
        );
        for (text, problem) in [
            ("90m", "whole number of hours"),
            ("0h", "whole number of hours"),
            ("2y", "`2y`"),
            ("500d", "longer than 400 days"),
            ("1h,1h", "twice"),
            ("1h,2h,3h,4h,5h,6h,7h", "at most 6"),
            ("", "``"),
        ] {
            let error = parse_periods(text).unwrap_err().to_string();
            assert!(error.contains(problem), "{text}: {error}");
        }
    }
}
