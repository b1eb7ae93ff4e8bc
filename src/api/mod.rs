//! The HTTP API: ingest and read endpoints under `/v1` (API key required), the outbox and
//! mapping endpoints (admin key), health, readiness, metrics, the OpenAPI document, and the
//! operator's console under `/ui` (`crate::ui`). Handlers parse, hand over to `intake`,
//! `admin` or `store::queries`, and answer; they never call ServiceNow (`/readyz` only
//! reports whether it answers).

pub mod access_log;
mod auth;
mod cursor;
mod error;
pub(crate) mod findings;
mod hints;
mod ingest;
mod mappings;
pub mod openapi;
mod outbox;
mod params;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde::Serialize;
use utoipa::ToSchema;

pub use auth::{ApiKeys, Role};
pub use error::{ApiError, ErrorBody};

use crate::intake::Intake;

/// The pairs of a console query string, checked as the API checks its own.
pub(crate) fn query_pairs_for_ui(
    query: Option<&str>,
    known: &[&str],
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    params::query_pairs(query, known)
}

/// The largest body the ingest API reads.
pub const MAX_BODY: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub intake: Intake,
    pub keys: ApiKeys,
    pub servicenow: crate::servicenow::Client,
    /// The running poller's push hints; `None` when the poller is off.
    pub hints: Option<crate::poller::Hints>,
    /// Verifies push hints; `None` refuses them.
    pub push_secret: Option<secrecy::SecretString>,
    /// `poller.interval` when this process polls, for the console's overview.
    pub poller_interval: Option<std::time::Duration>,
    /// The console's signed-in sessions.
    pub sessions: crate::ui::Sessions,
}

/// Every route snowsync serves.
pub fn router(state: AppState) -> Router {
    let admin = Router::new()
        .route("/outbox", get(outbox::list))
        .route("/outbox/retry-dead", post(outbox::retry_dead))
        .route("/outbox/{id}", get(outbox::show))
        .route("/outbox/{id}/retry", post(outbox::retry_one))
        .route("/mappings", get(mappings::show))
        .route("/render", post(mappings::render))
        .route_layer(middleware::from_fn(auth::require_admin));
    let v1 = Router::new()
        .route("/findings", post(ingest::generic).get(findings::list))
        .route("/sources/oort/events", post(ingest::oort))
        .route("/approval-requests", post(ingest::approval))
        .route("/events", post(ingest::event_by_key))
        .route("/findings/{id}/events", post(ingest::event_by_id))
        .route("/findings/{id}", get(findings::show))
        .merge(admin)
        // Inner to the key check: a request without a key is a 401 whatever it sends.
        .route_layer(middleware::from_fn(ingest::require_json))
        .route_layer(middleware::from_fn_with_state(
            state.keys.clone(),
            auth::require_key,
        ))
        // Signed by the instance rather than keyed: a business rule holds a secret, not a key.
        .route(
            "/servicenow/events",
            post(hints::servicenow_event).layer(middleware::from_fn(ingest::require_json)),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .nest("/v1", v1)
        .nest("/ui", crate::ui::router(state.clone()))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .with_state(state)
        .layer(middleware::from_fn(access_log::log))
}

/// The process answers.
#[derive(Serialize, ToSchema)]
struct Health {
    /// Always `ok`.
    status: String,
}

/// Whether snowsync can accept and store findings, and whether ServiceNow answers.
#[derive(Serialize, ToSchema)]
struct Readiness {
    /// `ready` or `not ready`.
    status: String,
    /// `ok`, or why the database is not ready.
    database: String,
    /// `ok`, or why ServiceNow does not answer; never fails readiness.
    servicenow: String,
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "This document", body = Object)),
)]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi::document())
}

/// Whether the process runs.
#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process runs", body = Health)),
)]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// Ready means able to accept and store: the database answers and its schema is current.
/// ServiceNow is reported beside it and never fails readiness: while it is down the outbox
/// holds what arrives, which is exactly when sources must keep sending.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready to accept and store", body = Readiness),
        (status = 503, description = "The database does not answer or is not migrated", body = Readiness),
    ),
)]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let database = crate::store::ready(&state.intake.db).await;
    let servicenow = match crate::admin::overview::servicenow_answers(&state.servicenow).await {
        Ok(()) => "ok".to_owned(),
        Err(why) => why,
    };
    let status = match &database {
        Ok(()) => StatusCode::OK,
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database not ready");
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    (
        status,
        Json(Readiness {
            status: if status == StatusCode::OK {
                "ready"
            } else {
                "not ready"
            }
            .to_owned(),
            database: match &database {
                Ok(()) => "ok".to_owned(),
                Err(e) => e.clone(),
            },
            servicenow,
        }),
    )
}

/// Prometheus metrics.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Metrics in the Prometheus text format", body = String, content_type = "text/plain"),
        (status = 503, description = "The database is unavailable; retry after `Retry-After`", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    ),
)]
async fn metrics(State(state): State<AppState>) -> Result<String, ApiError> {
    Ok(crate::metrics::render(&state.intake.db).await?)
}
