//! The schema: migrations apply on a fresh database and the invariant constraints hold.

mod support;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

const TABLES: [&str; 6] = [
    "findings",
    "ticket_links",
    "outbox",
    "poll_cursors",
    "leases",
    "audit",
];

async fn insert_finding(
    db: &DatabaseConnection,
    key: &str,
    status: &str,
) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    let sql = "INSERT INTO findings (finding_key, source, kind, check_id, subject, title, severity, status, occurrences, first_seen, last_seen, payload, created_at, updated_at) \
               VALUES ($1, 'oort', 'check', 'ip-threat', 'karsch.heuck@simubiz.com', 'IP Threat Detected', 'high', $2, 1, $3, $3, $4, $3, $3)";
    let stmt = Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [
            key.into(),
            status.into(),
            now.into(),
            serde_json::json!({}).into(),
        ],
    );
    db.execute_raw(stmt).await.map(drop)
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect("count query")
        .expect("one row");
    row.try_get_by_index::<i64>(0).expect("a count")
}

on_both_engines!(migrations_create_every_table, |test_db| {
    let db = test_db.open().await;
    for table in TABLES {
        assert_eq!(
            count(&db, &format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "table {table}"
        );
    }
});

on_both_engines!(migrations_are_idempotent, |test_db| {
    let db = test_db.open().await;
    snowsync::store::migrate(&db)
        .await
        .expect("second run is a no-op");
});

on_both_engines!(
    second_open_finding_for_the_same_key_is_rejected,
    |test_db| {
        let db = test_db.open().await;
        insert_finding(&db, "oort/check/ip-threat/karsch", "open")
            .await
            .expect("first finding");
        let second = insert_finding(&db, "oort/check/ip-threat/karsch", "escalated").await;
        assert!(
            second.is_err(),
            "a second open finding for one key must be refused"
        );
    }
);

on_both_engines!(a_resolved_finding_does_not_block_a_new_one, |test_db| {
    let db = test_db.open().await;
    insert_finding(&db, "k", "resolved")
        .await
        .expect("resolved finding");
    insert_finding(&db, "k", "open")
        .await
        .expect("a new open finding for the same key");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM findings").await, 2);
});

on_both_engines!(second_ticket_link_for_a_finding_is_rejected, |test_db| {
    let db = test_db.open().await;
    insert_finding(&db, "k", "open").await.expect("finding");
    let link = |sys_id: &str| {
        Statement::from_sql_and_values(
            db.get_database_backend(),
            "INSERT INTO ticket_links (finding_id, table_name, correlation_id, sys_id, created_at, updated_at) VALUES (1, 'incident', 'snowsync:x', $1, $2, $2)",
            [sys_id.into(), Utc::now().into()],
        )
    };
    db.execute_raw(link("a")).await.expect("first link");
    assert!(
        db.execute_raw(link("b")).await.is_err(),
        "a second link for one finding must be refused"
    );
});

on_both_engines!(outbox_sequence_numbers_are_unique_per_finding, |test_db| {
    let db = test_db.open().await;
    insert_finding(&db, "k", "open").await.expect("finding");
    let row = |seq: i64| {
        Statement::from_sql_and_values(
            db.get_database_backend(),
            "INSERT INTO outbox (finding_id, seq, op, payload, status, attempts, next_attempt_at, created_at, updated_at) VALUES (1, $1, 'create_ticket', $2, 'pending', 0, $3, $3, $3)",
            [seq.into(), serde_json::json!({}).into(), Utc::now().into()],
        )
    };
    db.execute_raw(row(1)).await.expect("seq 1");
    db.execute_raw(row(2)).await.expect("seq 2");
    assert!(
        db.execute_raw(row(2)).await.is_err(),
        "seq 2 twice must be refused"
    );
});

on_both_engines!(outbox_rows_need_an_existing_finding, |test_db| {
    let db = test_db.open().await;
    let orphan = Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO outbox (finding_id, seq, op, payload, status, attempts, next_attempt_at, created_at, updated_at) VALUES (42, 1, 'create_ticket', $1, 'pending', 0, $2, $2, $2)",
        [serde_json::json!({}).into(), Utc::now().into()],
    );
    assert!(
        db.execute_raw(orphan).await.is_err(),
        "foreign keys are enforced"
    );
});

#[tokio::test]
async fn sqlite_runs_in_wal_mode() {
    let test_db = support::TestDb::sqlite();
    let db = test_db.open().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "PRAGMA journal_mode".to_owned(),
        ))
        .await
        .expect("pragma")
        .expect("row");
    assert_eq!(row.try_get_by_index::<String>(0).expect("mode"), "wal");
}
