//! Files served as they are (the RUM script, the UI's files), compressed
//! once with gzip and brotli and served with an ETag, so that browsers
//! revalidate cheaply and get the smallest form they accept.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::io::Write;

/// One file with its compressed forms.
pub(crate) struct CompressedAsset {
    /// As written.
    pub(crate) plain: Vec<u8>,
    /// Gzip, best compression.
    pub(crate) gzip: Vec<u8>,
    /// Brotli, best compression.
    pub(crate) brotli: Vec<u8>,
    etag: HeaderValue,
    content_type: HeaderValue,
}

impl CompressedAsset {
    /// Compresses `plain` as well as it can be, served as `content_type`:
    /// for files compressed once and served for good.
    pub(crate) fn new(plain: Vec<u8>, content_type: &str) -> Self {
        Self::compressed(plain, content_type, flate2::Compression::best(), 11)
    }

    /// Compresses `plain` fast, served as `content_type`: for answers
    /// rebuilt every few seconds (a few per cent larger, a tenth of the work).
    pub(crate) fn fast(plain: Vec<u8>, content_type: &str) -> Self {
        Self::compressed(plain, content_type, flate2::Compression::new(6), 5)
    }

    fn compressed(
        plain: Vec<u8>,
        content_type: &str,
        gzip_level: flate2::Compression,
        brotli_quality: i32,
    ) -> Self {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), gzip_level);
        let gzip = gzip
            .write_all(&plain)
            .and_then(|()| gzip.finish())
            .unwrap_or_default();
        let mut brotli = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: brotli_quality,
            ..Default::default()
        };
        let _ = brotli::BrotliCompress(&mut plain.as_slice(), &mut brotli, &params);
        let digest: String = Sha256::digest(&plain)
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        CompressedAsset {
            plain,
            gzip,
            brotli,
            etag: HeaderValue::from_str(&format!("\"{digest}\""))
                .unwrap_or(HeaderValue::from_static("\"asset\"")),
            content_type: HeaderValue::from_str(content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        }
    }

    /// The answer to a GET with `request` headers: 304 when the client's
    /// copy is current, else the best encoding it accepts.
    pub(crate) fn respond(&self, request: &HeaderMap, cache_control: &'static str) -> Response {
        let mut response = if request.get(header::IF_NONE_MATCH) == Some(&self.etag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let (body, encoding) = match preferred_encoding(request) {
                Some("br") => (self.brotli.clone(), Some("br")),
                Some("gzip") => (self.gzip.clone(), Some("gzip")),
                _ => (self.plain.clone(), None),
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
        headers.insert(header::CONTENT_TYPE, self.content_type.clone());
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        );
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        response
    }
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
