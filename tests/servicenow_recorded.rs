//! The client against responses recorded from real instances (`../shared/servicenow-recorded/`)
//! and against hand-made failures, served over real HTTP on 127.0.0.1 by a small test server.

mod servicenow_support;

use std::collections::HashMap;

use serde_json::{Value, json};
use servicenow_support::{Seen, Server, config, json_answer, recorded, replay, respond};
use snowsync::config::AuthMode;
use snowsync::servicenow::{Client, Disposition, ServiceNowError};

#[tokio::test]
async fn the_recorded_92_field_incident_is_read_and_paging_never_follows_prev() {
    let rec = recorded("swimlane_get_incident_list_200.json");
    let template = rec.headers.clone();
    let body = rec.body.clone();
    let server = Server::start(move |seen| {
        let offset: i64 = seen.query["sysparm_offset"].parse().unwrap();
        if offset < 0 {
            return json_answer(400, json!({"error": {"detail": "Negative offset is not supported", "message": "offset is -1"}, "status": "failure"}));
        }
        // Offset 0 is the recording verbatim (prev at -1); later pages move its Link offsets.
        let headers: Vec<(String, String)> = template
            .iter()
            .map(|(k, v)| {
                if !k.eq_ignore_ascii_case("link") || offset == 0 {
                    return (k.clone(), v.clone());
                }
                let shift = |rel: &str, to: i64| format!("sysparm_offset={to}>;rel=\"{rel}\"");
                let link = v
                    .replace(&shift("prev", -1), &shift("prev", offset - 1))
                    .replace(&shift("next", 1), &shift("next", offset + 1));
                let link = if offset == 66 {
                    link.split(',').filter(|p| !p.contains("rel=\"next\"")).collect::<Vec<_>>().join(",")
                } else {
                    link
                };
                (k.clone(), link)
            })
            .collect();
        respond(200, &headers, body.to_string())
    })
    .await;
    let client = Client::new(&config(&server.base, AuthMode::Basic)).unwrap();
    let records = client
        .query(
            "incident",
            "active=true",
            &["number", "state", "sys_mod_count"],
            1,
        )
        .await
        .unwrap();

    assert_eq!(records.len(), 67, "X-Total-Count 67 at one record per page");
    let first = &records[0];
    assert_eq!(first.0.len(), 92, "the whole recorded record is kept");
    assert_eq!(first.number(), Some("INC0000060"));
    assert_eq!(first.str("state"), Some("7"));
    assert_eq!(first.str("close_code"), Some("Solved (Permanently)"));
    assert_eq!(first.sys_mod_count(), Some(15));
    assert_eq!(
        first.reference("resolved_by"),
        Some("5137153cc611227c000bbd1bd8cd2007")
    );
    assert_eq!(
        first.reference("parent"),
        None,
        "an empty reference is \"\""
    );
    assert!(first.updated_on().is_some());

    let offsets: Vec<i64> = server
        .seen()
        .iter()
        .map(|s| s.query["sysparm_offset"].parse().unwrap())
        .collect();
    assert_eq!(
        offsets,
        (0..67).collect::<Vec<_>>(),
        "forward only, never -1"
    );
    for s in server.seen() {
        assert_eq!(
            s.query["sysparm_fields"],
            "sys_id,number,state,sys_mod_count"
        );
        assert_eq!(s.query["sysparm_limit"], "1");
    }
}

