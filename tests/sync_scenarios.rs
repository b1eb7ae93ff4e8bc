//! Forward sync scenarios: findings in, tickets out, against the emulator over HTTP,
//! each on SQLite and on PostgreSQL, with the outbox driven step by step.

mod support;

use snowsync::domain::SourceEvent;
use snowsync::servicenow::Record;
use snowsync::sim::{AfterCommit, Burst, FaultRule, Faults};
use snowsync::store::findings;
use snowsync::store::outbox;
use support::harness::{Harness, finding};

const TICKET: [&str; 9] = [
    "sys_id",
    "number",
    "state",
    "impact",
    "urgency",
    "priority",
    "close_code",
    "close_notes",
    "correlation_id",
];

async fn ticket(h: &Harness, finding_id: i64) -> Record {
    let link = findings::link(&h.db, finding_id)
        .await
        .expect("link")
        .expect("a ticket link");
    let sys_id = link.sys_id.expect("the ticket was created");
    h.client()
        .get(&link.table_name, &sys_id, &TICKET)
        .await
        .expect("read")
        .expect("the ticket exists")
}

/// The journal of a ticket as the help desk sees it (display values render the history).
async fn journal(h: &Harness, finding_id: i64, field: &str) -> String {
    let link = findings::link(&h.db, finding_id)
        .await
        .expect("link")
        .expect("a ticket link");
    let (user, password) = h.sim.help_desk_credentials();
    let url = format!(
        "{}api/now/table/{}/{}?sysparm_display_value=true&sysparm_fields={field}",
        h.sim.base_url(),
        link.table_name,
        link.sys_id.expect("created")
    );
    let body: serde_json::Value = reqwest::Client::new()
        .get(url)
        .basic_auth(user, Some(password))
        .send()
        .await
        .expect("read as the help desk")
        .json()
        .await
        .expect("json");
    body["result"][field]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn incidents(stats: &snowsync::sim::SimStats) -> u64 {
    stats.tables.get("incident").map(|t| t.records).unwrap_or(0)
}

fn duplicates(stats: &snowsync::sim::SimStats) -> u64 {
    stats
        .tables
        .values()
        .map(|t| t.duplicate_correlation_records)
        .sum()
}

on_both_engines!(
    first_failing_event_creates_one_incident_with_the_planned_fields,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        let recorded = h
            .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        assert!(recorded.created);
        h.drain().await;
        let stats = h.stats().await;
        assert_eq!(incidents(&stats), 1);
        let incident = ticket(&h, recorded.finding_id).await;
        assert!(incident.number().unwrap_or_default().starts_with("INC"));
        assert_eq!(incident.str("state"), Some("1"));
        let link = findings::link(&h.db, recorded.finding_id)
            .await
            .expect("link")
            .expect("link");
        assert_eq!(
            incident.str("correlation_id"),
            Some(link.correlation_id.as_str())
        );
        assert!(link.correlation_id.starts_with("snowsync:"));
        assert_eq!(link.number.as_deref(), incident.number());
    }
);

on_both_engines!(
    repeated_failing_events_coalesce_into_one_update_with_a_work_note,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        let first = h
            .failing(&finding("inactive-users", "li.wei@simubiz.com"))
            .await;
        h.drain().await;
        let patches_before = h
            .stats()
            .await
            .requests_to("PATCH", "/api/now/table/incident/{sys_id}");
        for _ in 0..5 {
            let again = h
                .failing(&finding("inactive-users", "li.wei@simubiz.com"))
                .await;
            assert_eq!(
                again.finding_id, first.finding_id,
                "a repeat is the same finding"
            );
            assert!(!again.created);
        }
        h.drain().await;
        let stats = h.stats().await;
        assert_eq!(incidents(&stats), 1, "never a second ticket");
        let patches =
            stats.requests_to("PATCH", "/api/now/table/incident/{sys_id}") - patches_before;
        assert_eq!(patches, 1, "a coalesced burst of repeats costs one update");
        let notes = journal(&h, first.finding_id, "work_notes").await;
        assert!(
            notes.contains('6'),
            "the work note counts the occurrences: {notes}"
        );
        let stored = findings::get(&h.db, first.finding_id)
            .await
            .expect("get")
            .expect("finding");
        assert_eq!(stored.occurrences, 6);
    }
);

on_both_engines!(
    resolved_event_moves_the_incident_to_resolved_with_close_code_and_notes,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        let recorded = h
            .failing(&finding("inactive-users", "omar.haddad@simubiz.com"))
            .await;
        h.event(recorded.finding_id, SourceEvent::Resolved).await;
        h.drain().await;
        let incident = ticket(&h, recorded.finding_id).await;
        assert_eq!(incident.str("state"), Some("6"));
        assert_eq!(incident.str("close_code"), Some("Solution provided"));
        assert!(!incident.str("close_notes").unwrap_or_default().is_empty());
        let stored = findings::get(&h.db, recorded.finding_id)
            .await
            .expect("get")
            .expect("finding");
        assert_eq!(
            (stored.status.as_str(), stored.resolved_by.as_deref()),
            ("resolved", Some("source"))
        );
    }
);

