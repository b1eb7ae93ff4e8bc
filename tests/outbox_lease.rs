//! The outbox lease against the emulator over HTTP, on SQLite and PostgreSQL: renewed while a
//! delivery runs, consulted before every write, taken over only after the grace, and never a
//! second ticket, with the emulator's latency and 429 pause making deliveries slow.

mod support;

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use snowsync::outbox::lease::Lease;
use snowsync::outbox::{Deliver, Delivery};
use snowsync::sim::{Burst, FaultRule, Faults};
use snowsync::store::entity::outbox::Model as OutboxRow;
use snowsync::store::outbox::{self, ClaimTerms, RowStatus};
use support::harness::{Harness, deliverer, finding};

const CREATE: &str = "/api/now/table/incident";

fn incidents(stats: &snowsync::sim::SimStats) -> u64 {
    stats.tables.get("incident").map(|t| t.records).unwrap_or(0)
}

async fn create_row(h: &Harness, finding_id: i64) -> OutboxRow {
    outbox::of_finding(&h.db, finding_id)
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

/// Dispatches as `worker` until `finding_id`'s create row is done, waiting between claims.
async fn deliver_create_as(h: &Harness, worker: &str, finding_id: i64) {
    wait_for("the create row to be delivered", || async {
        snowsync::outbox::dispatch_once(&h.db, worker, &h.config.outbox, &h.deliverer)
            .await
            .expect("dispatch");
        create_row(h, finding_id).await.status == RowStatus::Done
    })
    .await;
}

on_both_engines!(
    a_delivery_slower_than_the_lease_keeps_it_and_no_other_worker_takes_it,
    |test_db| {
        let mut h = Harness::start(test_db.engine).await;
        h.config.outbox.delivery_timeout = Duration::from_secs(30);
        let terms = ClaimTerms::of(&h.config.outbox);
        // A 429 on any request pauses every request of the client for Retry-After: the
        // delivery below waits on that pause twice as long as its lease.
        h.sim
            .set_faults(Faults::none().with_burst(Burst::requests(1, 4)))
            .await;
        h.deliverer
            .client
            .query("sys_user_group", "", &[], 1)
            .await
            .expect_err("the 429 that starts the pause");
        let recorded = h
            .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        let watch = async {
            // The lease as first seen in flight, then the wait until it has moved a second on.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            let mut first = None;
            loop {
                let row = create_row(&h, recorded.finding_id).await;
                if let (RowStatus::InFlight, Some(until)) = (row.status, row.locked_until) {
                    let seen = *first.get_or_insert(until);
                    if until >= seen + chrono::Duration::seconds(1) {
                        break;
                    }
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the lease was never renewed while the delivery waited"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let first = first.expect("seen in flight");
            // A worker arriving when the first claim, never renewed, would be open to takeover.
            let at = first
                + chrono::Duration::from_std(terms.grace).expect("grace")
                + chrono::Duration::seconds(1);
            assert!(
                outbox::claim(&h.db, "second", 1, &terms, at)
                    .await
                    .expect("claim")
                    .is_empty(),
                "a renewed lease is not taken over"
            );
        };
        let (handled, ()) = tokio::join!(h.dispatch(), watch);
        assert!(handled);
        let row = create_row(&h, recorded.finding_id).await;
        assert_eq!((row.status, row.attempts), (RowStatus::Done, 1));
        let stats = h.stats().await;
        assert_eq!(incidents(&stats), 1);
        assert_eq!(stats.requests_to("POST", CREATE), 1);
    }
);

on_both_engines!(
    a_worker_whose_lease_was_taken_over_does_not_send_its_write,
    |test_db| {
        let mut h = Harness::start(test_db.engine).await;
        // Slow reads, each well inside the request timeout: the delivery is still resolving
        // its references when its row is taken over.
        h.config.servicenow.request_timeout = Duration::from_secs(5);
        h.config.outbox.lease = Duration::from_secs(8);
        h.config.outbox.delivery_timeout = Duration::from_secs(30);
        h.deliverer = deliverer(&h.db, &h.config);
        let terms = ClaimTerms::of(&h.config.outbox);
        h.sim
            .set_faults(
                Faults::none().with_rule(
                    FaultRule::latency(Duration::from_millis(1500), Duration::ZERO)
                        .on("GET", "/api/now/table/"),
                ),
            )
            .await;
        let recorded = h
            .failing(&finding("inactive-users", "li.wei@simubiz.com"))
            .await;
        let take_over = async {
            wait_for("the slow worker's first read", || async {
                h.stats().await.requests_total > 0
            })
            .await;
            // Whatever the clocks say: the row is another worker's now.
            let far = Utc::now() + chrono::Duration::hours(1);
            let taken = outbox::claim(&h.db, "thief", 1, &terms, far)
                .await
                .expect("claim");
            assert_eq!(taken.len(), 1, "the takeover");
        };
        let (handled, ()) = tokio::join!(h.dispatch(), take_over);
        assert!(handled);
        assert_eq!(
            h.stats().await.requests_to("POST", CREATE),
            0,
            "the worker that lost its lease sent no write"
        );
        let row = create_row(&h, recorded.finding_id).await;
        assert_eq!(
            (row.status, row.locked_by.as_deref(), row.attempts),
            (RowStatus::InFlight, Some("thief"), 2),
            "the stale worker's ack changed nothing"
        );
    }
);

on_both_engines!(
    a_takeover_after_expiry_makes_one_ticket_when_the_first_create_lands_late,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        let terms = ClaimTerms::of(&h.config.outbox);
        let recorded = h
            .failing(&finding("inactive-users", "omar.haddad@simubiz.com"))
            .await;
        // A worker claims the create and sends it; the instance applies it only after the
        // lease has expired (and before the grace has passed); the worker is gone by then.
        let ghost = outbox::claim(&h.db, "ghost", 1, &terms, Utc::now())
            .await
            .expect("claim")
            .remove(0);
        let lands_after = terms.lease + (terms.grace / 3);
        h.sim
            .set_faults(
                Faults::none()
                    .with_rule(FaultRule::latency(lands_after, Duration::ZERO).on("POST", CREATE)),
            )
            .await;
        let payload: snowsync::operation::TicketPayload =
            serde_json::from_value(ghost.payload.clone()).expect("payload");
        let mut fields = payload.fields.clone();
        fields.remove("caller_id");
        let mut patient = h.config.servicenow.clone();
        patient.request_timeout = Duration::from_secs(30);
        let ghost_client = snowsync::servicenow::Client::new(&patient).expect("client");
        let ghost_create = tokio::spawn(async move {
            ghost_client
                .create(&payload.table, &fields, &["sys_id"])
                .await
        });
        wait_for("the ghost's create to reach the instance", || async {
            h.stats().await.requests_to("POST", CREATE) == 1
        })
        .await;
        h.sim.set_faults(Faults::none()).await;
        // Another worker keeps trying; it may take the row only once the grace has passed.
        deliver_create_as(&h, "live", recorded.finding_id).await;
        ghost_create
            .await
            .expect("ghost task")
            .expect("the ghost's create landed");
        let stats = h.stats().await;
        assert_eq!(
            (incidents(&stats), stats.duplicate_records("incident")),
            (1, 0),
            "one ticket"
        );
        assert_eq!(
            stats.requests_to("POST", CREATE),
            1,
            "the takeover found the late ticket instead of creating one"
        );
        let row = create_row(&h, recorded.finding_id).await;
        assert_eq!(row.attempts, 2, "the takeover counted as an attempt");
    }
);

on_both_engines!(
    a_delivery_cut_off_by_delivery_timeout_waits_the_grace_before_its_next_attempt,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        h.sim
            .set_faults(Faults::none().with_burst(Burst::requests(1, 30)))
            .await;
        h.deliverer
            .client
            .query("sys_user_group", "", &[], 1)
            .await
            .expect_err("the 429 that starts a 30 s pause");
        let recorded = h
            .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        let before = Utc::now();
        assert!(h.dispatch().await);
        let row = create_row(&h, recorded.finding_id).await;
        assert_eq!(row.status, RowStatus::Pending);
        assert!(row.maybe_applied, "a write may have been on its way");
        assert!(
            row.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("delivery cut off"),
            "{:?}",
            row.last_error
        );
        let grace = chrono::Duration::from_std(h.config.outbox.takeover_grace()).expect("grace");
        assert!(
            row.next_attempt_at >= before + grace,
            "the next attempt waits the grace: {} < {} + {grace}",
            row.next_attempt_at,
            before
        );
        assert_eq!(h.stats().await.requests_to("POST", CREATE), 0);
    }
);

on_both_engines!(
    the_deliverer_refuses_to_write_through_a_lease_another_worker_holds,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        let terms = ClaimTerms::of(&h.config.outbox);
        let recorded = h
            .failing(&finding("inactive-users", "li.wei@simubiz.com"))
            .await;
        let mine = outbox::claim(&h.db, "mine", 1, &terms, Utc::now())
            .await
            .expect("claim")
            .remove(0);
        let lease = Lease::hold(
            h.db.clone(),
            "mine",
            std::slice::from_ref(&mine),
            terms.lease,
            tokio::time::Instant::now(),
        );
        let far = Utc::now() + chrono::Duration::hours(1);
        outbox::claim(&h.db, "thief", 1, &terms, far)
            .await
            .expect("claim")
            .remove(0);
        let delivery = h.deliverer.deliver(&mine, lease.fence()).await;
        assert!(
            matches!(&delivery, Delivery::Retry { reason, .. } if reason.contains("lease")),
            "{delivery:?}"
        );
        assert_eq!(h.stats().await.requests_to("POST", CREATE), 0);
        assert!(lease.release(), "the lease knows it was lost");
        assert_eq!(
            create_row(&h, recorded.finding_id)
                .await
                .locked_by
                .as_deref(),
            Some("thief")
        );
    }
);
