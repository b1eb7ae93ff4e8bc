//! Reverse sync, specified against the emulator over HTTP and a real database: a help desk's
//! change to a ticket reaches the finding and the source exactly once, our own writes never
//! come back as theirs, and a finding failing again reopens or follows its ticket. The
//! poller is driven one cycle at a time; time moves on the emulator's clock.

mod servicenow_support;
mod support;

use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use secrecy::SecretString;
use serde_json::{Map, Value};
use snowsync::config::SourceConfig;
use snowsync::domain::{FindingStatus, SourceEvent};
use snowsync::poller::Poller;
use snowsync::poller::apply::Applied;
use snowsync::poller::transition::Transition;
use snowsync::servicenow::{BatchRequest, Client};
use snowsync::sim::{AfterCommit, FaultRule, Faults};
use snowsync::store::outbox::RowStatus;
use snowsync::store::{findings, outbox, sync};
use support::harness::{Harness, deliverer, finding};
use support::receiver::Receiver;

const SECRET: &str = "notification-secret-for-tests";

struct World {
    h: Harness,
    desk: Client,
    receiver: Receiver,
}

impl World {
    async fn start(engine: support::Engine) -> Self {
        Self::with_receiver(engine, Receiver::start(0).await).await
    }

    async fn with_receiver(engine: support::Engine, receiver: Receiver) -> Self {
        let mut h = Harness::start(engine).await;
        h.config.sources.insert(
            "oort".to_owned(),
            SourceConfig {
                webhook_url: Some(receiver.url.clone()),
                hmac_secret: Some(SecretString::from(SECRET)),
            },
        );
        h.config.sources.insert(
            "threatlocker".to_owned(),
            SourceConfig {
                webhook_url: Some(receiver.url.clone()),
                hmac_secret: Some(SecretString::from(SECRET)),
            },
        );
        h.deliverer = deliverer(&h.db, &h.config);
        let desk = servicenow_support::help_desk(&h.sim);
        Self { h, desk, receiver }
    }

    fn poller(&self, holder: &str) -> Poller {
        self.h.poller(holder)
    }

    /// One poll by instance `a`, which holds the lease in every test but the takeover.
    async fn poll(&self) -> Vec<Applied> {
        self.poller("a")
            .cycle()
            .await
            .expect("poll")
            .expect("instance a polls")
    }

    /// A failing identity finding with its incident created and first read back.
    async fn ticketed(&self, login: &str) -> (i64, String) {
        let recorded = self.h.failing(&finding("inactive-users", login)).await;
        self.h.drain().await;
        assert!(
            self.poll().await.is_empty(),
            "creating is not a help-desk change"
        );
        let sys_id = self.sys_id(recorded.finding_id).await;
        (recorded.finding_id, sys_id)
    }

    async fn sys_id(&self, finding_id: i64) -> String {
        findings::link(&self.h.db, finding_id)
            .await
            .expect("link")
            .and_then(|l| l.sys_id)
            .expect("a created ticket")
    }

    /// The help desk changes a ticket one second later than anything before.
    async fn desk_changes(&self, table: &str, sys_id: &str, pairs: &[(&str, &str)]) {
        self.h.desk_changes(&self.desk, table, sys_id, pairs).await
    }

    async fn status(&self, finding_id: i64) -> FindingStatus {
        self.h.status(finding_id).await
    }

    async fn incidents(&self) -> u64 {
        self.h.stats().await.records("incident")
    }
}

fn resolve() -> Vec<(&'static str, &'static str)> {
    vec![
        ("state", "6"),
        ("close_code", "Solution provided"),
        ("close_notes", "Account disabled by the help desk"),
    ]
}

fn transitions(applied: &[Applied]) -> Vec<Transition> {
    applied.iter().map(|a| a.transition).collect()
}

