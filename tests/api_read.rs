//! The findings read API over HTTP: filters, keyset pages, the ticket link, the detail with
//! outbox rows and audit history, and every bad parameter a JSON 400 naming it. The whole
//! service runs against the emulator.

mod support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use support::app::{API_KEY, TestApp};
use support::harness::finding;

const OORT_EVENT: &str = include_str!("../src/cli/demo/oort_inactive_users.json");

/// GETs `path` with the API key: the status and the JSON body.
async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app
        .http
        .get(app.url(path))
        .bearer_auth(API_KEY)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

/// Records `body` as a finding: its id.
async fn ingest(app: &TestApp, body: Value) -> i64 {
    let response = app.post("/v1/findings", body.to_string()).await;
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.expect("json");
    answer["finding_ids"][0].as_i64().expect("an id")
}

async fn event(app: &TestApp, id: i64, event: &str) {
    let response = app
        .post(
            &format!("/v1/findings/{id}/events"),
            json!({ "event": event }).to_string(),
        )
        .await;
    assert_eq!(response.status(), 202);
}

/// The ids of a list answer, in order.
fn ids(page: &Value) -> Vec<i64> {
    page["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {page}"))
        .iter()
        .map(|f| f["id"].as_i64().expect("id"))
        .collect()
}

/// The ids `GET /v1/findings?{query}` answers with, on a single page.
async fn listed(app: &TestApp, query: &str) -> Vec<i64> {
    let (status, page) = get(app, &format!("/v1/findings?{query}")).await;
    assert_eq!(status, 200, "{query}: {page}");
    assert_eq!(page["next_cursor"], Value::Null, "{query}: one page");
    ids(&page)
}

/// Asserts a 400 whose error names `field`.
fn assert_names(status: u16, body: &Value, field: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    assert_eq!(body["error"]["field"], field, "{body}");
}

on_both_engines!(each_filter_narrows_the_list, |test_db| {
    let app = TestApp::spawn(test_db.engine).await;
    let ana = ingest(&app, finding("inactive-users", "ana.souza@simubiz.com")).await;
    let li = ingest(&app, finding("inactive-users", "li.wei@simubiz.com")).await;
    let mfa = ingest(&app, finding("mfa-disabled", "ana.souza@simubiz.com")).await;
    let mut other = finding("stale-device", "bo.berg@simubiz.com");
    other["source"] = json!("threatlocker");
    let locker = ingest(&app, other).await;
    app.settled().await;
    event(&app, li, "escalated").await;
    event(&app, mfa, "resolved").await;
    app.settled().await;

    assert_eq!(
        listed(&app, "").await,
        vec![locker, mfa, li, ana],
        "newest first"
    );
    assert_eq!(listed(&app, "status=open").await, vec![locker, ana]);
    assert_eq!(listed(&app, "status=escalated").await, vec![li]);
    assert_eq!(listed(&app, "status=resolved").await, vec![mfa]);
    assert_eq!(listed(&app, "source=threatlocker").await, vec![locker]);
    assert_eq!(listed(&app, "source=oort").await, vec![mfa, li, ana]);
    assert_eq!(listed(&app, "check=inactive-users").await, vec![li, ana]);
    assert_eq!(
        listed(&app, "source=oort&check=inactive-users&status=open").await,
        vec![ana]
    );
    assert_eq!(listed(&app, "source=nobody").await, Vec::<i64>::new());

    let (_, shown) = get(&app, &format!("/v1/findings/{li}")).await;
    let number = shown["ticket"]["number"].as_str().expect("a ticket number");
    assert_eq!(listed(&app, &format!("ticket={number}")).await, vec![li]);
    assert_eq!(listed(&app, "ticket=INC9999999").await, Vec::<i64>::new());

    let (_, page) = get(&app, "/v1/findings?ticket=").await;
    assert_eq!(ids(&page).len(), 4, "an empty parameter is no filter");
    let item = &page["findings"][0];
    for field in [
        "key",
        "status",
        "source",
        "kind",
        "check_id",
        "subject",
        "title",
        "severity",
        "occurrences",
        "first_seen",
        "last_seen",
        "resolved_by",
        "decision",
        "ticket",
    ] {
        assert!(item.get(field).is_some(), "an item lacks {field}: {item}");
    }
    app.stop().await;
});

