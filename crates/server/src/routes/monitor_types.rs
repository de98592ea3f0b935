//! The catalogue of monitor types, for forms: each type's fields with
//! their kind, help, choices and defaults, from the definitions that
//! validate a monitor.

use crate::auth::Principal;
use crate::state::AppState;
use axum::Json;
use sightline_core::monitor::catalogue::{Catalogue, catalogue};
use std::sync::LazyLock;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Built once: it only changes with the code.
static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(catalogue);

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(monitor_types))
}

/// Every monitor type with its fields (kind, required, help, choices,
/// default), the settings every monitor shares, and a minimal valid
/// example of each type.
#[utoipa::path(get, path = "/monitor-types", tag = "monitors",
    responses((status = 200, body = Catalogue)))]
async fn monitor_types(_: Principal) -> Json<&'static Catalogue> {
    Json(&CATALOGUE)
}
