//! The mapping endpoints (admin role): `GET /v1/mappings`, the rules in the order they are
//! tried and the profiles they choose, and `POST /v1/render`, the dry run of
//! `snowsync render`: a finding in, the rule, the profile and the exact fields out.
//! Neither writes nor contacts ServiceNow.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::params::{bad, query_pairs};
use super::{ApiError, AppState};
use crate::admin::dry_run::{self, DryRunError, PlanView};
use crate::admin::mappings::MappingsView;
use crate::domain::SourceEvent;
use crate::ingest::InputFormat;

const RENDER_PARAMS: &[&str] = &["format", "event", "occurrences"];

/// The largest `occurrences` the dry run takes.
const MAX_OCCURRENCES: u64 = 1_000_000;

/// The rules and profiles in force.
#[utoipa::path(
    get, path = "/v1/mappings", tag = "mappings",
    responses(
        (status = 200, description = "The rules in the order they are tried, and the profiles", body = MappingsView),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn show(State(state): State<AppState>) -> Json<MappingsView> {
    Json(MappingsView::new(&state.intake.pipeline.current().mappings))
}

/// What a finding document would become.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenderAnswer {
    /// One plan per finding of the document (an Oort event has one per failing user).
    pub plans: Vec<PlanView>,
}

/// A dry run: the rule, the profile and the exact fields each finding of the document gets.
#[utoipa::path(
    post, path = "/v1/render", tag = "mappings",
    params(
        ("format" = Option<InputFormat>, Query, description = "The input format; recognised from the document when absent"),
        ("event" = Option<SourceEvent>, Query, description = "The source event to plan for (default failing)"),
        ("occurrences" = Option<u64>, Query, description = "How often the finding has failed (above 1, a failing event is an update)", minimum = 1, maximum = 1000000),
    ),
    request_body(
        content = serde_json::Value, content_type = "application/json",
        description = "A finding in any input format: a generic finding, an Oort event or an approval request"
    ),
    responses(
        (status = 200, description = "The plans", body = RenderAnswer),
        (status = 400, description = "A bad parameter, or a document that is no finding; `error.field` names it", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is declared as anything but JSON", body = ErrorBody),
        (status = 422, description = "The mapping cannot plan a finding; `error.plan` says why", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn render(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RenderAnswer>, ApiError> {
    let mut pairs = query_pairs(query.as_deref(), RENDER_PARAMS)?;
    let format = pairs
        .remove("format")
        .map(|t| t.parse::<InputFormat>())
        .transpose()
        .map_err(|e| bad("format", e.to_string()))?;
    let event = pairs
        .remove("event")
        .map(|t| t.parse::<SourceEvent>())
        .transpose()
        .map_err(|e| bad("event", e.to_string()))?
        .unwrap_or(SourceEvent::Failing);
    let occurrences = match pairs.remove("occurrences") {
        None => 1,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_OCCURRENCES).contains(n))
            .ok_or_else(|| {
                bad(
                    "occurrences",
                    format!("expected an integer from 1 to {MAX_OCCURRENCES}, got `{text}`"),
                )
            })?,
    };
    let body = super::ingest::read(body)?;
    let pipeline = state.intake.pipeline.current();
    let mappings = &pipeline.mappings;
    let rendered = dry_run::plans(
        &body,
        format,
        event,
        occurrences,
        mappings,
        &pipeline.templates,
    )
    .map_err(|e| match e {
        DryRunError::Ingest(e) => super::ingest::bad_input(e),
        DryRunError::Plan(e) => ApiError::Unprocessable(e),
    })?;
    Ok(Json(RenderAnswer {
        plans: rendered
            .into_iter()
            .map(|r| PlanView::new(r, mappings))
            .collect(),
    }))
}
