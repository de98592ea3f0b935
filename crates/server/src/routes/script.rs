//! `GET /rum.js`: the RUM script, compressed once at start (gzip and brotli)
//! and served with an ETag, so browsers revalidate cheaply and pages never
//! wait on it.

use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::LazyLock;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The script's source, with its explanatory header comment.
const SOURCE: &str = include_str!("../../../../web/rum.js");

/// The script as served and its compressed forms.
pub(crate) struct ScriptAssets {
    /// The script without its header comment.
    pub(crate) plain: Vec<u8>,
    /// Gzip, best compression.
    pub(crate) gzip: Vec<u8>,
    /// Brotli, best compression.
    pub(crate) brotli: Vec<u8>,
    etag: HeaderValue,
}

pub(crate) static SCRIPT: LazyLock<ScriptAssets> = LazyLock::new(|| {
    let plain = SOURCE
        .split_once("*/\n")
        .map_or(SOURCE, |(_, script)| script)
        .as_bytes()
        .to_vec();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let gzip = gzip
        .write_all(&plain)
        .and_then(|()| gzip.finish())
        .unwrap_or_default();
    let mut brotli = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        ..Default::default()
    };
    let _ = brotli::BrotliCompress(&mut plain.as_slice(), &mut brotli, &params);
    let digest: String = Sha256::digest(&plain)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let etag = HeaderValue::from_str(&format!("\"{digest}\""))
        .unwrap_or(HeaderValue::from_static("\"rum\""));
    ScriptAssets {
        plain,
        gzip,
        brotli,
        etag,
    }
});

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(rum_script))
}

/// Which encoding the client accepts, best first: brotli, gzip, none.
fn preferred_encoding(headers: &HeaderMap) -> Option<&'static str> {
    let accepted: Vec<(String, bool)> = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|param| {
                param
                    .trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name, !refused)
        })
        .collect();
    ["br", "gzip"]
        .into_iter()
        .find(|encoding| accepted.iter().any(|(name, ok)| *ok && name == encoding))
}

/// The RUM script to embed with
/// `<script async src="https://HOST/rum.js" data-site="SITE_KEY"></script>`.
#[utoipa::path(get, path = "/rum.js", tag = "rum", security(()),
    responses(
        (status = 200, description = "the script (brotli or gzip when accepted)", content_type = "text/javascript"),
        (status = 304, description = "unchanged since the ETag given")
    ))]
async fn rum_script(headers: HeaderMap) -> Response {
    let script = &*SCRIPT;
    let mut response = if headers.get(header::IF_NONE_MATCH) == Some(&script.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let (body, encoding) = match preferred_encoding(&headers) {
            Some("br") => (script.brotli.clone(), Some("br")),
            Some("gzip") => (script.gzip.clone(), Some("gzip")),
            _ => (script.plain.clone(), None),
        };
        let mut response = body.into_response();
        if let Some(encoding) = encoding {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        response
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    // An hour fresh, then a day of serving the cached copy while revalidating:
    // a changed script reaches every page within the hour.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600, stale-while-revalidate=86400"),
    );
    headers.insert(header::ETAG, script.etag.clone());
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
