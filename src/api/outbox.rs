//! The outbox endpoints (admin role): `GET /v1/outbox` (filtered, newest first, keyset
//! pages), `GET /v1/outbox/{id}` (one row with its payload), `POST /v1/outbox/{id}/retry`
//! and `POST /v1/outbox/retry-dead`, which revive dead rows through `admin::retry`, their
//! payloads rendered again from the current mappings as `snowsync outbox retry` does.

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::cursor;
use super::error::ErrorBody;
use super::findings::DEFAULT_LIMIT;
use super::params::{PathId, bad, query_pairs};
use super::{ApiError, AppState};
use crate::admin::retry::{self, Outcome, StillFails};
use crate::operation::OpKind;
use crate::store::entity::outbox;
use crate::store::outbox::RowStatus;
use crate::store::queries::{self, OutboxFilter};

const LIST_PARAMS: &[&str] = &["status", "finding", "op", "limit", "cursor"];
const RETRY_DEAD_PARAMS: &[&str] = &["finding", "op"];

/// A page of outbox rows and the cursor of the next, if any.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxPage {
    pub rows: Vec<OutboxView>,
    /// Present when older rows match too: pass it as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

/// An outbox row: one operation owed to ServiceNow or to a source, in its finding's order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutboxView {
    pub id: i64,
    pub finding_id: i64,
    /// Its place in the finding's order.
    pub seq: i64,
    pub op: OpKind,
    pub status: RowStatus,
    /// Attempts that count against `outbox.max_attempts`, and those made during outages.
    pub attempts: i32,
    pub outage_attempts: i32,
    /// Why the last attempt failed, or why the row was settled unsent.
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<outbox::Model> for OutboxView {
    fn from(r: outbox::Model) -> Self {
        Self {
            id: r.id,
            finding_id: r.finding_id,
            seq: r.seq,
            op: r.op,
            status: r.status,
            attempts: r.attempts,
            outage_attempts: r.outage_attempts,
            last_error: r.last_error,
            next_attempt_at: r.next_attempt_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One row with the payload it sends.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxDetail {
    #[serde(flatten)]
    pub row: OutboxView,
    /// Whether an earlier attempt may have reached ServiceNow (a create then looks its
    /// correlation id up first).
    pub maybe_applied: bool,
    /// The payload as it will be sent.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// What became of a row asked to be retried.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryResult {
    pub id: i64,
    pub outcome: RetryOutcome,
    /// For a person: what happened, and why when it was not revived.
    pub message: String,
}

/// The outcome of one retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetryOutcome {
    /// Pending again and due now, its payload rendered from the current mappings.
    Rerendered,
    /// Pending again and due now, its payload as it was (a reopen, a notification).
    Revived,
    NotFound,
    NotDead,
    /// The current mappings still cannot render it; it stays dead.
    StillFails,
    ChangedMeanwhile,
}

impl RetryResult {
    fn new(id: i64, outcome: &Outcome) -> Self {
        let code = match outcome {
            Outcome::Revived { rerendered: true } => RetryOutcome::Rerendered,
            Outcome::Revived { rerendered: false } => RetryOutcome::Revived,
            Outcome::NotFound => RetryOutcome::NotFound,
            Outcome::NotDead(_) => RetryOutcome::NotDead,
            Outcome::StillFails(_) => RetryOutcome::StillFails,
            Outcome::ChangedMeanwhile => RetryOutcome::ChangedMeanwhile,
        };
        Self {
            id,
            outcome: code,
            message: outcome.to_string(),
        }
    }
}

/// What `POST /v1/outbox/retry-dead` did, row by row.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryDeadReport {
    /// How many rows are pending again.
    pub revived: usize,
    /// Every dead row that matched, in delivery order.
    pub results: Vec<RetryResult>,
}

fn parse_op(text: &str) -> Result<OpKind, ApiError> {
    text.parse::<OpKind>().map_err(|e| bad("op", e.to_string()))
}

fn parse_finding(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| bad("finding", format!("expected a finding id, got `{text}`")))
}

