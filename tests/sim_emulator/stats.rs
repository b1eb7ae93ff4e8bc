//! `GET /sim/stats`: request counts per method and path template, and the duplicate audit.

use reqwest::Method;
use serde_json::json;
use snowsync::sim::SimStats;

use crate::support::{As, TestSim};

#[tokio::test]
async fn requests_are_counted_per_method_and_path_template() {
    let sim = TestSim::start().await;
    let rec = sim.create("incident", json!({})).await;
    let id = rec["sys_id"].as_str().unwrap();
    sim.patch(As::Integration, "incident", id, json!({"urgency": "1"}))
        .await;
    sim.get(&format!("api/now/v2/table/incident/{id}")).await;
    sim.get("api/now/table/incident").await;
    let stats = sim.handle.stats().await;
    assert_eq!(stats.requests_to("POST", "/api/now/table/incident"), 1);
    assert_eq!(
        stats.requests_to("PATCH", "/api/now/table/incident/{sys_id}"),
        1
    );
    assert_eq!(
        stats.requests_to("GET", "/api/now/v2/table/incident/{sys_id}"),
        1
    );
    assert_eq!(stats.requests_to("GET", "/api/now/table/incident"), 1);
    assert_eq!(stats.requests_total, 4);
    assert_eq!(stats.responses["201"], 1);
    assert_eq!(stats.records("incident"), 1);
}

#[tokio::test]
async fn requests_are_counted_per_table_and_method_whatever_the_path_form() {
    let sim = TestSim::start().await;
    let rec = sim.create("incident", json!({})).await;
    let id = rec["sys_id"].as_str().unwrap();
    sim.get(&format!("api/now/v2/table/incident/{id}")).await;
    sim.get("api/now/table/incident?sysparm_limit=1").await;
    sim.get("api/now/v1/table/sc_request").await;
    let stats = sim.handle.stats().await;
    assert_eq!(stats.table_requests("incident", "GET"), 2);
    assert_eq!(stats.table_requests("incident", "POST"), 1);
    assert_eq!(stats.table_requests("sc_request", "GET"), 1);
    assert_eq!(stats.table_requests("sc_request", "POST"), 0);
    assert_eq!(stats.tables["incident"].requests["GET"], 2);
}

#[tokio::test]
async fn the_duplicate_audit_counts_records_sharing_a_correlation_id() {
    let sim = TestSim::start().await;
    for correlation in [
        "snowsync:a",
        "snowsync:a",
        "snowsync:a",
        "snowsync:b",
        "",
        "",
    ] {
        sim.create("incident", json!({"correlation_id": correlation}))
            .await;
    }
    sim.create("sc_request", json!({"correlation_id": "snowsync:c"}))
        .await;
    let (_, raw) = sim
        .send(sim.request(As::Nobody, Method::GET, "sim/stats"))
        .await;
    let stats: SimStats = serde_json::from_value(raw).unwrap();
    assert_eq!(stats.tables["incident"].duplicate_correlation_records, 3);
    assert_eq!(stats.tables["incident"].duplicate_correlation_ids, 1);
    assert_eq!(stats.duplicate_records("sc_request"), 0);
    assert_eq!(stats.tables["sys_user"].duplicate_correlation_records, 0);
    // A duplicate that is fixed leaves the audit.
    let dup = sim
        .list(
            "incident",
            "sysparm_query=correlation_id%3Dsnowsync%3Aa&sysparm_fields=sys_id",
        )
        .await;
    sim.patch(
        As::Integration,
        "incident",
        dup[0]["sys_id"].as_str().unwrap(),
        json!({"correlation_id": "snowsync:z"}),
    )
    .await;
    assert_eq!(sim.handle.stats().await.duplicate_records("incident"), 2);
    assert_eq!(
        stats.requests_to("GET", "/sim/stats"),
        0,
        "the emulator's own endpoints are not counted"
    );
}
