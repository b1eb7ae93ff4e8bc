//! Tickets grouped by check (`group_by = "check"`, the starter `identity-grouped` profile of
//! Oort's "Inactive Users"): one incident per check listing its failing users, updated as
//! users join or pass, closed with the last, and closing in ServiceNow resolving them all.
//! Findings in through intake, tickets out to the emulator over HTTP, on SQLite and on
//! PostgreSQL.

mod servicenow_support;
mod support;

use snowsync::domain::{Finding, FindingStatus, SourceEvent};
use snowsync::ingest::{InputFormat, parse};
use snowsync::servicenow::Record;
use snowsync::sim::{AfterCommit, FaultRule, Faults, SimConfig};
use snowsync::store::entity::finding::Model as FindingRow;
use snowsync::store::{findings, groups};
use support::harness::{Harness, repo_path};

const OORT_EVENT: &str = include_str!("../src/cli/demo/oort_inactive_users.json");

/// An Oort "Inactive Users" event failing `users`, parsed as the webhook's findings.
fn inactive(users: &[String]) -> Vec<Finding> {
    let mut event: serde_json::Value = serde_json::from_str(OORT_EVENT).expect("the sample");
    event["detail"]["usersFailing"] = serde_json::json!(users);
    parse(InputFormat::Oort, event.to_string().as_bytes()).expect("a valid event")
}

fn users(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("user{i:03}@simubiz.com")).collect()
}

/// The starter mappings with the grouped profile's cap set to `cap`.
fn mappings_with_cap(cap: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for entry in std::fs::read_dir(repo_path("mappings")).expect("the starter mappings") {
        let path = entry.expect("an entry").path();
        let text = std::fs::read_to_string(&path).expect("a mapping file");
        let text = text.replace("group_cap = 200", &format!("group_cap = {cap}"));
        std::fs::write(dir.path().join(path.file_name().expect("a name")), text).expect("copy");
    }
    dir
}

async fn harness(engine: support::Engine, cap: u32) -> (Harness, tempfile::TempDir) {
    let mappings = mappings_with_cap(cap);
    let h = Harness::with(engine, SimConfig::default(), mappings.path(), "basic").await;
    (h, mappings)
}

async fn fail(h: &Harness, users: &[String]) {
    h.intake
        .failing_all(&inactive(users), "test")
        .await
        .expect("recorded");
}

async fn pass(h: &Harness, users: &[String]) {
    h.intake
        .record_all(&inactive(users), SourceEvent::Resolved, "test")
        .await
        .expect("recorded");
}

/// The groups of the "Inactive Users" check, oldest first.
async fn groups_of_check(h: &Harness) -> Vec<FindingRow> {
    let about = &inactive(&users(0..1))[0];
    groups::of_check(&h.db, &about.source, about.kind, &about.check_id)
        .await
        .expect("groups")
}

async fn ticket(h: &Harness, group: &FindingRow, fields: &[&str]) -> Record {
    let link = findings::link(&h.db, group.id)
        .await
        .expect("link")
        .expect("a ticket link");
    h.client()
        .get(&link.table_name, &link.sys_id.expect("created"), fields)
        .await
        .expect("read")
        .expect("the ticket exists")
}

async fn work_notes(h: &Harness, group: &FindingRow) -> Vec<String> {
    let sys_id = ticket(h, group, &["sys_id"]).await;
    let entries = h
        .client()
        .query(
            "sys_journal_field",
            &format!(
                "element_id={}^element=work_notes",
                sys_id.sys_id().expect("a sys_id")
            ),
            &["value"],
            100,
        )
        .await
        .expect("journal");
    entries
        .iter()
        .filter_map(|e| e.str("value").map(str::to_owned))
        .collect()
}

/// Incidents on the emulator, and how many of them repeat another's correlation id.
async fn incidents_and_duplicates(h: &Harness) -> (u64, u64) {
    let stats = h.stats().await;
    (
        stats.records("incident"),
        stats.duplicate_records("incident"),
    )
}

async fn open_members(h: &Harness, group: &FindingRow) -> Vec<FindingRow> {
    groups::open_members(&h.db, group.id)
        .await
        .expect("members")
}

async fn incident_writes(h: &Harness) -> u64 {
    h.stats().await.table_requests("incident", "PATCH")
}

on_both_engines!(
    three_hundred_users_failing_one_check_open_one_ticket_listing_them,
    |test_db| {
        let (h, _mappings) = harness(test_db.engine, 500).await;
        fail(&h, &users(0..300)).await;
        h.drain().await;
        assert_eq!(incidents_and_duplicates(&h).await, (1, 0));
        let groups = groups_of_check(&h).await;
        assert_eq!(groups.len(), 1);
        let members = open_members(&h, &groups[0]).await;
        assert_eq!(members.len(), 300);
        let text = ticket(&h, &groups[0], &["description", "short_description"]).await;
        assert_eq!(
            text.str("short_description"),
            Some("300 users failing Oort Check: Inactive Users")
        );
        let description = text.str("description").expect("a description");
        assert!(description.starts_with("300 users are failing Oort Check: Inactive Users"));
        assert!(
            description.contains("- user000@simubiz.com"),
            "{description}"
        );
        let listed = description.lines().filter(|l| l.starts_with("- ")).count();
        assert!(
            description.contains(&format!("... and {} more", 300 - listed)),
            "{description}"
        );
        assert!(description.encode_utf16().count() <= 4000);
    }
);

