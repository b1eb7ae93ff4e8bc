//! `/metrics` as Prometheus and an SRE read it: every metric has `# HELP`.

mod support;

use support::Engine;
use support::app::TestApp;
use support::harness::finding;

async fn scrape(app: &TestApp) -> String {
    app.http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// The metric names of the sample lines (`name{…} value` or `name value`), histogram
/// series folded into their metric.
fn names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(|n| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .unwrap_or(n)
                .to_owned()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_on_the_page_has_help() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.post(
        "/v1/findings",
        finding("inactive-users", "ana.souza@simubiz.com").to_string(),
    )
    .await;
    app.settled().await;
    let text = scrape(&app).await;
    let names = names(&text);
    assert!(names.len() > 5, "{text}");
    for name in &names {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no # HELP in\n{text}"
        );
    }
    app.stop().await;
}