on_both_engines!(pages_walk_every_finding_exactly_once, |test_db| {
    let app = TestApp::spawn(test_db.engine).await;
    let response = app.post("/v1/sources/oort/events", OORT_EVENT).await;
    assert_eq!(response.status(), 202);
    let logins = ["a", "b", "c", "d", "e"];
    for login in logins {
        ingest(
            &app,
            finding("mfa-disabled", &format!("{login}@simubiz.com")),
        )
        .await;
    }
    let all = listed(&app, "limit=500").await;
    assert_eq!(
        all.len(),
        9,
        "the event's three users, their check's group and five more"
    );

    let mfa = listed(&app, "check=mfa-disabled").await;
    assert_eq!(mfa.len(), logins.len());
    for (limit, filter, expect) in [(3, "", &all), (2, "&check=mfa-disabled", &mfa)] {
        let mut walked = Vec::new();
        let mut pages = 0;
        let mut cursor = String::new();
        loop {
            let path = format!("/v1/findings?limit={limit}{filter}{cursor}");
            let (status, page) = get(&app, &path).await;
            assert_eq!(status, 200, "{page}");
            walked.extend(ids(&page));
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
            assert!(pages <= all.len(), "the pages do not end");
        }
        assert_eq!(
            &walked, expect,
            "{filter}: every finding once, newest first"
        );
        assert_eq!(
            walked.iter().collect::<BTreeSet<_>>().len(),
            walked.len(),
            "{filter}: no finding twice"
        );
        assert_eq!(pages, expect.len().div_ceil(limit), "{filter}");
    }
    app.stop().await;
});

on_both_engines!(bad_parameters_are_json_400s_naming_them, |test_db| {
    let app = TestApp::spawn(test_db.engine).await;
    let (status, body) = get(&app, "/v1/findings?status=closed").await;
    assert_names(status, &body, "status");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    for allowed in ["open", "escalated", "resolved"] {
        assert!(message.contains(allowed), "{message}");
    }
    for limit in ["0", "501", "ten", "-5"] {
        let (status, body) = get(&app, &format!("/v1/findings?limit={limit}")).await;
        assert_names(status, &body, "limit");
    }
    for cursor in ["%21%21", "bm90LWFuLWlk", "MA"] {
        let (status, body) = get(&app, &format!("/v1/findings?cursor={cursor}")).await;
        assert_names(status, &body, "cursor");
    }
    let (status, body) = get(&app, "/v1/findings?state=open").await;
    assert_names(status, &body, "state");

    let (status, body) = get(&app, "/v1/findings/abc").await;
    assert_names(status, &body, "id");
    let events = app
        .post(
            "/v1/findings/abc/events",
            json!({"event": "resolved"}).to_string(),
        )
        .await;
    let status = events.status().as_u16();
    let body: Value = events.json().await.expect("a JSON body");
    assert_names(status, &body, "id");
    let (status, body) = get(&app, "/v1/findings/12345").await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    app.stop().await;
});

