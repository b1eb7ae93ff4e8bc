//! Fault injection: error shares, commit-then-fail, hangs, resets, 429 bursts, the rate-limit
//! rule, the hibernation page, targeting, and setting faults over HTTP.

use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde_json::json;
use snowsync::sim::{AfterCommit, Burst, FaultRule, Faults, RateLimit, SimConfig};

use crate::support::{As, TestSim, body, envelope};

fn with_faults(faults: Faults) -> SimConfig {
    SimConfig {
        faults,
        ..SimConfig::default()
    }
}

async fn post_incident(
    sim: &TestSim,
    correlation: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    sim.request(As::Integration, Method::POST, "api/now/table/incident")
        .timeout(Duration::from_millis(500))
        .json(&json!({"correlation_id": correlation}))
        .send()
        .await
}

async fn count(sim: &TestSim, correlation: &str) -> usize {
    sim.handle.set_faults(Faults::none()).await;
    sim.list(
        "incident",
        &format!("sysparm_query=correlation_id%3D{correlation}"),
    )
    .await
    .len()
}

#[tokio::test]
async fn an_error_share_answers_500_or_503_with_the_envelope_and_applies_nothing() {
    for status in [500, 503] {
        let sim = TestSim::with(with_faults(
            Faults::none().with_rule(FaultRule::error(status, 1.0)),
        ))
        .await;
        let resp = post_incident(&sim, "e").await.unwrap();
        assert_eq!(resp.status().as_u16(), status);
        envelope(&body(resp).await);
        assert_eq!(count(&sim, "e").await, 0);
    }
}

#[tokio::test]
async fn a_seeded_error_share_repeats_on_every_run() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = TestSim::with(with_faults(
            Faults::none()
                .with_seed(42)
                .with_rule(FaultRule::error(500, 0.05)),
        ))
        .await;
        let mut statuses = Vec::new();
        for _ in 0..200 {
            statuses.push(
                sim.get("api/now/table/sys_user_group?sysparm_limit=1")
                    .await
                    .0,
            );
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    let errors = runs[0]
        .iter()
        .filter(|s| **s == StatusCode::INTERNAL_SERVER_ERROR)
        .count();
    assert!((1..=30).contains(&errors), "{errors} errors in 200");
}

#[tokio::test]
async fn commit_then_fail_applies_the_write_then_answers_500() {
    let sim = TestSim::with(with_faults(
        Faults::none().with_rule(FaultRule::commit_then_fail(AfterCommit::Error, 1.0)),
    ))
    .await;
    let resp = post_incident(&sim, "ctf").await.unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(count(&sim, "ctf").await, 1, "the write was applied");
    assert_eq!(sim.handle.stats().await.faults["commit_then_fail"], 1);
}

#[tokio::test]
async fn commit_then_hang_applies_the_write_and_never_answers() {
    let sim = TestSim::with(with_faults(
        Faults::none().with_rule(FaultRule::commit_then_fail(AfterCommit::Hang, 1.0)),
    ))
    .await;
    let err = post_incident(&sim, "cth").await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(count(&sim, "cth").await, 1);
}

#[tokio::test]
async fn a_hang_never_answers_and_applies_nothing() {
    let sim = TestSim::with(with_faults(Faults::none().with_rule(FaultRule::hang(1.0)))).await;
    let err = post_incident(&sim, "h").await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(count(&sim, "h").await, 0);
}

#[tokio::test]
async fn a_reset_drops_the_connection_without_an_answer() {
    let sim = TestSim::with(with_faults(Faults::none().with_rule(FaultRule::reset(1.0)))).await;
    let err = post_incident(&sim, "r").await.unwrap_err();
    assert!(err.status().is_none() && !err.is_timeout(), "{err:?}");
    assert_eq!(count(&sim, "r").await, 0);
}

