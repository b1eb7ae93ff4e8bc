//! The HTTP API: ingest and read endpoints under `/v1` (API key required), health,
//! readiness and metrics. Handlers parse, hand over to `intake` or read through
//! `store::queries`, and answer; they never call ServiceNow (`/readyz` only reports
//! whether it answers).

pub mod access_log;
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
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .layer(middleware::from_fn(access_log::log))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// How long `/readyz` waits for ServiceNow's answer before reporting it as not answering.
const SERVICENOW_PROBE: std::time::Duration = std::time::Duration::from_secs(2);

/// Ready means able to accept and store: the database answers and its schema is current.
/// ServiceNow is reported beside it and never fails readiness: while it is down the outbox
/// holds what arrives, which is exactly when sources must keep sending.
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let database = crate::store::ready(&state.intake.db).await;
    // One authenticated read of a record that cannot exist: reachable and allowed to read.
    let probe = state
        .servicenow
        .get("incident", "00000000000000000000000000000000", &["sys_id"]);
    let servicenow = match tokio::time::timeout(SERVICENOW_PROBE, probe).await {
        Ok(Ok(_)) => json!("ok"),
        Ok(Err(e)) => json!(e.to_string()),
        Err(_) => json!(format!("no answer within {}s", SERVICENOW_PROBE.as_secs())),
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
        Json(json!({
            "status": if status == StatusCode::OK { "ready" } else { "not ready" },
            "database": match &database {
                Ok(()) => json!("ok"),
                Err(e) => json!(e),
            },
            "servicenow": servicenow,
        })),
    )
}

async fn metrics(State(state): State<AppState>) -> Result<String, ApiError> {
    Ok(crate::metrics::render(&state.intake.db).await?)
}
