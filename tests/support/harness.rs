//! A sync harness: the emulator over real HTTP, a fresh database, intake and the real
//! deliverer, with the outbox driven step by step (`dispatch`) or to the end (`drain`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use snowsync::config::{AuthMode, Config, PollerConfig};
use snowsync::domain::{FindingStatus, SourceEvent};
use snowsync::intake::Intake;
use snowsync::outbox::deliver::ServiceNowDeliverer;
use snowsync::outbox::notify::Notifier;
use snowsync::poller::Poller;
use snowsync::servicenow::Client;
use snowsync::sim::{SimConfig, SimHandle, SimStats};
use snowsync::store::findings::Recorded;
use snowsync::store::outbox;

use super::{Engine, TestDb};

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The settings tests run with: the emulator's settings, with quick retries, a short
/// request timeout, `auth` and the mappings in `mappings`.
pub fn config_for(sim: &SimHandle, db: &TestDb, auth: &str, mappings: &Path) -> Config {
    let mut config = Config::for_emulator(sim, &db.config.url, "test-key-0123456789abcdef");
    config.database = db.config.clone();
    let sn = &mut config.servicenow;
    sn.auth = match auth {
        "basic" => AuthMode::Basic,
        "oauth_password" => AuthMode::OauthPassword,
        "oauth_client_credentials" => AuthMode::OauthClientCredentials,
        other => panic!("no auth mode {other}"),
    };
    sn.request_timeout = Duration::from_secs(1);
    sn.connect_timeout = Duration::from_secs(1);
    sn.max_concurrency = 8;
    sn.requests_per_second = 1000.0;
    let outbox = &mut config.outbox;
    // Short enough that tests of takeovers run in seconds: the lease outlasts a request,
    // a delivery outlasts the lease, and a takeover waits the grace (delivery_timeout).
    outbox.lease = Duration::from_secs(2);
    outbox.delivery_timeout = Duration::from_secs(3);
    outbox.idle_poll = Duration::from_millis(20);
    outbox.retry.initial = Duration::from_millis(10);
    outbox.retry.max = Duration::from_millis(200);
    outbox.retry.max_attempts = 10;
    config.mapping.rules_dir = Some(mappings.to_path_buf());
    config.mapping.local_rules_dir = None;
    config.mapping.templates_dir = Some(repo_path("templates"));
    config
}

pub struct Harness {
    pub sim: SimHandle,
    pub test_db: TestDb,
    pub db: DatabaseConnection,
    pub config: Config,
    pub intake: Intake,
    pub deliverer: ServiceNowDeliverer,
}

impl Harness {
    /// The starter mappings and templates, basic auth.
    pub async fn start(engine: Engine) -> Self {
        Self::with(
            engine,
            SimConfig::default(),
            &repo_path("mappings"),
            "basic",
        )
        .await
    }

    pub async fn with(engine: Engine, sim: SimConfig, mappings: &Path, auth: &str) -> Self {
        let sim = snowsync::sim::spawn(sim).await.expect("emulator");
        let test_db = TestDb::new(engine);
        let db = test_db.open().await;
        let config = config_for(&sim, &test_db, auth, mappings);
        let intake = intake(&db, &config);
        let deliverer = deliverer(&db, &config);
        Self {
            sim,
            test_db,
            db,
            config,
            intake,
            deliverer,
        }
    }

    /// A second service instance on the same database and emulator.
    pub fn another_instance(&self) -> ServiceNowDeliverer {
        deliverer(&self.db, &self.config)
    }

    /// Records a generic finding (JSON) as failing.
    pub async fn failing(&self, finding: &serde_json::Value) -> Recorded {
        let parsed = snowsync::ingest::parse(
            snowsync::ingest::InputFormat::Generic,
            finding.to_string().as_bytes(),
        )
        .expect("a valid finding");
        self.intake
            .failing(&parsed[0], "test")
            .await
            .expect("recorded")
    }

    pub async fn event(&self, finding_id: i64, event: SourceEvent) -> Recorded {
        self.intake
            .event_for_id(finding_id, event, "test")
            .await
            .expect("recorded")
    }

    /// One claim-and-deliver step as worker `test`.
    pub async fn dispatch(&self) -> bool {
        snowsync::outbox::dispatch_once(&self.db, "test", &self.config.outbox, &self.deliverer)
            .await
            .expect("dispatch")
    }

