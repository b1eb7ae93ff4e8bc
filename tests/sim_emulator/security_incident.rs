//! Security Incident Response: the `sn_si_incident` table with its numbering, Draft start,
//! state choices and closure, and an instance without the plugin, which has no such table.

use reqwest::{Method, StatusCode};
use serde_json::json;
use snowsync::sim::SimConfig;

use crate::support::{As, TestSim, envelope};

#[tokio::test]
async fn a_new_security_incident_is_numbered_sir_and_starts_as_a_draft() {
    let sim = TestSim::start().await;
    let rec = sim
        .create("sn_si_incident", json!({"short_description": "Phishing"}))
        .await;
    assert_eq!(rec["number"], "SIR0010001");
    assert_eq!(rec["state"], "10");
    assert_eq!(rec["active"], "true");
    assert_eq!(rec["sys_class_name"], "sn_si_incident");
    let second = sim.create("sn_si_incident", json!({})).await;
    assert_eq!(second["number"], "SIR0010002");
}

#[tokio::test]
async fn sn_si_incident_extends_task_and_lists_its_states_in_sys_choice() {
    let sim = TestSim::start().await;
    let super_class = sim
        .list(
            "sys_db_object",
            "sysparm_query=name%3Dsn_si_incident&sysparm_fields=super_class.name",
        )
        .await;
    assert_eq!(super_class[0]["super_class.name"], "task");
    let states: Vec<(String, String)> = sim
        .list(
            "sys_choice",
            "sysparm_query=name%3Dsn_si_incident%5Eelement%3Dstate&sysparm_fields=value,label",
        )
        .await
        .iter()
        .map(|r| {
            (
                r["value"].as_str().unwrap().to_owned(),
                r["label"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("10", "Draft"),
        ("16", "Analysis"),
        ("18", "Contain"),
        ("19", "Eradicate"),
        ("20", "Recover"),
        ("100", "Review"),
        ("3", "Closed"),
        ("7", "Cancelled"),
    ]
    .map(|(v, l)| (v.to_owned(), l.to_owned()));
    assert_eq!(states, expected);
    let own = sim
        .list(
            "sys_dictionary",
            "sysparm_query=name%3Dsn_si_incident%5Eelement%3Daffected_user&sysparm_fields=reference&sysparm_exclude_reference_link=true",
        )
        .await;
    assert_eq!(own, [json!({"reference": "sys_user"})]);
}

#[tokio::test]
async fn closing_a_security_incident_needs_its_close_code_and_notes() {
    let sim = TestSim::start().await;
    let rec = sim.create("sn_si_incident", json!({})).await;
    let id = rec["sys_id"].as_str().unwrap();
    let (status, body) = sim
        .patch(As::HelpDesk, "sn_si_incident", id, json!({"state": "3"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, detail) = envelope(&body);
    assert!(
        detail
            .as_str()
            .unwrap()
            .contains("mandatory: Close code, Close notes"),
        "{detail}"
    );
    let (status, body) = sim
        .patch(
            As::HelpDesk,
            "sn_si_incident",
            id,
            json!({"state": "3", "close_code": "False positive", "close_notes": "A test"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["active"], "false");
    assert!(!body["result"]["closed_at"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn without_the_plugin_sn_si_incident_is_an_invalid_table() {
    let sim = TestSim::with(SimConfig {
        security_incident_response: false,
        ..SimConfig::default()
    })
    .await;
    let (status, body) = sim
        .send(
            sim.request(
                As::Integration,
                Method::POST,
                "api/now/table/sn_si_incident",
            )
            .json(&json!({"short_description": "Phishing"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(envelope(&body).0, "Invalid table sn_si_incident");
    let catalogue = sim
        .list("sys_db_object", "sysparm_query=name%3Dsn_si_incident")
        .await;
    assert!(catalogue.is_empty(), "{catalogue:?}");
    let choices = sim
        .list("sys_choice", "sysparm_query=name%3Dsn_si_incident")
        .await;
    assert!(choices.is_empty(), "{choices:?}");
}
