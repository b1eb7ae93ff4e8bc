//! The Batch API (`POST /api/now/v1/batch`): each item is served through the same pipeline as
//! a request of its own, and the answers come back base64-encoded in one response.
//! It owns only the envelope; the items' work is done elsewhere.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::Sim;
use super::error::SnError;
use super::http::{self, JSON};
use super::net::ConnCtl;

/// `glide.rest.batch.max.inputSize`: 5 MB per item.
const MAX_ITEM_INPUT: usize = 5 * 1024 * 1024;
/// The "REST Batch API request timeout" quota rule.
const BATCH_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_ITEM_OUTPUT: usize = 10 * 1024 * 1024;

#[derive(Debug, Deserialize)]
struct BatchRequest {
    /// A string or a number: ServiceNow's own client (PySNC) sends a JSON number, and real
    /// instances accept it and answer with its string form (servicenow-api.md, item 13).
    #[serde(default, deserialize_with = "string_or_number")]
    batch_request_id: String,
    rest_requests: Vec<Item>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(de)? {
        serde_json::Value::String(text) => Ok(text),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Null => Ok(String::new()),
        other => Err(serde::de::Error::custom(format!(
            "batch_request_id must be a string or a number, not {other}"
        ))),
    }
}

#[derive(Debug, Deserialize)]
struct Item {
    id: String,
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    exclude_response_headers: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct NameValue {
    name: String,
    value: String,
}

#[derive(Debug, Serialize)]
struct Serviced {
    id: String,
    status_code: u16,
    status_text: String,
    headers: Vec<NameValue>,
    body: String,
    execution_time: u64,
}

#[derive(Debug, Serialize)]
struct BatchResponse {
    batch_request_id: String,
    serviced_requests: Vec<Serviced>,
    unserviced_requests: Vec<String>,
}

/// Serves a batch for an authenticated caller.
pub(crate) async fn handle(
    sim: &Arc<Sim>,
    ctl: &Arc<ConnCtl>,
    parts: &Parts,
    body: &[u8],
) -> Response {
    if parts.method != axum::http::Method::POST {
        return SnError::method_not_allowed(parts.method.as_str()).into_response();
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let batch: BatchRequest = match serde_path_to_error::deserialize(&mut de) {
        Ok(b) => b,
        Err(e) => {
            return SnError::bad_body(format!(
                "Invalid batch request at {}: {}",
                e.path(),
                e.inner()
            ))
            .into_response();
        }
    };
    let started = Instant::now();
    let mut serviced = Vec::new();
    let mut unserviced = Vec::new();
    for item in batch.rest_requests {
        let too_big = item
            .body
            .as_ref()
            .is_some_and(|b| b.len() / 4 * 3 > MAX_ITEM_INPUT);
        if too_big || started.elapsed() > BATCH_TIMEOUT {
            unserviced.push(item.id);
            continue;
        }
        serviced.push(serve_item(sim, ctl, parts, item).await);
    }
    let out = BatchResponse {
        batch_request_id: batch.batch_request_id,
        serviced_requests: serviced,
        unserviced_requests: unserviced,
    };
    let bytes = serde_json::to_vec(&out).unwrap_or_default();
    let mut resp = (StatusCode::OK, bytes).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    resp
}

fn item_error(id: String, err: SnError, started: Instant) -> Serviced {
    Serviced {
        id,
        status_code: err.status.as_u16(),
        status_text: err.status.canonical_reason().unwrap_or("").to_owned(),
        headers: vec![NameValue {
            name: "Content-Type".into(),
            value: JSON.into(),
        }],
        body: base64::engine::general_purpose::STANDARD.encode(err.body()),
        execution_time: started.elapsed().as_millis() as u64,
    }
}

async fn serve_item(sim: &Arc<Sim>, ctl: &Arc<ConnCtl>, outer: &Parts, item: Item) -> Serviced {
    let started = Instant::now();
    // The url is relative to the instance; an absolute one is cut to its path and query.
    let uri = match url::Url::parse(&item.url) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        },
        Err(_) => item.url.clone(),
    };
    if uri.starts_with("/api/now/v1/batch") || uri.starts_with("/api/now/batch") {
        return item_error(
            item.id,
            SnError::bad_request("Invalid batch item", "A batch cannot contain a batch"),
            started,
        );
    }
    let body = match item.body.as_deref().filter(|b| !b.is_empty()) {
        None => Vec::new(),
        Some(b) => match base64::engine::general_purpose::STANDARD.decode(b) {
            Ok(bytes) => bytes,
            Err(e) => {
                let err = SnError::bad_body(format!(
                    "The body of batch item {} is not base64: {e}",
                    item.id
                ));
                return item_error(item.id, err, started);
            }
        },
    };
    let mut builder = Request::builder()
        .method(item.method.as_str())
        .uri(uri.as_str());
    let mut has_auth = false;
    for h in &item.headers {
        has_auth |= h.name.eq_ignore_ascii_case("authorization");
        builder = builder.header(h.name.as_str(), h.value.as_str());
    }
    for name in [header::AUTHORIZATION, header::HOST] {
        if (name != header::AUTHORIZATION || !has_auth)
            && let Some(v) = outer.headers.get(&name)
        {
            builder = builder.header(name, v);
        }
    }
    let mut req = match builder.body(Body::from(body)) {
        Ok(r) => r,
        Err(e) => {
            let err = SnError::bad_request("Invalid batch item", format!("Item {}: {e}", item.id));
            return item_error(item.id, err, started);
        }
    };
    req.extensions_mut().insert(http::BatchItem);
    let resp = http::serve(sim.clone(), ctl.clone(), req).await;
    let status = resp.status();
    let headers = if item.exclude_response_headers {
        Vec::new()
    } else {
        resp.headers()
            .iter()
            .filter_map(|(k, v)| {
                Some(NameValue {
                    name: k.as_str().to_owned(),
                    value: v.to_str().ok()?.to_owned(),
                })
            })
            .collect()
    };
    let bytes = to_bytes(resp.into_body(), MAX_ITEM_OUTPUT)
        .await
        .unwrap_or_default();
    Serviced {
        id: item.id,
        status_code: status.as_u16(),
        status_text: status.canonical_reason().unwrap_or("").to_owned(),
        headers,
        body: base64::engine::general_purpose::STANDARD.encode(&bytes),
        execution_time: started.elapsed().as_millis() as u64,
    }
}