#[tokio::test]
async fn a_recorded_query_result_reads_its_sys_updated_on_as_utc() {
    let rec = recorded("swimlane_get_incident_list_200.json");
    let body = rec.body.to_string();
    // The recorded body alone: one page, as a poll that found one change gets it.
    let server = Server::start(move |_| respond(200, &[], body.clone())).await;
    let client = Client::new(&config(&server.base, AuthMode::Basic)).unwrap();
    let since = snowsync::servicenow::parse_datetime("2016-12-14 00:00:00");

    let changed = client
        .changed_since("incident", since, &["sys_updated_on", "sys_updated_by"])
        .await
        .unwrap();

    assert_eq!(
        changed[0].updated_on().unwrap().to_rfc3339(),
        "2016-12-14T02:46:44+00:00"
    );
    assert_eq!(changed[0].sys_updated_by(), Some("employee"));
    let sent = &server.seen()[0];
    assert_eq!(sent.query["sysparm_display_value"], "false");
    assert_eq!(
        sent.query["sysparm_query"],
        "correlation_idSTARTSWITHsnowsync:^sys_updated_on>=2016-12-14 00:00:00\
         ^ORDERBYsys_updated_on^ORDERBYsys_id"
    );
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn the_recorded_incident_create_201_is_read() {
    let rec = recorded("swimlane_post_incident_201.json");
    let server = Server::start(move |_| replay(&rec)).await;
    let client = Client::new(&config(&server.base, AuthMode::Basic)).unwrap();
    let mut fields = serde_json::Map::new();
    fields.insert("short_description".into(), "IP Threat Detected".into());
    let created = client
        .create(
            "incident",
            &fields,
            &["number", "sys_mod_count", "opened_by"],
        )
        .await
        .unwrap();
    assert_eq!(created.sys_id(), Some("26d1744d47603110d737cd9bd36d436b"));
    assert_eq!(created.number(), Some("INC0010006"));
    assert_eq!(created.sys_mod_count(), Some(0));
    assert_eq!(created.str("priority"), Some("5"));
    assert_eq!(
        created.reference("opened_by"),
        Some("6816f79cc0a8016401c5a33be04be441")
    );
    assert_eq!(
        created.updated_on().unwrap().to_rfc3339(),
        "2023-08-07T10:59:39+00:00"
    );
    let seen = &server.seen()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/api/now/table/incident");
    let sent: Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(sent["short_description"], "IP Threat Detected");
}

#[tokio::test]
async fn the_recorded_sc_request_create_201_is_read_with_its_unchecked_references() {
    let rec = recorded("swimlane_post_sc_request_201.json");
    let server = Server::start(move |_| replay(&rec)).await;
    let client = Client::new(&config(&server.base, AuthMode::Basic)).unwrap();
    let created = client
        .create("sc_request", &serde_json::Map::new(), &["number"])
        .await
        .unwrap();
    assert_eq!(created.number(), Some("REQ0010003"));
    assert_eq!(created.str("request_state"), Some("in_process"));
    assert_eq!(created.reference("requested_for"), Some("no value"));
    assert_eq!(created.str("state"), Some("4"));
}

#[tokio::test]
async fn the_recorded_display_value_patch_is_read() {
    let rec = recorded("swimlane_patch_incident_display_value_true_200.json");
    let server = Server::start(move |_| replay(&rec)).await;
    let client = Client::new(&config(&server.base, AuthMode::Basic)).unwrap();
    let mut fields = serde_json::Map::new();
    fields.insert("comments".into(), "test".into());
    let record = client
        .patch(
            "incident",
            "ed92e8d173d023002728660c4cf6a7bc",
            &fields,
            &["number"],
        )
        .await
        .unwrap();
    assert_eq!(record.number(), Some("INC0000060"));
    assert_eq!(record.sys_mod_count(), Some(19));
    assert_eq!(record.display("resolved_by"), Some("David Loo"));
    assert_eq!(record.str("state"), Some("Closed"));
    assert_eq!(server.seen()[0].method, "PATCH");
}

#[tokio::test]
async fn the_recorded_401s_in_both_wordings_are_clear_auth_errors_the_outbox_waits_out() {
    for (file, message) in [
        (
            "issue_kafka_playground_table_get_401.json",
            "User is not authenticated",
        ),
        (
            "issue_panoramicdata_table_401_older_wording.json",
            "User Not Authenticated",
        ),
    ] {
        let rec = recorded(file);
        let server = Server::start(move |_| replay(&rec)).await;
        let client = Client::new(&config(&server.base, AuthMode::Basic)).unwrap();
        let err = client
            .get("incident", "abc123", &["number"])
            .await
            .unwrap_err();
        match &err {
            ServiceNowError::Status {
                status: 401,
                message: Some(m),
                detail: Some(d),
                ..
            } => {
                assert_eq!(m, message);
                assert_eq!(d, "Required to provide Auth information");
            }
            other => panic!("{file}: expected a 401 status error, got {other:?}"),
        }
        assert!(err.is_auth());
        assert_eq!(err.classify(), Disposition::Outage { after: None });
        assert!(err.to_string().contains(message), "{err}");
        assert_eq!(server.seen().len(), 1, "basic auth cannot re-authenticate");
    }
}

#[tokio::test]
async fn the_recorded_client_credentials_token_is_used_as_bearer() {
    let token = recorded("stojdev_oauth_client_credentials_200_redacted.json");
    let access = token.body["access_token"].as_str().unwrap().to_owned();
    let incident = recorded("swimlane_post_incident_201.json");
    let server = Server::start(move |seen| match seen.path.as_str() {
        "/oauth_token.do" => replay(&token),
        _ => replay(&incident),
    })
    .await;
    let client = Client::new(&config(&server.base, AuthMode::OauthClientCredentials)).unwrap();
    client
        .create("incident", &serde_json::Map::new(), &[])
        .await
        .unwrap();
    client
        .create("incident", &serde_json::Map::new(), &[])
        .await
        .unwrap();

    let seen = server.seen();
    let token_requests: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path == "/oauth_token.do")
        .collect();
    assert_eq!(token_requests.len(), 1, "the token is cached");
    let form: HashMap<String, String> =
        url::form_urlencoded::parse(token_requests[0].body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "snowsync");
    assert_eq!(form["client_secret"], "snowsync-secret");
    for api in seen.iter().filter(|s| s.path != "/oauth_token.do") {
        assert_eq!(
            api.headers["authorization"],
            format!("Bearer {access}").as_str()
        );
    }
}
