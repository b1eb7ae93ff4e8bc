//! Throughput of the ServiceNow emulator: incident creations per second over real HTTP,
//! the emulator and its client sharing one process and the machine's cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use snowsync::sim::{SimConfig, spawn};

/// Creations per measured iteration, and how many are in flight at once.
const PER_ITERATION: u64 = 256;
const IN_FLIGHT: u64 = 32;

/// Every benchmark incident gets its own correlation id, as distinct findings would.
static NEXT: AtomicU64 = AtomicU64::new(0);

fn creates(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let handle = rt.block_on(spawn(SimConfig::default())).expect("emulator");
    let (user, password) = handle.integration_credentials();
    let url = handle
        .base_url()
        .join("api/now/table/incident")
        .expect("url");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(IN_FLIGHT as usize)
        .build()
        .expect("client");
    let shared = Arc::new((client, url, user, password));
    let mut group = c.benchmark_group("sim");
    group.throughput(Throughput::Elements(PER_ITERATION));
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.sample_size(20);
    group.bench_function("create_incident", |b| {
        b.to_async(&rt).iter(|| {
            let shared = shared.clone();
            async move {
                let mut tasks = tokio::task::JoinSet::new();
                for _ in 0..IN_FLIGHT {
                    let shared = shared.clone();
                    tasks.spawn(async move {
                        let (client, url, user, password) = &*shared;
                        for _ in 0..PER_ITERATION / IN_FLIGHT {
                            let n = NEXT.fetch_add(1, Ordering::Relaxed);
                            let resp = client
                                .post(url.clone())
                                .basic_auth(user, Some(password))
                                .json(&json!({
                                    "short_description": "Benchmark incident",
                                    "correlation_id": format!("snowsync:bench:{n}"),
                                    "impact": "2",
                                    "urgency": "2",
                                }))
                                .send()
                                .await
                                .expect("answered");
                            assert_eq!(resp.status(), 201);
                            resp.bytes().await.expect("body");
                        }
                    });
                }
                while let Some(done) = tasks.join_next().await {
                    done.expect("worker");
                }
            }
        })
    });
    group.finish();
    rt.block_on(handle.shutdown());
}

criterion_group!(benches, creates);
criterion_main!(benches);
