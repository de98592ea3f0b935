//! `GET /rum.js`: the RUM script, compressed once at start (gzip and brotli)
//! and served with an ETag, so browsers revalidate cheaply and pages never
//! wait on it.

use crate::assets::CompressedAsset;
use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use std::sync::LazyLock;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The script's source, with its explanatory header comment.
const SOURCE: &str = include_str!("../../../../web/rum.js");

/// The script as served (without its header comment) and its compressed
/// forms.
pub(crate) static SCRIPT: LazyLock<CompressedAsset> = LazyLock::new(|| {
    let plain = SOURCE
        .split_once("*/\n")
        .map_or(SOURCE, |(_, script)| script)
        .as_bytes()
        .to_vec();
    CompressedAsset::new(plain, "text/javascript; charset=utf-8")
});

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(rum_script))
}

/// The RUM script to embed with
/// `<script async src="https://HOST/rum.js" data-site="SITE_KEY"></script>`.
#[utoipa::path(get, path = "/rum.js", tag = "rum", security(()),
    responses(
        (status = 200, description = "the script (brotli or gzip when accepted)", content_type = "text/javascript"),
        (status = 304, description = "unchanged since the ETag given")
    ))]
async fn rum_script(headers: HeaderMap) -> Response {
    // An hour fresh, then a day of serving the cached copy while revalidating:
    // a changed script reaches every page within the hour.
    let mut response = SCRIPT.respond(
        &headers,
        "public, max-age=3600, stale-while-revalidate=86400",
    );
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    // Pages on every origin may time it, and read its status: a browser
    // check watching the page's scripts sees it answered.
    response.headers_mut().insert(
        header::HeaderName::from_static("timing-allow-origin"),
        HeaderValue::from_static("*"),
    );
    response
}