on_both_engines!(
    over_the_cap_a_second_ticket_continues_the_first_naming_its_number,
    |test_db| {
        let (h, _mappings) = harness(test_db.engine, 200).await;
        fail(&h, &users(0..200)).await;
        h.drain().await;
        fail(&h, &users(200..300)).await;
        h.drain().await;
        assert_eq!(h.stats().await.records("incident"), 2);
        let groups = groups_of_check(&h).await;
        let counts = [
            open_members(&h, &groups[0]).await.len(),
            open_members(&h, &groups[1]).await.len(),
        ];
        assert_eq!(counts, [200, 100]);
        let first = ticket(&h, &groups[0], &["number"]).await;
        let first_number = first.number().expect("a number").to_owned();
        let notes = work_notes(&h, &groups[1]).await.join("\n");
        assert!(
            notes.contains(&format!("{first_number} lists 200 users")),
            "{notes}"
        );
        let description = ticket(&h, &groups[1], &["description"]).await;
        assert!(
            description
                .str("description")
                .expect("text")
                .contains(&format!("This ticket continues {first_number}.")),
        );
    }
);

on_both_engines!(
    three_hundred_users_in_one_event_over_a_cap_of_two_hundred_open_two_tickets,
    |test_db| {
        let (h, _mappings) = harness(test_db.engine, 200).await;
        fail(&h, &users(0..300)).await;
        h.drain().await;
        assert_eq!(incidents_and_duplicates(&h).await, (2, 0));
        let groups = groups_of_check(&h).await;
        let second = open_members(&h, &groups[1]).await;
        assert_eq!(second.len(), 100);
    }
);

on_both_engines!(
    users_passing_again_update_the_ticket_once_with_one_work_note,
    |test_db| {
        let (h, _mappings) = harness(test_db.engine, 200).await;
        fail(&h, &users(0..5)).await;
        h.drain().await;
        let before = incident_writes(&h).await;
        pass(&h, &users(0..2)).await;
        h.drain().await;
        assert_eq!(incident_writes(&h).await - before, 1);
        let group = &groups_of_check(&h).await[0];
        let notes = work_notes(&h, group).await;
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("Passing again (2): user000@simubiz.com, user001@simubiz.com"),
            "{notes:?}"
        );
        let description = ticket(&h, group, &["description"]).await;
        let description = description.str("description").expect("text");
        assert!(
            description.starts_with("3 users are failing"),
            "{description}"
        );
        assert!(!description.contains("user000"), "{description}");
    }
);

on_both_engines!(
    changes_waiting_to_be_sent_reach_the_ticket_as_one_update_keeping_every_note,
    |test_db| {
        let (h, _mappings) = harness(test_db.engine, 200).await;
        fail(&h, &users(0..5)).await;
        h.drain().await;
        let before = incident_writes(&h).await;
        fail(&h, &users(5..6)).await;
        pass(&h, &users(0..1)).await;
        h.drain().await;
        assert_eq!(incident_writes(&h).await - before, 1);
        let group = &groups_of_check(&h).await[0];
        let notes = work_notes(&h, group).await.join("\n");
        assert!(notes.contains("(1): user005@simubiz.com"), "{notes}");
        assert!(
            notes.contains("Passing again (1): user000@simubiz.com"),
            "{notes}"
        );
    }
);

on_both_engines!(a_repeat_of_the_same_users_sends_nothing, |test_db| {
    let (h, _mappings) = harness(test_db.engine, 200).await;
    fail(&h, &users(0..3)).await;
    h.drain().await;
    let requests = h
        .stats()
        .await
        .requests_to("PATCH", "/api/now/table/incident/{sys_id}");
    fail(&h, &users(0..3)).await;
    h.drain().await;
    assert_eq!(
        h.stats()
            .await
            .requests_to("PATCH", "/api/now/table/incident/{sys_id}"),
        requests
    );
    let group = &groups_of_check(&h).await[0];
    let members = open_members(&h, group).await;
    assert!(members.iter().all(|m| m.occurrences == 2));
});

