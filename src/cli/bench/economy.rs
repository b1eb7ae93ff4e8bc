//! Request economy: what each kind of ticket change costs in ServiceNow requests, by
//! endpoint on the wire and by table with Batch API items counted one by one.
//! Three phases on the same findings: create (with the mapping's tags), update (a changed
//! severity and title), close (the source says resolved).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;
use serde_json::json;

use super::BenchArgs;
use super::harness::{self, Setup, World};
use super::report::{Report, num};
use crate::sim::{Faults, SimStats};



pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let total = args.economy_findings.max(1);
    let setup = Setup {
        postgres: None,
        workers: args.workers,
        in_flight: args.workers * 2,
        faults: Faults::none(),
    };
    let world = World::start(&setup).await?;
    let counted = phases(&world, total, args.senders).await;
    world.stop().await;
    let [before, created, updated, closed] = counted?;

    let mut report = Report::new(
        "request economy",
        &["requests", "per create", "per update", "per close"],
    );
    report.parameter("findings", total);
    report.parameter("workers", args.workers);
    report.parameter("engine", "SQLite");
    report.notes.push(
        "each column is one phase's requests divided by the findings; `wire` rows are HTTP \
         requests by endpoint, `items` rows count Table API work by table and method with \
         each Batch API item counted; the create phase includes the tags (the mapping tags \
         every ticket)"
            .to_owned(),
    );
    let pairs = [(&before, &created), (&created, &updated), (&updated, &closed)];
    let per = |count: u64| num(count as f64 / total as f64);
    let totals: Vec<_> = pairs
        .iter()
        .map(|(a, b)| per(b.requests_total - a.requests_total))
        .collect();
    report.row([vec![json!("wire: all requests")], totals].concat());
    let endpoints: BTreeSet<&String> = closed.requests.keys().collect();
    for endpoint in endpoints {
        let cells = pairs
            .iter()
            .map(|(a, b)| per(count(b, endpoint) - count(a, endpoint)))
            .collect();
        report.row([vec![json!(format!("wire: {endpoint}"))], cells].concat());
    }
    for ((table, method), _) in table_counts(&closed) {
        let cells = pairs
            .iter()
            .map(|(a, b)| per(b.table_requests(&table, &method) - a.table_requests(&table, &method)))
            .collect();
        report.row([vec![json!(format!("items: {method} {table}"))], cells].concat());
    }

    Ok(report)
}

/// The emulator's counts before and after each phase.
async fn phases(world: &World, total: usize, senders: usize) -> anyhow::Result<[SimStats; 4]> {
    let before = world.stats().await;
    let ids = world.send(total, senders, harness::finding).await?;
    world.drain().await?;
    let created = world.stats().await;
    world.send(total, senders, harness::changed_finding).await?;
    world.drain().await?;
    let updated = world.stats().await;
    for id in ids {
        let response = world
            .post(
                &format!("/v1/findings/{id}/events"),
                json!({"event": "resolved"}).to_string(),
            )
            .send()
            .await?;
        if response.status() != reqwest::StatusCode::ACCEPTED {
            bail!("resolving finding {id}: {}", response.status());
        }
    }
    world.drain().await?;
    let closed = world.stats().await;
    Ok([before, created, updated, closed])
}

fn count(stats: &SimStats, endpoint: &str) -> u64 {
    stats.requests.get(endpoint).copied().unwrap_or(0)
}

fn table_counts(stats: &SimStats) -> BTreeMap<(String, String), u64> {
    stats
        .tables
        .iter()
        .flat_map(|(table, t)| {
            t.requests
                .iter()
                .map(|(method, n)| ((table.clone(), method.clone()), *n))
        })
        .collect()
}
