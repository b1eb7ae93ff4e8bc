//! Poll cost: what one poll cycle costs the instance and how long it takes, with N linked
//! tickets of which 3 were changed by the help desk since the last cycle. The poller reads
//! the records changed since its watermark, so the cost should follow the changes, not N.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde_json::{Map, Value, json};

use super::BenchArgs;
use super::harness::{self, Setup, World};
use super::report::{Report, num};
use crate::poller::Poller;

/// Tickets the help desk changes between the two measured cycles.
const CHANGED: usize = 3;

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let mut report = Report::new(
        "poll cost",
        &[
            "linked tickets",
            "cycle",
            "wire requests",
            "incident queries",
            "applied",
            "ms",
        ],
    );
    report.parameter("linked tickets", json!(args.poll_tickets));
    report.parameter("changed before the second cycle", CHANGED);
    report.parameter("engine", "SQLite");
    report.notes.push(
        "the first cycle starts with no watermark and reads every ticket; the emulator's clock \
         then moves past poller.overlap, the help desk resolves 3 tickets, and the second \
         cycle still reads the tickets within poller.overlap of the first's watermark (the \
         burst just created) besides the 3; the third, after 3 more, reads only what changed"
            .to_owned(),
    );
    let mut sizes = args.poll_tickets.clone();
    sizes.sort_unstable();
    for &total in &sizes {
        let setup = Setup {
            untagged: true,
            ..Setup::sqlite(args)
        };
        let world = World::start(&setup).await?;
        let measured = cycles(&world, total, args.senders).await;
        world.stop().await;
        for (cycle, requests, records, applied, ms) in measured? {
            report.row(vec![
                json!(total),
                json!(cycle),
                json!(requests),
                json!(records),
                json!(applied),
                num(ms),
            ]);
        }
    }
    Ok(report)
}

type Cycle = (&'static str, u64, u64, usize, f64);

async fn cycles(world: &World, total: usize, senders: usize) -> anyhow::Result<Vec<Cycle>> {
    world.send(total, senders, harness::finding).await?;
    world.drain().await?;
    let poller = Poller {
        db: world.running.db.clone(),
        client: world.running.client.clone(),
        pipeline: world.running.intake.pipeline.clone(),
        config: world.poller_config(),
        holder: "bench-poller".to_owned(),
        outbox_wake: Arc::new(tokio::sync::Notify::new()),
    };
    let mut out = Vec::new();
    out.push(measure(world, &poller, "first").await?);
    // The tickets age past the overlap, as they would between a burst and later cycles.
    world
        .sim
        .advance_clock(poller.config.overlap.saturating_mul(2))
        .await;
    resolve_some(world).await?;
    out.push(measure(world, &poller, "after 3 changes").await?);
    resolve_some(world).await?;
    out.push(measure(world, &poller, "after 3 more").await?);
    Ok(out)
}

/// The help desk resolves `CHANGED` tickets not resolved yet.
async fn resolve_some(world: &World) -> anyhow::Result<()> {
    let desk = world.help_desk()?;
    // One page: `query` would read every open ticket, CHANGED at a time.
    let tickets = desk
        .query_page(
            "incident",
            "active=true^state!=6^ORDERBYsys_id",
            &["sys_id"],
            CHANGED as u32,
            0,
            "query",
        )
        .await?
        .rows;
    let resolved: Map<String, Value> = [
        ("state", "6"),
        ("close_code", "Solution provided"),
        ("close_notes", "Resolved by the help desk."),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
    .collect();
    for ticket in tickets.iter().take(CHANGED) {
        let sys_id = ticket.sys_id().context("a ticket without sys_id")?;
        desk.patch("incident", sys_id, &resolved, &[]).await?;
    }
    Ok(())
}

async fn measure(world: &World, poller: &Poller, cycle: &'static str) -> anyhow::Result<Cycle> {
    let before = world.stats().await;
    let started = Instant::now();
    let applied = poller
        .cycle()
        .await?
        .context("the bench's poller did not get the poller lease")?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let after = world.stats().await;
    let requests = harness::wire_total(&after) - harness::wire_total(&before);
    let read = |s: &crate::sim::SimStats| s.table_requests("incident", "GET");
    Ok((
        cycle,
        requests,
        read(&after) - read(&before),
        applied.len(),
        ms,
    ))
}
