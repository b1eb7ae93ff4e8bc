//! Push hints (`POST /v1/servicenow/events`) through the running service: a hint signed with
//! `poller.push_secret` makes the service read the record again and apply it at once; an
//! unsigned, badly signed or stale hint is refused and changes nothing.

mod servicenow_support;
mod support;

use std::time::Duration;

use secrecy::SecretString;
use snowsync::domain::FindingStatus;
use snowsync::outbox::notify::signature;
use snowsync::sim::SimConfig;
use snowsync::store::findings;
use support::app::TestApp;
use support::harness::finding;

const PUSH_SECRET: &str = "push-secret-for-tests";

async fn app(engine: support::Engine) -> TestApp {
    TestApp::spawn_with(engine, SimConfig::default(), "basic", |config| {
        config.poller.enabled = true;
        // Polls once at start, then not within a test: only hints bring changes.
        config.poller.interval = Duration::from_secs(3600);
        config.poller.push_secret = Some(SecretString::from(PUSH_SECRET));
    })
    .await
}

/// A finding whose incident exists; its id and the incident's sys_id.
async fn ticketed(app: &TestApp) -> (i64, String) {
    let answer: serde_json::Value = app
        .post(
            "/v1/findings",
            finding("inactive-users", "ana.souza@simubiz.com").to_string(),
        )
        .await
        .json()
        .await
        .expect("json");
    let id = answer["finding_ids"][0].as_i64().expect("an id");
    app.settled().await;
    let sys_id = findings::link(&app.running.db, id)
        .await
        .expect("link")
        .and_then(|l| l.sys_id)
        .expect("created");
    (id, sys_id)
}

async fn resolve_as_help_desk(app: &TestApp, sys_id: &str) {
    app.sim.advance_clock(Duration::from_secs(1)).await;
    servicenow_support::help_desk(&app.sim)
        .patch(
            "incident",
            sys_id,
            &servicenow_support::fields(&[
                ("state", "6"),
                ("close_code", "Solution provided"),
                ("close_notes", "Done"),
            ]),
            &[],
        )
        .await
        .expect("resolve");
}

async fn hint(app: &TestApp, body: &str, timestamp: i64, secret: &str) -> reqwest::Response {
    app.http
        .post(app.url("/v1/servicenow/events"))
        .header("content-type", "application/json")
        .header("x-snowsync-timestamp", timestamp.to_string())
        .header(
            "x-snowsync-signature",
            signature(secret.as_bytes(), timestamp, body.as_bytes()),
        )
        .body(body.to_owned())
        .send()
        .await
        .expect("request")
}

async fn status(app: &TestApp, id: i64) -> FindingStatus {
    findings::get(&app.running.db, id)
        .await
        .expect("read")
        .expect("finding")
        .status
}

on_both_engines!(
    a_signed_hint_applies_the_change_without_waiting_for_a_poll,
    |test_db| {
        let app = app(test_db.engine).await;
        let (id, sys_id) = ticketed(&app).await;
        resolve_as_help_desk(&app, &sys_id).await;

        let body = format!(r#"{{"table":"incident","sys_id":"{sys_id}"}}"#);
        let answer = hint(&app, &body, chrono::Utc::now().timestamp(), PUSH_SECRET).await;

        assert_eq!(answer.status(), 202);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while status(&app, id).await != FindingStatus::Resolved {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the hinted change was not applied"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        app.stop().await;
    }
);

on_both_engines!(
    a_hint_with_a_bad_signature_is_refused_and_changes_nothing,
    |test_db| {
        let app = app(test_db.engine).await;
        let (id, sys_id) = ticketed(&app).await;
        resolve_as_help_desk(&app, &sys_id).await;
        let body = format!(r#"{{"table":"incident","sys_id":"{sys_id}"}}"#);
        let now = chrono::Utc::now().timestamp();

        let forged = hint(&app, &body, now, "not-the-secret").await;
        let stale = hint(&app, &body, now - 3600, PUSH_SECRET).await;
        let unsigned = app
            .http
            .post(app.url("/v1/servicenow/events"))
            .body(body.clone())
            .send()
            .await
            .expect("request");

        for answer in [forged, stale, unsigned] {
            assert_eq!(answer.status(), 401);
            let error: serde_json::Value = answer.json().await.expect("json");
            assert_eq!(error["error"]["code"], "unauthorized");
        }
        assert_eq!(status(&app, id).await, FindingStatus::Open);
        app.stop().await;
    }
);

#[tokio::test]
async fn a_signed_hint_naming_another_table_is_a_bad_request() {
    let app = app(support::Engine::Sqlite).await;
    let body = r#"{"table":"sys_user","sys_id":"0123456789abcdef0123456789abcdef"}"#;

    let answer = hint(&app, body, chrono::Utc::now().timestamp(), PUSH_SECRET).await;

    assert_eq!(answer.status(), 400);
    let error: serde_json::Value = answer.json().await.expect("json");
    assert_eq!(error["error"]["field"], "table");
    app.stop().await;
}
