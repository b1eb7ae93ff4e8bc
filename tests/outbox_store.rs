//! The outbox table as a queue: order per finding, leases, fencing, coalescing, schedule.

mod support;

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use snowsync::domain::{FindingKind, SourceEvent};
use snowsync::store::findings::{self, FindingRecord, Planned, PlannedFor};
use snowsync::store::outbox::{self, ClaimTerms, OpKind, RowStatus};

const TERMS: ClaimTerms = ClaimTerms {
    lease: Duration::from_secs(60),
    grace: Duration::from_secs(120),
    max_attempts: 12,
};

fn finding(key: &str) -> FindingRecord {
    FindingRecord {
        key: key.to_owned(),
        source: "oort".to_owned(),
        kind: FindingKind::Check,
        check_id: "ip-threat".to_owned(),
        subject: "karsch.heuck@simubiz.com".to_owned(),
        title: "IP Threat Detected".to_owned(),
        severity: "high".to_owned(),
        payload: serde_json::json!({"title": "IP Threat Detected"}),
        seen_at: Utc::now(),
        group_id: None,
        is_group: false,
    }
}

/// A plan in the shape the mapping produces: create (+ tags) first, then updates.
fn plan(event: SourceEvent, occurrences: i64) -> Planned {
    let ops = match (event, occurrences) {
        (SourceEvent::Failing, 1) => vec![
            (
                OpKind::CreateTicket,
                serde_json::json!({"table": "incident"}),
            ),
            (OpKind::ApplyTags, serde_json::json!({"tags": ["identity"]})),
        ],
        (SourceEvent::Failing, n) => vec![(
            OpKind::UpdateTicket,
            serde_json::json!({"work_notes": format!("still failing ({n} times)")}),
        )],
        (SourceEvent::Resolved, _) => {
            vec![(OpKind::CloseTicket, serde_json::json!({"state": "6"}))]
        }
        (SourceEvent::Escalated, _) => {
            vec![(OpKind::EscalateTicket, serde_json::json!({"state": "2"}))]
        }
    };
    Planned {
        rule: Some("identity".to_owned()),
        profile: Some("identity".to_owned()),
        ticket: Some(("incident".to_owned(), "snowsync:abc".to_owned())),
        ops,
    }
}

/// Plans `event` for the finding as stored now and records it, as intake does.
async fn record(db: &DatabaseConnection, key: &str, event: SourceEvent) -> findings::Recorded {
    let existing = findings::open_by_key(db, key, false).await.expect("read");
    let occurrences = existing.as_ref().map_or(1, |f| {
        f.occurrences + i64::from(event == SourceEvent::Failing)
    });
    let planned_for = PlannedFor::of(existing.as_ref());
    findings::record(
        db,
        &finding(key),
        event,
        "test",
        &plan(event, occurrences),
        planned_for,
    )
    .await
    .expect("recorded")
}

/// Claims the next due row as `worker` and acknowledges it as delivered, as the worker does once
/// ServiceNow has accepted the write.
async fn deliver_next_row(db: &DatabaseConnection, worker: &str) {
    let row = outbox::claim(db, worker, 1, &TERMS, Utc::now())
        .await
        .expect("claim")
        .remove(0);
    assert!(
        outbox::complete(db, &row, worker, Utc::now())
            .await
            .expect("ack"),
        "the worker holding the lease acknowledges its row"
    );
}

async fn rewind_leases(db: &DatabaseConnection) {
    let past = Utc::now() - chrono::Duration::seconds(3600);
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE outbox SET locked_until = $1, next_attempt_at = $1 WHERE status IN ('in_flight', 'pending')",
        [past.into()],
    ))
    .await
    .expect("rewind");
}

on_both_engines!(
    rows_of_one_finding_are_claimed_strictly_in_order,
    |test_db| {
        let db = test_db.open().await;
        record(&db, "k", SourceEvent::Failing).await;
        record(&db, "k", SourceEvent::Resolved).await;
        let first = outbox::claim(&db, "w1", 10, &TERMS, Utc::now())
            .await
            .expect("claim");
        assert_eq!(
            first.iter().map(|r| r.op.as_str()).collect::<Vec<_>>(),
            ["create_ticket"]
        );
        assert!(
            outbox::claim(&db, "w2", 10, &TERMS, Utc::now())
                .await
                .expect("claim")
                .is_empty(),
            "later rows wait for the create"
        );
        assert!(
            outbox::complete(&db, &first[0], "w1", Utc::now())
                .await
                .expect("ack")
        );
        let second = outbox::claim(&db, "w2", 10, &TERMS, Utc::now())
            .await
            .expect("claim");
        assert_eq!(
            second.iter().map(|r| r.op.as_str()).collect::<Vec<_>>(),
            ["apply_tags"]
        );
    }
);