on_both_engines!(
    the_ticket_link_is_built_from_the_instance_url_once_the_ticket_exists,
    |test_db| {
        let app = TestApp::spawn_with(test_db.engine, Default::default(), "basic", |config| {
            config.outbox.retry.max_attempts = 1000
        })
        .await;
        app.sim
            .set_faults(snowsync::sim::Faults {
                hibernating: true,
                ..snowsync::sim::Faults::none()
            })
            .await;
        let id = ingest(&app, finding("inactive-users", "ana.souza@simubiz.com")).await;
        let (_, before) = get(&app, &format!("/v1/findings/{id}")).await;
        let ticket = &before["ticket"];
        assert_eq!(ticket["table"], "incident", "{before}");
        assert!(
            ticket["correlation_id"]
                .as_str()
                .unwrap_or_default()
                .starts_with("snowsync:")
        );
        assert_eq!(ticket["sys_id"], Value::Null, "{before}");
        assert_eq!(ticket["link"], Value::Null, "not created yet: {before}");

        app.sim.set_faults(snowsync::sim::Faults::none()).await;
        app.settled().await;
        let (_, after) = get(&app, &format!("/v1/findings/{id}")).await;
        let sys_id = after["ticket"]["sys_id"].as_str().expect("a sys_id");
        let expected = format!(
            "{}incident.do?sys_id={sys_id}",
            app.config.servicenow.instance_url
        );
        assert_eq!(after["ticket"]["link"], json!(expected), "{after}");
        let (_, page) = get(&app, "/v1/findings").await;
        assert_eq!(page["findings"][0]["ticket"]["link"], json!(expected));
        assert_eq!(page["findings"][0]["ticket"], after["ticket"]);
        app.stop().await;
    }
);

on_both_engines!(the_detail_shows_outbox_rows_and_audit_history, |test_db| {
    let app = TestApp::spawn(test_db.engine).await;
    let id = ingest(&app, finding("inactive-users", "li.wei@simubiz.com")).await;
    app.settled().await;
    event(&app, id, "escalated").await;
    app.settled().await;
    let plan_error = json!({"kind": "no_rule", "message": "example"});
    snowsync::store::findings::audit_row(
        &app.running.db,
        id,
        "escalated",
        Some("escalated"),
        "escalated",
        "poller",
        Some(plan_error.to_string()),
        chrono::Utc::now(),
    )
    .await
    .expect("audit row");

    let (status, detail) = get(&app, &format!("/v1/findings/{id}")).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["id"], id);
    assert_eq!(detail["status"], "escalated");
    assert!(detail.get("decision").is_some(), "{detail}");

    let outbox = detail["outbox"].as_array().expect("outbox rows");
    let ops: Vec<&str> = outbox.iter().filter_map(|r| r["op"].as_str()).collect();
    assert_eq!(ops.first(), Some(&"create_ticket"), "{detail}");
    assert!(ops.contains(&"escalate_ticket"), "{ops:?}");
    let seqs: Vec<i64> = outbox.iter().filter_map(|r| r["seq"].as_i64()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in seq order: {seqs:?}"
    );
    for row in outbox {
        assert_eq!(row["status"], "done", "{row}");
        for field in ["id", "attempts", "last_error", "next_attempt_at"] {
            assert!(row.get(field).is_some(), "a row lacks {field}: {row}");
        }
    }

    let audit = detail["audit"].as_array().expect("audit history");
    assert_eq!(audit.len(), 3, "{detail}");
    assert_eq!(
        (&audit[0]["event"], &audit[0]["from"], &audit[0]["to"]),
        (&json!("failing"), &Value::Null, &json!("open"))
    );
    assert_eq!(audit[0]["actor"], "api");
    assert_eq!(
        (&audit[1]["event"], &audit[1]["from"], &audit[1]["to"]),
        (&json!("escalated"), &json!("open"), &json!("escalated"))
    );
    assert_eq!(audit[2]["detail"], plan_error, "JSON detail is parsed");
    assert!(audit[0]["at"].is_string());
    app.stop().await;
});

on_both_engines!(reads_without_an_api_key_are_refused_with_401, |test_db| {
    let app = TestApp::spawn(test_db.engine).await;
    for path in ["/v1/findings", "/v1/findings/1", "/v1/findings/abc"] {
        let response = app.http.get(app.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 401, "{path}");
    }
    app.stop().await;
});
