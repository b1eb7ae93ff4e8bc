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
            Self::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
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
        (status, Json(body)).into_response()
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Internal(err.into())
    }
}
