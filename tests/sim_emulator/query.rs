//! Encoded queries, field selection and display values.

use chrono::NaiveDateTime;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use snowsync::sim::SimConfig;

use crate::support::{As, TestSim, encode};

/// Five incidents, named by their short descriptions' first word.
async fn fixture(sim: &TestSim) {
    let network = sim.sys_id_of("sys_user_group", "name=Network").await;
    let rows = [
        json!({"short_description": "VPN down", "impact": "1", "urgency": "1", "category": "network",
               "correlation_id": "snowsync:a", "u_occurrences": "10", "assignment_group": network}),
        json!({"short_description": "Email slow", "impact": "2", "urgency": "2", "category": "inquiry",
               "correlation_id": "snowsync:b", "u_occurrences": "2"}),
        json!({"short_description": "vpn flapping", "impact": "3", "urgency": "3", "category": "network",
               "u_occurrences": "9"}),
        json!({"short_description": "Printer jam", "impact": "2", "urgency": "3", "category": "hardware",
               "correlation_id": "other:d"}),
        json!({"short_description": "Caret ^ here", "impact": "1", "urgency": "2", "category": "software",
               "u_occurrences": "100"}),
    ];
    for r in rows {
        sim.create("incident", r).await;
    }
}

async fn matching(sim: &TestSim, query: &str) -> Vec<String> {
    sim.list(
        "incident",
        &format!(
            "sysparm_query={}&sysparm_fields=short_description",
            encode(query)
        ),
    )
    .await
    .iter()
    .map(|r| {
        r["short_description"]
            .as_str()
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_owned()
    })
    .collect()
}