on_both_engines!(
    a_help_desk_resolve_resolves_the_finding_and_reaches_the_source_signed,
    |test_db| {
        let w = World::start(test_db.engine).await;
        let (id, sys_id) = w.ticketed("ana.souza@simubiz.com").await;

        w.desk_changes("incident", &sys_id, &resolve()).await;
        let applied = w.poll().await;

        assert_eq!(transitions(&applied), [Transition::Resolved]);
        assert_eq!(applied[0].actor, "help.desk");
        let stored = findings::get(&w.h.db, id).await.expect("read").expect("f");
        assert_eq!(stored.status, FindingStatus::Resolved);
        assert_eq!(stored.resolved_by.as_deref(), Some("ticket"));
        w.h.drain().await;
        let received = w.receiver.received();
        assert_eq!(received.len(), 1);
        assert!(
            received[0].verifies(SECRET),
            "signed over timestamp and body"
        );
        let body = received[0].json();
        assert_eq!(body["event"], "finding.resolved");
        assert_eq!(body["actor"], "help.desk");
        assert_eq!(body["finding"]["id"], id);
        assert!(
            body["ticket"]["number"]
                .as_str()
                .is_some_and(|n| n.starts_with("INC"))
        );
        assert!(
            body["ticket"]["url"]
                .as_str()
                .is_some_and(|u| u.contains("incident.do?sys_id="))
        );
        let trail = findings::audit_trail(&w.h.db, id).await.expect("trail");
        let last = trail.last().expect("audit");
        assert_eq!(
            (last.event.as_str(), last.actor.as_str()),
            ("ticket.resolved", "servicenow:help.desk")
        );
    }
);

on_both_engines!(
    a_change_read_again_inside_the_overlap_is_applied_once,
    |test_db| {
        let w = World::start(test_db.engine).await;
        let (_, sys_id) = w.ticketed("ana.souza@simubiz.com").await;
        w.desk_changes("incident", &sys_id, &resolve()).await;

        assert_eq!(transitions(&w.poll().await), [Transition::Resolved]);
        assert!(w.poll().await.is_empty(), "read again, applied once");
        w.h.drain().await;
        assert_eq!(w.receiver.received().len(), 1);
    }
);

on_both_engines!(
    our_own_close_does_not_come_back_as_a_help_desk_close,
    |test_db| {
        let w = World::start(test_db.engine).await;
        let (id, _) = w.ticketed("ana.souza@simubiz.com").await;
        w.h.sim.advance_clock(Duration::from_secs(1)).await;
        w.h.event(id, SourceEvent::Resolved).await;
        w.h.drain().await;

        assert!(w.poll().await.is_empty());
        let stored = findings::get(&w.h.db, id).await.expect("read").expect("f");
        assert_eq!(stored.resolved_by.as_deref(), Some("source"));
        assert!(
            w.receiver.received().is_empty(),
            "nothing to tell the source"
        );
    }
);

on_both_engines!(
    a_help_desk_change_right_after_our_write_is_not_masked,
    |test_db| {
        let w = World::start(test_db.engine).await;
        let (id, sys_id) = w.ticketed("ana.souza@simubiz.com").await;
        // Our repeat (an update with a work note) lands, then the help desk resolves, before
        // any poll reads either.
        w.h.failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        w.h.drain().await;
        w.desk_changes("incident", &sys_id, &resolve()).await;

        assert_eq!(transitions(&w.poll().await), [Transition::Resolved]);
        assert_eq!(w.status(id).await, FindingStatus::Resolved);
    }
);

on_both_engines!(putting_a_ticket_on_hold_escalates_its_finding, |test_db| {
    let w = World::start(test_db.engine).await;
    let (id, sys_id) = w.ticketed("ana.souza@simubiz.com").await;

    w.desk_changes("incident", &sys_id, &[("state", "3"), ("hold_reason", "1")])
        .await;

    assert_eq!(transitions(&w.poll().await), [Transition::Escalated]);
    assert_eq!(w.status(id).await, FindingStatus::Escalated);
    w.h.drain().await;
    assert_eq!(
        w.receiver.received()[0].json()["event"],
        "finding.escalated"
    );
});

