//! The whole service on port 0 (API, outbox workers) against the emulator.
#![allow(dead_code)]

use std::time::Duration;

use snowsync::config::Config;
use snowsync::service::Running;
use snowsync::sim::{SimConfig, SimHandle};
use tokio_util::sync::CancellationToken;

use super::harness::{config_for, repo_path};
use super::{Engine, TestDb};

pub const API_KEY: &str = "test-key-0123456789abcdef";
/// The admin key every test app accepts (`admin.api_keys`).
pub const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef";

pub struct TestApp {
    pub sim: SimHandle,
    pub test_db: TestDb,
    pub config: Config,
    pub running: Running,
    pub http: reqwest::Client,
}

impl TestApp {
    pub async fn spawn(engine: Engine) -> Self {
        Self::spawn_with(engine, SimConfig::default(), "basic", |_| {}).await
    }

    pub async fn spawn_with(
        engine: Engine,
        sim: SimConfig,
        auth: &str,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let sim = snowsync::sim::spawn(sim).await.expect("emulator");
        let test_db = TestDb::new(engine);
        let mut config = config_for(&sim, &test_db, auth, &repo_path("mappings"));
        config.admin.api_keys = vec![secrecy::SecretString::from(ADMIN_KEY)];
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let running = snowsync::service::start(&config, listener, CancellationToken::new())
            .await
            .expect("service");
        Self {
            sim,
            test_db,
            config,
            running,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.url())
    }

    /// POSTs `body` with the API key in `x-api-client-token`.
    pub async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("x-api-client-token", API_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// GETs `path` with `key` as a bearer token: the status and the JSON body.
    pub async fn get_json(&self, path: &str, key: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// POSTs `body` as JSON with `key` as a bearer token: the status and the JSON body.
    pub async fn post_json(&self, path: &str, key: &str, body: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// Records a failing finding for `login` whose create the emulator refuses with 403,
    /// waits until its row is dead, and lifts the refusal, so a retry delivers it: the
    /// finding's id.
    pub async fn dead_create(&self, login: &str) -> i64 {
        use snowsync::sim::{FaultRule, Faults};
        self.sim
            .set_faults(
                Faults::none()
                    .with_rule(FaultRule::error(403, 1.0).on("POST", "/api/now/table/incident")),
            )
            .await;
        let finding = super::harness::finding("inactive-users", login);
        let (status, answer) = self
            .post_json("/v1/findings", API_KEY, &finding.to_string())
            .await;
        assert_eq!(status, 202, "{answer}");
        self.settled().await;
        self.sim.set_faults(Faults::none()).await;
        answer["finding_ids"][0].as_i64().expect("an id")
    }

    /// Waits until the outbox owes nothing that can make progress.
    pub async fn settled(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        while snowsync::store::outbox::owed(&self.running.db)
            .await
            .expect("owed")
            > 0
        {
            if tokio::time::Instant::now() > deadline {
                let counts = snowsync::store::outbox::counts(&self.running.db)
                    .await
                    .expect("counts");
                panic!("the outbox did not settle: {counts:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(self) {
        self.running.stop().await;
        self.sim.shutdown().await;
    }
}
