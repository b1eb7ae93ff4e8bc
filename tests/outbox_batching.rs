//! Batched delivery: rows of several findings claimed together go out in Batch API calls,
//! each row settled by its own items, against the emulator over HTTP on SQLite and
//! PostgreSQL.

mod support;

use snowsync::sim::{AfterCommit, FaultRule, Faults, SimConfig, SimStats};
use snowsync::store::outbox::{self, RowStatus};
use snowsync::store::{entity::outbox::Model as OutboxRow, findings};
use support::harness::{Harness, finding, repo_path};

const BATCH: &str = "/api/now/v1/batch";

/// Records `n` failing findings of different users.
async fn failing_users(h: &Harness, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let login = format!("user{i}@simubiz.com");
        ids.push(
            h.failing(&finding("inactive-users", &login))
                .await
                .finding_id,
        );
    }
    ids
}

async fn rows_of(h: &Harness, finding_id: i64) -> Vec<OutboxRow> {
    outbox::of_finding(&h.db, finding_id).await.expect("rows")
}

/// Batch calls that went over the wire (not items of one).
fn batch_calls(stats: &SimStats) -> u64 {
    stats.requests_to("POST", BATCH)
}

on_both_engines!(
    creates_of_many_findings_go_out_in_one_batch_call,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        let ids = failing_users(&h, 10).await;
        assert!(h.dispatch().await);
        let stats = h.stats().await;
        assert_eq!(stats.records("incident"), 10);
        assert_eq!(
            stats.requests_to("POST", "/api/now/table/incident"),
            10,
            "ten creates"
        );
        assert_eq!(
            stats.batch_items.get("POST /api/now/table/incident"),
            Some(&10),
            "all of them items of a batch"
        );
        assert_eq!(
            batch_calls(&stats),
            2,
            "one call for the callers' lookups, one for the creates"
        );
        for id in ids {
            let link = findings::link(&h.db, id)
                .await
                .expect("link")
                .expect("link");
            assert!(link.number.is_some_and(|n| n.starts_with("INC")));
            assert_eq!(rows_of(&h, id).await[0].status, RowStatus::Done);
        }
    }
);

on_both_engines!(
    the_callers_of_many_findings_are_looked_up_in_one_request,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        failing_users(&h, 10).await;
        assert!(h.dispatch().await);
        let stats = h.stats().await;
        let lookups = stats.requests_to("GET", "/api/now/table/sys_user");
        let in_batches = stats
            .batch_items
            .get("GET /api/now/table/sys_user")
            .copied()
            .unwrap_or(0);
        assert_eq!(lookups, 10, "every caller looked up once");
        assert_eq!(in_batches, 10, "none of them on its own");
    }
);

on_both_engines!(tags_of_many_tickets_go_out_in_one_batch_call, |test_db| {
    let h = Harness::start(test_db.engine).await;
    failing_users(&h, 10).await;
    assert!(h.dispatch().await, "the creates");
    let before = h.stats().await;
    assert!(h.dispatch().await, "the tags");
    let after = h.stats().await;
    assert_eq!(batch_calls(&after) - batch_calls(&before), 1);
    let entries = after.records("label_entry");
    assert!(entries >= 10, "every ticket tagged, got {entries} entries");
    assert_eq!(outbox::owed(&h.db).await.expect("owed"), 0);
});

on_both_engines!(
    an_item_refused_for_its_content_fails_its_row_and_not_its_neighbours,
    |test_db| {
        // The instance refuses tag entries (403 per item); creates in the same call pass.
        let sim = SimConfig {
            deny_label_entry_writes: true,
            ..SimConfig::default()
        };
        let h = Harness::with(test_db.engine, sim, &repo_path("mappings"), "basic").await;
        let tagged = failing_users(&h, 1).await[0];
        assert!(h.dispatch().await, "the first create");
        let created = h
            .failing(&finding("inactive-users", "late@simubiz.com"))
            .await
            .finding_id;
        let calls_before = batch_calls(&h.stats().await);
        assert!(
            h.dispatch().await,
            "the first ticket's tags and the second create"
        );
        assert_eq!(batch_calls(&h.stats().await) - calls_before, 1, "one call");
        let tags = rows_of(&h, tagged).await.pop().expect("the tag row");
        assert_eq!(tags.status, RowStatus::Dead);
        assert!(
            tags.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("403"),
            "{:?}",
            tags.last_error
        );
        let create = rows_of(&h, created).await.remove(0);
        assert_eq!(create.status, RowStatus::Done);
        assert!(
            findings::link(&h.db, created)
                .await
                .expect("link")
                .and_then(|l| l.number)
                .is_some()
        );
    }
);

/// A batch of creates that the instance applies and then fails (`then`), retried: every
/// retry finds its ticket by correlation id instead of creating a second one.
async fn ambiguous_batch_does_not_duplicate(h: &Harness, then: AfterCommit) {
    h.sim
        .set_faults(
            Faults::none().with_rule(FaultRule::commit_then_fail(then, 1.0).on("POST", BATCH)),
        )
        .await;
    let ids = failing_users(h, 8).await;
    assert!(h.dispatch().await);
    for &id in &ids {
        let create = rows_of(h, id).await.remove(0);
        assert_eq!(create.status, RowStatus::Pending);
        assert!(
            create.maybe_applied,
            "an unanswered batch may have been applied"
        );
    }
    h.sim.set_faults(Faults::none()).await;
    h.drain().await;
    let stats = h.stats().await;
    assert_eq!(stats.records("incident"), 8);
    assert_eq!(stats.duplicate_records("incident"), 0);
    for id in ids {
        let link = findings::link(&h.db, id)
            .await
            .expect("link")
            .expect("link");
        assert!(link.number.is_some(), "finding {id} has its ticket");
    }
}

on_both_engines!(
    a_batch_committed_then_failed_does_not_duplicate_any_ticket,
    |test_db| {
        ambiguous_batch_does_not_duplicate(
            &Harness::start(test_db.engine).await,
            AfterCommit::Error,
        )
        .await;
    }
);

on_both_engines!(
    a_batch_that_times_out_does_not_duplicate_any_ticket,
    |test_db| {
        ambiguous_batch_does_not_duplicate(
            &Harness::start(test_db.engine).await,
            AfterCommit::Hang,
        )
        .await;
    }
);

on_both_engines!(
    an_instance_refusing_the_batch_api_gets_one_request_per_write,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        h.sim
            .set_faults(Faults::none().with_rule(FaultRule::error(403, 1.0).on("POST", BATCH)))
            .await;
        let ids = failing_users(&h, 6).await;
        h.drain().await;
        let stats = h.stats().await;
        assert_eq!(stats.records("incident"), 6);
        assert_eq!(batch_calls(&stats), 1, "refused once, then not tried again");
        assert_eq!(
            stats.batch_items.values().sum::<u64>(),
            0,
            "nothing went in a batch"
        );
        for id in ids {
            assert!(
                rows_of(&h, id)
                    .await
                    .iter()
                    .all(|r| r.status == RowStatus::Done)
            );
        }
    }
);