on_both_engines!(
    a_closed_ticket_opened_again_by_the_help_desk_reopens_its_finding,
    |test_db| {
        let w = World::start(test_db.engine).await;
        let (id, sys_id) = w.ticketed("ana.souza@simubiz.com").await;
        w.desk_changes("incident", &sys_id, &resolve()).await;
        w.poll().await;

        w.desk_changes("incident", &sys_id, &[("state", "2")]).await;

        assert_eq!(transitions(&w.poll().await), [Transition::Reopened]);
        assert_eq!(w.status(id).await, FindingStatus::Open);
        w.h.drain().await;
        let events: Vec<Value> = w
            .receiver
            .received()
            .iter()
            .map(|r| r.json()["event"].clone())
            .collect();
        assert_eq!(events, ["finding.resolved", "finding.reopened"]);
    }
);

on_both_engines!(
    pending_writes_to_a_ticket_the_help_desk_closed_are_not_sent,
    |test_db| {
        let w = World::start(test_db.engine).await;
        let (id, sys_id) = w.ticketed("ana.souza@simubiz.com").await;
        w.desk_changes("incident", &sys_id, &resolve()).await;
        // A repeat is queued before the poll learns of the close.
        w.h.failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;

        w.poll().await;
        w.h.drain().await;

        let rows = outbox::of_finding(&w.h.db, id).await.expect("rows");
        let update = rows
            .iter()
            .find(|r| r.op == snowsync::operation::OpKind::UpdateTicket)
            .expect("the queued update");
        assert_eq!(update.status, RowStatus::Done);
        assert!(
            update
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("closed in ServiceNow by help.desk")),
            "{:?}",
            update.last_error
        );
        assert_eq!(
            w.h.stats().await.table_requests("incident", "PATCH"),
            1,
            "only the help desk's own change"
        );
    }
);

/// An approval request's Service Request, created and first read back.
async fn requested(w: &World) -> (i64, String) {
    let parsed = snowsync::ingest::parse(
        snowsync::ingest::InputFormat::Approval,
        include_bytes!("fixtures/approval_request.json"),
    )
    .expect("an approval request");
    let recorded =
        w.h.intake
            .failing(&parsed[0], "test")
            .await
            .expect("recorded");
    w.h.drain().await;
    assert!(w.poll().await.is_empty());
    let sys_id = w.sys_id(recorded.finding_id).await;
    (recorded.finding_id, sys_id)
}

async fn approver_record(w: &World, request: &str) -> String {
    let found = w
        .desk
        .query(
            "sysapproval_approver",
            &format!("sysapproval={request}"),
            &["sys_id"],
            10,
        )
        .await
        .expect("approvals");
    found[0].sys_id().expect("sys_id").to_owned()
}

on_both_engines!(
    an_approvers_decision_reaches_the_finding_and_the_source_with_who_and_why,
    |test_db| {
        let w = World::start(test_db.engine).await;
        let (id, request) = requested(&w).await;
        let approval = approver_record(&w, &request).await;

        w.desk_changes(
            "sysapproval_approver",
            &approval,
            &[
                ("state", "approved"),
                ("comments", "Approved for the Q3 rollout"),
            ],
        )
        .await;
        let applied = w.poll().await;

        assert_eq!(transitions(&applied), [Transition::Approved]);
        let stored = findings::get(&w.h.db, id).await.expect("read").expect("f");
        assert_eq!(stored.decision.as_deref(), Some("approved"));
        w.h.drain().await;
        let received = w.receiver.received();
        assert_eq!(received.len(), 1, "the request's own change adds nothing");
        let body = received[0].json();
        assert_eq!(body["event"], "approval.approved");
        assert_eq!(body["actor"], "help.desk");
        assert_eq!(body["comment"], "Approved for the Q3 rollout");
        assert!(received[0].verifies(SECRET));
    }
);

