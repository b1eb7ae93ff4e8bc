//! A hibernating instance on `/metrics`: its HTML answer is its own outcome, and the
//! "instance available" gauge drops to 0 and comes back. Alone in its binary, since the gauge
//! is process-wide and another test's deliveries would move it.

mod support;

use snowsync::sim::{Fault, FaultRule, Faults};
use support::Engine;
use support::app::TestApp;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hibernating_instance_counts_as_html_and_as_unavailable() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.sim
        .set_faults(Faults::none().with_rule(FaultRule::new(Fault::Hibernate, 1.0)))
        .await;
    let _ = app
        .running
        .client
        .get("incident", "0123456789abcdef0123456789abcdef", &["sys_id"])
        .await;
    let text = scrape(&app).await;
    assert!(
        text.contains(r#"servicenow_requests_total{operation="get",status="html"}"#),
        "{text}"
    );
    assert!(text.contains("servicenow_instance_available 0"), "{text}");
    app.sim.set_faults(Faults::none()).await;
    let _ = app
        .running
        .client
        .get("incident", "0123456789abcdef0123456789abcdef", &["sys_id"])
        .await;
    assert!(
        scrape(&app)
            .await
            .contains("servicenow_instance_available 1")
    );
    app.stop().await;
}