on_both_engines!(rows_of_different_findings_are_claimed_together, |test_db| {
    let db = test_db.open().await;
    record(&db, "a", SourceEvent::Failing).await;
    record(&db, "b", SourceEvent::Failing).await;
    let claimed = outbox::claim(&db, "w1", 10, &TERMS, Utc::now())
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|r| r.op == OpKind::CreateTicket));
});

on_both_engines!(
    stale_lease_is_reclaimed_and_the_old_worker_is_fenced,
    |test_db| {
        let db = test_db.open().await;
        record(&db, "k", SourceEvent::Failing).await;
        let stale = outbox::claim(&db, "dead-worker", 1, &TERMS, Utc::now())
            .await
            .expect("claim")
            .remove(0);
        assert!(!stale.maybe_applied);
        rewind_leases(&db).await;
        let taken = outbox::claim(&db, "live-worker", 1, &TERMS, Utc::now())
            .await
            .expect("claim")
            .remove(0);
        assert_eq!(taken.id, stale.id);
        assert_eq!(taken.attempts, 2);
        assert!(
            taken.maybe_applied,
            "a takeover may follow a write that reached ServiceNow"
        );
        assert!(
            !outbox::complete(&db, &stale, "dead-worker", Utc::now())
                .await
                .expect("ack"),
            "the stale worker is fenced"
        );
        assert!(
            outbox::complete(&db, &taken, "live-worker", Utc::now())
                .await
                .expect("ack")
        );
    }
);

on_both_engines!(repeats_coalesce_into_one_pending_update, |test_db| {
    let db = test_db.open().await;
    record(&db, "k", SourceEvent::Failing).await;
    for _ in 0..5 {
        record(&db, "k", SourceEvent::Failing).await;
    }
    let last = record(&db, "k", SourceEvent::Failing).await;
    assert_eq!(last.occurrences, 7);
    let rows = outbox::of_finding(&db, last.finding_id)
        .await
        .expect("rows");
    let updates: Vec<_> = rows
        .iter()
        .filter(|r| r.op == OpKind::UpdateTicket)
        .collect();
    assert_eq!(
        updates.len(),
        1,
        "one pending update for a burst of repeats"
    );
    assert_eq!(updates[0].payload["work_notes"], "still failing (7 times)");
});

on_both_engines!(a_claimed_update_is_not_coalesced_into, |test_db| {
    let db = test_db.open().await;
    record(&db, "k", SourceEvent::Failing).await;
    deliver_next_row(&db, "w").await;
    deliver_next_row(&db, "w").await;
    record(&db, "k", SourceEvent::Failing).await;
    let update = outbox::claim(&db, "w", 1, &TERMS, Utc::now())
        .await
        .expect("claim")
        .remove(0);
    let again = record(&db, "k", SourceEvent::Failing).await;
    let rows = outbox::of_finding(&db, again.finding_id)
        .await
        .expect("rows");
    assert_eq!(
        rows.iter().filter(|r| r.op == OpKind::UpdateTicket).count(),
        2
    );
    assert_eq!(update.payload["work_notes"], "still failing (2 times)");
});

on_both_engines!(a_dead_tag_row_does_not_hold_back_the_ticket, |test_db| {
    let db = test_db.open().await;
    record(&db, "k", SourceEvent::Failing).await;
    deliver_next_row(&db, "w").await;
    let tags = outbox::claim(&db, "w", 1, &TERMS, Utc::now())
        .await
        .expect("claim")
        .remove(0);
    outbox::bury(&db, &tags, "w", "403 label_entry write denied", Utc::now())
        .await
        .expect("bury");
    record(&db, "k", SourceEvent::Resolved).await;
    let next = outbox::claim(&db, "w", 1, &TERMS, Utc::now())
        .await
        .expect("claim");
    assert_eq!(
        next.iter().map(|r| r.op.as_str()).collect::<Vec<_>>(),
        ["close_ticket"]
    );
});

on_both_engines!(
    a_dead_create_holds_back_later_rows_until_revived,
    |test_db| {
        let db = test_db.open().await;
        let recorded = record(&db, "k", SourceEvent::Failing).await;
        let create = outbox::claim(&db, "w", 1, &TERMS, Utc::now())
            .await
            .expect("claim")
            .remove(0);
        outbox::bury(&db, &create, "w", "400 bad field", Utc::now())
            .await
            .expect("bury");
        assert!(
            outbox::claim(&db, "w", 5, &TERMS, Utc::now())
                .await
                .expect("claim")
                .is_empty()
        );
        assert!(
            outbox::revive(&db, recorded.outbox_ids[0], None, Utc::now())
                .await
                .expect("revive")
        );
        let revived = outbox::claim(&db, "w", 5, &TERMS, Utc::now())
            .await
            .expect("claim");
        assert_eq!(revived.len(), 1);
        assert_eq!(
            (revived[0].op.as_str(), revived[0].attempts),
            ("create_ticket", 1)
        );
    }
);

