//! The ingest API over HTTP: authentication, input errors, limits, and a 202 only after
//! the findings are committed. The whole service runs against the emulator.

mod support;

use serde_json::{Value, json};
use support::app::{API_KEY, TestApp};
use support::harness::finding;

const OORT_EVENT: &str = include_str!("../src/cli/demo/oort_inactive_users.json");
const APPROVAL: &str = include_str!("../src/cli/demo/approval_request.json");

on_both_engines!(
    a_finding_is_accepted_with_202_and_becomes_one_incident,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        let response = app
            .post(
                "/v1/findings",
                finding("inactive-users", "ana.souza@simubiz.com").to_string(),
            )
            .await;
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.expect("json");
        let id = body["finding_ids"][0].as_i64().expect("a finding id");
        // Committed before the answer: the finding is readable at once.
        let stored = snowsync::store::findings::get(&app.running.db, id)
            .await
            .expect("get");
        assert!(stored.is_some());
        app.settled().await;
        let (status, shown) = app.get_json(&format!("/v1/findings/{id}"), API_KEY).await;
        assert_eq!(status, 200, "{shown}");
        assert!(
            shown["ticket"]["number"]
                .as_str()
                .unwrap_or_default()
                .starts_with("INC"),
            "{shown}"
        );
        assert_eq!(app.sim.stats().await.tables["incident"].records, 1);
        app.stop().await;
    }
);

on_both_engines!(
    an_oort_event_fans_out_into_one_finding_and_ticket_per_failing_user,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        let event = oort_event(&[
            "ana.souza@simubiz.com",
            "li.wei@simubiz.com",
            "omar.haddad@simubiz.com",
        ]);
        let response = app.post("/v1/sources/oort/events", event).await;
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["finding_ids"].as_array().map(Vec::len), Some(3));
        app.settled().await;
        assert_eq!(app.sim.stats().await.tables["incident"].records, 3);
        app.stop().await;
    }
);

on_both_engines!(
    an_oort_event_of_a_check_grouped_by_check_opens_one_ticket_for_its_users,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        let response = app.post("/v1/sources/oort/events", OORT_EVENT).await;
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.expect("json");
        let ids = body["finding_ids"].as_array().expect("ids").clone();
        assert_eq!(ids.len(), 3);
        app.settled().await;
        assert_eq!(app.sim.stats().await.tables["incident"].records, 1);
        let mut numbers = Vec::new();
        for id in ids {
            let (status, shown) = app.get_json(&format!("/v1/findings/{id}"), API_KEY).await;
            assert_eq!(status, 200, "{shown}");
            assert!(shown["group_id"].is_i64(), "{shown}");
            numbers.push(shown["ticket"]["number"].clone());
        }
        assert!(numbers[0].is_string());
        assert!(numbers.iter().all(|n| *n == numbers[0]), "{numbers:?}");
        app.stop().await;
    }
);

on_both_engines!(
    oort_test_connectivity_event_is_acknowledged_with_200_and_stores_nothing,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        let test_event = include_str!("fixtures/oort_webhook_test.json");
        let response = app.post("/v1/sources/oort/events", test_event).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["test_event"], true, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or_default()
                .contains("no ticket"),
            "{body}"
        );
        let (status, page) = app.get_json("/v1/findings", API_KEY).await;
        assert_eq!(status, 200);
        assert_eq!(page["findings"], json!([]), "{page}");
        let rows = snowsync::store::outbox::counts(&app.running.db)
            .await
            .expect("outbox counts");
        assert!(rows.iter().all(|(_, n)| *n == 0), "{rows:?}");
        app.stop().await;
    }
);

on_both_engines!(an_approval_request_becomes_a_service_request, |test_db| {
    let app = TestApp::spawn(test_db.engine).await;
    assert_eq!(
        app.post("/v1/approval-requests", APPROVAL).await.status(),
        202
    );
    app.settled().await;
    assert_eq!(app.sim.stats().await.tables["sc_request"].records, 1);
    app.stop().await;
});

on_both_engines!(
    resolved_and_escalated_events_by_key_and_by_id_reach_the_finding,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        let body: Value = app
            .post(
                "/v1/findings",
                finding("inactive-users", "li.wei@simubiz.com").to_string(),
            )
            .await
            .json()
            .await
            .expect("json");
        let id = body["finding_ids"][0].as_i64().expect("id");
        let escalate = app
            .post(
                &format!("/v1/findings/{id}/events"),
                json!({"event": "escalated"}).to_string(),
            )
            .await;
        assert_eq!(escalate.status(), 202);
        let key = "oort/check/inactive-users/li.wei@simubiz.com";
        let resolve = app
            .post(
                "/v1/events",
                json!({"event": "resolved", "key": key}).to_string(),
            )
            .await;
        assert_eq!(
            resolve.status(),
            202,
            "{}",
            resolve.text().await.unwrap_or_default()
        );
        let stored = snowsync::store::findings::get(&app.running.db, id)
            .await
            .expect("get")
            .expect("finding");
        assert_eq!(stored.status, snowsync::domain::FindingStatus::Resolved);
        let again = app
            .post(
                &format!("/v1/findings/{id}/events"),
                json!({"event": "resolved"}).to_string(),
            )
            .await;
        assert_eq!(
            again.status(),
            404,
            "a resolved finding takes no more events"
        );
        app.stop().await;
    }
);

