//! Ingest handlers: findings, Oort events and approval requests in; 202 with finding ids
//! once the findings and their outbox rows are committed.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::params::PathId;
use super::{ApiError, AppState, MAX_BODY};
use crate::domain::SourceEvent;
use crate::ingest::{self, IngestError, InputFormat};
use crate::intake::IntakeError;

type Accepted = (StatusCode, Json<serde_json::Value>);

pub async fn generic(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Accepted, ApiError> {
    accept(&state, InputFormat::Generic, body).await
}

pub async fn oort(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Accepted, ApiError> {
    accept(&state, InputFormat::Oort, body).await
}

pub async fn approval(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Accepted, ApiError> {
    accept(&state, InputFormat::Approval, body).await
}

/// Refuses a POST whose `Content-Type` says it is not JSON (a form, plain text) with 415.
/// A request without one is read as JSON, as webhook senders often omit it.
pub(super) async fn require_json(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, ApiError> {
    if request.method() == axum::http::Method::POST
        && let Some(value) = request.headers().get(axum::http::header::CONTENT_TYPE)
    {
        let text = value.to_str().unwrap_or("(not text)");
        let essence = text.split(';').next().unwrap_or_default().trim();
        let json = essence.eq_ignore_ascii_case("application/json")
            || essence.to_ascii_lowercase().ends_with("+json");
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                crate::telemetry::escaped(text).into_owned(),
            ));
        }
    }
    Ok(next.run(request).await)
}

pub(super) fn read(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(MAX_BODY)
        } else {
            ApiError::BadRequest {
                field: "(body)".to_owned(),
                message: rejection.body_text(),
            }
        }
    })
}

fn bad_input(err: IngestError) -> ApiError {
    match err {
        IngestError::Field { path, message } => ApiError::BadRequest {
            field: path,
            message,
        },
        other => ApiError::BadRequest {
            field: "(body)".to_owned(),
            message: other.to_string(),
        },
    }
}

pub(super) fn intake_error(err: IntakeError) -> ApiError {
    match err {
        IntakeError::NotFound(what) => ApiError::NotFound(format!("no open finding {what}")),
        IntakeError::Plan(err) => ApiError::Unprocessable(err),
        IntakeError::Db(err) => err.into(),
        other => ApiError::Internal(other.into()),
    }
}

async fn accept(
    state: &AppState,
    format: InputFormat,
    body: Result<Bytes, BytesRejection>,
) -> Result<Accepted, ApiError> {
    let body = read(body)?;
    let findings = ingest::parse(format, &body).map_err(bad_input)?;
    // One event, one transaction, one answer: every finding of it is stored, or none.
    let recorded = state
        .intake
        .failing_all(&findings, "api")
        .await
        .map_err(intake_error)?;
    let ids: Vec<i64> = recorded.iter().map(|r| r.finding_id).collect();
    let created: Vec<bool> = recorded.iter().map(|r| r.created).collect();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"finding_ids": ids, "created": created})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    event: String,
    #[serde(default)]
    key: Option<String>,
}

/// The event of an events body: a source event other than `failing`, which arrives as a
/// finding instead.
fn event_of(body: &EventBody) -> Result<SourceEvent, ApiError> {
    match SourceEvent::parse(&body.event) {
        Some(event @ (SourceEvent::Resolved | SourceEvent::Escalated)) => Ok(event),
        Some(SourceEvent::Failing) | None => Err(ApiError::BadRequest {
            field: "event".to_owned(),
            message: format!("expected `resolved` or `escalated`, got `{}`", body.event),
        }),
    }
}

fn event_body(body: Result<Bytes, BytesRejection>) -> Result<EventBody, ApiError> {
    json_body(&read(body)?)
}

/// A JSON object body read into `T` as the input formats are read: an array, a NUL or a
/// mismatch is a 400 naming the field's path.
pub(super) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    ingest::from_json(body, &[]).map_err(bad_input)
}

pub async fn event_by_id(
    State(state): State<AppState>,
    PathId(id): PathId,
    body: Result<Bytes, BytesRejection>,
) -> Result<Accepted, ApiError> {
    let body = event_body(body)?;
    let event = event_of(&body)?;
    let recorded = state
        .intake
        .event_for_id(id, event, "api")
        .await
        .map_err(intake_error)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"finding_ids": [recorded.finding_id]})),
    ))
}

pub async fn event_by_key(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Accepted, ApiError> {
    let body = event_body(body)?;
    let event = event_of(&body)?;
    let Some(key) = body.key.as_deref() else {
        return Err(ApiError::BadRequest {
            field: "key".to_owned(),
            message: "missing field `key`".to_owned(),
        });
    };
    let recorded = state
        .intake
        .event_for_key(key, event, "api")
        .await
        .map_err(intake_error)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"finding_ids": [recorded.finding_id]})),
    ))
}
