//! Incident rules: numbering, priority, the state model, the resolve data policy, closed
//! records, and the work_notes and comments journals.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{As, TestSim, envelope};

#[tokio::test]
async fn new_incidents_are_numbered_inc0010001_onwards() {
    let sim = TestSim::start().await;
    let a = sim.create("incident", json!({})).await;
    let b = sim.create("incident", json!({})).await;
    assert_eq!(a["number"], "INC0010001");
    assert_eq!(b["number"], "INC0010002");
    assert_eq!(a["task_effective_number"], "INC0010001");
}

#[tokio::test]
async fn priority_comes_from_impact_and_urgency_never_from_the_client() {
    let sim = TestSim::start().await;
    let expected = [
        ("1", "1", "1"),
        ("1", "2", "2"),
        ("1", "3", "3"),
        ("2", "1", "2"),
        ("2", "2", "3"),
        ("2", "3", "4"),
        ("3", "1", "3"),
        ("3", "2", "4"),
        ("3", "3", "5"),
    ];
    for (impact, urgency, priority) in expected {
        let rec = sim
            .create(
                "incident",
                json!({"impact": impact, "urgency": urgency, "priority": "1"}),
            )
            .await;
        assert_eq!(
            rec["priority"], priority,
            "impact {impact} urgency {urgency}"
        );
    }
    let rec = sim.create("incident", json!({})).await;
    assert_eq!(
        (
            rec["impact"].as_str(),
            rec["urgency"].as_str(),
            rec["priority"].as_str()
        ),
        (Some("3"), Some("3"), Some("5"))
    );
    let id = rec["sys_id"].as_str().unwrap();
    let (_, body) = sim
        .patch(
            As::HelpDesk,
            "incident",
            id,
            json!({"impact": "1", "priority": "5"}),
        )
        .await;
    assert_eq!(body["result"]["priority"], "3");
}

#[tokio::test]
async fn state_and_incident_state_carry_the_same_value() {
    let sim = TestSim::start().await;
    let rec = sim.create("incident", json!({"state": "2"})).await;
    assert_eq!(rec["incident_state"], "2");
    let id = rec["sys_id"].as_str().unwrap();
    let (_, body) = sim
        .patch(As::HelpDesk, "incident", id, json!({"incident_state": "3"}))
        .await;
    assert_eq!(body["result"]["state"], "3");
    assert_eq!(body["result"]["incident_state"], "3");
}

