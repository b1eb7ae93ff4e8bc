//! Ingest handlers: findings, Oort events and approval requests in; 202 with finding ids
//! once the findings and their outbox rows are committed.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::params::PathId;
use super::{ApiError, AppState, MAX_BODY};
use crate::domain::SourceEvent;
use crate::ingest::{self, IngestError, InputFormat};
use crate::intake::IntakeError;

type Accepted = (StatusCode, Json<AcceptedBody>);

/// The answer of every ingest endpoint: the findings stored, committed with their outbox rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedBody {
    /// The ids of the findings, in the order of the input.
    pub finding_ids: Vec<i64>,
    /// Per finding, whether it is new (false: a repeat of an open finding). Absent for events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<Vec<bool>>,
}

/// Record a finding in snowsync's generic format.
#[utoipa::path(
    post, path = "/v1/findings", tag = "ingest",
    request_body(content = crate::ingest::schema::GenericFinding, content_type = "application/json"),
    responses(
        (status = 202, description = "Stored with its outbox rows", body = AcceptedBody),
        (status = 400, description = "The body is not what the endpoint takes; `error.field` names the field", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is declared as anything but JSON", body = ErrorBody),
        (status = 422, description = "The mapping cannot plan the finding; `error.plan` says why", body = ErrorBody),
        (status = 503, description = "The database cannot take the request now; nothing was stored; retry after `Retry-After`", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn generic(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Accepted, ApiError> {
    accept(&state, InputFormat::Generic, body).await
}

/// The answer to Oort's test event: received, nothing stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestEventBody {
    /// Always true: the event was Oort's "Test Connectivity" event.
    pub test_event: bool,
    pub message: String,
}

/// Record an Oort failing-check event: one finding per failing user. Oort's test event
/// (`detail-type: "WebhookTest"`) is acknowledged with 200 and stores nothing.
#[utoipa::path(
    post, path = "/v1/sources/oort/events", tag = "ingest",
    request_body(content = crate::ingest::schema::OortEvent, content_type = "application/json"),
    responses(
        (status = 200, description = "Oort's test event (\"Test Connectivity\"): received, nothing stored, no ticket", body = TestEventBody),
        (status = 202, description = "Stored with its outbox rows", body = AcceptedBody),
        (status = 400, description = "The body is not what the endpoint takes; `error.field` names the field", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is declared as anything but JSON", body = ErrorBody),
        (status = 422, description = "The mapping cannot plan the finding; `error.plan` says why", body = ErrorBody),
        (status = 503, description = "The database cannot take the request now; nothing was stored; retry after `Retry-After`", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn oort(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = read(body)?;
    if ingest::is_oort_test_event(&body) {
        tracing::info!("Oort test event (Test Connectivity) received: nothing stored, no ticket");
        let answer = TestEventBody {
            test_event: true,
            message: "Oort test event received: the webhook reaches snowsync; no ticket is opened"
                .to_owned(),
        };
        return Ok((StatusCode::OK, Json(answer)).into_response());
    }
    Ok(accept_bytes(&state, InputFormat::Oort, body)
        .await?
        .into_response())
}

/// Record an application approval request.
#[utoipa::path(
    post, path = "/v1/approval-requests", tag = "ingest",
    request_body(content = crate::ingest::schema::ApprovalRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Stored with its outbox rows", body = AcceptedBody),
        (status = 400, description = "The body is not what the endpoint takes; `error.field` names the field", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is declared as anything but JSON", body = ErrorBody),
        (status = 422, description = "The mapping cannot plan the finding; `error.plan` says why", body = ErrorBody),
        (status = 503, description = "The database cannot take the request now; nothing was stored; retry after `Retry-After`", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
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

pub(super) fn bad_input(err: IngestError) -> ApiError {
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
    accept_bytes(state, format, read(body)?).await
}

async fn accept_bytes(
    state: &AppState,
    format: InputFormat,
    body: Bytes,
) -> Result<Accepted, ApiError> {
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
        Json(AcceptedBody {
            finding_ids: ids,
            created: Some(created),
        }),
    ))
}

/// A source event for a finding already recorded.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    /// `resolved` or `escalated`; a failing finding is sent as a finding instead.
    event: String,
    /// The finding's key (`POST /v1/events` only).
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

/// Record a source event for the open finding with this id.
#[utoipa::path(
    post, path = "/v1/findings/{id}/events", tag = "ingest",
    params(("id" = i64, Path, description = "The finding's id")),
    request_body(content = EventBody, content_type = "application/json"),
    responses(
        (status = 202, description = "Stored with its outbox rows", body = AcceptedBody),
        (status = 400, description = "The body is not what the endpoint takes; `error.field` names the field", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No open finding with that id or key", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is declared as anything but JSON", body = ErrorBody),
        (status = 422, description = "The mapping cannot plan the finding; `error.plan` says why", body = ErrorBody),
        (status = 503, description = "The database cannot take the request now; nothing was stored; retry after `Retry-After`", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
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
    Ok(accepted_one(recorded.finding_id))
}

fn accepted_one(finding_id: i64) -> Accepted {
    (
        StatusCode::ACCEPTED,
        Json(AcceptedBody {
            finding_ids: vec![finding_id],
            created: None,
        }),
    )
}

/// Record a source event for the open finding with this key.
#[utoipa::path(
    post, path = "/v1/events", tag = "ingest",
    request_body(content = EventBody, content_type = "application/json"),
    responses(
        (status = 202, description = "Stored with its outbox rows", body = AcceptedBody),
        (status = 400, description = "The body is not what the endpoint takes; `error.field` names the field", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No open finding with that id or key", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is declared as anything but JSON", body = ErrorBody),
        (status = 422, description = "The mapping cannot plan the finding; `error.plan` says why", body = ErrorBody),
        (status = 503, description = "The database cannot take the request now; nothing was stored; retry after `Retry-After`", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
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
    Ok(accepted_one(recorded.finding_id))
}
