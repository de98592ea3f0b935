//! Cross-site request forgery: a page elsewhere (another site, or another
//! port of the same host) can make a logged-in browser send requests with
//! its session cookie, in any content type a form may use. A request that
//! changes something and is not authenticated by a token must come from
//! the UI's own origin.
//!
//! The browser says where a request comes from: `Sec-Fetch-Site` (every
//! current browser) must be `same-origin`; without it, `Origin` must be this
//! server's (its public URL, or the host the request was sent to). A request
//! with neither comes from a client that is not a browser (or one too old
//! to send them), which no other page can drive.

use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};

/// Whether the request is one a page of another origin made a browser send.
pub fn is_cross_origin(parts: &Parts, public_url: &str) -> bool {
    if let Some(site) = header_text(&parts.headers, "sec-fetch-site") {
        // `none`: the person typed it or used a bookmark, no page did.
        return !(site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none"));
    }
    let Some(origin) = header_text(&parts.headers, header::ORIGIN.as_str()) else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if origin.eq_ignore_ascii_case(&origin_of(public_url)) {
        return false;
    }
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let host = header_text(&parts.headers, header::HOST.as_str());
    !matches!((authority, host), (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host))
}

/// Whether a request with this method may change something.
pub fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = axum::http::Request::post("/api/v1/monitors/1/run");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn only_the_servers_own_pages_may_use_its_cookie() {
        let public = "https://sightline.example.com";
        for (headers, cross) in [
            (vec![("sec-fetch-site", "same-origin")], false),
            (vec![("sec-fetch-site", "none")], false),
            (vec![("sec-fetch-site", "same-site")], true),
            (vec![("sec-fetch-site", "cross-site")], true),
            // Sec-Fetch-Site decides when present, whatever Origin says.
            (
                vec![("sec-fetch-site", "cross-site"), ("origin", public)],
                true,
            ),
            (vec![("origin", "https://sightline.example.com")], false),
            (vec![("origin", "https://sightline.example.com/")], false),
            (
                vec![
                    ("origin", "http://127.0.0.1:8080"),
                    ("host", "127.0.0.1:8080"),
                ],
                false,
            ),
            // Another port of the same host is another origin.
            (
                vec![
                    ("origin", "http://127.0.0.1:9999"),
                    ("host", "127.0.0.1:8080"),
                ],
                true,
            ),
            (vec![("origin", "null"), ("host", "127.0.0.1:8080")], true),
            (vec![("origin", "https://evil.example")], true),
            // Not a browser.
            (vec![], false),
        ] {
            assert_eq!(
                is_cross_origin(&parts(&headers), public),
                cross,
                "{headers:?}"
            );
        }
    }
}