#[tokio::test]
async fn a_request_without_an_api_key_is_refused_with_401() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    let response = app
        .http
        .post(app.url("/v1/findings"))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401);
    let wrong = app
        .http
        .post(app.url("/v1/findings"))
        .bearer_auth("not-the-key-0123456789")
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn a_bearer_token_is_accepted_like_the_oort_header() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    let response = app
        .http
        .post(app.url("/v1/findings"))
        .bearer_auth(API_KEY)
        .body(finding("inactive-users", "ana.souza@simubiz.com").to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 202);
    app.stop().await;
}

#[tokio::test]
async fn malformed_json_is_a_400_saying_where() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    let response = app.post("/v1/findings", "{\"source\": \"oort\",").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("line 1"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_missing_field_is_a_400_naming_it() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    let mut body = finding("inactive-users", "ana.souza@simubiz.com");
    body.as_object_mut().expect("object").remove("title");
    let response = app.post("/v1/findings", body.to_string()).await;
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.expect("json");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("title"),
        "{answer}"
    );
    let bad_user = app
        .post(
            "/v1/sources/oort/events",
            OORT_EVENT.replace("\"li.wei@simubiz.com\"", "5"),
        )
        .await;
    let answer: Value = bad_user.json().await.expect("json");
    assert_eq!(
        answer["error"]["field"], "detail.usersFailing[1]",
        "{answer}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_refused_with_413() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    let mut body = finding("inactive-users", "ana.souza@simubiz.com");
    body["description"] = json!(["x".repeat(1024 * 1024 + 1)]);
    let response = app.post("/v1/findings", body.to_string()).await;
    assert_eq!(response.status(), 413);
    assert_eq!(
        snowsync::store::findings::list(&app.running.db, None, 10)
            .await
            .expect("list")
            .len(),
        0,
        "nothing half-written"
    );
    app.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("healthz")
            .status(),
        200
    );
    let ready = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    app.post(
        "/v1/findings",
        finding("inactive-users", "ana.souza@simubiz.com").to_string(),
    )
    .await;
    app.settled().await;
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for name in [
        "findings_ingested_total",
        "outbox_rows",
        "outbox_oldest_pending_age_seconds",
        "servicenow_requests_total",
        "servicenow_request_duration_seconds_bucket",
        "outbox_delivered_total",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}");
    }
    app.stop().await;
}

/// An Oort event of a check ticketed per user ("MFA Not Enrolled") failing `users`, as the
/// webhook sends it.
fn oort_event(users: &[&str]) -> String {
    let mut event: Value = serde_json::from_str(OORT_EVENT).expect("the sample event");
    event["detail"]["checkId"] = json!("mfa-not-enrolled");
    event["detail"]["title"] = json!("MFA Not Enrolled");
    event["detail"]["usersFailing"] = json!(users);
    event.to_string()
}

on_both_engines!(
    an_event_whose_third_user_the_database_refuses_stores_none_of_its_users,
    |test_db| {
        use sea_orm::ConnectionTrait;
        let app = TestApp::spawn(test_db.engine).await;
        let db = &app.running.db;
        // The database refuses one user's finding in the middle of the event.
        let refuse = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => vec![
                "CREATE FUNCTION refuse_third() RETURNS trigger AS $$ BEGIN \
                   IF NEW.subject = 'user3@simubiz.com' THEN RAISE EXCEPTION 'refused'; END IF; \
                   RETURN NEW; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER refuse_third BEFORE INSERT ON findings \
                   FOR EACH ROW EXECUTE FUNCTION refuse_third()",
            ],
            _ => vec![
                "CREATE TRIGGER refuse_third BEFORE INSERT ON findings \
                   WHEN NEW.subject = 'user3@simubiz.com' \
                   BEGIN SELECT RAISE(ABORT, 'refused'); END",
            ],
        };
        for sql in refuse {
            db.execute_unprepared(sql).await.expect("trigger");
        }

        let response = app
            .post(
                "/v1/sources/oort/events",
                oort_event(&[
                    "user1@simubiz.com",
                    "user2@simubiz.com",
                    "user3@simubiz.com",
                    "user4@simubiz.com",
                ]),
            )
            .await;

        assert_eq!(response.status(), 500);
        let stored = snowsync::store::findings::list(db, None, 10)
            .await
            .expect("list");
        assert!(stored.is_empty(), "one event, one transaction: {stored:?}");
        assert_eq!(snowsync::store::outbox::owed(db).await.expect("owed"), 0);
        app.stop().await;
    }
);

on_both_engines!(a_user_listed_twice_in_one_event_is_one_finding, |test_db| {
    let app = TestApp::spawn(test_db.engine).await;

    let response = app
        .post(
            "/v1/sources/oort/events",
            oort_event(&[
                "user1@simubiz.com",
                "user2@simubiz.com",
                "user1@simubiz.com",
            ]),
        )
        .await;

    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.expect("json");
    let ids = body["finding_ids"].as_array().expect("ids");
    assert_eq!(ids.len(), 2, "{body}");
    assert_ne!(ids[0], ids[1]);
    let stored = snowsync::store::findings::list(&app.running.db, None, 10)
        .await
        .expect("list");
    assert_eq!(stored.len(), 2);
    app.stop().await;
});