on_both_engines!(
    a_rejection_reaches_the_source_and_the_closed_request_resolves_the_finding,
    |test_db| {
        let w = World::start(test_db.engine).await;
        let (id, request) = requested(&w).await;
        let approval = approver_record(&w, &request).await;

        w.desk_changes("sysapproval_approver", &approval, &[("state", "rejected")])
            .await;

        // The rejection closes the request (Closed Incomplete), one of the profile's
        // closed states.
        assert_eq!(
            transitions(&w.poll().await),
            [Transition::Rejected, Transition::Resolved]
        );
        let stored = findings::get(&w.h.db, id).await.expect("read").expect("f");
        assert_eq!(stored.decision.as_deref(), Some("rejected"));
        assert_eq!(stored.status, FindingStatus::Resolved);
        w.h.drain().await;
        let events: Vec<Value> = w
            .receiver
            .received()
            .iter()
            .map(|r| r.json()["event"].clone())
            .collect();
        assert_eq!(events, ["approval.rejected", "finding.resolved"]);
    }
);

on_both_engines!(
    two_changes_in_the_second_of_the_watermark_are_both_applied,
    |test_db| {
        let w = World::start(test_db.engine).await;
        let (first, first_sys_id) = w.ticketed("ana.souza@simubiz.com").await;
        let (second, second_sys_id) = w.ticketed("karsch.heuck@simubiz.com").await;
        w.h.sim.advance_clock(Duration::from_secs(1)).await;
        w.h.sim.pause_clock().await;
        w.desk
            .patch(
                "incident",
                &first_sys_id,
                &servicenow_support::fields(&resolve()),
                &[],
            )
            .await
            .expect("change");
        assert_eq!(transitions(&w.poll().await), [Transition::Resolved]);

        // Same second as the watermark the first poll left.
        w.desk
            .patch(
                "incident",
                &second_sys_id,
                &servicenow_support::fields(&resolve()),
                &[],
            )
            .await
            .expect("change");
        assert_eq!(transitions(&w.poll().await), [Transition::Resolved]);
        assert_eq!(
            (w.status(first).await, w.status(second).await),
            (FindingStatus::Resolved, FindingStatus::Resolved)
        );
    }
);

on_both_engines!(
    the_watermark_is_the_utc_time_of_the_change_for_a_user_in_another_time_zone,
    |test_db| {
        // The emulator's integration user sits at UTC-7 (`Etc/GMT+7`), as recorded.
        let w = World::start(test_db.engine).await;
        let (_, sys_id) = w.ticketed("ana.souza@simubiz.com").await;
        w.h.sim.advance_clock(Duration::from_secs(1)).await;
        w.h.sim.pause_clock().await;
        let changed_at = w.h.sim.now();
        w.desk
            .patch(
                "incident",
                &sys_id,
                &servicenow_support::fields(&resolve()),
                &[],
            )
            .await
            .expect("change");

        w.poll().await;

        let watermark = sync::watermark(&w.h.db, "incident")
            .await
            .expect("read")
            .expect("a watermark");
        assert_eq!(watermark.timestamp(), changed_at.timestamp());
    }
);

on_both_engines!(
    ten_thousand_linked_tickets_with_three_changed_cost_one_request_per_table,
    |test_db| {
        let w = World::start(test_db.engine).await;
        let client = w.h.client();
        for batch in 0..100 {
            let requests = (0..100)
                .map(|i| {
                    let n = batch * 100 + i;
                    let mut f = Map::new();
                    f.insert(
                        "correlation_id".to_owned(),
                        Value::String(format!("snowsync:{n:032x}")),
                    );
                    BatchRequest::create(n.to_string(), "incident", &f, &[]).expect("request")
                })
                .collect();
            client.batch(requests).await.expect("batch");
        }
        // The linked tickets were made an hour ago, and earlier polls have read them: the
        // watermark stands past them and its overlap.
        w.h.sim.advance_clock(Duration::from_secs(3600)).await;
        sync::advance_watermark(&w.h.db, "incident", w.h.sim.now(), chrono::Utc::now())
            .await
            .expect("watermark");
        let mut changed = Vec::new();
        for login in ["a@simubiz.com", "b@simubiz.com", "c@simubiz.com"] {
            changed.push(w.ticketed(login).await.1);
        }
        for sys_id in &changed {
            w.desk_changes("incident", sys_id, &resolve()).await;
        }
        let before = w.h.stats().await;

        let applied = w.poll().await;

        let after = w.h.stats().await;
        assert_eq!(applied.len(), 3);
        for table in ["incident", "sc_request", "sysapproval_approver"] {
            assert_eq!(
                after.table_requests(table, "GET") - before.table_requests(table, "GET"),
                1,
                "{table}"
            );
        }
        assert!(after.records("incident") > 10_000);
    }
);

