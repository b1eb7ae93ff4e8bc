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
            if metrics::set_global_recorder(recorder).is_ok() {
                describe();
            }
            handle
        })
        .clone()
}

/// `# HELP` for every metric snowsync records; `tests/api_ingest.rs` checks that no metric
/// on `/metrics` goes without one.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!("findings_ingested_total", "Findings recorded, by source.");
    describe_counter!(
        "servicenow_requests_total",
        "Requests to ServiceNow by operation and outcome: the HTTP status, `html` for an HTML page (a hibernating or maintenance instance), `timeout`, `transport` (no connection) or `fenced` (not sent)."
    );
    describe_histogram!(
        "servicenow_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from sending a request to ServiceNow to its complete answer, by operation."
    );
    describe_gauge!(
        "servicenow_instance_available",
        "1 when the last answer from ServiceNow was the API, 0 when it was no connection, a timeout, an HTML page (hibernating) or a 5xx."
    );
    describe_gauge!(
        "outbox_rows",
        "Outbox rows by state, read from the database at scrape time."
    );
    describe_gauge!(
        "outbox_oldest_pending_age_seconds",
        metrics::Unit::Seconds,
        "Age of the oldest pending outbox row; 0 when none is pending."
    );
    describe_counter!(
        "outbox_delivered_total",
        "Outbox rows delivered, by operation."
    );
    describe_counter!(
        "outbox_retries_total",
        "Outbox deliveries that failed transiently and were rescheduled, by operation."
    );
    describe_counter!(
        "outbox_outage_retries_total",
        "Outbox deliveries put back because ServiceNow was unavailable, by operation; they cost no attempt."
    );
    describe_counter!(
        "outbox_dead_total",
        "Outbox rows given up on (dead), by operation."
    );
    describe_counter!(
        "outbox_outages_total",
        "Times delivery paused because ServiceNow was unavailable."
    );
    describe_gauge!(
        "outbox_outage_paused",
        "1 while outbox delivery is paused for a ServiceNow outage."
    );
    describe_counter!("poller_errors_total", "Poll cycles that failed.");
    describe_gauge!(
        "poller_last_success_timestamp_seconds",
        metrics::Unit::Seconds,
        "UNIX time of the last poll cycle that completed."
    );
    describe_gauge!(
        "poller_lag_seconds",
        metrics::Unit::Seconds,
        "How far the poller's watermark is behind now, by table."
    );
    describe_counter!(
        "poller_changes_applied_total",
        "Ticket changes applied to findings, by kind of transition."
    );
    describe_counter!(
        "mapping_reloads_total",
        "Reloads of mappings and templates (SIGHUP), by result: `applied` or `refused`."
    );
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
