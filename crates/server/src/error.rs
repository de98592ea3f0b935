//! The one error shape every 4xx and 5xx answer has: `{"code", "message"}`
//! plus, for bad input, the `field` at fault. Internals are logged, never
//! shown.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sightline_core::ValidationError;
use sightline_store::StoreError;

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable code (`invalid_body`, `not_found`, `conflict`).
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The offending field of the request body, as a dotted path, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem of a document found at once (a monitor's), the first
    /// of them being `field` and `message`; absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One problem of a document: where, and what.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Dotted path of the field (`steps[2].url`); empty for the whole document.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request body or a parameter breaks a rule.
    #[error("{message}")]
    Invalid {
        /// `invalid_body`, `invalid_json`, `unsupported_media_type`…
        code: &'static str,
        /// The field at fault, if known.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A document with one or more problems, all of them listed (the
    /// first answers as `field` and `message`).
    #[error("{}", .0.first().map_or("invalid document", |problem| problem.message.as_str()))]
    InvalidDocument(Vec<ValidationError>),
    /// A query parameter is unknown or malformed.
    #[error("{message}")]
    BadQuery {
        /// The parameter at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No valid session or token.
    #[error("authentication required")]
    Unauthenticated,
    /// Wrong e-mail or password.
    #[error("wrong e-mail or password")]
    BadCredentials,
    /// Authenticated, but the role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// A request that changes something came from another origin's page
    /// with the session cookie.
    #[error(
        "a request from another site may not use the session cookie to change anything; \
         scripts use an API token (Authorization: Bearer …)"
    )]
    CrossOrigin,
    /// A checkpoint reported a job its lease does not cover (never leased
    /// by it, or not as reported).
    #[error("{message}")]
    NotLeased {
        /// The report at fault (`[3].lease`).
        field: String,
        /// What does not match.
        message: String,
    },
    /// A checkpoint reported a job that another checkpoint holds or has run.
    #[error("{message}")]
    TakenElsewhere {
        /// The report at fault.
        field: String,
        /// Whether the other checkpoint still runs it (else it ran it).
        running: bool,
        /// Which checkpoint has it.
        message: String,
    },
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule would break.
    #[error("{message}")]
    Conflict {
        /// The field whose value is taken.
        field: Option<String>,
        /// What is taken.
        message: String,
    },
    /// The request body is larger than allowed.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Too many attempts; try again later.
    #[error("too many attempts; try again in {retry_after_secs} s")]
    TooManyRequests {
        /// Seconds until the next attempt may succeed.
        retry_after_secs: u64,
    },
    /// Too many requests in flight; the server sheds load rather than queue without end.
    #[error("the server is busy; try again shortly")]
    Overloaded,
    /// The database cannot be reached or failed.
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    /// A server this one depends on (the identity provider) failed.
    #[error("{0}")]
    Upstream(String),
    /// Anything else: a bug or an unexpected failure.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// Too many attempts: try again after `wait` (at least a second).
    pub fn retry_after(wait: std::time::Duration) -> Self {
        ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        }
    }

    /// A bad-input error about one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        ApiError::Invalid {
            code: "invalid_body",
            field: (!field.is_empty()).then_some(field),
            message: message.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid {
                code: "unsupported_media_type",
                ..
            } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid { .. } | ApiError::InvalidDocument(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::BadQuery { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated | ApiError::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::NotLeased { .. } | ApiError::CrossOrigin => {
                StatusCode::FORBIDDEN
            }
            ApiError::TakenElsewhere { .. } => StatusCode::CONFLICT,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Invalid { code, .. } => code,
            ApiError::InvalidDocument(_) => "invalid_body",
            ApiError::BadQuery { .. } => "invalid_query",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::BadCredentials => "bad_credentials",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotLeased { .. } => "not_leased",
            ApiError::CrossOrigin => "cross_origin",
            ApiError::TakenElsewhere { running: true, .. } => "running_elsewhere",
            ApiError::TakenElsewhere { running: false, .. } => "completed_elsewhere",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { .. } => "conflict",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Overloaded => "overloaded",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Upstream(_) => "upstream",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        ApiError::invalid(error.field, error.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Conflict { field, message } => ApiError::Conflict {
                field: Some(field.to_owned()),
                message,
            },
            StoreError::UnknownReference { field, message } => ApiError::invalid(field, message),
            StoreError::Refused(message) => ApiError::Conflict {
                field: None,
                message,
            },
            error if error.is_unavailable() => ApiError::Unavailable(error),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(detail) => tracing::error!(%detail, "request failed"),
            ApiError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable")
            }
            _ => {}
        }
        let field = match &self {
            ApiError::Invalid { field, .. } | ApiError::Conflict { field, .. } => field.clone(),
            ApiError::NotLeased { field, .. } | ApiError::TakenElsewhere { field, .. } => {
                Some(field.clone())
            }
            ApiError::BadQuery { field, .. } => Some(field.clone()),
            ApiError::InvalidDocument(problems) => problems
                .first()
                .map(|problem| problem.field.clone())
                .filter(|field| !field.is_empty()),
            _ => None,
        };
        let errors = match &self {
            ApiError::InvalidDocument(problems) => problems
                .iter()
                .map(|problem| FieldError {
                    field: problem.field.clone(),
                    message: problem.message.clone(),
                })
                .collect(),
            _ => Vec::new(),
        };
        let body = ErrorBody {
            code: self.code().to_owned(),
            message: self.to_string(),
            field,
            errors,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let retry_after = match self {
            ApiError::TooManyRequests { retry_after_secs } => Some(retry_after_secs),
            ApiError::Overloaded => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Gives answers that axum or a layer produced on their own (404 for an
/// unknown path, 405 for a wrong method, 413 from the body limit) the same
/// error shape as ours, and closes the connection after every 413.
pub async fn uniform_error_shape(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let status = response.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was not read: the connection cannot carry
        // another request, and the client must know not to reuse it.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    // A JSON error is already in shape; an HTML one is a page written for
    // a browser (the UI's "no such page", a status page's own).
    let explained = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| {
            value.as_bytes().starts_with(b"application/json")
                || value.as_bytes().starts_with(b"text/html")
        });
    if !(status.is_client_error() || status.is_server_error()) || explained {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = serde_json::to_vec(&status_error(status)).unwrap_or_default();
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// The error body for a status that no handler explained.
fn status_error(status: StatusCode) -> ErrorBody {
    let reason = status.canonical_reason().unwrap_or("error");
    ErrorBody {
        code: reason.to_lowercase().replace([' ', '-'], "_"),
        message: match status {
            StatusCode::NOT_FOUND => "no such resource".to_owned(),
            StatusCode::METHOD_NOT_ALLOWED => {
                "this method is not allowed on this resource".to_owned()
            }
            _ => reason.to_owned(),
        },
        field: None,
        errors: Vec::new(),
    }
}

/// 405 in the uniform shape, for routes served outside
/// [`uniform_error_shape`].
pub async fn method_not_allowed() -> Response {
    let status = StatusCode::METHOD_NOT_ALLOWED;
    (status, axum::Json(status_error(status))).into_response()
}

/// Turns a panic in a handler (a bug) into a logged 500 with the error
/// shape, instead of a dropped connection.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    ApiError::Internal(format!("handler panicked: {detail}")).into_response()
}

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;