on_both_engines!(
    a_finding_failing_again_within_reopen_within_reopens_its_ticket,
    |test_db| {
        let w = World::start(test_db.engine).await;
        let (id, sys_id) = w.ticketed("ana.souza@simubiz.com").await;
        w.desk_changes("incident", &sys_id, &resolve()).await;
        w.poll().await;

        let again =
            w.h.failing(&finding("inactive-users", "ana.souza@simubiz.com"))
                .await;
        w.h.drain().await;

        assert_eq!(again.finding_id, id, "the same finding, reopened");
        assert_eq!(w.status(id).await, FindingStatus::Open);
        assert_eq!(w.incidents().await, 1);
        let ticket =
            w.h.client()
                .get("incident", &sys_id, &["state"])
                .await
                .expect("read")
                .expect("ticket");
        assert_ne!(ticket.str("state"), Some("6"), "no longer resolved");
        assert!(
            w.poll().await.is_empty(),
            "our reopen does not come back as the help desk's"
        );
    }
);

/// Moves the finding's resolution `days` into the past.
async fn resolved_days_ago(w: &World, finding_id: i64, days: i64) {
    let at = chrono::Utc::now() - chrono::Duration::days(days);
    w.h.db
        .execute_raw(Statement::from_sql_and_values(
            w.h.db.get_database_backend(),
            "UPDATE findings SET resolved_at = $1 WHERE id = $2",
            [at.into(), finding_id.into()],
        ))
        .await
        .expect("age the resolution");
}

on_both_engines!(
    a_finding_failing_again_after_reopen_within_gets_a_new_ticket_naming_the_old,
    |test_db| {
        let w = World::start(test_db.engine).await;
        let (id, sys_id) = w.ticketed("ana.souza@simubiz.com").await;
        w.desk_changes("incident", &sys_id, &resolve()).await;
        w.poll().await;
        resolved_days_ago(&w, id, 8).await;
        let old = findings::link(&w.h.db, id).await.expect("l").expect("l");

        let again =
            w.h.failing(&finding("inactive-users", "ana.souza@simubiz.com"))
                .await;
        w.h.drain().await;

        assert_ne!(again.finding_id, id);
        assert_eq!(w.incidents().await, 2);
        let new = findings::link(&w.h.db, again.finding_id)
            .await
            .expect("l")
            .expect("l");
        assert_eq!(new.correlation_id, format!("{}-2", old.correlation_id));
        let notes =
            w.h.client()
                .journal_entries(
                    "incident",
                    &[new.sys_id.as_deref().expect("created")],
                    snowsync::servicenow::Journal::WorkNotes,
                )
                .await
                .expect("notes");
        let number = old.number.expect("number");
        assert!(
            notes
                .iter()
                .any(|n| n.str("value").is_some_and(|v| v.contains(&number))),
            "a work note names {number}"
        );
    }
);