on_both_engines!(
    a_rescheduled_row_keeps_its_time_across_a_restart,
    |test_db| {
        let db = test_db.open().await;
        record(&db, "k", SourceEvent::Failing).await;
        let row = outbox::claim(&db, "w", 1, &TERMS, Utc::now())
            .await
            .expect("claim")
            .remove(0);
        let due = Utc::now() + chrono::Duration::seconds(600);
        outbox::reschedule(
            &db,
            &row,
            "w",
            due,
            "503 Service Unavailable",
            false,
            Utc::now(),
        )
        .await
        .expect("reschedule");
        db.close().await.expect("close");
        let reopened = test_db.open().await;
        assert!(
            outbox::claim(&reopened, "w", 1, &TERMS, Utc::now())
                .await
                .expect("claim")
                .is_empty(),
            "not due yet"
        );
        let later = outbox::claim(
            &reopened,
            "w",
            1,
            &TERMS,
            due + chrono::Duration::seconds(1),
        )
        .await
        .expect("claim");
        assert_eq!(later.len(), 1);
        assert_eq!(
            later[0].last_error.as_deref(),
            Some("503 Service Unavailable")
        );
    }
);

on_both_engines!(concurrent_claimers_never_share_a_row, |test_db| {
    let db = test_db.open().await;
    for i in 0..40 {
        record(&db, &format!("k{i}"), SourceEvent::Failing).await;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..4 {
        let db = db.clone();
        tasks.spawn(async move {
            let mut mine = Vec::new();
            // Every round delivers at least one of the 80 rows, so more rounds mean a row that
            // never settles.
            for _ in 0..=80 {
                let got = outbox::claim(&db, &format!("w{w}"), 3, &TERMS, Utc::now())
                    .await
                    .expect("claim");
                if got.is_empty() {
                    return mine;
                }
                for row in got {
                    assert!(
                        outbox::complete(&db, &row, &format!("w{w}"), Utc::now())
                            .await
                            .expect("ack")
                    );
                    mine.push(row.id);
                }
            }
            panic!("worker w{w} was still claiming rows after 81 rounds: the outbox never emptied");
        });
    }
    let mut all = Vec::new();
    while let Some(ids) = tasks.join_next().await {
        all.extend(ids.expect("worker"));
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), total, "a row was claimed twice");
    assert_eq!(total, 80, "every create and tag row delivered once");
    assert!(
        outbox::list(&db, Some(RowStatus::Pending), 100)
            .await
            .expect("list")
            .is_empty()
    );
});

on_both_engines!(events_for_an_unknown_finding_are_refused, |test_db| {
    let db = test_db.open().await;
    let planned = plan(SourceEvent::Resolved, 1);
    let err = findings::record(
        &db,
        &finding("nope"),
        SourceEvent::Resolved,
        "test",
        &planned,
        PlannedFor::of(None),
    )
    .await
    .expect_err("unknown");
    assert!(matches!(err, findings::RecordError::NotFound(_)));
});