    /// Dispatches step by step until `done` holds of the emulator's stats; fails after 60 s,
    /// naming what was `awaited`.
    pub async fn dispatch_until(&self, awaited: &str, done: impl Fn(&SimStats) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !done(&self.stats().await) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up after 60 s of dispatching: {awaited}"
            );
            self.dispatch().await;
        }
    }

    /// Delivers until nothing that can make progress is owed.
    pub async fn drain(&self) {
        drain_with(&self.db, &self.config, &self.deliverer, "test").await
    }

    pub async fn stats(&self) -> SimStats {
        self.sim.stats().await
    }

    pub fn client(&self) -> Client {
        Client::new(&self.config.servicenow).expect("client")
    }

    /// The stored status of finding `finding_id`.
    pub async fn status(&self, finding_id: i64) -> FindingStatus {
        snowsync::store::findings::get(&self.db, finding_id)
            .await
            .expect("read")
            .expect("finding")
            .status
    }

    /// `desk` (a help-desk client) changes a ticket one second later than anything before.
    pub async fn desk_changes(
        &self,
        desk: &Client,
        table: &str,
        sys_id: &str,
        pairs: &[(&str, &str)],
    ) {
        self.sim.advance_clock(Duration::from_secs(1)).await;
        let fields = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect();
        desk.patch(table, sys_id, &fields, &[])
            .await
            .expect("the help desk's change");
    }

    /// The poller of instance `holder`, driven a cycle at a time by the test. A first poll
    /// reads every linked ticket: its requests get 30 s, where the harness's 1 s timeout is
    /// for faults.
    pub fn poller(&self, holder: &str) -> Poller {
        let mut servicenow = self.config.servicenow.clone();
        servicenow.request_timeout = Duration::from_secs(30);
        Poller {
            db: self.db.clone(),
            client: Client::new(&servicenow).expect("client"),
            pipeline: self.intake.pipeline.clone(),
            config: PollerConfig {
                enabled: true,
                interval: Duration::from_secs(60),
                overlap: Duration::from_secs(30),
                page_size: 200,
                push_secret: None,
            },
            holder: holder.to_owned(),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
        }
    }
}

pub fn intake(db: &DatabaseConnection, config: &Config) -> Intake {
    let pipeline = snowsync::pipeline::load(&config.mapping).expect("mappings and templates");
    Intake::new(
        db.clone(),
        pipeline.into(),
        Arc::new(tokio::sync::Notify::new()),
    )
}

pub fn deliverer(db: &DatabaseConnection, config: &Config) -> ServiceNowDeliverer {
    let pipeline = snowsync::pipeline::load(&config.mapping).expect("mappings and templates");
    ServiceNowDeliverer::new(
        db.clone(),
        Client::new(&config.servicenow).expect("client"),
        Notifier::new(config.sources.clone(), Duration::from_secs(1)).expect("notifier"),
        config.outbox.batch_size,
        pipeline.into(),
    )
}

/// Delivers as `worker` until no row that can make progress is owed; rows waiting for
/// their retry time are waited for, up to 60 s in all.
pub async fn drain_with(
    db: &DatabaseConnection,
    config: &Config,
    deliverer: &ServiceNowDeliverer,
    worker: &str,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if snowsync::outbox::dispatch_once(db, worker, &config.outbox, deliverer)
            .await
            .expect("dispatch")
        {
            continue;
        }
        if outbox::owed(db).await.expect("owed") == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox did not drain within 60 s"
        );
        // Rows wait for their retry time or another worker's lease: poll the condition.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A generic finding for `login` failing `check_id`, as Oort would report it.
pub fn finding(check_id: &str, login: &str) -> serde_json::Value {
    serde_json::json!({
        "source": "oort",
        "kind": "check",
        "check_id": check_id,
        "title": "MFA Not Enrolled",
        "severity": "medium",
        "subject": {"login": login, "display_name": "Test User", "status": "ACTIVE", "user_type": "INTERNAL"},
        "description": ["The user has no second factor enrolled."],
        "recommended_actions": ["Ask the user to enroll a second factor."],
        "link": "https://dashboard.example.com/users/1",
        "occurred_at": "2026-11-01T10:00:00Z"
    })
}