#[tokio::test]
async fn encoded_query_operators_filter_as_documented() {
    let sim = TestSim::start().await;
    fixture(&sim).await;
    let cases: &[(&str, &[&str])] = &[
        ("category=network", &["VPN", "vpn"]),
        ("category!=network", &["Email", "Printer", "Caret"]),
        ("categoryINnetwork,hardware", &["VPN", "vpn", "Printer"]),
        ("priorityNOT IN1,2", &["Email", "vpn", "Printer"]),
        ("short_descriptionSTARTSWITHvpn", &["VPN", "vpn"]),
        ("short_descriptionENDSWITHSLOW", &["Email"]),
        ("short_descriptionLIKEvpn", &["VPN", "vpn"]),
        (
            "short_descriptionNOTLIKEvpn",
            &["Email", "Printer", "Caret"],
        ),
        ("correlation_idISEMPTY", &["vpn", "Caret"]),
        ("correlation_idISNOTEMPTY", &["VPN", "Email", "Printer"]),
        ("correlation_idSTARTSWITHsnowsync:", &["VPN", "Email"]),
        ("priority<3", &["VPN", "Caret"]),
        ("priority<=3", &["VPN", "Email", "Caret"]),
        ("priority>3", &["vpn", "Printer"]),
        ("priority>=4", &["vpn", "Printer"]),
        ("priorityBETWEEN2@4", &["Email", "Printer", "Caret"]),
        ("u_occurrences>9", &["VPN", "Caret"]),
        ("short_description=Caret ^^ here", &["Caret"]),
        ("assignment_group.name=Network", &["VPN"]),
        (
            "u_sourceANYTHING",
            &["VPN", "Email", "vpn", "Printer", "Caret"],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(matching(&sim, query).await, *expected, "{query}");
    }
}

#[tokio::test]
async fn or_binds_to_one_condition_and_nq_starts_a_new_group() {
    let sim = TestSim::start().await;
    fixture(&sim).await;
    let cases: &[(&str, &[&str])] = &[
        ("category=network^impact=1", &["VPN"]),
        (
            "category=network^ORcategory=hardware",
            &["VPN", "vpn", "Printer"],
        ),
        (
            "impact=1^category=network^ORcategory=software",
            &["VPN", "Caret"],
        ),
        (
            "category=hardware^NQimpact=1^category=software",
            &["Printer", "Caret"],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(matching(&sim, query).await, *expected, "{query}");
    }
}

#[tokio::test]
async fn a_part_naming_an_unknown_field_is_ignored() {
    let sim = TestSim::start().await;
    fixture(&sim).await;
    assert_eq!(
        matching(&sim, "u_bogus=1^category=network").await,
        ["VPN", "vpn"]
    );
    assert_eq!(matching(&sim, "u_bogus=1").await.len(), 5);
}

#[tokio::test]
async fn an_invalid_part_returns_no_rows_when_the_instance_is_set_so() {
    let sim = TestSim::with(SimConfig {
        invalid_query_returns_no_rows: true,
        ..SimConfig::default()
    })
    .await;
    fixture(&sim).await;
    assert!(
        matching(&sim, "u_bogus=1^category=network")
            .await
            .is_empty()
    );
    assert_eq!(matching(&sim, "category=network").await, ["VPN", "vpn"]);
}

#[tokio::test]
async fn orderby_sorts_numbers_as_numbers_and_orderbydesc_reverses() {
    let sim = TestSim::start().await;
    fixture(&sim).await;
    assert_eq!(
        matching(&sim, "ORDERBYu_occurrences").await,
        ["Printer", "Email", "vpn", "VPN", "Caret"]
    );
    assert_eq!(
        matching(&sim, "ORDERBYDESCu_occurrences").await,
        ["Caret", "VPN", "vpn", "Email", "Printer"]
    );
    assert_eq!(
        matching(&sim, "active=true^ORDERBYcategory^ORDERBYDESCpriority").await,
        ["Printer", "Email", "vpn", "VPN", "Caret"]
    );
}

#[tokio::test]
async fn sys_updated_on_compares_as_utc_date_times() {
    let sim = TestSim::start().await;
    let early = sim
        .create("incident", json!({"short_description": "early"}))
        .await;
    sim.handle
        .advance_clock(std::time::Duration::from_secs(2 * 3600))
        .await;
    let late = sim
        .create("incident", json!({"short_description": "late"}))
        .await;
    let t0 = NaiveDateTime::parse_from_str(
        early["sys_updated_on"].as_str().unwrap(),
        "%Y-%m-%d %H:%M:%S",
    )
    .unwrap();
    let mid = (t0 + chrono::Duration::hours(1))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let (date, time) = mid.split_once(' ').unwrap();
    assert_eq!(
        matching(&sim, &format!("sys_updated_on>={mid}")).await,
        ["late"]
    );
    assert_eq!(
        matching(&sim, &format!("sys_updated_on<{mid}")).await,
        ["early"]
    );
    let script = format!("sys_updated_on>javascript:gs.dateGenerate('{date}','{time}')");
    assert_eq!(matching(&sim, &script).await, ["late"]);
    let late_on = late["sys_updated_on"].as_str().unwrap();
    assert_eq!(
        matching(&sim, &format!("sys_updated_on>={late_on}")).await,
        ["late"]
    );
}

#[tokio::test]
async fn javascript_get_user_id_is_the_caller() {
    let sim = TestSim::start().await;
    let me = sim
        .sys_id_of("sys_user", "user_name=snowsync.integration")
        .await;
    sim.create(
        "incident",
        json!({"short_description": "mine", "caller_id": me}),
    )
    .await;
    sim.create("incident", json!({"short_description": "theirs"}))
        .await;
    assert_eq!(
        matching(&sim, "caller_id=javascript:gs.getUserID()").await,
        ["mine"]
    );
}

#[tokio::test]
async fn records_are_found_by_tag() {
    let sim = TestSim::start().await;
    fixture(&sim).await;
    let label = sim.create("label", json!({"name": "snowsync"})).await;
    let label_id = label["sys_id"].as_str().unwrap();
    let target = sim
        .sys_id_of("incident", "short_descriptionSTARTSWITHPrinter")
        .await;
    let entry = sim
        .create(
            "label_entry",
            json!({"label": label_id, "table": "incident", "table_key": target}),
        )
        .await;
    assert_eq!(entry["target"], target.as_str());
    assert_eq!(
        matching(&sim, &format!("sys_tags.{label_id}={label_id}")).await,
        ["Printer"]
    );
}

#[tokio::test]
async fn sysparm_fields_selects_fields_and_dot_walks_references() {
    let sim = TestSim::start().await;
    fixture(&sim).await;
    let rows = sim
        .list(
            "incident",
            "sysparm_query=correlation_id%3Dsnowsync%3Aa&sysparm_fields=number,%20short_description,u_bogus,assignment_group.name",
        )
        .await;
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert_eq!(rows[0]["assignment_group.name"], "Network");
    assert_eq!(rows[0]["short_description"], "VPN down");
}

#[tokio::test]
async fn display_values_show_labels_names_and_the_users_time_zone() {
    let sim = TestSim::start().await;
    fixture(&sim).await;
    let q = "sysparm_query=correlation_id%3Dsnowsync%3Aa";
    let raw = &sim.list("incident", q).await[0];
    let shown = &sim
        .list("incident", &format!("{q}&sysparm_display_value=true"))
        .await[0];
    assert_eq!(shown["priority"], "1 - Critical");
    assert_eq!(shown["state"], "New");
    assert_eq!(shown["category"], "Network");
    assert_eq!(shown["u_occurrences"], "10");
    assert_eq!(shown["sys_class_name"], "Incident");
    assert_eq!(shown["approval"], "Not Yet Requested");
    assert_eq!(shown["sla_due"], "UNKNOWN");
    assert_eq!(shown["assignment_group"]["display_value"], "Network");
    assert!(
        shown["assignment_group"].get("value").is_none(),
        "no value with display_value=true"
    );
    let utc =
        NaiveDateTime::parse_from_str(raw["sys_created_on"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S")
            .unwrap();
    let local = (utc - chrono::Duration::hours(7))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    assert_eq!(
        shown["sys_created_on"],
        local.as_str(),
        "the seeded users sit at UTC-7"
    );

    let all = &sim
        .list("incident", &format!("{q}&sysparm_display_value=all"))
        .await[0];
    assert_eq!(all["state"], json!({"display_value": "New", "value": "1"}));
    assert_eq!(all["assignment_group"]["display_value"], "Network");
    assert_eq!(
        all["assignment_group"]["value"],
        raw["assignment_group"]["value"]
    );
    assert!(all["assignment_group"]["link"].is_string());
    assert_eq!(all["caller_id"], json!({"display_value": "", "value": ""}));
}

#[tokio::test]
async fn exclude_reference_link_leaves_the_bare_value() {
    let sim = TestSim::start().await;
    fixture(&sim).await;
    let q = "sysparm_query=correlation_id%3Dsnowsync%3Aa&sysparm_exclude_reference_link=true";
    let raw = &sim.list("incident", q).await[0];
    assert!(
        raw["assignment_group"]
            .as_str()
            .is_some_and(|s| s.len() == 32)
    );
    let shown = &sim
        .list("incident", &format!("{q}&sysparm_display_value=true"))
        .await[0];
    assert_eq!(shown["assignment_group"], "Network");
}

#[tokio::test]
async fn input_display_value_takes_names_labels_and_local_times() {
    let sim = TestSim::start().await;
    let network = sim.sys_id_of("sys_user_group", "name=Network").await;
    let (status, body) = sim
        .send(
            sim.request(As::Integration, Method::POST, "api/now/table/incident?sysparm_input_display_value=true")
                .json(&json!({"assignment_group": "Network", "urgency": "1 - High", "due_date": "2025-01-01 05:00:00",
                              "caller_id": "Nobody Of That Name"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let rec: &Value = &body["result"];
    assert_eq!(rec["assignment_group"]["value"], network.as_str());
    assert_eq!(rec["urgency"], "1");
    assert_eq!(rec["due_date"], "2025-01-01 12:00:00");
    assert_eq!(rec["caller_id"], "");
    let plain = sim
        .create("incident", json!({"assignment_group": "Network"}))
        .await;
    assert_eq!(
        plain["assignment_group"]["value"], "Network",
        "stored as given without it"
    );
}

#[tokio::test]
async fn invalid_values_of_known_parameters_are_a_400_and_unknown_parameters_are_ignored() {
    let sim = TestSim::start().await;
    fixture(&sim).await;
    for bad in [
        "sysparm_limit=abc",
        "sysparm_limit=-3",
        "sysparm_display_value=maybe",
        "sysparm_exclude_reference_link=yes",
        "sysparm_offset=x",
    ] {
        let (status, body) = sim.get(&format!("api/now/table/incident?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["status"], "failure");
    }
    // `query=` without the sysparm_ prefix filters nothing, as recorded.
    assert_eq!(
        sim.list("incident", "query=category%3Dnetwork&display_value=True")
            .await
            .len(),
        5
    );
}
