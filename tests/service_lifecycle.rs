//! The running service's lifecycle: graceful shutdown finishes the rows in hand.

mod support;

use std::time::Duration;

use snowsync::sim::{FaultRule, Faults};
use snowsync::store::outbox::{self, OpKind};
use support::app::TestApp;
use support::harness::finding;

on_both_engines!(
    graceful_shutdown_finishes_in_flight_rows_and_claims_no_more,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        app.sim
            .set_faults(
                Faults::none().with_rule(
                    FaultRule::latency(Duration::from_millis(300), Duration::ZERO)
                        .on("POST", "/api/now/table/incident"),
                ),
            )
            .await;
        for n in 0..6 {
            let response = app
                .post(
                    "/v1/findings",
                    finding("inactive-users", &format!("user{n}@simubiz.com")).to_string(),
                )
                .await;
            assert_eq!(response.status(), 202);
        }
        // Wait until workers hold rows, then ask the service to stop.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while outbox::list(&app.running.db, Some(outbox::RowStatus::InFlight), 10)
            .await
            .expect("list")
            .is_empty()
        {
            assert!(tokio::time::Instant::now() < deadline, "no row was claimed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let db = app.test_db.open().await;
        let TestApp { sim, running, .. } = app;
        running.stop().await;

        let in_flight = outbox::list(&db, Some(outbox::RowStatus::InFlight), 10)
            .await
            .expect("list");
        assert!(in_flight.is_empty(), "rows left in flight: {in_flight:?}");
        let done = outbox::list(&db, Some(outbox::RowStatus::Done), 100)
            .await
            .expect("list");
        let created = done.iter().filter(|r| r.op == OpKind::CreateTicket).count() as u64;
        assert!(created >= 1, "the rows in hand were finished");
        assert_eq!(
            sim.stats().await.tables["incident"].records,
            created,
            "every create sent was recorded as done"
        );
        sim.shutdown().await;
    }
);