on_both_engines!(
    escalated_event_moves_the_incident_to_the_escalation_state_with_a_work_note,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        let recorded = h
            .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        h.drain().await;
        h.event(recorded.finding_id, SourceEvent::Escalated).await;
        h.drain().await;
        let incident = ticket(&h, recorded.finding_id).await;
        assert_eq!(incident.str("state"), Some("2"));
        assert!(
            !journal(&h, recorded.finding_id, "work_notes")
                .await
                .is_empty()
        );
    }
);

on_both_engines!(
    service_unavailable_twice_then_success_creates_one_incident,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        h.sim
            .set_faults(
                Faults::none()
                    .with_rule(FaultRule::error(503, 1.0).on("POST", "/api/now/table/incident")),
            )
            .await;
        let recorded = h
            .failing(&finding("inactive-users", "li.wei@simubiz.com"))
            .await;
        h.dispatch_until(
            "the emulator to answer the create with 503 twice",
            |stats| stats.faults.get("error_503").copied().unwrap_or(0) >= 2,
        )
        .await;
        let row = outbox::of_finding(&h.db, recorded.finding_id)
            .await
            .expect("rows")
            .remove(0);
        assert_eq!((row.status.as_str(), row.attempts), ("pending", 2));
        assert!(row.last_error.unwrap_or_default().contains("503"));
        h.sim.set_faults(Faults::none()).await;
        h.drain().await;
        let stats = h.stats().await;
        assert_eq!(incidents(&stats), 1);
        assert_eq!(stats.requests_to("POST", "/api/now/table/incident"), 3);
    }
);

on_both_engines!(
    a_429_with_retry_after_pauses_every_delivery_until_it_passes,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        let a = h
            .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        // Every request in the next second gets a 429 with Retry-After: 1.
        h.sim
            .set_faults(
                Faults::none().with_burst(Burst::lasting(std::time::Duration::from_secs(1), 1)),
            )
            .await;
        h.dispatch().await;
        let b = h
            .failing(&finding("inactive-users", "li.wei@simubiz.com"))
            .await;
        let first = outbox::of_finding(&h.db, a.finding_id)
            .await
            .expect("rows")
            .remove(0);
        assert!(first.last_error.unwrap_or_default().contains("429"));
        let waited = first.next_attempt_at - first.updated_at;
        assert!(
            waited >= chrono::Duration::milliseconds(999),
            "Retry-After wins over the backoff: {waited}"
        );
        // The other finding's create waits behind the shared pause instead of meeting the burst.
        h.drain().await;
        let stats = h.stats().await;
        assert_eq!(
            stats.faults.get("too_many_requests").copied(),
            Some(1),
            "only the first request met the 429"
        );
        assert_eq!(incidents(&stats), 2);
        assert!(ticket(&h, b.finding_id).await.number().is_some());
    }
);

/// A create that the instance applies and then fails (`then`), retried: the retry must
/// find the ticket by its correlation id instead of creating a second one.
async fn ambiguous_create_does_not_duplicate(h: &Harness, then: AfterCommit) {
    h.sim
        .set_faults(Faults::none().with_rule(
            FaultRule::commit_then_fail(then, 1.0).on("POST", "/api/now/table/incident"),
        ))
        .await;
    let recorded = h
        .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
        .await;
    assert!(h.dispatch().await);
    let row = outbox::of_finding(&h.db, recorded.finding_id)
        .await
        .expect("rows")
        .remove(0);
    assert!(
        row.maybe_applied,
        "an unanswered write may have been applied"
    );
    h.sim.set_faults(Faults::none()).await;
    h.drain().await;
    let stats = h.stats().await;
    assert_eq!((incidents(&stats), duplicates(&stats)), (1, 0));
    assert_eq!(
        stats.requests_to("POST", "/api/now/table/incident"),
        1,
        "the retry found the ticket instead of creating it"
    );
    assert!(ticket(h, recorded.finding_id).await.number().is_some());
}

on_both_engines!(
    ambiguous_create_committed_then_failed_does_not_duplicate_the_incident,
    |test_db| {
        ambiguous_create_does_not_duplicate(
            &Harness::start(test_db.engine).await,
            AfterCommit::Error,
        )
        .await;
    }
);

on_both_engines!(
    ambiguous_create_that_times_out_does_not_duplicate_the_incident,
    |test_db| {
        ambiguous_create_does_not_duplicate(
            &Harness::start(test_db.engine).await,
            AfterCommit::Hang,
        )
        .await;
    }
);

