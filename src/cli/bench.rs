//! `snowsync bench`: end-to-end forward-sync throughput on this machine. The emulator and
//! the service run in-process; findings go in over HTTP and the clock stops when the
//! outbox is drained. Prints figures; asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;

use super::demo;
use crate::service;
use crate::sim::{self, SimConfig};

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Findings to send, one per user
    #[arg(long, default_value_t = 2_000)]
    pub findings: usize,
    /// Outbox workers
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// Concurrent senders
    #[arg(long, default_value_t = 16)]
    pub senders: usize,
    /// Database URL [default: a temporary SQLite file]
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
}

/// Runs the benchmark and prints what it measured.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let sim = sim::spawn(SimConfig::default())
        .await
        .context("starting the ServiceNow emulator")?;
    let dir =
        std::env::temp_dir().join(format!("snowsync-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = bench(&sim, &dir, &args).await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn finding(n: usize) -> String {
    serde_json::json!({
        "source": "oort",
        "kind": "check",
        "check_id": "inactive-users",
        "title": "Inactive Users",
        "severity": "medium",
        "subject": {"login": format!("bench.user{n}@simubiz.com"), "display_name": format!("Bench User {n}"), "status": "ACTIVE", "user_type": "INTERNAL"},
        "description": ["The user has not signed in for 90 days."],
        "recommended_actions": ["Confirm with the manager whether the account is needed."],
        "link": format!("https://dashboard.example.com/users/{n}"),
        "occurred_at": "2026-11-01T10:00:00Z"
    })
    .to_string()
}

async fn bench(
    sim: &sim::SimHandle,
    dir: &std::path::Path,
    args: &BenchArgs,
) -> anyhow::Result<()> {
    let api_key = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let mut config = demo::config(sim, dir, &api_key);
    config.outbox.workers = args.workers.max(1);
    config.servicenow.max_concurrency = args.workers.max(1) * 2;
    config.servicenow.requests_per_second = 100_000.0;
    if let Some(url) = &args.database {
        config.database.url = url.clone();
    }
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .context("binding the API listener")?;
    let running = service::start(&config, listener, CancellationToken::new()).await?;
    let url = format!("{}/v1/findings", running.url());
    let http = reqwest::Client::new();
    let total = args.findings;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..args.senders.max(1) {
        let (http, url, key, next) = (http.clone(), url.clone(), api_key.clone(), next.clone());
        senders.spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= total {
                    return Ok::<(), anyhow::Error>(());
                }
                let response = http
                    .post(&url)
                    .header("x-api-client-token", &key)
                    .body(finding(n))
                    .send()
                    .await?;
                if response.status() != reqwest::StatusCode::ACCEPTED {
                    bail!("finding {n}: {}", response.status());
                }
            }
        });
    }
    while let Some(done) = senders.join_next().await {
        done??;
    }
    let ingested = started.elapsed();
    demo::wait_for_outbox(&running.db, Duration::from_secs(600)).await?;
    let synced = started.elapsed();
    let stats = sim.stats().await;
    running.stop().await;

    let tickets = stats.tables.get("incident").map(|t| t.records).unwrap_or(0);
    let per_second = |d: Duration| total as f64 / d.as_secs_f64().max(f64::EPSILON);
    println!("findings:                 {total}");
    println!(
        "engine:                   {}",
        if args.database.is_some() {
            "given database"
        } else {
            "SQLite (temporary file)"
        }
    );
    println!("outbox workers:           {}", config.outbox.workers);
    println!(
        "ingested (202) in:        {:.2} s ({:.0} findings/s)",
        ingested.as_secs_f64(),
        per_second(ingested)
    );
    println!(
        "ticketed in:              {:.2} s ({:.0} findings/s end to end)",
        synced.as_secs_f64(),
        per_second(synced)
    );
    println!("incidents created:        {tickets}");
    println!(
        "duplicate audit:          {}",
        stats
            .tables
            .values()
            .map(|t| t.duplicate_correlation_records)
            .sum::<u64>()
    );
    println!(
        "ServiceNow requests:      {} ({:.2} per finding)",
        stats.requests_total,
        stats.requests_total as f64 / total.max(1) as f64
    );
    for (request, count) in &stats.requests {
        println!(
            "  {request:<40} {count:>7} ({:.2} per finding)",
            *count as f64 / total.max(1) as f64
        );
    }
    Ok(())
}
