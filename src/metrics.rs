//! The process-wide Prometheus recorder behind `GET /metrics`.
//!
//! Counters and histograms are recorded where things happen, through the `metrics`
//! facade; gauges that describe the store are refreshed from the database at scrape time.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{ConnectionTrait, DbErr};

use crate::store::outbox;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The recorder's handle, installing the recorder on first use. When another recorder
/// is already installed (an embedding program), the handle still renders, empty.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Renders every metric, after refreshing the outbox gauges from `db`.
pub async fn render(db: &impl ConnectionTrait) -> Result<String, DbErr> {
    let handle = handle();
    for state in outbox::RowStatus::ALL {
        metrics::gauge!("outbox_rows", "state" => state.as_str()).set(0.0);
    }
    for (state, n) in outbox::counts(db).await? {
        metrics::gauge!("outbox_rows", "state" => state.as_str()).set(n as f64);
    }
    let age = outbox::oldest_pending(db)
        .await?
        .map(|at| (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0)
        .unwrap_or(0.0);
    metrics::gauge!("outbox_oldest_pending_age_seconds").set(age);
    Ok(handle.render())
}