/// List outbox rows, newest first.
#[utoipa::path(
    get, path = "/v1/outbox", tag = "outbox",
    params(
        ("status" = Option<RowStatus>, Query, description = "Only rows in this state"),
        ("finding" = Option<i64>, Query, description = "Only the rows of this finding", minimum = 1),
        ("op" = Option<OpKind>, Query, description = "Only rows of this operation"),
        ("limit" = Option<u64>, Query, description = "Rows per page (default 50)", minimum = 1, maximum = 500),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of rows", body = OutboxPage),
        (status = 400, description = "A bad parameter, named in `error.field`", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry after `Retry-After`", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<OutboxPage>, ApiError> {
    let mut pairs = query_pairs(query.as_deref(), LIST_PARAMS)?;
    let filter = OutboxFilter {
        status: pairs
            .remove("status")
            .map(|t| t.parse::<RowStatus>())
            .transpose()
            .map_err(|e| bad("status", e.to_string()))?,
        finding_id: pairs
            .remove("finding")
            .map(|t| parse_finding(&t))
            .transpose()?,
        op: pairs.remove("op").map(|t| parse_op(&t)).transpose()?,
    };
    let limit = match pairs.remove("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => cursor::limit(&text)?,
    };
    let before = pairs
        .remove("cursor")
        .map(|c| cursor::decode(&c))
        .transpose()?;
    let page = queries::outbox_page(&state.intake.db, &filter, before, limit).await?;
    let next_cursor = page
        .rows
        .last()
        .filter(|_| page.more)
        .map(|r| cursor::encode(r.id));
    Ok(Json(OutboxPage {
        rows: page.rows.into_iter().map(OutboxView::from).collect(),
        next_cursor,
    }))
}

/// Show one outbox row with its payload.
#[utoipa::path(
    get, path = "/v1/outbox/{id}", tag = "outbox",
    params(("id" = i64, Path, description = "The row's id")),
    responses(
        (status = 200, description = "The row", body = OutboxDetail),
        (status = 400, description = "The id is not an integer", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 404, description = "No such row", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry after `Retry-After`", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<Json<OutboxDetail>, ApiError> {
    let row = crate::store::outbox::get(&state.intake.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no outbox row with id {id}")))?;
    Ok(Json(OutboxDetail {
        maybe_applied: row.maybe_applied,
        payload: row.payload.clone(),
        row: row.into(),
    }))
}

/// Retry one dead row, its payload rendered again from the current mappings.
#[utoipa::path(
    post, path = "/v1/outbox/{id}/retry", tag = "outbox",
    params(("id" = i64, Path, description = "The dead row's id")),
    responses(
        (status = 200, description = "Pending again and due now", body = RetryResult),
        (status = 400, description = "The id is not an integer", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 404, description = "No such row", body = ErrorBody),
        (status = 409, description = "The row is not dead", body = ErrorBody),
        (status = 415, description = "A body declared as anything but JSON", body = ErrorBody),
        (status = 422, description = "The current mappings still cannot render it; `error.plan` says why", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry after `Retry-After`", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn retry_one(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<Json<RetryResult>, ApiError> {
    let pipeline = state.intake.pipeline.current();
    let outcome = retry::row(
        &state.intake.db,
        id,
        &pipeline.mappings,
        &pipeline.templates,
    )
    .await?;
    if outcome.revived() {
        state.intake.wake.notify_waiters();
    }
    match &outcome {
        Outcome::Revived { .. } => Ok(Json(RetryResult::new(id, &outcome))),
        Outcome::NotFound => Err(ApiError::NotFound(format!("no outbox row with id {id}"))),
        Outcome::NotDead(_) | Outcome::ChangedMeanwhile => {
            Err(ApiError::Conflict(format!("outbox row {id}: {outcome}")))
        }
        Outcome::StillFails(StillFails::Plan(e)) => Err(ApiError::Unprocessable(e.clone())),
        Outcome::StillFails(StillFails::Other(message)) => Err(ApiError::Internal(
            anyhow::anyhow!("outbox row {id}: {message}"),
        )),
    }
}

/// Retry every dead row, or those of one finding or one operation, in delivery order.
#[utoipa::path(
    post, path = "/v1/outbox/retry-dead", tag = "outbox",
    params(
        ("finding" = Option<i64>, Query, description = "Only the dead rows of this finding", minimum = 1),
        ("op" = Option<OpKind>, Query, description = "Only the dead rows of this operation"),
    ),
    responses(
        (status = 200, description = "Each matching dead row and what became of it", body = RetryDeadReport),
        (status = 400, description = "A bad parameter, named in `error.field`", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 415, description = "A body declared as anything but JSON", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry after `Retry-After`", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn retry_dead(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<RetryDeadReport>, ApiError> {
    let mut pairs = query_pairs(query.as_deref(), RETRY_DEAD_PARAMS)?;
    let finding = pairs
        .remove("finding")
        .map(|t| parse_finding(&t))
        .transpose()?;
    let op = pairs.remove("op").map(|t| parse_op(&t)).transpose()?;
    let pipeline = state.intake.pipeline.current();
    let outcomes = retry::dead(
        &state.intake.db,
        finding,
        op,
        &pipeline.mappings,
        &pipeline.templates,
    )
    .await?;
    let revived = outcomes.iter().filter(|(_, o)| o.revived()).count();
    if revived > 0 {
        state.intake.wake.notify_waiters();
    }
    Ok(Json(RetryDeadReport {
        revived,
        results: outcomes
            .iter()
            .map(|(id, o)| RetryResult::new(*id, o))
            .collect(),
    }))
}
