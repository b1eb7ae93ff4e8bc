//! The API checked against its own OpenAPI document by schemathesis: a running service and
//! emulator, every documented operation called with generated valid and invalid requests,
//! and no answer may be a 5xx, break the documented status codes, content types or schemas,
//! or accept a body the document says is invalid.
//!
//! schemathesis comes from PyPI: `.ci/run` installs it into `<target>/schemathesis-venv`;
//! `SNOWSYNC_SCHEMATHESIS` may name another `st`. Without it the test skips, unless `CI` is
//! set.

mod support;

use std::path::PathBuf;

use support::app::{ADMIN_KEY, API_KEY, TestApp};
use support::harness::finding;
use support::tools;

/// How many requests schemathesis makes per operation and phase.
const EXAMPLES_PER_OPERATION: &str = "25";

fn schemathesis() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("SNOWSYNC_SCHEMATHESIS") {
        candidates.push(PathBuf::from(path));
    }
    candidates.push(tools::target_dir().join("schemathesis-venv/bin/st"));
    candidates.push(PathBuf::from("st"));
    tools::required(
        tools::locate(&candidates),
        "schemathesis",
        "install it with `python3 -m venv <target>/schemathesis-venv && \
         <target>/schemathesis-venv/bin/pip install schemathesis` (.ci/run does)",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_documented_operation_answers_as_its_document_says() {
    let Some(st) = schemathesis() else {
        return;
    };
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    // Something to show: a finding with its ticket, so generated ids sometimes exist.
    let (status, _) = app
        .post_json(
            "/v1/findings",
            API_KEY,
            &finding("inactive-users", "ana.souza@simubiz.com").to_string(),
        )
        .await;
    assert_eq!(status, 202);
    app.settled().await;

    let report = tools::target_dir().join("schemathesis-report");
    // schemathesis keeps a cache in its working directory: under the target, not the tree.
    std::fs::create_dir_all(&report).expect("the report folder");
    let workdir = report.clone();
    let args: Vec<String> = vec![
        "run".into(),
        app.url("/openapi.json"),
        "--header".into(),
        format!("x-api-client-token: {ADMIN_KEY}"),
        "--checks".into(),
        "not_a_server_error,status_code_conformance,content_type_conformance,\
         response_schema_conformance,negative_data_rejection"
            .into(),
        "--max-examples".into(),
        EXAMPLES_PER_OPERATION.into(),
        "--phases".into(),
        "examples,coverage,fuzzing".into(),
        "--workers".into(),
        "1".into(),
        "--seed".into(),
        "13".into(),
        "--generation-database".into(),
        "none".into(),
        "--no-color".into(),
        "--report".into(),
        "junit".into(),
        "--report-dir".into(),
        report.display().to_string(),
    ];
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&st)
            .current_dir(&workdir)
            .args(&args)
            .output()
            .expect("run schemathesis")
    })
    .await
    .expect("schemathesis finished");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}");
    app.stop().await;
    assert!(
        output.status.success(),
        "schemathesis found answers that break the document ({}):\n{stdout}\n{stderr}",
        output.status
    );
}
