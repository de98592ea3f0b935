//! The web UI: a small client app over the public `/api/v1` API, its files
//! (`web/ui/`, with the vendored view and chart libraries) embedded in the
//! binary and compressed once. Every page path answers the same shell, so
//! that links (those in alert e-mails too) open the right screen.
//!
//! The shell names the files under a version taken from their contents
//! (`/ui/v-…/app.js`), so a browser keeps them for good and asks for none
//! of them again until an upgrade changes the version; and it preloads
//! every module the app imports, so that a first load fetches them side by
//! side instead of one import level at a time.

use crate::assets::CompressedAsset;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;
use utoipa_axum::router::OpenApiRouter;

/// The UI's files, as written in `web/ui/`.
#[derive(rust_embed::Embed)]
#[folder = "../../web/ui/"]
struct UiFiles;

/// The module the shell starts.
const ENTRY: &str = "app.js";
/// Where the shell's generated preloads go.
const PRELOADS: &str = "<!-- module preloads -->";
/// How long a browser may keep a file of the current version: it never
/// changes under that name.
const FOR_GOOD: &str = "public, max-age=31536000, immutable";

/// The UI as served: its files, their version and the shell.
struct Ui {
    /// Every file by its path under `web/ui/`, compressed.
    files: HashMap<String, CompressedAsset>,
    /// `v-` and a digest of every file: the path segment the shell puts
    /// before the files' names.
    version: String,
    /// `index.html`, naming this version's files and preloading the modules.
    shell: Option<CompressedAsset>,
}

static UI: LazyLock<Ui> = LazyLock::new(Ui::load);

