//! Seed data, field discovery through sys_dictionary, choice lists and table permissions.

use reqwest::StatusCode;
use serde_json::json;
use snowsync::sim::SimConfig;

use crate::support::{As, TestSim, envelope};

#[tokio::test]
async fn sys_dictionary_on_incident_lists_only_its_own_fields() {
    let sim = TestSim::start().await;
    let rows = sim
        .list(
            "sys_dictionary",
            "sysparm_query=name%3Dincident%5Einternal_type!%3Dcollection&sysparm_fields=element,internal_type,max_length",
        )
        .await;
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["element"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"close_code") && names.contains(&"caller_id"));
    assert!(!names.contains(&"short_description"), "inherited from task");
    let inherited = sim
        .list(
            "sys_dictionary",
            "sysparm_query=name%3Dtask%5Eelement%3Dshort_description&sysparm_fields=max_length",
        )
        .await;
    assert_eq!(inherited, [json!({"max_length": "160"})]);
}

#[tokio::test]
async fn custom_incident_fields_carry_their_type_and_length() {
    let sim = TestSim::start().await;
    let rows = sim
        .list(
            "sys_dictionary",
            "sysparm_query=name%3Dincident%5EelementSTARTSWITHu_%5EORDERBYelement&sysparm_fields=element,internal_type,max_length,reference&sysparm_exclude_reference_link=true",
        )
        .await;
    let got: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["element"].as_str().unwrap().to_owned(),
                r["internal_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let strings = got.iter().filter(|(_, t)| t == "string").count();
    assert!(strings >= 2, "{got:?}");
    assert!(got.iter().any(|(_, t)| t == "reference"));
    assert!(got.iter().any(|(_, t)| t == "integer"));
    let reference = rows
        .iter()
        .find(|r| r["internal_type"] == "reference")
        .unwrap();
    assert_eq!(reference["reference"], "sys_user");
    // Without exclude_reference_link, internal_type is a reference to sys_glide_object.
    let linked = sim
        .list(
            "sys_dictionary",
            "sysparm_query=name%3Dincident%5Eelement%3Du_source&sysparm_fields=internal_type",
        )
        .await;
    assert_eq!(linked[0]["internal_type"]["value"], "string");
    assert!(
        linked[0]["internal_type"]["link"]
            .as_str()
            .unwrap()
            .contains("/sys_glide_object/")
    );
}

#[tokio::test]
async fn the_table_definition_row_has_an_empty_element() {
    let sim = TestSim::start().await;
    let rows = sim
        .list("sys_dictionary", "sysparm_query=name%3Dincident%5Einternal_type%3Dcollection&sysparm_exclude_reference_link=true")
        .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["element"], "");
    let super_class = sim
        .list(
            "sys_db_object",
            "sysparm_query=name%3Dincident&sysparm_fields=super_class.name",
        )
        .await;
    assert_eq!(super_class[0]["super_class.name"], "task");
}

#[tokio::test]
async fn sys_choice_holds_states_close_codes_and_categories() {
    let sim = TestSim::start().await;
    let labels = |rows: Vec<serde_json::Value>| -> Vec<String> {
        rows.iter()
            .map(|r| r["label"].as_str().unwrap().to_owned())
            .collect()
    };
    let states = sim
        .list(
            "sys_choice",
            "sysparm_query=name%3Dincident%5Eelement%3Dstate&sysparm_fields=value,label",
        )
        .await;
    assert_eq!(
        labels(states),
        [
            "New",
            "In Progress",
            "On Hold",
            "Resolved",
            "Closed",
            "Canceled"
        ]
    );
    let codes = sim
        .list(
            "sys_choice",
            "sysparm_query=name%3Dincident%5Eelement%3Dclose_code&sysparm_fields=label",
        )
        .await;
    assert!(labels(codes).contains(&"Solution provided".to_owned()));
    let categories = sim
        .list(
            "sys_choice",
            "sysparm_query=name%3Dincident%5Eelement%3Dcategory&sysparm_fields=value",
        )
        .await;
    assert!(categories.iter().any(|c| c["value"] == "inquiry"));
}

#[tokio::test]
async fn seeded_groups_services_and_people_are_there() {
    let sim = TestSim::start().await;
    assert_eq!(
        sim.list("sys_user_group", "sysparm_query=name%3DHardware")
            .await
            .len(),
        2,
        "two groups share a name"
    );
    assert_eq!(
        sim.list("cmdb_ci_service", "sysparm_query=name%3DEmail")
            .await
            .len(),
        1
    );
    let users = sim.list("sys_user", "sysparm_fields=user_name").await;
    for user in ["snowsync.integration", "help.desk", "abel.tuter"] {
        assert!(users.iter().any(|u| u["user_name"] == user), "{user}");
    }
}

#[tokio::test]
async fn the_catalogue_tables_are_read_only_for_the_seeded_accounts() {
    let sim = TestSim::start().await;
    for table in [
        "sys_dictionary",
        "sys_choice",
        "sys_journal_field",
        "sys_db_object",
    ] {
        let (status, body) = sim
            .send(
                sim.request(
                    As::Integration,
                    reqwest::Method::POST,
                    &format!("api/now/table/{table}"),
                )
                .json(&json!({"name": "x"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{table}");
        assert_eq!(envelope(&body).0, "User Not Authorized");
    }
}

#[tokio::test]
async fn label_entry_writes_can_be_refused_like_instances_that_reserve_them() {
    let sim = TestSim::with(SimConfig {
        deny_label_entry_writes: true,
        ..SimConfig::default()
    })
    .await;
    let label = sim.create("label", json!({"name": "snowsync"})).await;
    assert_eq!(label["type"], "standard");
    let incident = sim.create("incident", json!({})).await;
    let (status, _) = sim
        .send(
            sim.request(
                As::Integration,
                reqwest::Method::POST,
                "api/now/table/label_entry",
            )
            .json(&json!({
                "label": label["sys_id"], "table": "incident", "table_key": incident["sys_id"]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
