//! The crash-and-fault harness: `snowsync serve` as real processes, killed with SIGKILL at
//! seeded points while findings arrive and the emulator injects 500s, commit-then-fail,
//! hangs, resets, a 429 burst and a token revocation. SQLite runs one instance; PostgreSQL
//! runs two on one database, and the kills alternate between them.
//!
//! At the end every accepted finding has exactly one ticket, no row is dead and the
//! emulator's duplicate audit is 0. The figures go to stderr on every run, CI's included.
//!
//! The CI form kills 5 times over 300 findings. The long form is the same test with
//! `SNOWSYNC_CRASH_KILLS` and `SNOWSYNC_CRASH_FINDINGS` set, e.g.
//! `SNOWSYNC_CRASH_KILLS=24 SNOWSYNC_CRASH_FINDINGS=2000 cargo test --release --test crash_harness -- --nocapture`.

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use snowsync::sim::{AfterCommit, Burst, FaultRule, Faults, SimConfig, SimHandle};
use snowsync::store::{findings, outbox};
use support::app::API_KEY;
use support::harness::{finding, repo_path};
use support::{Engine, TestDb};
use tokio::sync::watch;

/// How long the fleet may take to settle after the last kill before the run counts as
/// stuck. A bound on a failure, not a measurement.
const SETTLE_BOUND: Duration = Duration::from_secs(300);

/// Sources sending at once, so kills land in the middle of ingest requests too.
const LANES: usize = 4;

struct Plan {
    findings: usize,
    kills: usize,
    seed: u64,
}

impl Plan {
    fn from_env() -> Self {
        let number = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .map(|v| {
                    v.parse()
                        .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
                })
                .unwrap_or(default)
        };
        Self {
            findings: number("SNOWSYNC_CRASH_FINDINGS", 300),
            kills: number("SNOWSYNC_CRASH_KILLS", 5),
            seed: number("SNOWSYNC_CRASH_SEED", 20261205) as u64,
        }
    }

    /// The accepted-finding counts at which a kill happens: seeded, spread over the run,
    /// the last ones after ingest (counted in tickets created) so deliveries die too.
    fn kill_points(&self) -> Vec<KillPoint> {
        let mut rng = fastrand::Rng::with_seed(self.seed);
        let during_ingest = self.kills - self.kills / 3;
        let mut points: Vec<KillPoint> = (0..during_ingest)
            .map(|_| KillPoint::Accepted(rng.usize(1..self.findings)))
            .collect();
        points.sort_by_key(|p| match p {
            KillPoint::Accepted(n) | KillPoint::Ticketed(n) => *n,
        });
        let mut after: Vec<usize> = (during_ingest..self.kills)
            .map(|_| rng.usize(1..self.findings))
            .collect();
        after.sort();
        points.extend(after.into_iter().map(KillPoint::Ticketed));
        points
    }
}

#[derive(Debug, Clone, Copy)]
enum KillPoint {
    /// Kill once this many findings were accepted.
    Accepted(usize),
    /// Kill once this many tickets exist in the emulator.
    Ticketed(usize),
}

fn faults(seed: u64) -> Faults {
    Faults::none()
        .with_seed(seed)
        .with_rule(FaultRule::error(500, 0.04))
        .with_rule(FaultRule::commit_then_fail(AfterCommit::Error, 0.02))
        .with_rule(FaultRule::commit_then_fail(AfterCommit::Hang, 0.01))
        .with_rule(FaultRule::hang(0.005))
        .with_rule(FaultRule::reset(0.01))
        .with_burst(Burst::requests(20, 1))
        .revoking_tokens_after(150)
}

/// One `snowsync serve` process slot: its port stays, the process is replaced.
struct Instance {
    port: u16,
    process: Option<Child>,
}

/// A failing test must not leave a `serve` running.
impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

