//! The OpenAPI document: version 3.1, every route the API serves in it with its
//! methods and every documented route served, every operation with its auth scheme and
//! its error shape.

mod support;

use serde_json::Value;
use support::app::TestApp;

/// Every route and method the API serves; the document must hold exactly these.
const ROUTES: &[(&str, &str)] = &[
    ("/v1/findings", "post"),
    ("/v1/findings", "get"),
    ("/v1/sources/oort/events", "post"),
    ("/v1/approval-requests", "post"),
    ("/v1/events", "post"),
    ("/v1/findings/{id}/events", "post"),
    ("/v1/findings/{id}", "get"),
    ("/v1/outbox", "get"),
    ("/v1/outbox/{id}", "get"),
    ("/v1/outbox/{id}/retry", "post"),
    ("/v1/outbox/retry-dead", "post"),
    ("/v1/mappings", "get"),
    ("/v1/render", "post"),
    ("/v1/servicenow/events", "post"),
    ("/healthz", "get"),
    ("/readyz", "get"),
    ("/metrics", "get"),
    ("/openapi.json", "get"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_1_and_covers_every_route_with_auth_and_errors() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    let response = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.expect("JSON");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            documented.push((path.clone(), method.clone()));
        }
    }
    documented.sort();
    let mut served: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(p, m)| ((*p).to_owned(), (*m).to_owned()))
        .collect();
    served.sort();
    assert_eq!(documented, served);

    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    for scheme in ["api_key", "bearer", "push_signature"] {
        assert!(schemes.contains_key(scheme), "{scheme}");
    }
    for (path, method) in ROUTES.iter().filter(|(p, _)| p.starts_with("/v1/")) {
        let op = &doc["paths"][path][method];
        assert!(op["security"].is_array(), "{method} {path} names its auth");
        let unauthorized = &op["responses"]["401"]["content"]["application/json"]["schema"];
        assert_eq!(
            unauthorized["$ref"], "#/components/schemas/ErrorBody",
            "{method} {path}: the error shape"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    for (path, method) in ROUTES {
        let url = app.url(&path.replace("{id}", "1"));
        let request = match *method {
            "get" => app.http.get(url),
            _ => app
                .http
                .post(url)
                .header("content-type", "application/json"),
        };
        let response = request
            .bearer_auth(support::app::ADMIN_KEY)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        // The router's own 404 and 405 have no body; every handler answers with one.
        assert!(
            status != 405 && !content_type.is_empty(),
            "{method} {path}: {status} `{content_type}`"
        );
    }
    app.stop().await;
}
