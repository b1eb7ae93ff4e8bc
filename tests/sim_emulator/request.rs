//! Service requests and their approvals.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{As, TestSim};

#[tokio::test]
async fn a_new_request_is_numbered_and_awaits_approval() {
    let sim = TestSim::start().await;
    let req = sim
        .create("sc_request", json!({"short_description": "Approve app X"}))
        .await;
    assert_eq!(req["number"], "REQ0010001");
    assert_eq!(req["approval"], "requested");
    assert_eq!(req["request_state"], "requested");
    assert_eq!(req["stage"], "requested");
    assert_eq!(req["sys_class_name"], "sc_request");
    let id = req["sys_id"].as_str().unwrap();
    let approvals = sim
        .list(
            "sysapproval_approver",
            &format!("sysparm_query=sysapproval%3D{id}"),
        )
        .await;
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0]["state"], "requested");
    assert_eq!(approvals[0]["source_table"], "sc_request");
    let desk = sim.sys_id_of("sys_user", "user_name=help.desk").await;
    assert_eq!(approvals[0]["approver"]["value"], desk.as_str());
}

async fn decide(sim: &TestSim, decision: &str) -> serde_json::Value {
    let req = sim
        .create("sc_request", json!({"short_description": "Approve app X"}))
        .await;
    let id = req["sys_id"].as_str().unwrap().to_owned();
    let approval = sim
        .sys_id_of("sysapproval_approver", &format!("sysapproval={id}"))
        .await;
    let (status, body) = sim
        .patch(
            As::HelpDesk,
            "sysapproval_approver",
            &approval,
            json!({"state": decision, "comments": "ok"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = sim.get(&format!("api/now/table/sc_request/{id}")).await;
    body["result"].clone()
}

#[tokio::test]
async fn approving_the_approval_approves_the_request() {
    let sim = TestSim::start().await;
    let req = decide(&sim, "approved").await;
    assert_eq!(req["approval"], "approved");
    assert_eq!(req["request_state"], "in_process");
    assert_eq!(req["stage"], "fulfillment");
    assert_eq!(req["sys_updated_by"], "help.desk");
    assert_eq!(req["sys_mod_count"], "1");
    assert!(!req["approval_set"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn rejecting_the_approval_rejects_and_closes_the_request() {
    let sim = TestSim::start().await;
    let req = decide(&sim, "rejected").await;
    assert_eq!(req["approval"], "rejected");
    assert_eq!(req["request_state"], "closed_rejected");
    assert_eq!(req["active"], "false");
}

#[tokio::test]
async fn a_request_posted_as_approved_gets_no_approval_record() {
    let sim = TestSim::start().await;
    let req = sim
        .create(
            "sc_request",
            json!({"approval": "approved", "request_state": "in_process"}),
        )
        .await;
    let id = req["sys_id"].as_str().unwrap();
    assert!(
        sim.list(
            "sysapproval_approver",
            &format!("sysparm_query=sysapproval%3D{id}")
        )
        .await
        .is_empty()
    );
    assert_eq!(req["approval"], "approved");
}

#[tokio::test]
async fn an_approval_dot_walks_into_its_request_in_queries_and_fields() {
    let sim = TestSim::start().await;
    let req = sim
        .create(
            "sc_request",
            json!({"short_description": "Approve app X", "correlation_id": "snowsync:app-x"}),
        )
        .await;
    sim.create("sc_request", json!({"short_description": "Someone else's"}))
        .await;
    let rows = sim
        .list(
            "sysapproval_approver",
            "sysparm_query=sysapproval.correlation_idSTARTSWITHsnowsync%3A\
             &sysparm_fields=sysapproval.number,sysapproval.request_state",
        )
        .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["sysapproval.number"], req["number"]);
    assert_eq!(rows[0]["sysapproval.request_state"], "requested");
}
