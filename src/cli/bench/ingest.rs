//! Ingest latency: `POST /v1/findings` at a fixed rate while the workers deliver, timed
//! open-loop (from when each request was due, not when it left), so a stall shows in the
//! figures instead of slowing the sender down.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;

use super::BenchArgs;
use super::harness::{self, Setup, World};
use super::report::{Report, num};

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let total = args.ingest_findings.max(1);
    let rate = args.ingest_rate.max(1.0);
    let setup = Setup::sqlite(args);
    let world = World::start(&setup).await?;
    let (mut latencies, errors, seconds) = send_at_rate(&world, total, rate).await;
    world.stop().await;

    latencies.sort_unstable();
    let quantile = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
        latencies
            .get(i.min(latencies.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    let mut report = Report::new(
        "ingest latency",
        &[
            "engine",
            "findings",
            "rate/s",
            "achieved/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "errors",
        ],
    );
    report.parameter("findings", total);
    report.parameter("target rate", rate);
    report.parameter("workers delivering meanwhile", args.workers);
    report.notes.push(
        "latency runs from each request's due time to its answer; achieved/s counts the \
         answers over the time from the first due time to the last answer"
            .to_owned(),
    );
    if !errors.is_empty() {
        report.notes.push(format!("errors by answer: {errors:?}"));
    }
    report.row(vec![
        json!("SQLite"),
        json!(total),
        num(rate),
        num(latencies.len() as f64 / seconds),
        num(quantile(0.5)),
        num(quantile(0.99)),
        num(quantile(1.0)),
        json!(errors.values().sum::<u64>()),
    ]);
    Ok(report)
}

/// Sends `total` findings, one every 1/`rate` seconds whatever the answers do; returns the
/// latencies of the 202s, the other answers by status (or `transport`), and the seconds taken.
async fn send_at_rate(
    world: &World,
    total: usize,
    rate: f64,
) -> (Vec<Duration>, BTreeMap<String, u64>, f64) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..total {
        let due = started + Duration::from_secs_f64(n as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let request = world.post("/v1/findings", harness::finding(n));
        tasks.spawn(async move {
            match request.send().await {
                Ok(r) if r.status() == reqwest::StatusCode::ACCEPTED => Ok(due.elapsed()),
                Ok(r) => Err(r.status().as_u16().to_string()),
                Err(_) => Err("transport".to_owned()),
            }
        });
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(latency)) => latencies.push(latency),
            Ok(Err(kind)) => *errors.entry(kind).or_insert(0) += 1,
            Err(_) => *errors.entry("panicked".to_owned()).or_insert(0) += 1,
        }
    }
    (latencies, errors, harness::seconds(started))
}
