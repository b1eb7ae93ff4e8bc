//! The schema: migrations apply on a fresh database and the invariant constraints hold.

mod support;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};

const TABLES: [&str; 7] = [
    "findings",
    "ticket_links",
    "outbox",
    "poll_cursors",
    "leases",
    "audit",
    "oauth_refresh_tokens",
];

/// The schema the migrations end with: every table (by name) with its columns in order,
/// sea-orm's own bookkeeping table included.
const SCHEMA: [(&str, &[&str]); 8] = [
    (
        "audit",
        &[
            "id",
            "finding_id",
            "event",
            "from_status",
            "to_status",
            "actor",
            "detail",
            "at",
        ],
    ),
    (
        "findings",
        &[
            "id",
            "finding_key",
            "source",
            "kind",
            "check_id",
            "subject",
            "title",
            "severity",
            "status",
            "resolved_by",
            "decision",
            "occurrences",
            "first_seen",
            "last_seen",
            "rule",
            "profile",
            "payload",
            "created_at",
            "updated_at",
            "resolved_at",
            "group_id",
            "is_group",
        ],
    ),
    ("leases", &["name", "holder", "token", "expires_at"]),
    (
        "oauth_refresh_tokens",
        &[
            "instance_url",
            "client_id",
            "username",
            "nonce",
            "ciphertext",
            "obtained_at",
        ],
    ),
    (
        "outbox",
        &[
            "id",
            "finding_id",
            "seq",
            "op",
            "payload",
            "status",
            "attempts",
            "next_attempt_at",
            "locked_by",
            "locked_until",
            "last_error",
            "maybe_applied",
            "created_at",
            "updated_at",
            "outage_attempts",
        ],
    ),
    ("poll_cursors", &["table_name", "watermark", "updated_at"]),
    ("seaql_migrations", &["version", "applied_at"]),
    (
        "ticket_links",
        &[
            "id",
            "finding_id",
            "table_name",
            "correlation_id",
            "sys_id",
            "number",
            "state",
            "sys_mod_count",
            "sys_updated_on",
            "created_at",
            "updated_at",
            "approval",
            "priority",
            "assignment_group",
        ],
    ),
];

/// The indexes the migrations name (`ix_` and `ux_`), by name.
const NAMED_INDEXES: [&str; 10] = [
    "ix_audit_finding",
    "ix_findings_group_member",
    "ix_findings_group_of_check",
    "ix_findings_key",
    "ix_outbox_due",
    "ix_outbox_owed",
    "ix_ticket_links_correlation",
    "ux_findings_open_key",
    "ux_outbox_finding_seq",
    "ux_ticket_links_table_sys_id",
];

/// The first column of every row `sql` returns, as text.
async fn texts(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
    .iter()
    .map(|row| row.try_get_by_index::<String>(0).expect("a text column"))
    .collect()
}

/// The tables of the test database (sorted) with their columns in order, and the indexes
/// named `ix_…` or `ux_…` (sorted), read from the engine's catalogue.
async fn schema(db: &DatabaseConnection) -> (Vec<(String, Vec<String>)>, Vec<String>) {
    let (tables, columns, indexes) = match db.get_database_backend() {
        DatabaseBackend::Sqlite => (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid",
            "SELECT name FROM sqlite_master WHERE type = 'index' AND substr(name, 1, 3) IN ('ix_', 'ux_') ORDER BY name",
        ),
        DatabaseBackend::Postgres => (
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name",
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '{table}' ORDER BY ordinal_position",
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND substr(indexname, 1, 3) IN ('ix_', 'ux_') ORDER BY indexname",
        ),
        other => panic!("no test database on {other:?}"),
    };
    let mut schema = Vec::new();
    for table in texts(db, tables).await {
        let columns = texts(db, &columns.replace("{table}", &table)).await;
        schema.push((table, columns));
    }
    (schema, texts(db, indexes).await)
}

/// Asserts that `db` has exactly the tables, columns and named indexes of [`SCHEMA`] and
/// [`NAMED_INDEXES`].
async fn assert_final_schema(db: &DatabaseConnection) {
    let (tables, indexes) = schema(db).await;
    let expected: Vec<(String, Vec<String>)> = SCHEMA
        .iter()
        .map(|(table, columns)| {
            (
                (*table).to_owned(),
                columns.iter().map(|c| (*c).to_owned()).collect(),
            )
        })
        .collect();
    assert_eq!(tables, expected, "tables and their columns");
    assert_eq!(indexes, NAMED_INDEXES, "named indexes");
}

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
    assert_final_schema(&db).await;
    snowsync::store::migrate(&db)
        .await
        .expect("second run is a no-op");
    assert_final_schema(&db).await;
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
