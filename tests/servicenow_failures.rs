//! How the client fails: each row of the classification table over real HTTP, timeouts,
//! refused connections, pages that are not the API, and the shared pause after a 429.

mod servicenow_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use servicenow_support::{Answer, Server, config, json_answer, respond};
use snowsync::config::AuthMode;
use snowsync::servicenow::{Client, Disposition, ServiceNowError};

fn error_body(message: &str, detail: &str) -> serde_json::Value {
    json!({"error": {"message": message, "detail": detail}, "status": "failure"})
}

/// Answers `/api/now/table/t<status>` with that status, and a `Retry-After` on 429 (1 s, which
/// pauses the client) and 503 (2 s).
async fn status_server() -> Server {
    Server::start(|seen| {
        let status: u16 = seen
            .path
            .trim_start_matches("/api/now/table/t")
            .split('/')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(500);
        let headers = match status {
            429 => vec![("Retry-After".to_owned(), "1".to_owned())],
            503 => vec![("Retry-After".to_owned(), "2".to_owned())],
            _ => vec![],
        };
        respond(
            status,
            &headers,
            error_body("Failure", &format!("status {status}")).to_string(),
        )
    })
    .await
}

#[tokio::test]
async fn every_row_of_the_classification_table_holds_over_http() {
    let server = status_server().await;
    let client = Client::new(&config(&server.base, AuthMode::Basic)).unwrap();
    let outage = |s: Option<u64>| Disposition::Outage {
        after: s.map(Duration::from_secs),
    };
    // status, disposition, ambiguous for a write (PATCH)
    let table = [
        (400, Disposition::GiveUp, false),
        (401, outage(None), false),
        (403, Disposition::GiveUp, false),
        (404, Disposition::GiveUp, false),
        (408, outage(None), false),
        (429, outage(Some(1)), false),
        (500, outage(None), true),
        (503, outage(Some(2)), true),
    ];
    for (status, disposition, ambiguous) in table {
        let mut fields = serde_json::Map::new();
        fields.insert("state".into(), "2".into());
        let write = client
            .patch(&format!("t{status}"), "abc", &fields, &[])
            .await
            .unwrap_err();
        assert_eq!(write.status(), Some(status), "{write}");
        assert_eq!(write.classify(), disposition, "{write}");
        assert_eq!(write.is_ambiguous_write(), ambiguous, "{write}");
        assert!(
            write
                .to_string()
                .contains(&format!("PATCH /api/now/table/t{status}/abc")),
            "{write}"
        );
        assert!(
            write.to_string().contains(&format!("status {status}")),
            "{write}"
        );
        let read = client
            .query(&format!("t{status}"), "", &[], 10)
            .await
            .unwrap_err();
        assert_eq!(read.classify(), disposition, "{read}");
        assert!(
            !read.is_ambiguous_write(),
            "a read is never an ambiguous write: {read}"
        );
    }
}

#[tokio::test]
async fn a_404_on_get_is_no_record_rather_than_an_error() {
    let server = Server::start(|_| {
        json_answer(
            404,
            error_body(
                "No Record found",
                "Record doesn't exist or ACL restricts the record retrieval",
            ),
        )
    })
    .await;
    let client = Client::new(&config(&server.base, AuthMode::Basic)).unwrap();
    assert!(
        client
            .get("incident", "abc", &["number"])
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_request_without_an_answer_times_out_and_a_timed_out_write_is_ambiguous() {
    let server = Server::start(|_| Answer::Hang).await;
    let mut cfg = config(&server.base, AuthMode::Basic);
    cfg.request_timeout = Duration::from_millis(300);
    let client = Client::new(&cfg).unwrap();
    let err = client
        .create("incident", &serde_json::Map::new(), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceNowError::Timeout { .. }), "{err:?}");
    assert_eq!(err.classify(), Disposition::Outage { after: None });
    assert!(err.is_ambiguous_write());
    let read = client.get("incident", "abc", &[]).await.unwrap_err();
    assert!(matches!(read, ServiceNowError::Timeout { .. }));
    assert!(!read.is_ambiguous_write());
}

#[tokio::test]
async fn a_refused_connection_is_retryable_and_never_ambiguous() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let client = Client::new(&config(&base, AuthMode::Basic)).unwrap();
    let err = client
        .create("incident", &serde_json::Map::new(), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, ServiceNowError::Transport { sent: false, .. }),
        "{err:?}"
    );
    assert_eq!(err.classify(), Disposition::Outage { after: None });
    assert!(!err.is_ambiguous_write());
}

