//! Readiness means "can accept and store", whatever ServiceNow does; a database that
//! cannot take a request now is a 503 with `Retry-After`, never a 500, and stores nothing.

mod support;

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};
use serde_json::Value;
use support::app::TestApp;
use support::harness::finding;

async fn readyz(app: &TestApp) -> (u16, Value) {
    let response = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

on_both_engines!(
    readiness_holds_while_servicenow_is_down_and_reports_it,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        app.sim
            .set_faults(snowsync::sim::Faults {
                hibernating: true,
                ..snowsync::sim::Faults::none()
            })
            .await;
        let (status, body) = readyz(&app).await;
        assert_eq!(status, 200, "the outbox absorbs the outage: {body}");
        assert_eq!(body["status"], "ready");
        assert_eq!(body["database"], "ok");
        assert_ne!(
            body["servicenow"], "ok",
            "reported beside readiness: {body}"
        );
        // And ingest keeps accepting meanwhile.
        let accepted = app
            .post(
                "/v1/findings",
                finding("inactive-users", "ana.souza@simubiz.com").to_string(),
            )
            .await;
        assert_eq!(accepted.status(), 202);
        app.stop().await;
    }
);

on_both_engines!(
    readiness_fails_when_the_schema_is_behind_this_build,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        let db = &app.running.db;
        db.execute_unprepared(
            "DELETE FROM seaql_migrations WHERE version = (SELECT MAX(version) FROM seaql_migrations)",
        )
        .await
        .expect("forget the last migration");
        let (status, body) = readyz(&app).await;
        assert_eq!(status, 503, "{body}");
        assert!(
            body["database"]
                .as_str()
                .unwrap_or_default()
                .contains("not applied"),
            "{body}"
        );
        app.stop().await;
    }
);

on_both_engines!(
    a_database_locked_past_the_busy_timeout_is_a_503_with_retry_after,
    |test_db| {
        let app = TestApp::spawn_with(
            test_db.engine,
            snowsync::sim::SimConfig::default(),
            "basic",
            |config| config.database.busy_timeout = Duration::from_millis(200),
        )
        .await;
        let db = &app.running.db;
        // Another writer holds the lock for as long as this test wants.
        let holder = match db.get_database_backend() {
            DbBackend::Postgres => {
                let txn = db.begin().await.expect("begin");
                txn.execute_unprepared("LOCK TABLE findings IN ACCESS EXCLUSIVE MODE")
                    .await
                    .expect("lock");
                txn
            }
            _ => db
                .begin_with_options(sea_orm::TransactionOptions {
                    sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Exclusive),
                    ..Default::default()
                })
                .await
                .expect("begin exclusive"),
        };
        let body = finding("inactive-users", "ana.souza@simubiz.com").to_string();
        let refused = app.post("/v1/findings", body.clone()).await;
        assert_eq!(refused.status(), 503);
        assert!(
            refused.headers().contains_key("retry-after"),
            "{:?}",
            refused.headers()
        );
        let answer: Value = refused.json().await.expect("json");
        assert_eq!(answer["error"]["code"], "unavailable");
        holder.rollback().await.expect("release");

        assert_eq!(
            snowsync::store::findings::list(db, None, 10)
                .await
                .expect("list")
                .len(),
            0,
            "nothing stored from the 503"
        );
        let retried = app.post("/v1/findings", body).await;
        assert_eq!(
            retried.status(),
            202,
            "the same request goes through once free"
        );
        app.stop().await;
    }
);

on_both_engines!(
    a_database_that_is_gone_fails_readiness_and_ingest_with_503,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        app.running
            .db
            .clone()
            .close()
            .await
            .expect("close the pool");
        let (status, body) = readyz(&app).await;
        assert_eq!(status, 503, "{body}");
        let refused = app
            .post(
                "/v1/findings",
                finding("inactive-users", "ana.souza@simubiz.com").to_string(),
            )
            .await;
        assert_eq!(refused.status(), 503);
        assert!(refused.headers().contains_key("retry-after"));
        app.stop().await;
    }
);
