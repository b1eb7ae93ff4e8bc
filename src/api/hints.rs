//! `POST /v1/servicenow/events`: a push hint from a business rule on the instance, signed
//! with `poller.push_secret`. It names a record; the poller reads it again and applies it as
//! a poll would, so a hint can only make a change arrive sooner, never make one up.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::{ApiError, AppState};
use crate::mapping::Table;
use crate::poller::Hint;
use crate::servicenow::APPROVALS_TABLE;

/// How far a hint's timestamp may be from our clock.
const REPLAY_WINDOW: std::time::Duration = std::time::Duration::from_secs(300);

/// A record that changed on the instance.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HintBody {
    /// `incident`, `sc_request`, `sn_si_incident` or `sysapproval_approver`.
    table: String,
    /// 32 hexadecimal characters.
    sys_id: String,
}

/// Whether the hint was handed to the poller.
#[derive(Serialize, ToSchema)]
pub struct HintQueued {
    /// False when this process runs no poller or its queue is full; the next poll reads it.
    queued: bool,
}

/// A push hint from a business rule: the poller reads the record again soon.
#[utoipa::path(
    post, path = "/v1/servicenow/events", tag = "reverse sync",
    params(
        ("x-snowsync-timestamp" = i64, Header, description = "Unix seconds when the hint was signed"),
        ("x-snowsync-signature" = String, Header, description = "HMAC-SHA256 over the timestamp and the body with `poller.push_secret`"),
    ),
    request_body(content = HintBody, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted", body = HintQueued),
        (status = 400, description = "The body is not a hint; `error.field` names the field", body = ErrorBody),
        (status = 401, description = "Push hints are off, or the signature or timestamp is missing or wrong", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is declared as anything but JSON", body = ErrorBody),
    ),
    security(("push_signature" = []))
)]
pub async fn servicenow_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<HintQueued>), ApiError> {
    let Some(secret) = &state.push_secret else {
        return Err(ApiError::Unauthorized(
            "push hints are not enabled: poller.push_secret is not set",
        ));
    };
    let body = super::ingest::read(body)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let timestamp = header("x-snowsync-timestamp").and_then(|t| t.trim().parse::<i64>().ok());
    let signature = header("x-snowsync-signature");
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(ApiError::Unauthorized(
            "x-snowsync-timestamp and x-snowsync-signature are required",
        ));
    };
    let secret = secret.expose_secret().as_bytes();
    if !signed(secret, timestamp, &body, signature) {
        return Err(ApiError::Unauthorized(
            "the signature does not match, or the timestamp is outside the replay window",
        ));
    }
    let hint: HintBody = super::ingest::json_body(&body)?;
    if Table::parse(&hint.table).is_none() && hint.table != APPROVALS_TABLE {
        return Err(ApiError::BadRequest {
            field: "table".to_owned(),
            message: format!(
                "expected incident, sc_request, sn_si_incident or {APPROVALS_TABLE}, got `{}`",
                hint.table
            ),
        });
    }
    if hint.sys_id.len() != 32 || !hint.sys_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::BadRequest {
            field: "sys_id".to_owned(),
            message: "expected 32 hexadecimal characters".to_owned(),
        });
    }
    let queued = state.hints.as_ref().is_some_and(|hints| {
        hints.send(Hint {
            table: hint.table,
            sys_id: hint.sys_id,
        })
    });
    Ok((StatusCode::ACCEPTED, Json(HintQueued { queued })))
}

/// The signature as snowsync writes it (`sha256=<hex>`), or as a ServiceNow script gets it
/// from `GlideCertificateEncryption.generateMac` (`sha256=<base64>`).
fn signed(secret: &[u8], timestamp: i64, body: &[u8], signature: &str) -> bool {
    let now = chrono::Utc::now().timestamp();
    if crate::outbox::notify::verify(secret, timestamp, body, signature, now, REPLAY_WINDOW) {
        return true;
    }
    let Some(given) = signature.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(given) else {
        return false;
    };
    let hex_form = format!("sha256={}", hex::encode(given));
    crate::outbox::notify::verify(secret, timestamp, body, &hex_form, now, REPLAY_WINDOW)
}
