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
    let grouping = World::start(&Setup::sqlite(args)).await?;
    let grouped = grouped_event(&grouping, GROUPED_USERS).await;
    grouping.stop().await;
    let [grouped_before, grouped_created] = grouped?;

    let mut report = Report::new(
        "request economy",
        &[
            "requests",
            "per create",
            "per update",
            "per close",
            "per create without tags",
            "per finding grouped by check",
        ],
    );
    report.parameter("findings", total);
    report.parameter("workers", args.workers);
    report.parameter("engine", "SQLite");
    report.notes.push(
        "each column is one phase's requests divided by the findings; `wire` rows are HTTP \
         requests, `batch item` rows the items inside Batch API calls; the create phase \
         includes the tags (the mapping tags every ticket), so tags cost the batch call and \
         its label_entry items; `per create without tags` is a second run whose one profile \
         has no tags; the last column is a third run: one Oort \"Inactive Users\" event \
         failing 300 users, which the starter mappings group by check (two tickets at \
         group_cap 200, each listing its users with their details from sys_user), divided \
         by the 300 findings"
            .to_owned(),
    );
    let pairs = [
        (&before, &created, total),
        (&created, &updated, total),
        (&updated, &closed, total),
        (&plain_before, &plain_created, total),
        (&grouped_before, &grouped_created, GROUPED_USERS),
    ];
    let phase_row = |label: String, of: &dyn Fn(&SimStats) -> u64| -> Vec<serde_json::Value> {
        let cells = pairs
            .iter()
            .map(|(a, b, n)| num((of(b) - of(a)) as f64 / *n as f64));
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

/// Users failing the one Oort event of the grouped column.
const GROUPED_USERS: usize = 300;

/// The emulator's counts before and after one Oort "Inactive Users" event failing `users`
/// users, delivered.
async fn grouped_event(world: &World, users: usize) -> anyhow::Result<[SimStats; 2]> {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../demo/oort_inactive_users.json"))?;
    event["detail"]["usersFailing"] = (0..users)
        .map(|n| format!("bench.user{n}@simubiz.com"))
        .collect();
    let before = world.stats().await;
    let response = world
        .post("/v1/sources/oort/events", event.to_string())
        .send()
        .await?;
    if response.status() != reqwest::StatusCode::ACCEPTED {
        bail!("the grouped event: {}", response.status());
    }
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
