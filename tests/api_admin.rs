//! The outbox and mapping API under `/v1` (admin role): dead rows listed, shown and revived
//! over HTTP, the mappings and the dry run, and the role kept apart from ingest keys. The
//! whole service runs against the emulator, on SQLite and on PostgreSQL.

mod support;

use serde_json::Value;
use support::app::{ADMIN_KEY, API_KEY, TestApp};
use support::harness::finding;

fn dead_rows(page: &Value) -> Vec<&Value> {
    page["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["status"] == "dead")
        .collect()
}

on_both_engines!(
    a_dead_row_is_listed_with_its_error_retried_over_the_api_and_delivered,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        let finding_id = app.dead_create("ana.souza@simubiz.com").await;

        let (status, page) = app.get_json("/v1/outbox?status=dead", ADMIN_KEY).await;
        assert_eq!(status, 200, "{page}");
        let dead = dead_rows(&page);
        assert_eq!(dead.len(), 1, "{page}");
        assert_eq!(dead[0]["finding_id"], finding_id);
        assert_eq!(dead[0]["op"], "create_ticket");
        assert!(
            dead[0]["last_error"].as_str().unwrap_or("").contains("403"),
            "the reason is shown: {page}"
        );
        let id = dead[0]["id"].as_i64().expect("id");

        let (status, row) = app.get_json(&format!("/v1/outbox/{id}"), ADMIN_KEY).await;
        assert_eq!(status, 200, "{row}");
        assert_eq!(row["payload"]["table"], "incident", "{row}");

        let (status, result) = app
            .post_json(&format!("/v1/outbox/{id}/retry"), ADMIN_KEY, "")
            .await;
        assert_eq!(status, 200, "{result}");
        assert_eq!(result["outcome"], "rerendered", "{result}");
        app.settled().await;
        let (_, row) = app.get_json(&format!("/v1/outbox/{id}"), ADMIN_KEY).await;
        assert_eq!(row["status"], "done", "{row}");
        let (_, shown) = app
            .get_json(&format!("/v1/findings/{finding_id}"), API_KEY)
            .await;
        assert!(
            shown["ticket"]["number"]
                .as_str()
                .is_some_and(|n| n.starts_with("INC")),
            "{shown}"
        );
        app.stop().await;
    }
);

on_both_engines!(
    retry_dead_revives_every_dead_row_and_reports_each,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        app.dead_create("ana.souza@simubiz.com").await;
        app.dead_create("bo.chen@simubiz.com").await;

        let (status, report) = app.post_json("/v1/outbox/retry-dead", ADMIN_KEY, "").await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["revived"], 2, "{report}");
        app.settled().await;
        let (_, page) = app.get_json("/v1/outbox?status=dead", ADMIN_KEY).await;
        assert!(dead_rows(&page).is_empty(), "{page}");
        assert_eq!(app.sim.stats().await.tables["incident"].records, 2);
        app.stop().await;
    }
);

on_both_engines!(retrying_a_row_that_is_not_dead_is_a_409, |test_db| {
    let app = TestApp::spawn(test_db.engine).await;
    let (status, _) = app
        .post_json(
            "/v1/findings",
            API_KEY,
            &finding("inactive-users", "ana.souza@simubiz.com").to_string(),
        )
        .await;
    assert_eq!(status, 202);
    app.settled().await;
    let (_, page) = app.get_json("/v1/outbox", ADMIN_KEY).await;
    let id = page["rows"][0]["id"].as_i64().expect("a row");
    let (status, answer) = app
        .post_json(&format!("/v1/outbox/{id}/retry"), ADMIN_KEY, "")
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "conflict");
    let (status, answer) = app
        .post_json("/v1/outbox/999999/retry", ADMIN_KEY, "")
        .await;
    assert_eq!(status, 404, "{answer}");
    app.stop().await;
});

on_both_engines!(
    an_ingest_key_is_refused_the_admin_endpoints_and_no_key_is_a_401,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        for path in ["/v1/outbox", "/v1/outbox/1", "/v1/mappings"] {
            let (status, answer) = app.get_json(path, API_KEY).await;
            assert_eq!(status, 403, "{path}: {answer}");
            assert_eq!(answer["error"]["code"], "forbidden");
        }
        for path in ["/v1/outbox/1/retry", "/v1/outbox/retry-dead", "/v1/render"] {
            let (status, answer) = app.post_json(path, API_KEY, "{}").await;
            assert_eq!(status, 403, "{path}: {answer}");
        }
        let response = app
            .http
            .get(app.url("/v1/outbox"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 401);
        let (status, _) = app.get_json("/v1/findings", ADMIN_KEY).await;
        assert_eq!(status, 200, "an admin key reads findings too");
        app.stop().await;
    }
);

on_both_engines!(outbox_list_parameters_are_checked_by_name, |test_db| {
    let app = TestApp::spawn(test_db.engine).await;
    for (query, field) in [
        ("status=gone", "status"),
        ("op=delete", "op"),
        ("finding=abc", "finding"),
        ("limit=0", "limit"),
        ("cursor=!!", "cursor"),
        ("state=dead", "state"),
    ] {
        let (status, answer) = app
            .get_json(&format!("/v1/outbox?{query}"), ADMIN_KEY)
            .await;
        assert_eq!(status, 400, "{query}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{query}: {answer}");
    }
    app.stop().await;
});

on_both_engines!(
    render_shows_the_rule_the_profile_and_the_fields_without_storing,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        let document = finding("inactive-users", "ana.souza@simubiz.com").to_string();
        let (status, answer) = app.post_json("/v1/render", ADMIN_KEY, &document).await;
        assert_eq!(status, 200, "{answer}");
        let plan = &answer["plans"][0];
        assert!(
            plan["rule_origin"]
                .as_str()
                .unwrap_or("")
                .contains(".toml:"),
            "{plan}"
        );
        assert!(
            plan["profile_origin"]
                .as_str()
                .unwrap_or("")
                .contains(".toml:"),
            "{plan}"
        );
        assert_eq!(plan["table"], "incident");
        assert!(plan["fields"]["short_description"].is_string(), "{plan}");
        let (_, findings) = app.get_json("/v1/findings", ADMIN_KEY).await;
        assert_eq!(findings["findings"], Value::Array(vec![]), "nothing stored");

        let (status, answer) = app
            .post_json("/v1/render?format=generic", ADMIN_KEY, r#"{"source": "x"}"#)
            .await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["error"]["field"].is_string(), "{answer}");
        let (status, answer) = app
            .post_json("/v1/render?event=closed", ADMIN_KEY, &document)
            .await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["field"], "event");
        app.stop().await;
    }
);

on_both_engines!(
    the_mappings_list_rules_in_order_with_file_and_line,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        let (status, view) = app.get_json("/v1/mappings", ADMIN_KEY).await;
        assert_eq!(status, 200, "{view}");
        let rules = view["rules"].as_array().expect("rules");
        assert!(rules.len() >= 2, "{view}");
        for (i, rule) in rules.iter().enumerate() {
            assert_eq!(rule["position"], i + 1);
            assert!(
                rule["origin"].as_str().unwrap_or("").contains(".toml:"),
                "{rule}"
            );
        }
        assert_eq!(rules.last().expect("a rule")["default"], true);
        let profiles: Vec<&str> = view["profiles"]
            .as_array()
            .expect("profiles")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for rule in rules {
            let chosen = rule["profile"].as_str().expect("profile");
            assert!(profiles.contains(&chosen), "{chosen} in {profiles:?}");
        }
        app.stop().await;
    }
);
