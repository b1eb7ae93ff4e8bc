//! `ApiError`: every failure of the HTTP API, turned into a JSON response in one place,
//! in the one shape of [`ErrorBody`] that the OpenAPI document describes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A valid key without the role the endpoint needs.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The body is not what the endpoint takes; `field` says where.
    #[error("{field}: {message}")]
    BadRequest { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    /// The request is valid but the thing it acts on is not in a state that allows it
    /// (an outbox row that is not dead cannot be retried).
    #[error("{0}")]
    Conflict(String),
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not JSON by its `Content-Type`.
    #[error("expected Content-Type application/json, got `{0}`")]
    UnsupportedMediaType(String),
    /// The database cannot take the request now (locked past the busy timeout,
    /// unreachable); the client may send it again after `Retry-After`.
    #[error("the database is unavailable; retry later")]
    Unavailable(#[source] anyhow::Error),
    #[error("the mapping cannot plan this finding: {0}")]
    Unprocessable(crate::mapping::PlanError),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// For a person: what is wrong and where.
    pub message: String,
    /// The body field or request parameter at fault (400 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Why the mapping cannot plan the finding (422 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanErrorView>,
}

/// The kind of failure, one per status code.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    BadRequest,
    NotFound,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unprocessable,
    Unavailable,
    Internal,
}

/// A finding event the mappings cannot plan, as `mapping::PlanError` holds it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanErrorView {
    pub kind: crate::mapping::PlanErrorKind,
    pub profile: String,
    /// Where the problem is: `templates/description.hbs:12:5`, `mappings/x.toml:7: …`.
    pub origin: String,
    pub message: String,
}

impl From<&crate::mapping::PlanError> for PlanErrorView {
    fn from(e: &crate::mapping::PlanError) -> Self {
        Self {
            kind: e.kind,
            profile: e.profile.clone(),
            origin: e.origin.clone(),
            message: e.message.clone(),
        }
    }
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            Self::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Unprocessable),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }

    /// The status and body this error is answered with.
    pub fn body(&self) -> (StatusCode, ErrorBody) {
        let (status, code) = self.status_and_code();
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.to_string(),
                field: match self {
                    Self::BadRequest { field, .. } => Some(field.clone()),
                    _ => None,
                },
                plan: match self {
                    Self::Unprocessable(plan) => Some(plan.into()),
                    _ => None,
                },
            },
        };
        (status, body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Unavailable(err) => tracing::warn!(
                error = format!("{err:#}"),
                "database unavailable; answered 503"
            ),
            Self::Internal(err) => tracing::error!(error = format!("{err:#}"), "request failed"),
            _ => {}
        }
        let (status, body) = self.body();
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

/// How long a client is asked to wait before sending again when the database is unavailable.
const RETRY_AFTER_SECONDS: &str = "5";

impl From<sea_orm::DbErr> for ApiError {
    /// A database that cannot take the request now is a 503; anything else is a 500.
    fn from(err: sea_orm::DbErr) -> Self {
        if crate::store::is_unavailable(&err) {
            Self::Unavailable(err.into())
        } else {
            Self::Internal(err.into())
        }
    }
}
