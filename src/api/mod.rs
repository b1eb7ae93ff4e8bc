//! The HTTP API: ingest and read endpoints under `/v1` (API key required), health,
//! readiness and metrics. Handlers parse, hand over to `intake` or read through
//! `store::queries`, and answer; they never call ServiceNow.

mod auth;
mod error;
mod findings;
mod hints;
mod ingest;
mod params;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::json;

pub use auth::ApiKeys;
pub use error::ApiError;

use crate::intake::Intake;

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
}

/// Every route snowsync serves.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/findings", post(ingest::generic).get(findings::list))
        .route("/sources/oort/events", post(ingest::oort))
        .route("/approval-requests", post(ingest::approval))
        .route("/events", post(ingest::event_by_key))
        .route("/findings/{id}/events", post(ingest::event_by_id))
        .route("/findings/{id}", get(findings::show))
        .route_layer(middleware::from_fn_with_state(
            state.keys.clone(),
            auth::require_key,
        ))
        // Signed by the instance rather than keyed: a business rule holds a secret, not a key.
        .route("/servicenow/events", post(hints::servicenow_event))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .nest("/v1", v1)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let database = state.intake.db.ping().await.map_err(|e| e.to_string());
    // One authenticated read of a record that cannot exist: reachable and allowed to read.
    let servicenow = state
        .servicenow
        .get("incident", "00000000000000000000000000000000", &["sys_id"])
        .await
        .map(drop)
        .map_err(|e| e.to_string());
    let shown = |r: &Result<(), String>| match r {
        Ok(()) => json!("ok"),
        Err(e) => json!(e),
    };
    let status = if database.is_ok() && servicenow.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if let Err(e) = &database {
        tracing::warn!(error = %e, "readiness: database unreachable");
    }
    (
        status,
        Json(json!({
            "status": if status == StatusCode::OK { "ready" } else { "not ready" },
            "database": shown(&database),
            "servicenow": shown(&servicenow),
        })),
    )
}

async fn metrics(State(state): State<AppState>) -> Result<String, ApiError> {
    Ok(crate::metrics::render(&state.intake.db).await?)
}