struct Fleet {
    config: PathBuf,
    instances: Vec<Instance>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// The sources sending findings: several lanes at once, each finding sent until one
/// instance answers 202, as a source retries a connection cut by a crash.
struct Sources {
    ports: Vec<u16>,
    http: reqwest::Client,
    accepted: watch::Sender<usize>,
}

impl Sources {
    async fn accept(&self, n: usize) {
        let body = finding("inactive-users", &format!("crash.user{n}@simubiz.com")).to_string();
        let started = Instant::now();
        for attempt in 0usize.. {
            let port = self.ports[(n + attempt) % self.ports.len()];
            let sent = self
                .http
                .post(format!("http://127.0.0.1:{port}/v1/findings"))
                .header("x-api-client-token", API_KEY)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status() == 202 => {
                    self.accepted.send_modify(|count| *count += 1);
                    return;
                }
                Ok(r) if r.status().is_server_error() => {}
                Ok(r) => panic!(
                    "finding {n}: {} {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                ),
                // The instance is down or was killed mid-request: send again.
                Err(_) => {}
            }
            assert!(
                started.elapsed() < SETTLE_BOUND,
                "finding {n} was never accepted"
            );
            // A restart takes a moment; do not spin a core against a closed port.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Fleet {
    async fn start(sim: &SimHandle, db: &TestDb, size: usize) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = write_config(dir.path(), sim, db);
        let mut fleet = Self {
            config,
            instances: (0..size)
                .map(|_| Instance {
                    port: free_port(),
                    process: None,
                })
                .collect(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http client"),
            _dir: dir,
        };
        for slot in 0..size {
            fleet.launch(slot).await;
        }
        fleet
    }

    async fn launch(&mut self, slot: usize) {
        let port = self.instances[slot].port;
        let mut command = Command::new(env!("CARGO_BIN_EXE_snowsync"));
        command
            .args(["serve", "--config"])
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (name, _) in std::env::vars() {
            if (name.starts_with("SNOWSYNC_") && !name.starts_with("SNOWSYNC_TEST_"))
                || name.to_ascii_lowercase().ends_with("_proxy")
            {
                command.env_remove(&name);
            }
        }
        command
            .env("SNOWSYNC_HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .env("SNOWSYNC_LOG__LEVEL", "warn");
        self.instances[slot].process = Some(command.spawn().expect("spawn snowsync serve"));
        self.wait_alive(slot).await;
    }

    async fn wait_alive(&mut self, slot: usize) {
        let url = format!("http://127.0.0.1:{}/healthz", self.instances[slot].port);
        let started = Instant::now();
        loop {
            if let Ok(r) = self.http.get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            if let Some(status) = self.instances[slot]
                .process
                .as_mut()
                .and_then(|p| p.try_wait().ok().flatten())
            {
                panic!("snowsync serve exited at start: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "snowsync serve never answered /healthz"
            );
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL, then a fresh process on the same port.
    async fn kill_and_restart(&mut self, slot: usize) {
        if let Some(mut process) = self.instances[slot].process.take() {
            process.kill().expect("SIGKILL");
            process.wait().expect("reap the killed process");
        }
        self.launch(slot).await;
    }

    fn stop(self) {
        drop(self.instances);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn write_config(dir: &Path, sim: &SimHandle, db: &TestDb) -> PathBuf {
    let (user, password) = sim.integration_credentials();
    let schema = db
        .config
        .schema
        .as_ref()
        .map(|s| format!("schema = \"{s}\"\n"))
        .unwrap_or_default();
    let text = format!(
        r#"[servicenow]
instance_url = "{instance}"
allow_insecure_http = true
auth = "oauth_password"
client_id = "{client_id}"
client_secret = "{client_secret}"
username = "{user}"
password = "{password}"
connect_timeout = "1s"
request_timeout = "1s"
max_concurrency = 8
requests_per_second = 1000.0

[database]
url = "{url}"
{schema}max_connections = 5
busy_timeout = "10s"

[http]
api_keys = ["{API_KEY}"]

[outbox]
workers = 4
lease = "5s"
delivery_timeout = "6s"
idle_poll = "20ms"
max_attempts = 40
initial = "10ms"
max = "200ms"

[poller]
enabled = true
interval = "1s"

[mapping]
rules_dir = "{rules}"
templates_dir = "{templates}"
"#,
        instance = sim.base_url(),
        client_id = sim.oauth_client().0,
        client_secret = sim.oauth_client().1,
        url = db.config.url,
        rules = repo_path("mappings").display(),
        templates = repo_path("templates").display(),
    );
    let path = dir.join("snowsync.toml");
    std::fs::write(&path, text).expect("write the config");
    path
}

/// Waits until every accepted finding is linked to a ticket and no row is owed.
async fn settled(db: &DatabaseConnection, expected: usize) {
    let started = Instant::now();
    loop {
        let linked = findings::list(db, None, expected as u64 + 1)
            .await
            .map(|all| all.len())
            .unwrap_or(0);
        let owed = outbox::owed(db).await.unwrap_or(i64::MAX);
        if linked == expected && owed == 0 {
            return;
        }
        assert!(
            started.elapsed() < SETTLE_BOUND,
            "not settled: {linked} of {expected} findings, {owed} rows owed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn run(engine: Engine, instances: usize) {
    let plan = Plan::from_env();
    let sim = snowsync::sim::spawn(SimConfig::default())
        .await
        .expect("emulator");
    sim.set_faults(faults(plan.seed)).await;
    let test_db = TestDb::new(engine);
    let db = test_db.open().await;
    let mut fleet = Fleet::start(&sim, &test_db, instances).await;

    let (accepted, mut accepted_count) = watch::channel(0usize);
    let sources = Arc::new(Sources {
        ports: fleet.instances.iter().map(|i| i.port).collect(),
        http: fleet.http.clone(),
        accepted,
    });
    let mut lanes = tokio::task::JoinSet::new();
    for lane in 0..LANES {
        let sources = sources.clone();
        let findings = plan.findings;
        lanes.spawn(async move {
            for n in (lane..findings).step_by(LANES) {
                sources.accept(n).await;
            }
        });
    }

    let mut killed = 0usize;
    for point in plan.kill_points() {
        match point {
            KillPoint::Accepted(at) => {
                accepted_count
                    .wait_for(|count| *count >= at)
                    .await
                    .expect("the sources hold the counter");
            }
            KillPoint::Ticketed(at) => {
                while let Some(done) = lanes.join_next().await {
                    done.expect("a source lane");
                }
                let started = Instant::now();
                while sim.stats().await.records("incident") < at as u64 {
                    assert!(
                        started.elapsed() < SETTLE_BOUND,
                        "delivery stalled below {at} tickets"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        fleet.kill_and_restart(killed % instances).await;
        killed += 1;
    }
    while let Some(done) = lanes.join_next().await {
        done.expect("a source lane");
    }
    settled(&db, plan.findings).await;

    let stats = sim.stats().await;
    let faults: u64 = stats.faults.values().sum();
    let incidents = stats.records("incident");
    let duplicates = stats.duplicate_records("incident");
    let dead = outbox::list(&db, Some(outbox::RowStatus::Dead), 100)
        .await
        .expect("dead rows");
    let all = findings::list(&db, None, plan.findings as u64 + 1)
        .await
        .expect("findings");
    let mut unlinked = BTreeSet::new();
    for f in &all {
        let link = findings::link(&db, f.id).await.expect("link");
        if !link.is_some_and(|l| l.sys_id.is_some() && l.number.is_some()) {
            unlinked.insert(f.id);
        }
    }
    let lost = plan.findings.saturating_sub(all.len()) + unlinked.len();
    // Straight to the process's stderr: the test harness captures `println!`, and these
    // figures are meant for the CI log of every run, passing or not.
    let _ = writeln!(
        std::io::stderr(),
        "crash harness, {engine:?}, {instances} instance(s): {} findings, {killed} kills, {faults} faults ({:?}): {lost} lost, {duplicates} duplicates, {} dead",
        plan.findings,
        stats.faults,
        dead.len()
    );
    fleet.stop();

    assert_eq!(killed, plan.kills, "every planned kill happened");
    assert!(faults > 0, "the emulator injected no fault");
    assert_eq!(all.len(), plan.findings, "every accepted finding is stored");
    assert!(
        unlinked.is_empty(),
        "findings without a ticket: {unlinked:?}"
    );
    assert_eq!(incidents, plan.findings as u64, "one incident per finding");
    assert_eq!(duplicates, 0, "the duplicate audit");
    assert!(
        dead.is_empty(),
        "dead rows: {:?}",
        dead.iter()
            .map(|r| (&r.op, &r.last_error))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_serve_killed_under_faults_ends_with_one_ticket_per_finding() {
    run(Engine::Sqlite, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_killed_under_faults_end_with_one_ticket_per_finding() {
    run(Engine::Postgres, 2).await;
}
