//! The access log: one line per request to the API with method, path (never the query,
//! which may carry a token), status, latency and the name of the API key that was accepted
//! (`http.api_keys[N]`, its place in the configuration), never the key itself.
//! `/v1` requests log at info; `/healthz`, `/readyz` and `/metrics`, polled by machines, at debug.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// The configuration name of the API key a request was accepted with; set by the key check
/// on the response for this log.
#[derive(Debug, Clone)]
pub struct KeyName(pub String);

/// Logs the request once its answer is ready.
pub async fn log(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    let key = response
        .extensions()
        .get::<KeyName>()
        .map_or("-", |k| k.0.as_str());
    if path.starts_with("/v1/") {
        tracing::info!(target: "snowsync::access", %method, %path, status, latency_ms, key, "request");
    } else {
        tracing::debug!(target: "snowsync::access", %method, %path, status, latency_ms, key, "request");
    }
    response
}
