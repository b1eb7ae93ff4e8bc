//! Upgrades: a database written by the first schema, holding rows in every state, is
//! migrated to the latest schema without losing or changing a row, and the store reads it.

mod support;

use chrono::{DateTime, TimeZone, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};
use snowsync::domain::FindingStatus;
use snowsync::store::outbox::RowStatus;
use snowsync::store::{self, findings, outbox, sync};

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, minute, 0).unwrap()
}

async fn exec(db: &DatabaseConnection, sql: &str, values: Vec<Value>) {
    let stmt = Statement::from_sql_and_values(db.get_database_backend(), sql, values);
    db.execute_raw(stmt)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// What the first schema held: one finding per status, each with a ticket link, an audit
/// row and an outbox row in one of every row status; a poll cursor and a lease.
async fn fill_first_schema(db: &DatabaseConnection) {
    let row_statuses = RowStatus::ALL;
    for (n, status) in FindingStatus::ALL.iter().enumerate() {
        let id = n as i64 + 1;
        exec(
            db,
            "INSERT INTO findings (id, finding_key, source, kind, check_id, subject, title, severity, status, resolved_by, occurrences, first_seen, last_seen, rule, profile, payload, created_at, updated_at) \
             VALUES ($1, $2, 'oort', 'check', 'inactive-users', $3, 'Inactive Users', 'medium', $4, $5, 2, $6, $6, 'oort-checks', 'oort-identity', $7, $6, $6)",
            vec![
                id.into(),
                format!("oort/check/inactive-users/user{id}").into(),
                format!("user{id}@simubiz.com").into(),
                status.as_str().into(),
                (*status == FindingStatus::Resolved)
                    .then(|| "source".to_owned())
                    .into(),
                at(n as u32).into(),
                serde_json::json!({"subject": {"login": format!("user{id}@simubiz.com")}}).into(),
            ],
        )
        .await;
        exec(
            db,
            "INSERT INTO ticket_links (finding_id, table_name, correlation_id, sys_id, number, state, sys_mod_count, sys_updated_on, created_at, updated_at) \
             VALUES ($1, 'incident', $2, $3, $4, '2', 3, '2026-11-23 09:00:00', $5, $5)",
            vec![
                id.into(),
                format!("snowsync:{id:032x}").into(),
                format!("{id:032x}").into(),
                format!("INC00100{id:02}").into(),
                at(n as u32).into(),
            ],
        )
        .await;
        exec(
            db,
            "INSERT INTO audit (finding_id, event, from_status, to_status, actor, detail, at) \
             VALUES ($1, 'finding.failing', NULL, 'open', 'source:oort', NULL, $2)",
            vec![id.into(), at(n as u32).into()],
        )
        .await;
    }
    for (n, status) in row_statuses.iter().enumerate() {
        let in_flight = *status == RowStatus::InFlight;
        exec(
            db,
            "INSERT INTO outbox (finding_id, seq, op, payload, status, attempts, next_attempt_at, locked_by, locked_until, last_error, maybe_applied, created_at, updated_at) \
             VALUES (1, $1, 'update_ticket', $2, $3, $4, $5, $6, $7, $8, $9, $5, $5)",
            vec![
                (n as i64 + 1).into(),
                serde_json::json!({"fields": {"work_notes": format!("row {n}")}}).into(),
                status.as_str().into(),
                (n as i32).into(),
                at(n as u32).into(),
                in_flight.then(|| "worker-old".to_owned()).into(),
                in_flight.then(|| at(59)).into(),
                (*status == RowStatus::Dead)
                    .then(|| "HTTP 400: bad field".to_owned())
                    .into(),
                in_flight.into(),
            ],
        )
        .await;
    }
    exec(
        db,
        "INSERT INTO poll_cursors (table_name, watermark, updated_at) VALUES ('incident', '2026-11-23T09:00:00+00:00', $1)",
        vec![at(0).into()],
    )
    .await;
    exec(
        db,
        "INSERT INTO leases (name, holder, token, expires_at) VALUES ('poller', 'old-instance', 7, $1)",
        vec![at(5).into()],
    )
    .await;
}

on_both_engines!(
    a_database_of_the_first_schema_upgrades_with_every_row_intact,
    |test_db| {
        let db = store::connect(&test_db.config).await.expect("connect");
        Migrator::up(&db, Some(1)).await.expect("the first schema");
        fill_first_schema(&db).await;

        store::migrate(&db)
            .await
            .expect("upgrade to the latest schema");
        assert!(
            Migrator::get_pending_migrations(&db)
                .await
                .expect("pending")
                .is_empty()
        );

        let all = findings::list(&db, None, 100).await.expect("findings");
        assert_eq!(all.len(), FindingStatus::ALL.len());
        for status in FindingStatus::ALL {
            let of_status = findings::list(&db, Some(*status), 100)
                .await
                .expect("by status");
            assert_eq!(of_status.len(), 1, "one {status} finding");
            let finding = &of_status[0];
            let link = findings::link(&db, finding.id)
                .await
                .expect("link")
                .expect("its ticket link survived");
            assert_eq!(link.number, Some(format!("INC00100{:02}", finding.id)));
            assert_eq!(
                findings::audit_trail(&db, finding.id)
                    .await
                    .expect("audit")
                    .len(),
                1
            );
        }
        for status in RowStatus::ALL {
            let rows = outbox::list(&db, Some(*status), 100)
                .await
                .expect("outbox rows");
            assert_eq!(rows.len(), 1, "one {status} row");
        }
        let dead = &outbox::list(&db, Some(RowStatus::Dead), 1).await.unwrap()[0];
        assert_eq!(dead.last_error.as_deref(), Some("HTTP 400: bad field"));
        assert_eq!(
            outbox::of_finding(&db, 1).await.expect("rows").len(),
            RowStatus::ALL.len()
        );
        assert_eq!(
            sync::watermark(&db, "incident").await.expect("watermark"),
            Some(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap())
        );
    }
);
