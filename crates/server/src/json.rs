//! Reading JSON request bodies strictly: the right content type, within the
//! size limit, well-formed, and turned into a typed value whose errors name
//! the field.

use crate::error::ApiError;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

/// A larger body limit than [`crate::API_BODY_LIMIT`] for one route, set
/// beside axum's `DefaultBodyLimit` so that the error names the right size.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON request body, parsed into `T` with errors that name the field
/// (`expect.status[0]: invalid type: string "ok", expected u16`).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// A JSON request body kept as a document, for types whose validation needs
/// the whole document (monitor specs).
#[derive(Debug)]
pub struct JsonDocument(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for JsonDocument {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::Invalid {
                code: "unsupported_media_type",
                field: None,
                message: "the request body must be JSON (Content-Type: application/json)"
                    .to_owned(),
            });
        }
        let limit = request
            .extensions()
            .get::<BodyLimit>()
            .map_or(crate::API_BODY_LIMIT, |limit| limit.0);
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge { limit }
                } else {
                    ApiError::Invalid {
                        code: "invalid_body",
                        field: None,
                        message: rejection.body_text(),
                    }
                }
            })?;
        let document = serde_json::from_slice(&bytes).map_err(|error| ApiError::Invalid {
            code: "invalid_json",
            field: None,
            message: format!("the request body is not valid JSON: {error}"),
        })?;
        Ok(JsonDocument(document))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonDocument(document) = JsonDocument::from_request(request, state).await?;
        Ok(ApiJson(sightline_core::validation::from_json_value(
            document,
        )?))
    }
}
