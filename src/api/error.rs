//! `ApiError`: every failure of the HTTP API, turned into a JSON response in one place.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The body is not what the endpoint takes; `field` says where.
    #[error("{field}: {message}")]
    BadRequest { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            Self::Unavailable(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "database unavailable; answered 503"
                );
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            Self::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let mut body = json!({"error": {"code": code, "message": self.to_string()}});
        match &self {
            Self::BadRequest { field, .. } => body["error"]["field"] = json!(field),
            Self::Unprocessable(plan) => body["error"]["plan"] = json!(plan),
            _ => {}
        }
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
