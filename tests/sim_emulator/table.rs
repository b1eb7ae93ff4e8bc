//! Table API verbs, the envelope, value shapes, and the errors of bad requests.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{As, TestSim, envelope};

fn is_sys_id(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

fn is_date_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 19
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b' ',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        })
}

#[tokio::test]
async fn post_returns_201_a_v2_location_and_the_full_record() {
    let sim = TestSim::start().await;
    let resp = sim
        .request(As::Integration, Method::POST, "api/now/table/incident")
        .json(&json!({"short_description": "Disk full"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "application/json;charset=UTF-8"
    );
    let body: Value = resp.json().await.unwrap();
    let rec = &body["result"];
    let sys_id = rec["sys_id"].as_str().unwrap();
    assert_eq!(
        location,
        sim.url(&format!("api/now/v2/table/incident/{sys_id}"))
    );
    assert!(is_sys_id(&rec["sys_id"]));
    assert_eq!(rec["short_description"], "Disk full");
    assert_eq!(rec["sys_mod_count"], "0");
    assert_eq!(rec["sys_created_by"], "snowsync.integration");
    assert_eq!(rec["sys_updated_by"], "snowsync.integration");
    assert!(is_date_time(&rec["sys_created_on"]) && is_date_time(&rec["sys_updated_on"]));
    assert!(
        rec.as_object().unwrap().len() > 90,
        "the full record, not an echo"
    );
}

#[tokio::test]
async fn every_value_is_a_string_and_references_are_link_value_pairs() {
    let sim = TestSim::start().await;
    let group = sim.sys_id_of("sys_user_group", "name=Network").await;
    let rec = sim
        .create(
            "incident",
            json!({"assignment_group": group, "impact": 2, "u_occurrences": 3, "knowledge": false}),
        )
        .await;
    for (name, value) in rec.as_object().unwrap() {
        match value {
            Value::String(_) => {}
            Value::Object(o) => {
                assert_eq!(o.len(), 2, "{name}: {value}");
                assert!(
                    o["link"].is_string() && o["value"].is_string(),
                    "{name}: {value}"
                );
            }
            other => panic!("{name} is not a string: {other}"),
        }
    }
    assert_eq!(rec["impact"], "2");
    assert_eq!(rec["u_occurrences"], "3");
    assert_eq!(rec["knowledge"], "false");
    assert_eq!(rec["assignment_group"]["value"], group.as_str());
    assert_eq!(
        rec["assignment_group"]["link"],
        sim.url(&format!("api/now/v2/table/sys_user_group/{group}"))
            .as_str()
    );
    assert_eq!(
        rec["caller_id"], "",
        "an empty reference is an empty string"
    );
}

#[tokio::test]
async fn links_follow_the_version_of_the_request_url() {
    let sim = TestSim::start().await;
    let (_, body) = sim
        .send(
            sim.request(As::Integration, Method::POST, "api/now/v1/table/incident")
                .json(&json!({"short_description": "v1"})),
        )
        .await;
    let link = body["result"]["opened_by"]["link"].as_str().unwrap();
    assert!(link.contains("/api/now/v1/table/sys_user/"), "{link}");
}

#[tokio::test]
async fn references_are_stored_unchecked_as_on_a_real_instance() {
    let sim = TestSim::start().await;
    let rec = sim
        .create(
            "incident",
            json!({"caller_id": "no value", "cmdb_ci": {"link": "https://instance.servicenow.com/x", "value": "y"}}),
        )
        .await;
    assert_eq!(rec["caller_id"]["value"], "no value");
    assert!(
        rec["caller_id"]["link"]
            .as_str()
            .unwrap()
            .ends_with("/sys_user/no value")
    );
    // An object is stored as Java prints a map, cut to the 32 characters of a reference.
    assert_eq!(rec["cmdb_ci"]["value"], "{link=https://instance.serviceno");
}

#[tokio::test]
async fn get_by_sys_id_returns_the_record_and_an_unknown_one_is_404() {
    let sim = TestSim::start().await;
    let rec = sim
        .create("incident", json!({"short_description": "x"}))
        .await;
    let id = rec["sys_id"].as_str().unwrap();
    let (status, body) = sim.get(&format!("api/now/table/incident/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"], rec);
    let (status, body) = sim
        .get("api/now/table/incident/0123456789abcdef0123456789abcdef")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(envelope(&body).0, "No Record found");
}

#[tokio::test]
async fn patch_and_put_change_only_the_fields_sent() {
    let sim = TestSim::start().await;
    let rec = sim
        .create(
            "incident",
            json!({"short_description": "a", "description": "keep"}),
        )
        .await;
    let id = rec["sys_id"].as_str().unwrap();
    let (status, body) = sim
        .patch(
            As::Integration,
            "incident",
            id,
            json!({"short_description": "b"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"]["short_description"], "b");
    assert_eq!(body["result"]["description"], "keep");
    assert_eq!(body["result"]["sys_mod_count"], "1");
    let (status, body) = sim
        .send(
            sim.request(
                As::Integration,
                Method::PUT,
                &format!("api/now/table/incident/{id}"),
            )
            .json(&json!({"short_description": "c"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"]["description"], "keep");
    assert_eq!(body["result"]["sys_mod_count"], "2");
}

#[tokio::test]
async fn an_update_that_changes_nothing_is_not_a_modification() {
    let sim = TestSim::start().await;
    let rec = sim
        .create("incident", json!({"short_description": "same"}))
        .await;
    let id = rec["sys_id"].as_str().unwrap();
    let (_, body) = sim
        .patch(
            As::Integration,
            "incident",
            id,
            json!({"short_description": "same"}),
        )
        .await;
    assert_eq!(body["result"]["sys_mod_count"], "0");
}

#[tokio::test]
async fn sys_updated_by_names_whoever_changed_the_ticket() {
    let sim = TestSim::start().await;
    let rec = sim
        .create("incident", json!({"short_description": "x"}))
        .await;
    let id = rec["sys_id"].as_str().unwrap();
    let (_, body) = sim
        .patch(As::HelpDesk, "incident", id, json!({"urgency": "1"}))
        .await;
    assert_eq!(body["result"]["sys_updated_by"], "help.desk");
    assert_eq!(body["result"]["sys_created_by"], "snowsync.integration");
}

#[tokio::test]
async fn delete_returns_204_and_the_record_is_gone() {
    let sim = TestSim::start().await;
    let rec = sim.create("incident", json!({})).await;
    let path = format!("api/now/table/incident/{}", rec["sys_id"].as_str().unwrap());
    let resp = sim
        .request(As::Integration, Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(resp.bytes().await.unwrap().is_empty());
    assert_eq!(sim.get(&path).await.0, StatusCode::NOT_FOUND);
    let resp = sim
        .request(As::Integration, Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn fields_the_table_lacks_are_ignored_on_write() {
    let sim = TestSim::start().await;
    let rec = sim
        .create(
            "incident",
            json!({"u_not_a_field": "x", "short_description": "kept"}),
        )
        .await;
    assert_eq!(rec["short_description"], "kept");
    assert!(rec.get("u_not_a_field").is_none());
}

#[tokio::test]
async fn only_the_first_of_several_records_is_created() {
    let sim = TestSim::start().await;
    let (status, body) = sim
        .send(
            sim.request(As::Integration, Method::POST, "api/now/table/incident")
                .json(&json!([{"short_description": "first"}, {"short_description": "second"}])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["result"]["short_description"], "first");
    assert_eq!(sim.handle.stats().await.records("incident"), 1);
}

#[tokio::test]
async fn text_longer_than_the_column_is_cut_to_its_length() {
    let sim = TestSim::start().await;
    let rec = sim
        .create("incident", json!({"short_description": "é".repeat(200)}))
        .await;
    assert_eq!(
        rec["short_description"].as_str().unwrap().chars().count(),
        160
    );
}

#[tokio::test]
async fn bad_requests_get_the_error_envelope() {
    let sim = TestSim::start().await;
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            sim.request(As::Integration, Method::GET, "api/now/table/no_such_table"),
            StatusCode::BAD_REQUEST,
            "Invalid table no_such_table",
        ),
        (
            sim.request(As::Integration, Method::GET, "api/now/nothing/here"),
            StatusCode::BAD_REQUEST,
            "Requested URI does not represent any resource",
        ),
        (
            sim.request(As::Integration, Method::GET, "api/now/v3/table/incident"),
            StatusCode::BAD_REQUEST,
            "Requested URI does not represent any resource",
        ),
        (
            sim.request(As::Integration, Method::POST, "api/now/table/incident")
                .header(header::CONTENT_TYPE, "application/json")
                .body("{not json"),
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
        ),
        (
            sim.request(As::Integration, Method::POST, "api/now/table/incident")
                .header(header::CONTENT_TYPE, "application/json"),
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
        ),
        (
            sim.request(As::Integration, Method::POST, "api/now/table/incident")
                .header(header::CONTENT_TYPE, "text/plain")
                .body("x"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
        ),
        (
            sim.request(As::Integration, Method::GET, "api/now/table/incident")
                .header(header::ACCEPT, "application/xml"),
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable",
        ),
        (
            sim.request(
                As::Integration,
                Method::POST,
                "api/now/table/incident/0123456789abcdef0123456789abcdef",
            )
            .json(&json!({})),
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not Supported",
        ),
        (
            sim.request(As::Integration, Method::DELETE, "api/now/table/incident"),
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not Supported",
        ),
    ];
    for (req, status, message) in cases {
        let (got, body) = sim.send(req).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(envelope(&body).0, message);
    }
}

#[tokio::test]
async fn links_and_location_use_the_public_url_when_one_is_set() {
    let public = url::Url::parse("https://dev60827.service-now.com/").unwrap();
    let sim = TestSim::with(snowsync::sim::SimConfig {
        public_url: Some(public),
        ..snowsync::sim::SimConfig::default()
    })
    .await;
    let resp = sim
        .request(As::Integration, Method::POST, "api/now/table/incident")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let location = resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(location.starts_with("https://dev60827.service-now.com/api/now/v2/table/incident/"));
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["result"]["opened_by"]["link"]
            .as_str()
            .unwrap()
            .starts_with("https://dev60827.service-now.com/api/now/v2/table/sys_user/")
    );
}
