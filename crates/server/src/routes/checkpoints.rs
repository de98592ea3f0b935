//! Checkpoints and the protocol every checkpoint speaks: lease due checks,
//! run them, report the results. The local checkpoint uses the same steps
//! in-process; a remote agent uses these endpoints with a token bound to
//! its checkpoint.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::{BodyLimit, JsonDocument};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sightline_core::MonitorSpec;
use sightline_store::JobStanding;
use sightline_synthetic::JobReport;
use sightline_synthetic::scheduler::LOOKAHEAD;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The largest batch of reports an agent may send: screenshots of browser
/// checks travel in them.
pub const REPORT_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// How every PNG file begins.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

pub(super) fn router() -> OpenApiRouter<AppState> {
    let reports = OpenApiRouter::new()
        .routes(routes!(report))
        .layer(axum::Extension(BodyLimit(REPORT_BODY_LIMIT)))
        .layer(axum::extract::DefaultBodyLimit::max(REPORT_BODY_LIMIT));
    OpenApiRouter::new()
        .routes(routes!(list_checkpoints))
        .routes(routes!(lease))
        .merge(reports)
}

/// A checkpoint as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
struct CheckpointView {
    /// Stable id.
    id: i64,
    /// Name, as monitors refer to it.
    name: String,
    /// When it last leased work or reported (RFC 3339), if ever.
    last_seen_at: Option<String>,
    /// The version its agent reported.
    agent_version: Option<String>,
    /// `online`, or `offline` once it has made no contact for the server's
    /// `--checkpoint-offline-after` (its checks then run from the monitors'
    /// other checkpoints).
    #[schema(example = "online")]
    status: &'static str,
}

/// Every checkpoint.
#[utoipa::path(get, path = "/checkpoints", tag = "checkpoints", responses((status = 200, body = Vec<CheckpointView>)))]
async fn list_checkpoints(
    State(state): State<AppState>,
    _: Principal,
) -> ApiResult<Json<Vec<CheckpointView>>> {
    let checkpoints = state.store.list_checkpoints().await?;
    let now = state.store.now();
    let offline_after = state.config.synthetic.offline_after;
    Ok(Json(
        checkpoints
            .into_iter()
            .map(|checkpoint| CheckpointView {
                status: if checkpoint.is_offline(now, offline_after) {
                    "offline"
                } else {
                    "online"
                },
                id: checkpoint.id,
                name: checkpoint.name,
                last_seen_at: checkpoint
                    .last_seen_at
                    .map(|at| sightline_core::Timestamp::from(at).to_rfc3339()),
                agent_version: checkpoint.agent_version,
            })
            .collect(),
    ))
}

/// What an agent asks for.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LeaseRequest {
    /// At most this many jobs (0 to 1000). 0 leases nothing and only says
    /// the checkpoint is alive: an agent busy with as many checks as it may
    /// run sends it so as not to be taken for offline.
    #[schema(minimum = 0, maximum = 1000)]
    max: i64,
    /// The agent's version, shown with the checkpoint.
    #[serde(default)]
    agent_version: Option<String>,
}

/// A leased job: what to check and for which due time.
#[derive(Serialize, utoipa::ToSchema)]
struct LeasedJobView {
    /// The proof of this lease: send it back with the result, which is
    /// refused without it.
    lease: String,
    /// Report with this id.
    job_id: i64,
    /// The monitor.
    monitor_id: i64,
    /// The due time (Unix ms); start the check then.
    due_at: i64,
    /// 0 for the scheduled run, 1 and up for confirmations.
    attempt: i64,
    /// Until when the lease holds (Unix ms).
    leased_until: i64,
    /// The monitor's settings.
    spec: MonitorSpec,
}

/// What a lease hands out: the jobs, and the vault secrets they use (the
/// agent keeps them in memory for those checks only).
#[derive(Serialize, utoipa::ToSchema)]
struct LeaseView {
    /// The jobs, due soonest first.
    jobs: Vec<LeasedJobView>,
    /// `{{secrets.NAME}}` values the jobs' settings use, by name.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    secrets: std::collections::BTreeMap<String, String>,
}

/// The checkpoint a request acts for: only a token bound to it may speak
/// its protocol. Nobody else, an admin included, may lease its jobs (the
/// lease hands out vault secrets in clear) or report for it.
async fn acting_checkpoint(state: &AppState, principal: &Principal, name: &str) -> ApiResult<i64> {
    sightline_core::monitor::validate_checkpoint_name(name).map_err(|e| e.within("name"))?;
    let Some(bound) = principal.checkpoint_id else {
        return Err(ApiError::Forbidden(format!(
            "only an agent token bound to checkpoint `{name}` may lease or report its checks \
             (create one with `sightline token create --checkpoint {name}`)"
        )));
    };
    let checkpoint = state.store.ensure_checkpoint(name).await?;
    if bound != checkpoint.id {
        return Err(ApiError::Forbidden(format!(
            "this token is bound to another checkpoint, not `{name}`"
        )));
    }
    Ok(checkpoint.id)
}