on_both_engines!(the_last_user_passing_closes_the_ticket, |test_db| {
    let (h, _mappings) = harness(test_db.engine, 200).await;
    fail(&h, &users(0..3)).await;
    h.drain().await;
    pass(&h, &users(0..3)).await;
    h.drain().await;
    let group = &groups_of_check(&h).await[0];
    let group = findings::get(&h.db, group.id)
        .await
        .expect("read")
        .expect("group");
    assert_eq!(group.status, FindingStatus::Resolved);
    let closed = ticket(&h, &group, &["state", "close_code", "close_notes"]).await;
    assert_eq!(closed.str("state"), Some("6"));
    assert_eq!(closed.str("close_code"), Some("Solution provided"));
    assert!(
        closed
            .str("close_notes")
            .expect("notes")
            .contains("passing for every user this ticket listed")
    );
});

on_both_engines!(
    a_check_failing_again_after_its_ticket_closed_opens_the_next_ticket_naming_it,
    |test_db| {
        let (h, _mappings) = harness(test_db.engine, 200).await;
        fail(&h, &users(0..2)).await;
        h.drain().await;
        pass(&h, &users(0..2)).await;
        h.drain().await;
        fail(&h, &users(0..1)).await;
        h.drain().await;
        assert_eq!(h.stats().await.records("incident"), 2);
        let groups = groups_of_check(&h).await;
        let first = ticket(&h, &groups[0], &["number"]).await;
        let second = ticket(&h, &groups[1], &["correlation_id"]).await;
        let about = &inactive(&users(0..1))[0];
        assert_eq!(
            second.str("correlation_id"),
            Some(about.group_correlation_id(2).as_str())
        );
        let notes = work_notes(&h, &groups[1]).await.join("\n");
        assert!(
            notes.contains(&format!(
                "after {} was closed",
                first.number().expect("a number")
            )),
            "{notes}"
        );
    }
);

on_both_engines!(
    closing_the_ticket_in_servicenow_resolves_every_user_it_lists,
    |test_db| {
        let (h, _mappings) = harness(test_db.engine, 200).await;
        fail(&h, &users(0..4)).await;
        h.drain().await;
        let poller = h.poller("a");
        poller.cycle().await.expect("poll").expect("polled");
        let group = groups_of_check(&h).await.remove(0);
        let sys_id = ticket(&h, &group, &["sys_id"]).await;
        let members = open_members(&h, &group).await;
        h.desk_changes(
            &servicenow_support::help_desk(&h.sim),
            "incident",
            sys_id.sys_id().expect("a sys_id"),
            &[
                ("state", "6"),
                ("close_code", "Solution provided"),
                ("close_notes", "Accounts disabled."),
            ],
        )
        .await;
        let applied = poller.cycle().await.expect("poll").expect("polled");
        assert_eq!(applied.len(), 1 + members.len());
        for member in &members {
            let now = findings::get(&h.db, member.id)
                .await
                .expect("read")
                .expect("member");
            assert_eq!(now.status, FindingStatus::Resolved);
            assert_eq!(now.resolved_by.as_deref(), Some("ticket"));
        }
        let group = findings::get(&h.db, group.id)
            .await
            .expect("read")
            .expect("group");
        assert_eq!(group.status, FindingStatus::Resolved);
    }
);

on_both_engines!(
    an_ambiguous_create_of_a_grouped_ticket_still_opens_one,
    |test_db| {
        let (h, _mappings) = harness(test_db.engine, 200).await;
        h.sim
            .set_faults(
                Faults::none().with_rule(
                    FaultRule::commit_then_fail(AfterCommit::Error, 1.0)
                        .on("POST", "/api/now/table/incident"),
                ),
            )
            .await;
        fail(&h, &users(0..3)).await;
        assert!(h.dispatch().await);
        h.sim.set_faults(Faults::none()).await;
        h.drain().await;
        assert_eq!(incidents_and_duplicates(&h).await, (1, 0));
    }
);

on_both_engines!(
    two_events_joining_one_check_at_once_still_open_one_ticket,
    |test_db| {
        let (h, _mappings) = harness(test_db.engine, 200).await;
        let (first, second) = (users(0..3), users(3..6));
        tokio::join!(fail(&h, &first), fail(&h, &second));
        h.drain().await;
        assert_eq!(h.stats().await.records("incident"), 1);
        let group = &groups_of_check(&h).await[0];
        let members = open_members(&h, group).await;
        assert_eq!(members.len(), 6);
    }
);

on_both_engines!(
    many_findings_of_one_grouped_check_sent_one_at_a_time_at_once_all_land_on_one_ticket,
    |test_db| {
        let (h, _mappings) = harness(test_db.engine, 200).await;
        let findings = inactive(&users(0..24));
        let sends = findings.iter().map(|f| h.intake.failing(f, "test"));
        for recorded in futures_util::future::join_all(sends).await {
            recorded.expect("every finding is recorded, none sent back to try again");
        }
        h.drain().await;
        assert_eq!(h.stats().await.records("incident"), 1);
        let group = &groups_of_check(&h).await[0];
        let members = open_members(&h, group).await;
        assert_eq!(members.len(), 24);
    }
);
