//! The emulator's records against responses recorded from real instances
//! (`shared/servicenow-recorded/`): the same field names, every value a string, the same
//! reference and date shapes, the same error and token bodies.

use reqwest::{Method, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::support::{As, TestSim, body};

fn recorded(file: &str) -> Value {
    let path = format!(
        "{}/../shared/servicenow-recorded/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    v[0].clone()
}

fn is_date_time(s: &str) -> bool {
    s.len() == 19 && chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").is_ok()
}

/// The path of a link after its host: `/api/now/v2/table/sys_user/<id>`.
fn link_path(link: &str) -> &str {
    let after_scheme = link.split_once("://").map(|(_, r)| r).unwrap_or(link);
    &after_scheme[after_scheme.find('/').unwrap_or(0)..]
}

/// The body that recreates a recorded record: references by value, everything else as shown.
fn replay(record: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (k, v) in record {
        if k.starts_with("sys_") && k != "sys_domain"
            || k == "number"
            || k == "task_effective_number"
        {
            continue;
        }
        let value = match v {
            Value::Object(o) => o["value"].clone(),
            other => other.clone(),
        };
        out.insert(k.clone(), value);
    }
    Value::Object(out)
}

/// Asserts that `emulated` has the shape of `real`, field by field.
fn assert_same_shape(real: &Map<String, Value>, emulated: &Map<String, Value>) {
    for (k, v) in real {
        let mine = emulated
            .get(k)
            .unwrap_or_else(|| panic!("field {k} is missing"));
        match v {
            Value::String(s) => {
                let m = mine
                    .as_str()
                    .unwrap_or_else(|| panic!("{k} should be a string: {mine}"));
                if is_date_time(s) && !m.is_empty() {
                    assert!(is_date_time(m), "{k}: {m} is not YYYY-MM-DD HH:MM:SS");
                }
            }
            Value::Object(o) => {
                let m = mine
                    .as_object()
                    .unwrap_or_else(|| panic!("{k} should be a reference: {mine}"));
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut want: Vec<&String> = o.keys().collect();
                want.sort();
                assert_eq!(keys, want, "{k}");
                if let (Some(rv), Some(mv)) = (o.get("value"), m.get("value")) {
                    assert_eq!(rv, mv, "{k}");
                    assert_eq!(
                        link_path(o["link"].as_str().unwrap()),
                        link_path(m["link"].as_str().unwrap()),
                        "{k}: the link names the same table"
                    );
                }
            }
            other => panic!("the recording has a non-string {k}: {other}"),
        }
    }
    for (k, v) in emulated {
        assert!(
            real.contains_key(k) || k.starts_with("u_"),
            "{k} is not in the recording"
        );
        assert!(
            v.is_string()
                || v.as_object()
                    .is_some_and(|o| o.values().all(Value::is_string)),
            "{k}: {v}"
        );
    }
}

#[tokio::test]
async fn an_emulated_incident_has_the_recorded_fields_and_shapes() {
    let sim = TestSim::start().await;
    for (file, path) in [
        ("swimlane_get_incident_list_200.json", "/json_body/result/0"),
        ("swimlane_post_incident_201.json", "/json_body/result"),
    ] {
        let real = recorded(file)
            .pointer(path)
            .unwrap()
            .as_object()
            .unwrap()
            .clone();
        let (status, body) = sim
            .send(
                sim.request(As::Integration, Method::POST, "api/now/v2/table/incident")
                    .json(&replay(&real)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{file}: {body}");
        assert_same_shape(&real, body["result"].as_object().unwrap());
        assert_eq!(
            body["result"]["priority"], real["priority"],
            "{file}: the same impact and urgency, the same priority"
        );
    }
}

#[tokio::test]
async fn an_emulated_request_has_the_recorded_fields_and_shapes_junk_references_included() {
    let sim = TestSim::start().await;
    let real = recorded("swimlane_post_sc_request_201.json")["json_body"]["result"]
        .as_object()
        .unwrap()
        .clone();
    let (status, body) = sim
        .send(
            sim.request(As::Integration, Method::POST, "api/now/v2/table/sc_request")
                .json(&replay(&real)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mine = body["result"].as_object().unwrap();
    assert_same_shape(&real, mine);
    assert_eq!(mine["requested_for"]["value"], "no value");
    assert!(mine["number"].as_str().unwrap().starts_with("REQ"));
}

#[tokio::test]
async fn display_values_have_the_recorded_shape() {
    let sim = TestSim::start().await;
    let real_list = recorded("swimlane_get_incident_list_200.json");
    let stored = real_list["json_body"]["result"][0]
        .as_object()
        .unwrap()
        .clone();
    // The recorded incident was closed, and closed incidents are read-only: replay it resolved.
    let mut replayed = replay(&stored);
    replayed["state"] = json!("6");
    replayed["incident_state"] = json!("6");
    let created = sim.create("incident", replayed).await;
    let id = created["sys_id"].as_str().unwrap();
    let real =
        recorded("swimlane_patch_incident_display_value_true_200.json")["json_body"]["result"]
            .as_object()
            .unwrap()
            .clone();
    let (status, body) = sim
        .send(
            sim.request(
                As::Integration,
                Method::PATCH,
                &format!("api/now/v2/table/incident/{id}?sysparm_display_value=true"),
            )
            .json(&json!({"comments": "test"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mine = body["result"].as_object().unwrap();
    for (k, v) in &real {
        let m = &mine[k];
        match v {
            Value::Object(_) => assert!(
                m.get("display_value").is_some()
                    && m.get("link").is_some()
                    && m.get("value").is_none(),
                "{k}: {m}"
            ),
            _ => assert!(m.is_string(), "{k}: {m}"),
        }
    }
    assert_eq!(mine["priority"], real["priority"]);
    assert_eq!(mine["impact"], real["impact"]);
    assert_eq!(mine["upon_reject"], real["upon_reject"]);
    assert_eq!(mine["approval"], real["approval"]);
    assert_eq!(mine["escalation"], real["escalation"]);
    assert_eq!(mine["notify"], real["notify"]);
    assert_eq!(mine["category"], real["category"]);
    assert_eq!(mine["sys_class_name"], real["sys_class_name"]);
    assert!(
        mine["comments"]
            .as_str()
            .unwrap()
            .contains("(Additional comments)\ntest\n\n")
    );
}

#[tokio::test]
async fn the_401_is_the_recorded_one() {
    let sim = TestSim::start().await;
    let real = recorded("issue_kafka_playground_table_get_401.json");
    let resp = sim
        .http
        .get(sim.url("api/now/table/incident?sysparm_limit=1"))
        .basic_auth("someone", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), real["status_code"]);
    assert_eq!(
        resp.headers()[header::WWW_AUTHENTICATE],
        real["response_headers"]["WWW-Authenticate"]
            .as_str()
            .unwrap()
    );
    assert_eq!(body(resp).await, real["json_body"]);
}

#[tokio::test]
async fn the_client_credentials_token_has_the_recorded_keys() {
    let sim = TestSim::start().await;
    let real = recorded("stojdev_oauth_client_credentials_200_redacted.json")["json_body"].clone();
    let (id, secret) = sim.handle.oauth_client();
    let resp = sim
        .http
        .post(sim.url("oauth_token.do"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    let mine = body(resp).await;
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&mine), keys(&real));
    for k in ["scope", "token_type", "expires_in"] {
        assert_eq!(mine[k], real[k], "{k}");
    }
}