on_both_engines!(every_transition_is_audited, |test_db| {
    let db = test_db.open().await;
    let created = record(&db, "k", SourceEvent::Failing).await;
    record(&db, "k", SourceEvent::Escalated).await;
    record(&db, "k", SourceEvent::Resolved).await;
    let trail = findings::audit_trail(&db, created.finding_id)
        .await
        .expect("audit");
    let steps: Vec<_> = trail
        .iter()
        .map(|a| {
            (
                a.event.as_str(),
                a.from_status.as_deref(),
                a.to_status.as_str(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("failing", None, "open"),
            ("escalated", Some("open"), "escalated"),
            ("resolved", Some("escalated"), "resolved")
        ]
    );
});

on_both_engines!(
    takeovers_count_as_attempts_and_stop_at_max_attempts,
    |test_db| {
        let db = test_db.open().await;
        let terms = ClaimTerms {
            max_attempts: 3,
            ..TERMS
        };
        let recorded = record(&db, "k", SourceEvent::Failing).await;
        let create = recorded.outbox_ids[0];
        // Each worker claims the row and stalls; each later one arrives after lease and grace.
        let past_lease_and_grace = chrono::Duration::from_std(terms.lease + terms.grace)
            .expect("span")
            + chrono::Duration::seconds(1);
        let mut now = Utc::now();
        for attempt in 1..=3 {
            let claimed = outbox::claim(&db, &format!("w{attempt}"), 1, &terms, now)
                .await
                .expect("claim");
            assert_eq!(
                claimed
                    .iter()
                    .map(|r| (r.id, r.attempts))
                    .collect::<Vec<_>>(),
                [(create, attempt)]
            );
            now += past_lease_and_grace;
        }
        assert!(
            outbox::claim(&db, "w4", 1, &terms, now)
                .await
                .expect("claim")
                .is_empty(),
            "no fourth attempt"
        );
        let buried = outbox::bury_exhausted(&db, &terms, now)
            .await
            .expect("bury");
        assert_eq!(buried.iter().map(|r| r.id).collect::<Vec<_>>(), [create]);
        let row = outbox::get(&db, create).await.expect("get").expect("row");
        assert_eq!((row.status, row.attempts), (RowStatus::Dead, 3));
        assert!(
            row.last_error
                .as_deref()
                .unwrap_or_default()
                .starts_with("gave up after 3 attempts"),
            "{:?}",
            row.last_error
        );
    }
);

on_both_engines!(
    an_expired_lease_is_not_taken_over_before_the_grace,
    |test_db| {
        let db = test_db.open().await;
        record(&db, "k", SourceEvent::Failing).await;
        let now = Utc::now();
        outbox::claim(&db, "stalled", 1, &TERMS, now)
            .await
            .expect("claim")
            .remove(0);
        let expired = now + chrono::Duration::from_std(TERMS.lease).expect("lease");
        let within_grace = expired + chrono::Duration::from_std(TERMS.grace).expect("grace");
        assert!(
            outbox::claim(&db, "other", 1, &TERMS, within_grace)
                .await
                .expect("claim")
                .is_empty(),
            "the old worker's writes may still land"
        );
        let after_grace = within_grace + chrono::Duration::seconds(1);
        assert_eq!(
            outbox::claim(&db, "other", 1, &TERMS, after_grace)
                .await
                .expect("claim")
                .len(),
            1
        );
    }
);

/// Runs `sql` with `$1` bound to `at`.
async fn exec_at(db: &DatabaseConnection, sql: &str, at: chrono::DateTime<Utc>) {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [at.into()],
    ))
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

on_both_engines!(
    a_claim_reads_only_owed_rows_on_a_large_outbox_with_stale_statistics,
    |test_db| {
        let db = test_db.open().await;
        let yesterday = Utc::now() - chrono::Duration::days(1);
        // 25,000 findings with a create and a tag row each, all owed when the statistics are
        // taken, all delivered since.
        exec_at(
            &db,
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 25000) \
             INSERT INTO findings (finding_key, source, kind, check_id, subject, title, severity, status, occurrences, first_seen, last_seen, payload, created_at, updated_at) \
             SELECT 'bulk/' || n, 'oort', 'check', 'c', 's', 't', 'high', 'resolved', 1, $1, $1, '{}', $1, $1 FROM g",
            yesterday,
        )
        .await;
        exec_at(
            &db,
            "INSERT INTO outbox (finding_id, seq, op, payload, status, attempts, next_attempt_at, maybe_applied, created_at, updated_at) \
             SELECT f.id, s.seq, CASE WHEN s.seq = 1 THEN 'create_ticket' ELSE 'apply_tags' END, '{}', 'pending', 0, $1, FALSE, $1, $1 \
             FROM findings f CROSS JOIN (SELECT 1 AS seq UNION ALL SELECT 2) s",
            yesterday,
        )
        .await;
        db.execute_unprepared(match test_db.engine {
            support::Engine::Postgres => "ANALYZE outbox",
            support::Engine::Sqlite => "ANALYZE",
        })
        .await
        .expect("statistics");
        exec_at(
            &db,
            "UPDATE outbox SET status = 'done', attempts = 1, updated_at = $1",
            yesterday,
        )
        .await;
        for i in 0..5 {
            record(&db, &format!("fresh{i}"), SourceEvent::Failing).await;
        }
        let plan = outbox::claim_plan(&db, &TERMS, Utc::now())
            .await
            .expect("plan");
        assert!(
            plan.iter().any(|line| line.contains("ix_outbox_owed")),
            "the claim reads the index of owed rows:\n{}",
            plan.join("\n")
        );
        let claimed = outbox::claim(&db, "w", 10, &TERMS, Utc::now())
            .await
            .expect("claim");
        assert_eq!(
            claimed.len(),
            5,
            "the five fresh creates, nothing delivered"
        );
        assert!(claimed.iter().all(|r| r.op == OpKind::CreateTicket));
    }
);