/// Leases due checks for a checkpoint (agent protocol, step 1).
#[utoipa::path(post, path = "/checkpoints/{name}/lease", tag = "checkpoints", params(("name" = String, Path)),
    request_body = LeaseRequest,
    responses((status = 200, body = LeaseView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn lease(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    JsonDocument(document): JsonDocument,
) -> ApiResult<Json<LeaseView>> {
    let request: LeaseRequest = sightline_core::validation::from_json_value(document)?;
    if !(0..=1000).contains(&request.max) {
        return Err(ApiError::invalid("max", "must be between 0 and 1000"));
    }
    let checkpoint_id = acting_checkpoint(&state, &principal, &name).await?;
    state
        .store
        .touch_checkpoint(checkpoint_id, request.agent_version.as_deref())
        .await?;
    let due_by = state.store.now().plus(LOOKAHEAD);
    let jobs = state
        .store
        .lease_jobs(checkpoint_id, due_by, request.max)
        .await?;
    let used = sightline_synthetic::secret_names(jobs.iter().map(|job| &job.spec));
    let secrets = match state.synthetic.vault() {
        Some(vault) if !used.is_empty() => vault
            .secrets(&state.store)
            .await
            .map_err(|error| ApiError::Internal(format!("opening the vault: {error}")))?
            .only(&used),
        _ => Default::default(),
    };
    let proofs = state.synthetic.lease_proofs();
    let jobs = jobs
        .into_iter()
        .map(|job| LeasedJobView {
            lease: proofs.issue(checkpoint_id, &job.reported()),
            job_id: job.id,
            monitor_id: job.monitor_id,
            due_at: job.due_at.as_millis(),
            attempt: job.attempt,
            leased_until: job.leased_until.as_millis(),
            spec: job.spec,
        })
        .collect();
    Ok(Json(LeaseView { jobs, secrets }))
}

/// Reports finished checks (agent protocol, step 2). Each report carries
/// the proof its lease handed out; a checkpoint may report only jobs it
/// leased, as it leased them, and that no other checkpoint holds or ran
/// (a late report of its own expired lease is taken while the job has not
/// run elsewhere). One refused report refuses the batch: nothing of it is
/// stored, and the error names the report. Reporting the same result
/// twice stores it once.
#[utoipa::path(post, path = "/checkpoints/{name}/results", tag = "checkpoints", params(("name" = String, Path)),
    request_body = Vec<JobReport>,
    responses((status = 204, description = "stored"),
        (status = 403, description = "`forbidden` (not this checkpoint's token) or `not_leased` (no lease of this checkpoint covers the report)", body = ErrorBody),
        (status = 409, description = "`running_elsewhere` or `completed_elsewhere`: another checkpoint has the job", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn report(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    JsonDocument(document): JsonDocument,
) -> ApiResult<StatusCode> {
    let reports: Vec<JobReport> = sightline_core::validation::from_json_value(document)?;
    for (index, job) in reports.iter().enumerate() {
        for (number, shot) in job.report.screenshots.iter().enumerate() {
            if !shot.png.starts_with(PNG_SIGNATURE) {
                return Err(ApiError::invalid(
                    format!("[{index}].report.screenshots[{number}].png"),
                    "not a PNG image",
                ));
            }
        }
    }
    let checkpoint_id = acting_checkpoint(&state, &principal, &name).await?;
    state.store.touch_checkpoint(checkpoint_id, None).await?;
    let proofs = state.synthetic.lease_proofs();
    for (index, job) in reports.iter().enumerate() {
        if !proofs.holds(checkpoint_id, &job.job(), &job.lease) {
            state.metrics.count_refused_report("not_leased");
            return Err(ApiError::NotLeased {
                field: format!("[{index}].lease"),
                message: format!(
                    "checkpoint `{name}` holds no lease of job {} for monitor {}, due at {}, attempt {}",
                    job.job_id,
                    job.monitor_id,
                    job.due_at.as_millis(),
                    job.attempt
                ),
            });
        }
    }
    let jobs: Vec<_> = reports.iter().map(JobReport::job).collect();
    let standings = state.store.job_standings(checkpoint_id, &jobs).await?;
    let mut with_specs = Vec::with_capacity(reports.len());
    for (index, (report, standing)) in reports.into_iter().zip(standings).enumerate() {
        let (running, elsewhere) = match standing {
            JobStanding::Open | JobStanding::Unclaimed => {
                match state.store.monitor(report.monitor_id).await {
                    Ok(monitor) => with_specs.push((report, monitor.spec)),
                    // Deleted while the agent ran it: nothing to store.
                    Err(sightline_store::StoreError::NotFound(_)) => {}
                    Err(error) => return Err(error.into()),
                }
                continue;
            }
            // Sent again (the answer to the first send was lost).
            JobStanding::AlreadyStored => continue,
            JobStanding::RunningElsewhere { checkpoint } => (true, checkpoint),
            JobStanding::CompletedElsewhere { checkpoint } => (false, checkpoint),
        };
        state.metrics.count_refused_report(if running {
            "running_elsewhere"
        } else {
            "completed_elsewhere"
        });
        return Err(ApiError::TakenElsewhere {
            field: format!("[{index}].job_id"),
            running,
            message: format!(
                "job {} was handed to checkpoint `{elsewhere}`, which {} it",
                report.job_id,
                if running { "is running" } else { "has run" }
            ),
        });
    }
    state
        .synthetic
        .coordinator()
        .record(checkpoint_id, &name, &with_specs)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