on_both_engines!(
    an_ambiguous_create_of_a_recurrence_makes_exactly_one_new_ticket,
    |test_db| {
        let w = World::start(test_db.engine).await;
        let (id, sys_id) = w.ticketed("ana.souza@simubiz.com").await;
        w.desk_changes("incident", &sys_id, &resolve()).await;
        w.poll().await;
        resolved_days_ago(&w, id, 8).await;
        w.h.sim
            .set_faults(
                Faults::none().with_rule(
                    FaultRule::commit_then_fail(AfterCommit::Error, 1.0)
                        .on("POST", "/api/now/table/incident"),
                ),
            )
            .await;
        let again =
            w.h.failing(&finding("inactive-users", "ana.souza@simubiz.com"))
                .await;
        assert!(w.h.dispatch().await, "the create, answered with an error");
        w.h.sim.set_faults(Faults::none()).await;

        w.h.drain().await;

        let stats = w.h.stats().await;
        assert_eq!(stats.records("incident"), 2, "one old, one new");
        assert_eq!(
            stats.requests_to("POST", "/api/now/table/incident"),
            2,
            "the retry found the new ticket instead of creating it again"
        );
        let rows = outbox::of_finding(&w.h.db, again.finding_id)
            .await
            .expect("rows");
        assert!(rows.iter().all(|r| r.status == RowStatus::Done), "{rows:?}");
        let new = findings::link(&w.h.db, again.finding_id)
            .await
            .expect("l")
            .expect("l");
        assert_ne!(new.sys_id.as_deref(), Some(sys_id.as_str()));
    }
);

#[tokio::test]
async fn a_notification_refused_with_500_is_sent_again_and_verifies() {
    let w = World::with_receiver(support::Engine::Sqlite, Receiver::start(1).await).await;
    let (_, sys_id) = w.ticketed("ana.souza@simubiz.com").await;
    w.desk_changes("incident", &sys_id, &resolve()).await;
    w.poll().await;

    w.h.drain().await;

    let received = w.receiver.received();
    assert_eq!(received.len(), 2, "refused once, then accepted");
    assert_eq!(received[0].body, received[1].body);
    assert!(received.iter().all(|r| r.verifies(SECRET)));
}

on_both_engines!(
    one_instance_polls_and_another_takes_over_when_its_lease_runs_out,
    |test_db| {
        let w = World::start(test_db.engine).await;
        let (id, sys_id) = w.ticketed("ana.souza@simubiz.com").await;
        let (a, b) = (w.poller("a"), w.poller("b"));
        assert!(
            b.cycle().await.expect("poll").is_none(),
            "a holds the lease"
        );

        w.h.db
            .execute_unprepared("UPDATE leases SET expires_at = '2000-01-01T00:00:00Z'")
            .await
            .expect("a dies: its lease runs out");
        w.desk_changes("incident", &sys_id, &resolve()).await;

        let by_b = b.cycle().await.expect("poll").expect("b took over");
        assert_eq!(transitions(&by_b), [Transition::Resolved]);
        assert!(a.cycle().await.expect("poll").is_none(), "b holds it now");
        let token = sync::hold_lease(
            &w.h.db,
            "poller",
            "b",
            Duration::from_secs(60),
            chrono::Utc::now(),
        )
        .await
        .expect("renew")
        .expect("b");
        assert!(
            !sync::fence(&w.h.db, "poller", "a", token - 1, chrono::Utc::now())
                .await
                .expect("fence"),
            "a's old token fences nothing"
        );
        // A stale applier reading the same change applies nothing.
        let record =
            w.h.client()
                .get(
                    "incident",
                    &sys_id,
                    &[
                        "sys_id",
                        "state",
                        "sys_mod_count",
                        "sys_updated_on",
                        "sys_updated_by",
                    ],
                )
                .await
                .expect("read")
                .expect("ticket");
        let client = w.h.client();
        let pipeline = w.h.intake.pipeline.current();
        let applier = snowsync::poller::apply::Applier {
            db: &w.h.db,
            mappings: &pipeline.mappings,
            instance: client.instance_url(),
        };
        assert!(
            applier
                .ticket("incident", &record)
                .await
                .expect("apply")
                .is_empty()
        );
        let resolved = findings::audit_trail(&w.h.db, id)
            .await
            .expect("trail")
            .iter()
            .filter(|a| a.event == "ticket.resolved")
            .count();
        assert_eq!(resolved, 1);
    }
);
