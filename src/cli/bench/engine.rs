//! Engine-bound: findings in over HTTP, tickets out to an emulator with no latency, so the
//! database and snowsync's own work are the limit. One run per engine and finding count.

use std::time::Instant;

use serde_json::json;

use super::BenchArgs;
use super::harness::{self, Setup, World};
use super::report::{Report, num};
use crate::sim::Faults;

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let mut report = Report::new(
        "engine-bound",
        &[
            "engine",
            "instances",
            "findings",
            "workers",
            "ingest s",
            "ingest/s",
            "end-to-end s",
            "findings/s",
            "CPU ms/finding",
            "wire requests/finding",
            "incidents",
            "duplicates",
            "peak RSS MiB",
        ],
    );
    report.parameter("findings", json!(args.findings));
    report.parameter("workers", args.workers);
    report.parameter("batch_size", args.batch_size);
    report.parameter("senders", args.senders);
    report.parameter("max_concurrency", args.workers * 2);
    report.parameter("emulator latency", "none");
    report.notes.push(
        "CPU and peak RSS are the whole process: the emulator and the HTTP senders included; \
         peak RSS is the high-water mark so far, so it only grows down the table"
            .to_owned(),
    );
    let mut engines = vec![("SQLite", None, 1)];
    if let Some(url) = &args.database {
        engines.push(("PostgreSQL", Some(url.clone()), 1));
        // Two service instances sharing one database: how the outbox's claims scale out.
        engines.push(("PostgreSQL", Some(url.clone()), 2));
        report.notes.push(
            "two instances run in this one process, on the same CPUs: the row shows how the \
             shared database's claims and fences scale, not what a second machine would add"
                .to_owned(),
        );
    }
    let mut sizes = args.findings.clone();
    sizes.sort_unstable();
    for (engine, postgres, instances) in engines {
        for &total in &sizes {
            let setup = Setup {
                postgres: postgres.clone(),
                workers: args.workers,
                in_flight: args.workers * 2,
                batch_size: args.batch_size,
                faults: Faults::none(),
                untagged: false,
            };
            let mut world = World::start(&setup).await?;
            for _ in 1..instances {
                world.add_instance().await?;
            }
            let cpu = harness::cpu_time();
            let started = Instant::now();
            let sent = world.send(total, args.senders, harness::finding).await;
            let ingest = harness::seconds(started);
            let drained = match sent {
                Ok(_) => world.drain().await,
                Err(e) => Err(e),
            };
            let end_to_end = harness::seconds(started);
            let cpu = harness::cpu_time().saturating_sub(cpu);
            let stats = world.stats().await;
            world.stop().await;
            drained?;
            let n = total.max(1) as f64;
            report.row(vec![
                json!(engine),
                json!(instances),
                json!(total),
                json!(args.workers),
                num(ingest),
                num(n / ingest),
                num(end_to_end),
                num(n / end_to_end),
                num(cpu.as_secs_f64() * 1000.0 / n),
                num(harness::wire_total(&stats) as f64 / n),
                json!(stats.records("incident")),
                json!(stats.duplicate_records("incident")),
                num(harness::peak_rss_mib()),
            ]);
        }
    }
    Ok(report)
}
