//! ServiceNow outages against the emulator, on SQLite and PostgreSQL: a hibernating instance
//! or refused credentials pause delivery and use none of a row's attempts; delivery resumes by
//! itself; only a row refused for its content goes dead.

mod support;

use std::future::Future;
use std::time::Duration;

use snowsync::sim::{FaultRule, Faults, SimConfig};
use snowsync::store::entity::outbox::Model as OutboxRow;
use snowsync::store::outbox::{self, RowStatus};
use support::app::TestApp;
use support::harness::{Harness, finding};

fn hibernating() -> Faults {
    Faults {
        hibernating: true,
        ..Faults::none()
    }
}

async fn create_row(db: &sea_orm::DatabaseConnection, finding_id: i64) -> OutboxRow {
    outbox::of_finding(db, finding_id)
        .await
        .expect("rows")
        .remove(0)
}

/// Polls `done` every 20 ms until it holds; fails after 60 s naming what was `awaited`.
async fn wait_for<F: Future<Output = bool>>(awaited: &str, mut done: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up after 60 s waiting for {awaited}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Dispatches as the harness's worker until the create row of `finding_id` has met
/// `outages` outages.
async fn dispatch_through_outages(h: &Harness, finding_id: i64, outages: i32) -> OutboxRow {
    wait_for("the outages to be met", || async {
        h.dispatch().await;
        create_row(&h.db, finding_id).await.outage_attempts >= outages
    })
    .await;
    create_row(&h.db, finding_id).await
}

on_both_engines!(
    an_outage_longer_than_the_retry_budget_kills_no_row,
    |test_db| {
        let mut h = Harness::start(test_db.engine).await;
        h.config.outbox.retry.max_attempts = 2;
        h.sim.set_faults(hibernating()).await;
        let recorded = h
            .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        let row = dispatch_through_outages(&h, recorded.finding_id, 5).await;
        assert_eq!(row.status, RowStatus::Pending, "{:?}", row.last_error);
        assert_eq!(
            row.attempts - row.outage_attempts,
            0,
            "outages use none of the row's attempts"
        );
        assert!(
            row.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("unavailable"),
            "{:?}",
            row.last_error
        );
        h.sim.set_faults(Faults::none()).await;
        h.drain().await;
        let row = create_row(&h.db, recorded.finding_id).await;
        assert_eq!(row.status, RowStatus::Done);
        assert_eq!(h.stats().await.tables["incident"].records, 1);
    }
);

on_both_engines!(
    refused_credentials_pause_the_row_instead_of_burying_it,
    |test_db| {
        let mut h = Harness::start(test_db.engine).await;
        h.config.outbox.retry.max_attempts = 1;
        // A rotated password: every request is refused with 401.
        h.sim
            .set_faults(Faults::none().with_rule(FaultRule::error(401, 1.0)))
            .await;
        let recorded = h
            .failing(&finding("inactive-users", "li.wei@simubiz.com"))
            .await;
        let row = dispatch_through_outages(&h, recorded.finding_id, 3).await;
        assert_eq!(row.status, RowStatus::Pending, "{:?}", row.last_error);
        assert!(
            row.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("401"),
            "{:?}",
            row.last_error
        );
        h.sim.set_faults(Faults::none()).await;
        h.drain().await;
        assert_eq!(
            create_row(&h.db, recorded.finding_id).await.status,
            RowStatus::Done
        );
    }
);

async fn metrics(app: &TestApp) -> String {
    app.http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

on_both_engines!(
    the_service_pauses_while_the_instance_hibernates_and_resumes_by_itself,
    |test_db| {
        let app = TestApp::spawn_with(test_db.engine, SimConfig::default(), "basic", |c| {
            c.outbox.retry.max_attempts = 2;
        })
        .await;
        app.sim.set_faults(hibernating()).await;
        for n in 0..3 {
            let body = finding("inactive-users", &format!("outage.user{n}@simubiz.com"));
            assert_eq!(
                app.post("/v1/findings", body.to_string()).await.status(),
                202
            );
        }
        wait_for("the pause to show in /metrics", || async {
            metrics(&app).await.contains("outbox_outage_paused 1")
        })
        .await;
        // Each create meets more outages than it has attempts.
        wait_for("every create to meet three outages", || async {
            let rows = outbox::list(&app.running.db, None, 100)
                .await
                .expect("list");
            rows.iter()
                .filter(|r| r.op.as_str() == "create_ticket")
                .all(|r| r.outage_attempts >= 3)
        })
        .await;
        app.sim.set_faults(Faults::none()).await;
        app.settled().await;
        let rows = outbox::list(&app.running.db, None, 100)
            .await
            .expect("list");
        assert!(
            rows.iter().all(|r| r.status == RowStatus::Done),
            "{:?}",
            rows.iter()
                .map(|r| (r.id, r.status, &r.last_error))
                .collect::<Vec<_>>()
        );
        assert_eq!(app.sim.stats().await.tables["incident"].records, 3);
        // The gauge is process-wide and the other engine's run may be paused now; the
        // count of outages is not.
        assert!(metrics(&app).await.contains("outbox_outages_total"));
        app.stop().await;
    }
);
