//! One bench run's world: the emulator and the service in this process, on a temporary SQLite
//! file or a fresh PostgreSQL schema, and the HTTP calls that feed it findings.
//! It measures nothing itself; the scenarios time what they need.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;

use crate::cli::demo;
use crate::service::{self, Running};
use crate::sim::{self, Faults, SimConfig, SimStats};

/// How a run is set up.
#[derive(Debug, Clone)]
pub struct Setup {
    /// A PostgreSQL URL; `None` is a temporary SQLite file.
    pub postgres: Option<String>,
    pub workers: usize,
    /// `servicenow.max_concurrency`: requests the client keeps in flight at most.
    pub in_flight: usize,
    /// `outbox.batch_size`.
    pub batch_size: usize,
    pub faults: Faults,
    /// One profile without tags instead of the starter mappings (which tag every ticket).
    pub untagged: bool,
}

impl Setup {
    /// A run on a temporary SQLite file with the arguments' workers and batch size, twice as
    /// many requests in flight, no faults and the starter mappings.
    pub fn sqlite(args: &super::BenchArgs) -> Self {
        Self {
            postgres: None,
            workers: args.workers,
            in_flight: args.workers * 2,
            batch_size: args.batch_size,
            faults: Faults::none(),
            untagged: false,
        }
    }
}

/// The mapping of an untagged run: the starter identity profile's references, no tags.
const UNTAGGED: &str = r#"[default]
profile = "untagged"

[profile.untagged]
table = "incident"
assignment_group = "Identity and Access"
business_service = "Identity Management"
caller = "subject"
"#;

/// A started emulator and service.
pub struct World {
    pub sim: sim::SimHandle,
    pub running: Running,
    /// Further service instances on the same database and emulator (`World::add_instance`);
    /// findings are sent to every instance in turn.
    others: Vec<Running>,
    config: crate::config::Config,
    pub http: reqwest::Client,
    api_key: String,
    dir: std::path::PathBuf,
    /// The PostgreSQL URL and the schema this run made, dropped at the end.
    schema: Option<(String, String)>,
}

impl World {
    pub async fn start(setup: &Setup) -> anyhow::Result<Self> {
        let sim = sim::spawn(SimConfig::default())
            .await
            .context("starting the ServiceNow emulator")?;
        sim.set_faults(setup.faults.clone()).await;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("snowsync-bench-{id}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let api_key = format!("bench-{id}");
        let mut config = demo::config(&sim, &dir, &api_key);
        config.outbox.workers = setup.workers.max(1);
        config.outbox.batch_size = setup.batch_size.max(1);
        config.servicenow.max_concurrency = setup.in_flight.max(1);
        config.servicenow.requests_per_second = 100_000.0;
        if setup.untagged {
            let rules = dir.join("mappings");
            std::fs::create_dir_all(&rules)
                .and_then(|()| std::fs::write(rules.join("untagged.toml"), UNTAGGED))
                .with_context(|| format!("writing {}", rules.display()))?;
            config.mapping.rules_dir = Some(rules);
            config.mapping.local_rules_dir = None;
        }
        let mut schema = None;
        if let Some(url) = &setup.postgres {
            // A schema of its own, so runs (and the test suite) never see each other's rows.
            let name = format!("bench_{id}");
            config.database.url = url.clone();
            config.database.schema = Some(name.clone());
            schema = Some((url.clone(), name));
        }
        let listener = tokio::net::TcpListener::bind(config.http.listen)
            .await
            .context("binding the API listener")?;
        let running = service::start(&config, listener, CancellationToken::new()).await?;
        Ok(Self {
            sim,
            running,
            others: Vec::new(),
            config,
            http: reqwest::Client::new(),
            api_key,
            dir,
            schema,
        })
    }

    /// Starts one more service instance, with its own workers and API, on the same database
    /// and emulator, as a second process of a deployment would be.
    pub async fn add_instance(&mut self) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(self.config.http.listen)
            .await
            .context("binding the API listener of another instance")?;
        let running = service::start(&self.config, listener, CancellationToken::new()).await?;
        self.others.push(running);
        Ok(())
    }

    /// The poller settings the service runs with (its own poller is off in bench runs).
    pub fn poller_config(&self) -> crate::config::PollerConfig {
        self.config.poller.clone()
    }

    /// A client signed in as the emulator's help-desk user.
    pub fn help_desk(&self) -> anyhow::Result<crate::servicenow::Client> {
        demo::help_desk(&self.sim, &self.config)
    }

