//! Latency-bound: every emulator request takes 50 ms, so throughput is bounded by the
//! requests in flight; the figures are set against that bound, max_concurrency / latency.

use std::time::{Duration, Instant};

use serde_json::json;

use super::BenchArgs;
use super::harness::{self, Setup, World};
use super::report::{Report, num};
use crate::sim::{FaultRule, Faults};

const LATENCY: Duration = Duration::from_millis(50);

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let mut report = Report::new(
        "latency-bound",
        &[
            "in flight",
            "workers",
            "batch",
            "findings",
            "seconds",
            "wire requests",
            "requests/s",
            "bound req/s",
            "req/s of bound",
            "tickets/s",
            "tickets/s of bound",
        ],
    );
    report.parameter("findings", args.latency_findings);
    report.parameter(
        "emulator latency",
        "50 ms on every request, and on each Batch API item again (served one after another)",
    );
    report.parameter("engine", "SQLite");
    report.notes.push(
        "in flight = servicenow.max_concurrency; workers = outbox.workers, as many as in \
         flight or twice as many (a worker between requests, claiming or settling its rows, \
         leaves its permit to another); batch = outbox.batch_size, 1 being one request per \
         write; issue 15 asks requests/s >= 0.9 of the bound and tickets/s >= 3x that with \
         batching"
            .to_owned(),
    );
    let runs = [8, 32].into_iter().flat_map(|n| {
        [
            (n, n, 1),
            (n, 2 * n, 1),
            (n, n, args.batch_size),
            (n, 2 * n, args.batch_size),
        ]
    });
    for (in_flight, workers, batch_size) in runs {
        let setup = Setup {
            postgres: None,
            workers,
            in_flight,
            batch_size,
            faults: Faults::none().with_rule(FaultRule::latency(LATENCY, Duration::ZERO)),
            untagged: false,
        };
        let world = World::start(&setup).await?;
        let started = Instant::now();
        let sent = world
            .send(args.latency_findings, args.senders, harness::finding)
            .await;
        let drained = match sent {
            Ok(_) => world.drain().await,
            Err(e) => Err(e),
        };
        let seconds = harness::seconds(started);
        let stats = world.stats().await;
        world.stop().await;
        drained?;
        let bound = in_flight as f64 / LATENCY.as_secs_f64();
        let requests = harness::wire_total(&stats);
        let requests_per_second = requests as f64 / seconds;
        let tickets_per_second = stats.records("incident") as f64 / seconds;
        report.row(vec![
            json!(in_flight),
            json!(workers),
            json!(batch_size),
            json!(args.latency_findings),
            num(seconds),
            json!(requests),
            num(requests_per_second),
            num(bound),
            num(requests_per_second / bound),
            num(tickets_per_second),
            num(tickets_per_second / bound),
        ]);
    }
    Ok(report)
}