#[tokio::test]
async fn a_burst_answers_429_with_retry_after_for_the_next_n_requests() {
    let sim = TestSim::with(with_faults(
        Faults::none().with_burst(Burst::requests(3, 7)),
    ))
    .await;
    for _ in 0..3 {
        let resp = sim
            .request(As::Integration, Method::GET, "api/now/table/incident")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "7");
        assert!(
            resp.headers().contains_key("x-ratelimit-reset")
                && resp.headers().contains_key("x-ratelimit-rule")
        );
        envelope(&body(resp).await);
    }
    assert_eq!(sim.get("api/now/table/incident").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_burst_for_a_duration_ends_when_the_time_is_up() {
    let sim = TestSim::with(with_faults(
        Faults::none().with_burst(Burst::lasting(Duration::from_secs(30), 30)),
    ))
    .await;
    assert_eq!(
        sim.get("api/now/table/incident").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        sim.get("api/now/table/incident").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    sim.handle.advance_clock(Duration::from_secs(31)).await;
    assert_eq!(sim.get("api/now/table/incident").await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_hourly_rate_limit_rule_sends_its_headers_and_then_429() {
    let sim = TestSim::with(with_faults(Faults::none().with_rate_limit(RateLimit {
        per_hour: 2,
        user: None,
    })))
    .await;
    for _ in 0..2 {
        let resp = sim
            .request(As::Integration, Method::GET, "api/now/table/incident")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["x-ratelimit-limit"], "2");
        assert!(
            resp.headers()["x-ratelimit-reset"]
                .to_str()
                .unwrap()
                .parse::<i64>()
                .is_ok()
        );
        assert_eq!(resp.headers()["x-ratelimit-rule"].len(), 32);
        assert!(
            resp.headers().get("x-ratelimit-remaining").is_none(),
            "not documented"
        );
    }
    let resp = sim
        .request(As::Integration, Method::GET, "api/now/table/incident")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry));
    assert_eq!(
        sim.send(sim.request(As::HelpDesk, Method::GET, "api/now/table/incident"))
            .await
            .0,
        StatusCode::OK,
        "counted per user"
    );
    sim.handle.advance_clock(Duration::from_secs(3600)).await;
    assert_eq!(sim.get("api/now/table/incident").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_hibernating_instance_answers_html_with_200() {
    let sim = TestSim::with(with_faults(Faults {
        hibernating: true,
        ..Faults::none()
    }))
    .await;
    for path in ["api/now/table/incident", "oauth_token.do"] {
        let resp = sim
            .request(As::Integration, Method::GET, path)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            resp.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(resp.text().await.unwrap().contains("hibernating"));
    }
}

#[tokio::test]
async fn faults_can_target_a_method_and_a_path() {
    let sim = TestSim::with(with_faults(
        Faults::none().with_rule(FaultRule::error(500, 1.0).on("POST", "/api/now/table/incident")),
    ))
    .await;
    assert_eq!(sim.get("api/now/table/incident").await.0, StatusCode::OK);
    let post = |path: &'static str| {
        sim.request(As::Integration, Method::POST, path)
            .json(&json!({}))
    };
    assert_eq!(
        sim.send(post("api/now/v2/table/incident")).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        sim.send(post("api/now/table/sc_request")).await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn latency_delays_but_serves() {
    let sim = TestSim::with(with_faults(Faults::none().with_rule(FaultRule::latency(
        Duration::from_millis(5),
        Duration::from_millis(5),
    ))))
    .await;
    assert_eq!(sim.get("api/now/table/incident").await.0, StatusCode::OK);
    assert_eq!(sim.handle.stats().await.faults["latency"], 1);
}

#[tokio::test]
async fn faults_are_set_and_read_over_http() {
    let sim = TestSim::start().await;
    let faults = json!({
        "seed": 1,
        "rules": [
            {"probability": 0.05, "fault": {"kind": "error", "status": 500}},
            {"method": "POST", "path": "/api/now/table/incident", "probability": 0.02, "fault": {"kind": "commit_then_fail", "then": "hang"}},
            {"fault": {"kind": "latency", "fixed": "10ms", "jitter": "5ms"}}
        ],
        "burst": {"requests": 5, "retry_after_secs": 2}
    });
    let resp = sim
        .http
        .post(sim.url("sim/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let expected = Faults::none()
        .with_seed(1)
        .with_rule(FaultRule::error(500, 0.05))
        .with_rule(
            FaultRule::commit_then_fail(AfterCommit::Hang, 0.02)
                .on("POST", "/api/now/table/incident"),
        )
        .with_rule(FaultRule::latency(
            Duration::from_millis(10),
            Duration::from_millis(5),
        ))
        .with_burst(Burst::requests(5, 2));
    let current: Faults = sim
        .http
        .get(sim.url("sim/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current, expected);
    let resp = sim
        .http
        .post(sim.url("sim/faults"))
        .json(&json!({"rules": [{"fault": {"kind": "explode"}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let detail = envelope(&body(resp).await).1;
    assert!(detail.as_str().unwrap().contains("rules[0]"), "{detail}");
}
