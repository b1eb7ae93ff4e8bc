//! Input that could never be stored or delivered is refused at ingest with a 400 naming the
//! field, the same on SQLite and PostgreSQL, and nothing of it is stored; input that can be
//! delivered without an optional part is delivered without it.

mod support;

use serde_json::{Value, json};
use support::app::{API_KEY, TestApp};
use support::harness::finding;

const OORT_EVENT: &str = include_str!("../src/cli/demo/oort_inactive_users.json");
const APPROVAL: &str = include_str!("../src/cli/demo/approval_request.json");

/// The status and the `error.field` of an answer.
async fn refusal(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON answer");
    let field = body["error"]["field"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, field, body)
}

async fn stored_findings(app: &TestApp) -> usize {
    snowsync::store::findings::list(&app.running.db, None, 100)
        .await
        .expect("list")
        .len()
}

fn oort_event(users: &[&str]) -> String {
    let mut event: Value = serde_json::from_str(OORT_EVENT).expect("the sample event");
    event["detail"]["usersFailing"] = json!(users);
    event.to_string()
}

on_both_engines!(
    a_nul_in_any_field_is_a_400_naming_it_in_every_format,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        let mut generic = finding("inactive-users", "ana.souza@simubiz.com");
        generic["title"] = json!("a\u{0}b");
        let (status, field, body) =
            refusal(app.post("/v1/findings", generic.to_string()).await).await;
        assert_eq!((status, field.as_str()), (400, "title"), "{body}");

        let oort = oort_event(&[
            "user1@simubiz.com",
            "user2@simubiz.com",
            "user\u{0}3@simubiz.com",
        ]);
        let (status, field, body) = refusal(app.post("/v1/sources/oort/events", oort).await).await;
        assert_eq!(
            (status, field.as_str()),
            (400, "detail.usersFailing[2]"),
            "{body}"
        );

        let mut approval: Value = serde_json::from_str(APPROVAL).expect("approval");
        approval["attributes"] = json!({"note": "x\u{0}"});
        let (status, field, body) = refusal(
            app.post("/v1/approval-requests", approval.to_string())
                .await,
        )
        .await;
        assert_eq!((status, field.as_str()), (400, "attributes.note"), "{body}");

        let event = json!({"event": "resolved", "key": "oort/check/x/a\u{0}b"});
        let (status, field, body) = refusal(app.post("/v1/events", event.to_string()).await).await;
        assert_eq!((status, field.as_str()), (400, "key"), "{body}");

        assert_eq!(stored_findings(&app).await, 0, "nothing stored");
        app.stop().await;
    }
);

on_both_engines!(a_login_with_a_line_break_is_refused_at_ingest, |test_db| {
    let app = TestApp::spawn(test_db.engine).await;
    for login in ["ana\nINFO forged@simubiz.com", "ana\r@simubiz.com"] {
        let body = finding("inactive-users", login).to_string();
        let (status, field, body) = refusal(app.post("/v1/findings", body).await).await;
        assert_eq!((status, field.as_str()), (400, "subject.login"), "{body}");
    }
    let oort = oort_event(&["user1@simubiz.com\n"]);
    let (status, field, body) = refusal(app.post("/v1/sources/oort/events", oort).await).await;
    assert_eq!(
        (status, field.as_str()),
        (400, "detail.usersFailing[0]"),
        "{body}"
    );
    assert_eq!(stored_findings(&app).await, 0);
    app.stop().await;
});

on_both_engines!(
    a_login_longer_than_the_identifier_limit_is_refused_at_ingest,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        let huge = format!("{}@simubiz.com", "a".repeat(200_000));
        let (status, field, body) = refusal(
            app.post("/v1/findings", finding("inactive-users", &huge).to_string())
                .await,
        )
        .await;
        assert_eq!((status, field.as_str()), (400, "subject.login"), "{body}");
        let long = format!("{}@simubiz.com", "a".repeat(250));
        let (status, field, body) = refusal(
            app.post("/v1/findings", finding("inactive-users", &long).to_string())
                .await,
        )
        .await;
        assert_eq!((status, field.as_str()), (400, "subject.login"), "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("255"),
            "the limit is named: {body}"
        );
        assert_eq!(stored_findings(&app).await, 0);
        app.stop().await;
    }
);

on_both_engines!(
    a_login_no_lookup_can_carry_gets_its_ticket_without_a_caller,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        let body = finding("inactive-users", "ana^souza@simubiz.com").to_string();
        let response = app.post("/v1/findings", body).await;
        assert_eq!(response.status(), 202);
        app.settled().await;
        let counts = snowsync::store::outbox::counts(&app.running.db)
            .await
            .expect("counts");
        assert!(
            counts
                .iter()
                .all(|(status, _)| *status == snowsync::store::outbox::RowStatus::Done),
            "every row delivered, none buried: {counts:?}"
        );
        assert_eq!(app.sim.stats().await.tables["incident"].records, 1);
        app.stop().await;
    }
);

#[tokio::test]
async fn a_json_array_is_not_a_finding() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    let array = json!([finding("inactive-users", "ana.souza@simubiz.com")]).to_string();
    for path in [
        "/v1/findings",
        "/v1/sources/oort/events",
        "/v1/approval-requests",
        "/v1/events",
    ] {
        let (status, field, body) = refusal(app.post(path, array.clone()).await).await;
        assert_eq!((status, field.as_str()), (400, "(body)"), "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("expected a JSON object"),
            "{path}: {body}"
        );
    }
    let nested = json!({"subject": ["ana.souza@simubiz.com"]});
    let mut generic = finding("inactive-users", "ana.souza@simubiz.com");
    generic["subject"] = nested["subject"].clone();
    let (status, field, body) = refusal(app.post("/v1/findings", generic.to_string()).await).await;
    assert_eq!((status, field.as_str()), (400, "subject"), "{body}");
    assert_eq!(stored_findings(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_plain_text_or_form_body_is_refused_with_415() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    let body = finding("inactive-users", "ana.souza@simubiz.com").to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = app
            .http
            .post(app.url("/v1/findings"))
            .header("x-api-client-token", API_KEY)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 415, "{content_type}");
        let answer: Value = response.json().await.expect("a JSON answer");
        assert_eq!(answer["error"]["code"], "unsupported_media_type");
    }
    let charset = app
        .http
        .post(app.url("/v1/findings"))
        .header("x-api-client-token", API_KEY)
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(charset.status(), 202, "JSON with a charset is JSON");
    assert_eq!(stored_findings(&app).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn the_events_endpoint_names_the_missing_or_unknown_field() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    let (status, field, body) = refusal(
        app.post("/v1/events", json!({"key": "k"}).to_string())
            .await,
    )
    .await;
    assert_eq!((status, field.as_str()), (400, "event"), "{body}");
    let (status, field, body) = refusal(
        app.post(
            "/v1/events",
            json!({"event": "resolved", "kye": "k"}).to_string(),
        )
        .await,
    )
    .await;
    assert_eq!((status, field.as_str()), (400, "kye"), "{body}");
    app.stop().await;
}

on_both_engines!(a_nul_in_a_query_parameter_is_a_400_naming_it, |test_db| {
    let app = TestApp::spawn(test_db.engine).await;
    for parameter in ["source", "check", "ticket"] {
        let response = app
            .http
            .get(app.url(&format!("/v1/findings?{parameter}=a%00b")))
            .bearer_auth(API_KEY)
            .send()
            .await
            .expect("request");
        let (status, field, body) = refusal(response).await;
        assert_eq!((status, field.as_str()), (400, parameter), "{body}");
    }
    app.stop().await;
});