    /// The full URL of an API path such as `/v1/findings`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.url())
    }

    /// A POST with the API key, not yet sent.
    pub fn post(&self, path: &str, body: String) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .header("x-api-client-token", &self.api_key)
            .header("content-type", "application/json")
            .body(body)
    }

    /// Sends findings `0..total` made by `body` from `senders` closed-loop senders; returns
    /// the finding id each 202 named, by finding number.
    pub async fn send(
        &self,
        total: usize,
        senders: usize,
        body: fn(usize) -> String,
    ) -> anyhow::Result<Vec<i64>> {
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        let urls: Vec<String> = std::iter::once(&self.running)
            .chain(&self.others)
            .map(|r| format!("{}/v1/findings", r.url()))
            .collect();
        for _ in 0..senders.max(1) {
            let next = next.clone();
            let requests: Vec<reqwest::RequestBuilder> = urls
                .iter()
                .map(|url| {
                    self.http
                        .post(url)
                        .header("x-api-client-token", &self.api_key)
                        .header("content-type", "application/json")
                })
                .collect();
            tasks.spawn(async move {
                let mut ids = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        return Ok::<_, anyhow::Error>(ids);
                    }
                    let request = &requests[n % requests.len()];
                    // Invariant: the builder has no body yet, so it always clones.
                    let Some(builder) = request.try_clone() else {
                        bail!("request not clonable");
                    };
                    let response = builder.body(body(n)).send().await?;
                    let status = response.status();
                    if status != reqwest::StatusCode::ACCEPTED {
                        bail!("finding {n}: {status}");
                    }
                    let answer: serde_json::Value = response.json().await?;
                    ids.push((n, answer["finding_ids"][0].as_i64().unwrap_or_default()));
                }
            });
        }
        let mut ids = vec![0; total];
        while let Some(done) = tasks.join_next().await {
            for (n, id) in done?? {
                ids[n] = id;
            }
        }
        Ok(ids)
    }

    /// Waits until the outbox owes ServiceNow nothing.
    pub async fn drain(&self) -> anyhow::Result<()> {
        demo::wait_for_outbox(&self.running.db, Duration::from_secs(1_800)).await
    }

    pub async fn stats(&self) -> SimStats {
        self.sim.stats().await
    }

    pub async fn stop(self) {
        for other in self.others {
            other.stop().await;
        }
        self.running.stop().await;
        self.sim.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((url, schema)) = self.schema
            && let Err(e) = drop_schema(&url, &schema).await
        {
            eprintln!("warning: could not drop the bench schema {schema}: {e:#}");
        }
    }
}

async fn drop_schema(url: &str, schema: &str) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(url).await?;
    // Invariant: the name is `bench_` and hex digits, so quoting is enough.
    db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await?;
    db.close().await?;
    Ok(())
}

/// A generic finding for user `n` of a check the starter mappings ticket per user (not one
/// they group by check): one finding, and so one ticket, per user.
pub fn finding(n: usize) -> String {
    finding_with(n, "medium", "MFA Not Enrolled")
}

/// The same finding with other content, which makes an update of its ticket.
pub fn changed_finding(n: usize) -> String {
    finding_with(n, "high", "MFA Not Enrolled (still failing)")
}

fn finding_with(n: usize, severity: &str, title: &str) -> String {
    serde_json::json!({
        "source": "oort",
        "kind": "check",
        "check_id": "mfa-not-enrolled",
        "title": title,
        "severity": severity,
        "subject": {"login": format!("bench.user{n}@simubiz.com"), "display_name": format!("Bench User {n}"), "status": "ACTIVE", "user_type": "INTERNAL"},
        "description": ["The user has no second factor enrolled."],
        "recommended_actions": ["Ask the user to enroll a second factor."],
        "link": format!("https://dashboard.example.com/users/{n}"),
        "occurred_at": "2026-11-01T10:00:00Z"
    })
    .to_string()
}

/// Requests that reached the emulator over HTTP: Batch API items not counted again.
pub fn wire_total(stats: &SimStats) -> u64 {
    stats.requests_total - stats.batch_items.values().sum::<u64>()
}

/// CPU time this process has used, user and system: the emulator's share included.
pub fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    // /proc reports in USER_HZ, which Linux fixes at 100 for user space.
    Duration::from_millis(ticks * 10)
}

/// Peak resident set size of this process so far, in MiB (`VmHWM`).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// Seconds since `started`, never zero, for rates.
pub fn seconds(started: Instant) -> f64 {
    started.elapsed().as_secs_f64().max(1e-9)
}