#[tokio::test]
async fn the_hibernating_instance_page_is_an_error_not_a_success() {
    let page = "<!DOCTYPE html><html><head><title>Instance Hibernating page</title></head>\
                <body>Your instance is hibernating. Sign in to wake it up.</body></html>";
    let server = Server::start(move |_| {
        respond(
            200,
            &[("Content-Type".into(), "text/html;charset=UTF-8".into())],
            page,
        )
    })
    .await;
    let client = Client::new(&config(&server.base, AuthMode::Basic)).unwrap();
    for err in [
        client
            .query("incident", "", &["number"], 10)
            .await
            .unwrap_err(),
        client
            .get("incident", "abc", &["number"])
            .await
            .unwrap_err(),
        client
            .create("incident", &serde_json::Map::new(), &[])
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(err, ServiceNowError::InstanceUnavailable { .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("Instance Hibernating page"),
            "{err}"
        );
        assert_eq!(err.classify(), Disposition::Outage { after: None });
    }
}

#[tokio::test]
async fn result_null_on_200_and_a_redirect_are_an_unavailable_instance() {
    let server = Server::start(|seen| {
        if seen.path.ends_with("/incident") {
            json_answer(200, json!({"result": null}))
        } else {
            respond(
                302,
                &[(
                    "Location".into(),
                    "https://developer.servicenow.com/dev.do".into(),
                )],
                "",
            )
        }
    })
    .await;
    let client = Client::new(&config(&server.base, AuthMode::Basic)).unwrap();
    let null = client.query("incident", "", &[], 10).await.unwrap_err();
    assert!(
        matches!(null, ServiceNowError::InstanceUnavailable { .. }),
        "{null:?}"
    );
    assert!(null.to_string().contains("result: null"), "{null}");
    let redirect = client.query("sc_request", "", &[], 10).await.unwrap_err();
    assert!(
        matches!(redirect, ServiceNowError::InstanceUnavailable { .. }),
        "{redirect:?}"
    );
    assert!(
        redirect.to_string().contains("developer.servicenow.com"),
        "{redirect}"
    );
}

#[tokio::test]
async fn a_429_with_retry_after_holds_back_every_caller_until_it_passes() {
    let arrivals = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let log = arrivals.clone();
    let server = Server::start(move |_| {
        let mut log = log.lock().unwrap();
        log.push(Instant::now());
        if log.len() == 1 {
            respond(
                429,
                &[("Retry-After".into(), "1".into())],
                error_body("Too Many Requests", "rate limited").to_string(),
            )
        } else {
            json_answer(200, json!({"result": []}))
        }
    })
    .await;
    let client = Client::new(&config(&server.base, AuthMode::Basic)).unwrap();
    let first = client.query("incident", "", &[], 10).await.unwrap_err();
    assert_eq!(
        first.classify(),
        Disposition::Outage {
            after: Some(Duration::from_secs(1))
        }
    );

    let others: Vec<_> = (0..4)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.query("incident", "", &[], 10).await })
        })
        .collect();
    for o in others {
        o.await.unwrap().unwrap();
    }
    let arrivals = arrivals.lock().unwrap();
    assert_eq!(arrivals.len(), 5);
    for later in &arrivals[1..] {
        // A lower bound the pause guarantees, however slow the machine.
        assert!(
            *later - arrivals[0] >= Duration::from_secs(1),
            "a caller went ahead during the pause"
        );
    }
}

#[tokio::test]
async fn names_that_would_escape_the_table_api_are_refused_before_sending() {
    let server = Server::start(|_| json_answer(200, json!({"result": []}))).await;
    let client = Client::new(&config(&server.base, AuthMode::Basic)).unwrap();
    let bad_table = client
        .get("../oauth_token.do", "abc", &[])
        .await
        .unwrap_err();
    let bad_id = client
        .get("incident", "abc/../../x", &[])
        .await
        .unwrap_err();
    let bad_value = client
        .find_by_correlation_id("incident", "x^ORactive=true", &[])
        .await
        .unwrap_err();
    for err in [bad_table, bad_id, bad_value] {
        assert!(matches!(err, ServiceNowError::InvalidRequest(_)), "{err:?}");
        assert_eq!(err.classify(), Disposition::GiveUp);
    }
    assert!(server.seen().is_empty());
}

#[test]
fn plain_http_to_a_remote_host_is_refused_unless_allowed() {
    let base = url::Url::parse("http://example.service-now.com/").unwrap();
    let mut cfg = config(&base, AuthMode::Basic);
    let err = Client::new(&cfg).unwrap_err();
    assert!(err.to_string().contains("http"), "{err}");
    cfg.allow_insecure_http = true;
    assert!(Client::new(&cfg).is_ok());
}

#[test]
fn a_ca_file_that_is_not_pem_is_a_setup_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "not a certificate").unwrap();
    let base = url::Url::parse("https://example.service-now.com/").unwrap();
    let mut cfg = config(&base, AuthMode::Basic);
    cfg.ca_file = Some(path);
    let err = Client::new(&cfg).unwrap_err();
    assert!(err.to_string().contains("servicenow.ca_file"), "{err}");
}
