//! Request economy: what each kind of ticket change costs in ServiceNow requests, by
//! endpoint on the wire and by table with Batch API items counted one by one.
//! Three phases on the same findings: create (with the mapping's tags), update (a changed
//! severity and title), close (the source says resolved).

use std::collections::BTreeMap;

use anyhow::bail;
use serde_json::json;

use super::BenchArgs;
use super::harness::{self, Setup, World};
use super::report::{Report, num};
use crate::sim::SimStats;

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let total = args.economy_findings.max(1);
    let setup = Setup::sqlite(args);
    let world = World::start(&setup).await?;
    let counted = phases(&world, total, args.senders).await;
    world.stop().await;
    let [before, created, updated, closed] = counted?;
    let plain = World::start(&Setup {
        untagged: true,
        ..setup
    })
    .await?;
    let untagged = creates(&plain, total, args.senders).await;
    plain.stop().await;
    let [plain_before, plain_created] = untagged?;

    let mut report = Report::new(
        "request economy",
        &[
            "requests",
            "per create",
            "per update",
            "per close",
            "per create without tags",
        ],
    );
    report.parameter("findings", total);
    report.parameter("workers", args.workers);
    report.parameter("engine", "SQLite");
    report.notes.push(
        "each column is one phase's requests divided by the findings; `wire` rows are HTTP \
         requests, `batch item` rows the items inside Batch API calls; the create phase \
         includes the tags (the mapping tags every ticket), so tags cost the batch call and \
         its label_entry items; the last column is a second run whose one profile has no tags"
            .to_owned(),
    );
    let pairs = [
        (&before, &created),
        (&created, &updated),
        (&updated, &closed),
        (&plain_before, &plain_created),
    ];
    let per = |count: u64| num(count as f64 / total as f64);
    let phase_row = |label: String, of: &dyn Fn(&SimStats) -> u64| -> Vec<serde_json::Value> {
        let cells = pairs.iter().map(|(a, b)| per(of(b) - of(a)));
        std::iter::once(json!(label)).chain(cells).collect()
    };
    report.row(phase_row("on the wire".to_owned(), &harness::wire_total));
    report.row(phase_row("counting Batch API items".to_owned(), &|s| {
        s.requests_total
    }));
    for endpoint in closed.requests.keys() {
        let wire = |s: &SimStats| count(&s.requests, endpoint) - count(&s.batch_items, endpoint);
        if wire(&closed) > 0 {
            report.row(phase_row(format!("  wire: {endpoint}"), &wire));
        }
    }
    for endpoint in closed.batch_items.keys() {
        let items = |s: &SimStats| count(&s.batch_items, endpoint);
        report.row(phase_row(format!("  batch item: {endpoint}"), &items));
    }
    Ok(report)
}

/// The emulator's counts before and after creating a ticket for each of `total` findings.
async fn creates(world: &World, total: usize, senders: usize) -> anyhow::Result<[SimStats; 2]> {
    let before = world.stats().await;
    world.send(total, senders, harness::finding).await?;
    world.drain().await?;
    Ok([before, world.stats().await])
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

fn count(counts: &BTreeMap<String, u64>, endpoint: &str) -> u64 {
    counts.get(endpoint).copied().unwrap_or(0)
}
