//! Flow control, injected faults and metrics against the emulator over HTTP.

mod servicenow_support;

use std::time::{Duration, Instant};

use servicenow_support::{answers, fields, sim_config, start_sim};
use snowsync::config::AuthMode;
use snowsync::servicenow::{Client, Disposition, ServiceNowError};
use snowsync::sim::{self, Burst, FaultRule, Faults, SimConfig};

#[tokio::test]
async fn a_429_burst_holds_back_every_caller_until_retry_after_passes() {
    let (sim, client) = start_sim().await;
    sim.set_faults(Faults::none().with_burst(Burst::requests(1, 1)))
        .await;
    let first = client.query("incident", "", &[], 1).await.unwrap_err();
    let paused_at = Instant::now();
    assert_eq!(
        first.classify(),
        Disposition::Outage {
            after: Some(Duration::from_secs(1))
        }
    );
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move {
                c.query("incident", "", &[], 1)
                    .await
                    .map(|_| Instant::now())
            })
        })
        .collect();
    for call in calls {
        let done = call.await.unwrap().unwrap();
        // A lower bound the pause guarantees, however slow the machine.
        assert!(
            done - paused_at >= Duration::from_millis(900),
            "a caller went ahead during the pause"
        );
    }
    assert_eq!(answers(&sim, 429).await, 1);
}

#[tokio::test]
async fn faults_from_the_instance_are_classified() {
    let (sim, client) = start_sim().await;
    sim.set_faults(Faults::none().with_rule(FaultRule::error(503, 1.0)))
        .await;
    let err = client
        .create("incident", &fields(&[("short_description", "x")]), &[])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    assert!(matches!(err.classify(), Disposition::Outage { .. }));
    assert!(err.is_ambiguous_write());

    sim.set_faults(Faults {
        hibernating: true,
        ..Faults::none()
    })
    .await;
    let err = client.query("incident", "", &[], 10).await.unwrap_err();
    assert!(
        matches!(err, ServiceNowError::InstanceUnavailable { .. }),
        "{err:?}"
    );

    let mut config = sim_config(&sim, AuthMode::Basic);
    config.request_timeout = Duration::from_millis(300);
    let impatient = Client::new(&config).unwrap();
    sim.set_faults(Faults::none().with_rule(FaultRule::hang(1.0)))
        .await;
    let err = impatient
        .create("incident", &fields(&[("short_description", "x")]), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceNowError::Timeout { .. }), "{err:?}");
    assert!(err.is_ambiguous_write());
}

#[tokio::test]
async fn requests_are_counted_and_timed_per_operation_and_status() {
    // The only test in this binary that installs a recorder.
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("no other recorder in this test binary");
    let sim = sim::spawn(SimConfig::default()).await.unwrap();
    let client = Client::new(&sim_config(&sim, AuthMode::OauthPassword)).unwrap();
    let created = client
        .create("incident", &fields(&[("short_description", "m")]), &[])
        .await
        .unwrap();
    client
        .get("incident", created.sys_id().unwrap(), &[])
        .await
        .unwrap();
    client
        .get("incident", "0123456789abcdef0123456789abcdef", &[])
        .await
        .unwrap();
    let text = handle.render();
    for series in [
        r#"servicenow_requests_total{operation="token",status="200"}"#,
        r#"servicenow_requests_total{operation="create",status="201"}"#,
        r#"servicenow_requests_total{operation="get",status="200"}"#,
        r#"servicenow_requests_total{operation="get",status="404"}"#,
        r#"servicenow_request_duration_seconds_count{operation="create"}"#,
    ] {
        assert!(text.contains(series), "{series} missing from:\n{text}");
    }
}

/// A fence that refuses every write, naming why.
struct Refusing;

impl snowsync::servicenow::WriteFence for Refusing {
    fn admit(&self, _lasting: Duration) -> snowsync::servicenow::FenceFuture<'_> {
        Box::pin(async { Err("lease lost".to_owned()) })
    }
}

#[tokio::test]
async fn a_write_the_fence_refuses_is_not_sent() {
    let (sim, client) = start_sim().await;
    let fenced = client.fenced(std::sync::Arc::new(Refusing));
    let err = fenced
        .create("incident", &fields(&[("short_description", "x")]), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceNowError::Fenced { .. }), "{err:?}");
    assert!(err.to_string().contains("lease lost"), "{err}");
    assert!(!err.is_ambiguous_write(), "the instance never saw it");
    assert_eq!(
        sim.stats()
            .await
            .requests_to("POST", "/api/now/table/incident"),
        0
    );
}

#[tokio::test]
async fn reads_do_not_pass_through_the_fence() {
    let (sim, client) = start_sim().await;
    let fenced = client.fenced(std::sync::Arc::new(Refusing));
    fenced
        .query("incident", "", &[], 1)
        .await
        .expect("a read is not a write");
    assert_eq!(
        sim.stats()
            .await
            .requests_to("GET", "/api/now/table/incident"),
        1
    );
}

/// A fence that admits every write for a fixed time.
struct Granting(Duration);

impl snowsync::servicenow::WriteFence for Granting {
    fn admit(&self, _lasting: Duration) -> snowsync::servicenow::FenceFuture<'_> {
        let granted = self.0;
        Box::pin(async move { Ok(granted) })
    }
}

/// A client whose requests time out after `timeout`, against an emulator that takes
/// `per_create` for every incident it creates, batch items included.
async fn slow_creates(timeout: Duration, per_create: Duration) -> (sim::SimHandle, Client) {
    let (sim, _) = start_sim().await;
    sim.set_faults(Faults::none().with_rule(
        FaultRule::latency(per_create, Duration::ZERO).on("POST", "/api/now/table/incident"),
    ))
    .await;
    let client = Client::new(&snowsync::config::ServiceNowConfig {
        request_timeout: timeout,
        ..sim_config(&sim, AuthMode::Basic)
    })
    .unwrap();
    (sim, client)
}

fn creates(n: usize) -> Vec<snowsync::servicenow::BatchRequest> {
    (0..n)
        .map(|i| {
            snowsync::servicenow::BatchRequest::create(
                format!("c{i}"),
                "incident",
                &fields(&[("short_description", "x")]),
                &["number"],
            )
            .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_batch_whose_items_together_outlast_the_request_timeout_gets_time_for_each_item() {
    // The instance runs a batch's items one after another: six creates take three times
    // the request timeout, and each is still well within it.
    let (sim, client) = slow_creates(Duration::from_millis(400), Duration::from_millis(200)).await;
    let replies = client.batch(creates(6)).await.expect("no timeout");
    assert!(replies.iter().all(|r| r.result.is_ok()), "{replies:?}");
    assert_eq!(
        sim.stats().await.requests_to("POST", "/api/now/v1/batch"),
        1,
        "one Batch API call"
    );
}

#[tokio::test]
async fn a_fenced_batch_is_cut_to_the_time_the_fence_grants() {
    let (_sim, client) = slow_creates(Duration::from_millis(400), Duration::from_millis(200)).await;
    let fenced = client.fenced(std::sync::Arc::new(Granting(Duration::from_millis(500))));
    let err = fenced.batch(creates(6)).await.unwrap_err();
    match err {
        ServiceNowError::Timeout { after, .. } => assert_eq!(after, Duration::from_millis(500)),
        other => panic!("expected a timeout at the fence's grant, got {other:?}"),
    }
}