impl Ui {
    fn load() -> Ui {
        let plain: BTreeMap<String, Vec<u8>> = UiFiles::iter()
            .filter_map(|path| Some((path.to_string(), UiFiles::get(&path)?.data.into_owned())))
            .collect();
        let mut digest = Sha256::new();
        for (path, content) in &plain {
            digest.update(path.as_bytes());
            digest.update([0]);
            digest.update(content);
        }
        let version: String = digest
            .finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        let version = format!("v-{version}");
        let shell = plain.get("index.html").map(|index| {
            let text = String::from_utf8_lossy(index);
            let preloads: String = module_graph(&plain, ENTRY)
                .iter()
                .filter(|path| path.as_str() != ENTRY)
                .map(|path| format!("<link rel=\"modulepreload\" href=\"/ui/{version}/{path}\">\n"))
                .collect();
            let text = text
                .replace("\"/ui/", &format!("\"/ui/{version}/"))
                .replace(&format!("{PRELOADS}\n"), &preloads);
            CompressedAsset::new(text.into_bytes(), "text/html; charset=utf-8")
        });
        let files = plain
            .into_iter()
            .map(|(path, content)| {
                let asset = CompressedAsset::new(content, content_type(&path));
                (path, asset)
            })
            .collect();
        Ui {
            files,
            version,
            shell,
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "text/plain; charset=utf-8",
    }
}

/// Every module `entry` imports, directly or not, by path under `web/ui/`,
/// `entry` first and each before the modules found through it.
fn module_graph(files: &BTreeMap<String, Vec<u8>>, entry: &str) -> Vec<String> {
    let mut found = vec![entry.to_owned()];
    let mut next = 0;
    while let Some(module) = found.get(next).cloned() {
        next += 1;
        let Some(content) = files.get(&module) else {
            continue;
        };
        for import in static_imports(&String::from_utf8_lossy(content)) {
            let path = resolve(&module, import);
            if !found.contains(&path) {
                found.push(path);
            }
        }
    }
    found
}

/// The relative paths a module imports statically (`import … from "./x.js"`,
/// `import "./x.js"`), minified or not; `import("…")` loads later and is
/// left out.
fn static_imports(text: &str) -> Vec<&str> {
    let mut imports = Vec::new();
    for keyword in ["from", "import"] {
        for (at, _) in text.match_indices(keyword) {
            let rest = text[at + keyword.len()..].trim_start();
            let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            let Some((path, _)) = rest[1..].split_once(quote) else {
                continue;
            };
            if path.starts_with("./") || path.starts_with("../") {
                imports.push(path);
            }
        }
    }
    imports
}

/// `import`, relative to the module at `from`, as a path under `web/ui/`.
fn resolve(from: &str, import: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for part in import.split('/') {
        match part {
            "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
}

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
    "/status-pages",
    "/status-pages/{*rest}",
    "/settings",
    "/settings/{*rest}",
    "/audit-log",
];

/// What the shell may load: its own files and the API, nothing else; no
/// inline script. Every HTML answer carries it (see `crate::router`).
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
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
    let Some(index) = &UI.shell else {
        return ApiError::NotFound("page").into_response();
    };
    // The policy and the referrer rule come with every HTML answer.
    index.respond(&headers, "no-cache")
}

/// What a browser asking for a page at an unknown address gets: the shell,
/// with status 404, so that the UI says there is no such page in its own
/// frame (with the menu) instead of showing a JSON error. Anything else
/// (a script, a `curl`) gets the usual JSON error.
pub(crate) fn not_found(method: &axum::http::Method, headers: &HeaderMap) -> Response {
    let wants_a_page = method == axum::http::Method::GET
        && headers
            .get(axum::http::header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    match &UI.shell {
        Some(index) if wants_a_page => {
            // Never "not modified": a 404 carries its page.
            let mut asked = headers.clone();
            asked.remove(axum::http::header::IF_NONE_MATCH);
            let mut response = index.respond(&asked, "no-cache");
            *response.status_mut() = axum::http::StatusCode::NOT_FOUND;
            response
        }
        _ => ApiError::NotFound("route").into_response(),
    }
}

/// One UI file. Under the current version it is kept for good; under
/// another (a page opened before an upgrade) or none, it is today's file,
/// revalidated with its ETag on every use.
async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let (name, cache_control) = match path.split_once('/') {
        Some((version, name)) if version == UI.version => (name, FOR_GOOD),
        Some((version, name)) if is_version(version) => (name, "no-cache"),
        _ => (path.as_str(), "no-cache"),
    };
    match UI.files.get(name) {
        Some(asset) => asset.respond(&headers, cache_control),
        None => ApiError::NotFound("file").into_response(),
    }
}

/// Whether a path segment is a version as [`Ui`] writes them.
fn is_version(segment: &str) -> bool {
    segment
        .strip_prefix("v-")
        .is_some_and(|digest| !digest.is_empty() && digest.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_ships_every_file_it_loads_within_its_weight() {
        // Every file a module or the shell names is embedded.
        let named = references(UI.files.keys());
        assert!(named.len() >= 8, "{named:?}");
        for path in &named {
            assert!(
                UI.files.contains_key(path),
                "`{path}` is loaded but not shipped"
            );
        }
        // The dashboard's JavaScript and CSS stay small: under 150 KB gzip.
        let weight: usize = UI
            .files
            .iter()
            .filter(|(path, _)| path.ends_with(".js") || path.ends_with(".css"))
            .map(|(_, asset)| asset.gzip.len())
            .sum();
        assert!(weight < 150 * 1024, "{weight} bytes gzip");
    }

    #[tokio::test]
    async fn the_shell_names_this_versions_files_and_preloads_every_module() {
        let shell = shell(HeaderMap::new()).await;
        let body = axum::body::to_bytes(shell.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        let version = &UI.version;
        assert!(is_version(version), "{version}");
        assert!(
            text.contains(&format!("src=\"/ui/{version}/app.js\"")),
            "{text}"
        );
        assert!(
            text.contains(&format!("href=\"/ui/{version}/app.css\"")),
            "{text}"
        );
        // Imported directly, through another module, and in minified code.
        for module in [
            "overview.js",
            "sparkline.js",
            "vendor/preact.module.js",
            "vendor/hooks.module.js",
        ] {
            assert!(
                text.contains(&format!(
                    "<link rel=\"modulepreload\" href=\"/ui/{version}/{module}\">"
                )),
                "{module} is not preloaded: {text}"
            );
        }
        assert!(!text.contains("modulepreload\" href=\"/ui/{version}/app.js"));
        assert!(!text.contains(PRELOADS));
        // The version's files are kept for good, any other name is
        // revalidated, and an unknown file is not found.
        let cache_control = |path: String| async move {
            let response = file(Path(path), HeaderMap::new()).await;
            (
                response.status(),
                response
                    .headers()
                    .get(axum::http::header::CACHE_CONTROL)
                    .map(|value| value.to_str().unwrap().to_owned()),
            )
        };
        let ok = axum::http::StatusCode::OK;
        assert_eq!(
            cache_control(format!("{version}/vendor/preact.module.js")).await,
            (ok, Some(FOR_GOOD.to_owned()))
        );
        assert_eq!(
            cache_control("v-0123/app.js".to_owned()).await,
            (ok, Some("no-cache".to_owned()))
        );
        assert_eq!(
            cache_control("app.js".to_owned()).await,
            (ok, Some("no-cache".to_owned()))
        );
        let missing = file(Path(format!("{version}/nothing.js")), HeaderMap::new()).await;
        assert_eq!(missing.status(), axum::http::StatusCode::NOT_FOUND);
    }

    #[test]
    fn imports_are_read_as_written_and_resolved_beside_their_module() {
        let text = "import { a } from \"./a.js\";\nimport {\n  b,\n} from './dir/b.js';\n\
            import \"./side.js\";\nimport{x}from\"./min.js\";\nconst later = import(\"./lazy.js\");\n\
            import { y } from \"preact\"; // from \"./comment-like\" is a string too";
        let mut found = static_imports(text);
        found.sort_unstable();
        assert_eq!(
            found,
            [
                "./a.js",
                "./comment-like",
                "./dir/b.js",
                "./min.js",
                "./side.js"
            ]
        );
        assert_eq!(
            resolve("vendor/hooks.js", "./preact.js"),
            "vendor/preact.js"
        );
        assert_eq!(resolve("app.js", "./vendor/htm.js"), "vendor/htm.js");
        assert_eq!(resolve("vendor/x.js", "../api.js"), "api.js");
    }

    /// The `/ui/…` and `./…` paths the shell and the modules refer to.
    fn references<'a>(paths: impl Iterator<Item = &'a String>) -> Vec<String> {
        let mut found = Vec::new();
        for path in paths {
            let text = String::from_utf8_lossy(&UI.files[path].plain).into_owned();
            for quote in ['"', '\''] {
                for piece in text.split(quote).skip(1).step_by(2) {
                    let reference = if let Some(rest) = piece.strip_prefix("/ui/") {
                        rest.to_owned()
                    } else if piece.starts_with("./") || piece.starts_with("../") {
                        resolve(path, piece)
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