on_both_engines!(
    stale_worker_after_lease_expiry_is_fenced_and_the_ticket_is_made_once,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        h.failing(&finding("inactive-users", "omar.haddad@simubiz.com"))
            .await;
        // A worker claims the create, sends it, and dies before recording anything.
        let terms = outbox::ClaimTerms::of(&h.config.outbox);
        let ghost = outbox::claim(&h.db, "ghost", 1, &terms, chrono::Utc::now())
            .await
            .expect("claim")
            .remove(0);
        let payload: snowsync::operation::TicketPayload =
            serde_json::from_value(ghost.payload.clone()).expect("payload");
        let mut fields = payload.fields.clone();
        fields.remove("caller_id");
        h.client()
            .create(&payload.table, &fields, &["sys_id"])
            .await
            .expect("the ghost's create reached ServiceNow");
        // Its lease runs out, and the grace after it; another worker takes the row over.
        let later = chrono::Utc::now()
            + chrono::Duration::from_std(terms.lease + terms.grace).expect("lease")
            + chrono::Duration::seconds(1);
        let taken = outbox::claim(&h.db, "live", 1, &terms, later)
            .await
            .expect("claim")
            .remove(0);
        assert_eq!(taken.id, ghost.id);
        assert!(taken.maybe_applied);
        let lease = snowsync::outbox::lease::Lease::hold(
            h.db.clone(),
            "live",
            std::slice::from_ref(&taken),
            terms.lease,
            tokio::time::Instant::now(),
        );
        let delivery =
            snowsync::outbox::Deliver::deliver(&h.deliverer, &taken, lease.fence()).await;
        assert_eq!(delivery, snowsync::outbox::Delivery::Done);
        assert!(
            outbox::complete(&h.db, &taken, "live", chrono::Utc::now())
                .await
                .expect("ack")
        );
        assert!(
            !outbox::complete(&h.db, &ghost, "ghost", chrono::Utc::now())
                .await
                .expect("ack"),
            "the stale worker is fenced"
        );
        h.drain().await;
        let stats = h.stats().await;
        assert_eq!((incidents(&stats), duplicates(&stats)), (1, 0));
    }
);

on_both_engines!(
    a_400_from_servicenow_goes_dead_with_its_message,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        h.sim
            .set_faults(
                Faults::none()
                    .with_rule(FaultRule::error(400, 1.0).on("POST", "/api/now/table/incident")),
            )
            .await;
        let recorded = h
            .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        h.drain().await;
        let rows = outbox::of_finding(&h.db, recorded.finding_id)
            .await
            .expect("rows");
        assert_eq!(rows[0].status, snowsync::store::outbox::RowStatus::Dead);
        assert_eq!(rows[0].attempts, 1, "a 400 is not retried");
        let reason = rows[0].last_error.clone().unwrap_or_default();
        assert!(
            reason.contains("400") && reason.contains("POST"),
            "the reason names the request: {reason}"
        );
        assert_eq!(
            rows[1].status,
            snowsync::store::outbox::RowStatus::Pending,
            "the tags wait behind the dead create"
        );
    }
);

on_both_engines!(per_finding_order_holds_with_concurrent_workers, |test_db| {
    let h = Harness::start(test_db.engine).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let recorded = h
            .failing(&finding("inactive-users", &format!("user{n}@simubiz.com")))
            .await;
        h.failing(&finding("inactive-users", &format!("user{n}@simubiz.com")))
            .await;
        h.event(recorded.finding_id, SourceEvent::Escalated).await;
        h.event(recorded.finding_id, SourceEvent::Resolved).await;
        ids.push(recorded.finding_id);
    }
    let workers: Vec<_> = (0..4).map(|_| h.another_instance()).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (n, deliverer) in workers.into_iter().enumerate() {
        let (db, config) = (h.db.clone(), h.config.clone());
        tasks.spawn(async move {
            support::harness::drain_with(&db, &config, &deliverer, &format!("w{n}")).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("worker");
    }
    for id in ids {
        let incident = ticket(&h, id).await;
        assert_eq!(
            incident.str("state"),
            Some("6"),
            "the close ran last for finding {id}"
        );
        for row in outbox::of_finding(&h.db, id).await.expect("rows") {
            assert_eq!(
                row.status,
                snowsync::store::outbox::RowStatus::Done,
                "row {} ({})",
                row.id,
                row.op
            );
        }
    }
    assert_eq!(duplicates(&h.stats().await), 0);
});

on_both_engines!(
    the_ticket_link_records_what_servicenow_returned,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        let recorded = h
            .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        h.drain().await;
        let link = findings::link(&h.db, recorded.finding_id)
            .await
            .expect("link")
            .expect("link");
        let incident = ticket(&h, recorded.finding_id).await;
        assert_eq!(link.sys_id.as_deref(), incident.sys_id());
        assert_eq!(link.state.as_deref(), Some("1"));
        assert!(link.sys_mod_count.is_some() && link.sys_updated_on.is_some());
    }
);