#[tokio::test]
async fn resolving_without_close_code_and_notes_is_refused_by_the_data_policy() {
    let sim = TestSim::start().await;
    let rec = sim.create("incident", json!({})).await;
    let id = rec["sys_id"].as_str().unwrap();
    for fields in [
        json!({"state": "6"}),
        json!({"state": "7", "close_code": "Duplicate"}),
        json!({"incident_state": "6", "close_notes": "done"}),
    ] {
        let (status, body) = sim
            .patch(As::Integration, "incident", id, fields.clone())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{fields}");
        let (message, detail) = envelope(&body);
        assert_eq!(message, "Operation Failed");
        assert!(
            detail.as_str().unwrap().contains("Data Policy Exception"),
            "{detail}"
        );
    }
    let (status, body) = sim
        .send(
            sim.request(
                As::Integration,
                reqwest::Method::POST,
                "api/now/table/incident",
            )
            .json(&json!({"state": "6"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, body) = sim.get(&format!("api/now/table/incident/{id}")).await;
    assert_eq!(body["result"]["state"], "1", "nothing was applied");
    assert_eq!(body["result"]["sys_mod_count"], "0");
}

#[tokio::test]
async fn resolving_with_code_and_notes_records_who_and_when() {
    let sim = TestSim::start().await;
    let rec = sim.create("incident", json!({})).await;
    let id = rec["sys_id"].as_str().unwrap();
    sim.handle.advance_clock(Duration::from_secs(3600)).await;
    let (status, body) = sim
        .patch(
            As::HelpDesk,
            "incident",
            id,
            json!({"state": "6", "close_code": "Solution provided", "close_notes": "Fixed"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = &body["result"];
    let desk = sim.sys_id_of("sys_user", "user_name=help.desk").await;
    assert_eq!(r["resolved_by"]["value"], desk.as_str());
    assert_eq!(r["resolved_at"], r["sys_updated_on"]);
    assert_eq!(r["active"], "true");
    assert!(r["calendar_stc"].as_str().unwrap().parse::<i64>().unwrap() >= 3600);
    let (_, body) = sim
        .patch(As::HelpDesk, "incident", id, json!({"state": "7"}))
        .await;
    assert_eq!(body["result"]["active"], "false");
    assert_eq!(body["result"]["closed_by"]["value"], desk.as_str());
}

#[tokio::test]
async fn a_closed_incident_is_read_only_but_a_resolved_one_reopens() {
    let sim = TestSim::start().await;
    let rec = sim
        .create(
            "incident",
            json!({"close_code": "Duplicate", "close_notes": "dup"}),
        )
        .await;
    let id = rec["sys_id"].as_str().unwrap();
    sim.patch(As::HelpDesk, "incident", id, json!({"state": "6"}))
        .await;
    let (status, body) = sim
        .patch(As::Integration, "incident", id, json!({"state": "2"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"]["reopen_count"], "1");
    assert_eq!(body["result"]["active"], "true");
    sim.patch(As::HelpDesk, "incident", id, json!({"state": "7"}))
        .await;
    let (status, body) = sim
        .patch(
            As::Integration,
            "incident",
            id,
            json!({"work_notes": "again"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(envelope(&body).0, "Operation Failed");
}

#[tokio::test]
async fn journal_fields_read_empty_and_append_to_sys_journal_field() {
    let sim = TestSim::start().await;
    let rec = sim
        .create("incident", json!({"work_notes": "created by snowsync"}))
        .await;
    assert_eq!(rec["work_notes"], "");
    assert_eq!(rec["comments_and_work_notes"], "");
    let id = rec["sys_id"].as_str().unwrap();
    let (_, body) = sim
        .patch(
            As::HelpDesk,
            "incident",
            id,
            json!({"comments": "Looking into it"}),
        )
        .await;
    assert_eq!(body["result"]["comments"], "");
    let entries = sim
        .list("sys_journal_field", &format!("sysparm_query=element_id%3D{id}^ORDERBYsys_created_on&sysparm_fields=element,value,sys_created_by"))
        .await;
    assert_eq!(
        entries,
        [
            json!({"element": "work_notes", "value": "created by snowsync", "sys_created_by": "snowsync.integration"}),
            json!({"element": "comments", "value": "Looking into it", "sys_created_by": "help.desk"}),
        ]
    );
}

#[tokio::test]
async fn a_journal_only_update_bumps_sys_mod_count_and_sys_updated_on() {
    let sim = TestSim::start().await;
    let rec = sim.create("incident", json!({})).await;
    let id = rec["sys_id"].as_str().unwrap();
    sim.handle.advance_clock(Duration::from_secs(60)).await;
    for n in 1..=4 {
        let (_, body) = sim
            .patch(As::Integration, "incident", id, json!({"comments": "test"}))
            .await;
        assert_eq!(body["result"]["sys_mod_count"], n.to_string().as_str());
        assert_ne!(body["result"]["sys_updated_on"], rec["sys_updated_on"]);
    }
}

#[tokio::test]
async fn with_display_values_journals_render_newest_first() {
    let sim = TestSim::start().await;
    let rec = sim.create("incident", json!({"comments": "first"})).await;
    let id = rec["sys_id"].as_str().unwrap();
    sim.handle.advance_clock(Duration::from_secs(60)).await;
    sim.patch(
        As::HelpDesk,
        "incident",
        id,
        json!({"work_notes": "second"}),
    )
    .await;
    let (_, body) = sim
        .get(&format!("api/now/table/incident/{id}?sysparm_display_value=true&sysparm_fields=comments,work_notes,comments_and_work_notes"))
        .await;
    let r = &body["result"];
    let comments = r["comments"].as_str().unwrap();
    assert!(
        comments.ends_with(" - SnowSync Integration (Additional comments)\nfirst\n\n"),
        "{comments}"
    );
    assert!(
        r["work_notes"]
            .as_str()
            .unwrap()
            .ends_with(" - Help Desk (Work notes)\nsecond\n\n")
    );
    let both = r["comments_and_work_notes"].as_str().unwrap();
    assert!(
        both.find("second").unwrap() < both.find("first").unwrap(),
        "{both}"
    );
}

#[tokio::test]
async fn the_caller_answering_an_awaiting_caller_hold_resumes_the_incident() {
    let sim = TestSim::start().await;
    let desk = sim.sys_id_of("sys_user", "user_name=help.desk").await;
    let rec = sim
        .create(
            "incident",
            json!({"caller_id": desk, "state": "3", "hold_reason": "1"}),
        )
        .await;
    assert_eq!(rec["hold_reason"], "1");
    let id = rec["sys_id"].as_str().unwrap();
    let (_, body) = sim
        .patch(
            As::HelpDesk,
            "incident",
            id,
            json!({"comments": "here you go"}),
        )
        .await;
    assert_eq!(body["result"]["state"], "2");
    assert_eq!(body["result"]["hold_reason"], "");
}
