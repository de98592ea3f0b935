//! The web UI: a small client app over the public `/api/v1` API, its files
//! (`web/ui/`, with the vendored view and chart libraries) embedded in the
//! binary and compressed once. Every page path answers the same shell, so
//! that links (those in alert e-mails too) open the right screen.

use crate::assets::CompressedAsset;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::sync::LazyLock;
use utoipa_axum::router::OpenApiRouter;

/// The UI's files, as written in `web/ui/`.
#[derive(rust_embed::Embed)]
#[folder = "../../web/ui/"]
struct UiFiles;

/// Every UI file by its path under `/ui/`, compressed.
static FILES: LazyLock<HashMap<String, CompressedAsset>> = LazyLock::new(|| {
    UiFiles::iter()
        .filter_map(|path| {
            let file = UiFiles::get(&path)?;
            let content_type = match path.rsplit_once('.').map(|(_, extension)| extension) {
                Some("html") => "text/html; charset=utf-8",
                Some("js" | "mjs") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                Some("svg") => "image/svg+xml",
                Some("png") => "image/png",
                _ => "text/plain; charset=utf-8",
            };
            Some((
                path.to_string(),
                CompressedAsset::new(file.data.into_owned(), content_type),
            ))
        })
        .collect()
});

/// The screens' paths: each answers the shell, which picks the screen.
const PAGES: &[&str] = &[
    "/",
    "/monitors",
    "/monitors/{*rest}",
    "/sites",
    "/sites/{*rest}",
    "/incidents",
    "/incidents/{*rest}",
    "/compare",
    "/alerting",
    "/settings",
    "/settings/{*rest}",
];

/// What the shell may load: its own files and the API, nothing else; no
/// inline script.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub(super) fn router() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::new().route("/ui/{*path}", get(file));
    for page in PAGES {
        router = router.route(page, get(shell));
    }
    router
}

/// The shell every screen starts from; revalidated on every load so that
/// an upgrade shows at once.
async fn shell(headers: HeaderMap) -> Response {
    let Some(index) = FILES.get("index.html") else {
        return ApiError::NotFound("page").into_response();
    };
    let mut response = index.respond(&headers, "no-cache");
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response_headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// One UI file; revalidated with its ETag, so a new version is picked up
/// on the next load.
async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match FILES.get(path.as_str()) {
        Some(asset) => asset.respond(&headers, "no-cache"),
        None => ApiError::NotFound("file").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_ships_every_file_it_loads_within_its_weight() {
        // Every file a module or the shell names is embedded.
        let named = references(FILES.keys());
        assert!(named.len() >= 8, "{named:?}");
        for path in &named {
            assert!(
                FILES.contains_key(path),
                "`{path}` is loaded but not shipped"
            );
        }
        // The dashboard's JavaScript and CSS stay small: under 150 KB gzip.
        let weight: usize = FILES
            .iter()
            .filter(|(path, _)| path.ends_with(".js") || path.ends_with(".css"))
            .map(|(_, asset)| asset.gzip.len())
            .sum();
        assert!(weight < 150 * 1024, "{weight} bytes gzip");
    }

    /// The `/ui/…` and `./…` paths the shell and the modules refer to.
    fn references<'a>(paths: impl Iterator<Item = &'a String>) -> Vec<String> {
        let mut found = Vec::new();
        for path in paths {
            let text = String::from_utf8_lossy(&FILES[path].plain).into_owned();
            let directory = path.rsplit_once('/').map_or("", |(dir, _)| dir);
            for quote in ['"', '\''] {
                for piece in text.split(quote).skip(1).step_by(2) {
                    let reference = if let Some(rest) = piece.strip_prefix("/ui/") {
                        rest.to_owned()
                    } else if let Some(rest) = piece.strip_prefix("./") {
                        if directory.is_empty() {
                            rest.to_owned()
                        } else {
                            format!("{directory}/{rest}")
                        }
                    } else {
                        continue;
                    };
                    if reference.ends_with(".js") || reference.ends_with(".css") {
                        found.push(reference);
                    }
                }
            }
        }
        found
    }
}
