//! The Batch API: items served as if they came alone.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{As, TestSim, envelope};

fn item(id: &str, method: &str, url: &str, body: Option<Value>) -> Value {
    let mut v = json!({
        "id": id, "method": method, "url": url,
        "headers": [{"name": "Content-Type", "value": "application/json"}, {"name": "Accept", "value": "application/json"}],
    });
    if let Some(b) = body {
        v["body"] = json!(STANDARD.encode(b.to_string()));
    }
    v
}

fn decoded(item: &Value) -> Value {
    let bytes = STANDARD.decode(item["body"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_batch_serves_each_item_as_if_it_came_alone() {
    let sim = TestSim::start().await;
    let batch = json!({
        "batch_request_id": "b1",
        "rest_requests": [
            item("1", "POST", "/api/now/table/incident?sysparm_fields=number,short_description", Some(json!({"short_description": "from batch"}))),
            item("2", "GET", "/api/now/table/incident?sysparm_query=short_description%3Dfrom%20batch&sysparm_fields=number", None),
            item("3", "GET", "/api/now/table/nope", None),
        ]
    });
    let (status, body) = sim
        .send(
            sim.request(As::Integration, Method::POST, "api/now/v1/batch")
                .json(&batch),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["batch_request_id"], "b1");
    assert_eq!(body["unserviced_requests"], json!([]));
    let items = body["serviced_requests"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["id"], "1");
    assert_eq!(items[0]["status_code"], 201);
    assert_eq!(
        decoded(&items[0])["result"],
        json!({"number": "INC0010001", "short_description": "from batch"})
    );
    let location = items[0]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "location")
        .unwrap();
    assert!(
        location["value"]
            .as_str()
            .unwrap()
            .contains("/api/now/v2/table/incident/")
    );
    assert_eq!(items[1]["status_code"], 200);
    assert_eq!(
        decoded(&items[1])["result"],
        json!([{"number": "INC0010001"}])
    );
    assert_eq!(items[2]["status_code"], 400);
    let stats = sim.handle.stats().await;
    assert_eq!(stats.requests_to("POST", "/api/now/v1/batch"), 1);
    assert_eq!(stats.requests_to("POST", "/api/now/table/incident"), 1);
    assert_eq!(stats.requests_to("GET", "/api/now/table/incident"), 1);
    // Items are also counted apart, so the wire count is the total less the items.
    assert_eq!(stats.batch_items.values().sum::<u64>(), 3);
    assert_eq!(
        stats.batch_items.get("POST /api/now/table/incident"),
        Some(&1)
    );
    assert_eq!(stats.batch_items.get("POST /api/now/v1/batch"), None);
}

#[tokio::test]
async fn a_batch_needs_authentication_and_a_valid_body() {
    let sim = TestSim::start().await;
    let (status, _) = sim
        .send(
            sim.request(As::Nobody, Method::POST, "api/now/v1/batch")
                .json(&json!({"rest_requests": []})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = sim
        .send(
            sim.request(As::Integration, Method::POST, "api/now/v1/batch")
                .json(&json!({"rest_requests": [{"id": "1"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        envelope(&body)
            .1
            .as_str()
            .unwrap()
            .contains("rest_requests[0]")
    );
}

#[tokio::test]
async fn a_numeric_batch_request_id_is_accepted_and_answered_as_a_string() {
    let sim = TestSim::start().await;
    // PySNC sends a counter as a JSON number; a real instance answers its string form.
    let batch = json!({
        "batch_request_id": 7,
        "rest_requests": [item("1", "GET", "/api/now/table/incident?sysparm_fields=number", None)]
    });
    let (status, body) = sim
        .send(
            sim.request(As::Integration, Method::POST, "api/now/v1/batch")
                .json(&batch),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["batch_request_id"], "7");
    assert_eq!(body["serviced_requests"][0]["status_code"], 200);
}
