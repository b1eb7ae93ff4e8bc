//! Reverse sync's reads against the emulator over HTTP: which records `changed_since` and
//! `approvals_changed_since` return, and how many requests they cost. The help desk changes
//! tickets through the Table API as a person would; the emulator's clock is paused and moved,
//! never waited on.

mod servicenow_support;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use servicenow_support::{fields, help_desk, sim_config};
use snowsync::config::AuthMode;
use snowsync::servicenow::{BatchRequest, ChangeScope, Client, Journal, Record};
use snowsync::sim::{self, SimConfig, SimHandle};

const READ: [&str; 5] = [
    "correlation_id",
    "state",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
];

/// An emulator with a paused clock, and the integration client.
async fn start_with(config: SimConfig) -> (SimHandle, Client) {
    let sim = sim::spawn(config).await.expect("start the emulator");
    sim.pause_clock().await;
    let client = Client::new(&sim_config(&sim, AuthMode::Basic)).unwrap();
    (sim, client)
}

async fn start() -> (SimHandle, Client) {
    start_with(SimConfig::default()).await
}

/// Creates an incident as the integration user and returns its sys_id.
async fn incident(client: &Client, correlation_id: &str) -> String {
    let created = client
        .create(
            "incident",
            &fields(&[
                ("short_description", "Suspicious sign-in"),
                ("correlation_id", correlation_id),
            ]),
            &[],
        )
        .await
        .expect("create");
    created.sys_id().expect("sys_id").to_owned()
}

/// Moves the clock on by a minute and returns the new time: the watermark of a poll that read
/// everything before.
async fn later(sim: &SimHandle) -> DateTime<Utc> {
    sim.advance_clock(Duration::from_secs(60)).await;
    sim.now()
}

async fn gets(sim: &SimHandle, table: &str) -> u64 {
    sim.stats().await.table_requests(table, "GET")
}

fn ids(records: &[Record]) -> BTreeSet<String> {
    records
        .iter()
        .map(|r| r.sys_id().expect("sys_id").to_owned())
        .collect()
}

#[tokio::test]
async fn nothing_changed_since_the_watermark_costs_exactly_one_request() {
    let (sim, client) = start().await;
    incident(&client, "snowsync:quiet").await;
    let since = later(&sim).await;
    let before = gets(&sim, "incident").await;

    let changed = client
        .changed_since("incident", Some(since), &READ)
        .await
        .unwrap();

    assert!(changed.is_empty(), "{changed:?}");
    assert_eq!(gets(&sim, "incident").await - before, 1);
}

#[tokio::test]
async fn of_ten_thousand_linked_incidents_the_three_the_help_desk_changed_come_back_in_one_request()
{
    let (sim, client) = start().await;
    let mut all = Vec::new();
    for batch in 0..100 {
        let requests = (0..100)
            .map(|i| {
                let n = batch * 100 + i;
                let f = fields(&[("correlation_id", &format!("snowsync:{n:032x}"))]);
                BatchRequest::create(n.to_string(), "incident", &f, &[]).unwrap()
            })
            .collect();
        for answer in client.batch(requests).await.unwrap() {
            let record = answer.record().unwrap().unwrap();
            all.push(record.sys_id().unwrap().to_owned());
        }
    }
    assert_eq!(sim.stats().await.records("incident"), 10_000);
    let since = later(&sim).await;
    let desk = help_desk(&sim);
    let resolve = fields(&[
        ("state", "6"),
        ("close_code", "Solution provided"),
        ("close_notes", "Password reset"),
    ]);
    let hold = fields(&[("state", "3"), ("hold_reason", "1")]);
    let escalate = fields(&[("impact", "1"), ("urgency", "1")]);
    for (sys_id, change) in [
        (&all[7], &resolve),
        (&all[4321], &hold),
        (&all[9999], &escalate),
    ] {
        desk.patch("incident", sys_id, change, &[]).await.unwrap();
    }
    let before = gets(&sim, "incident").await;

    let changed = client
        .changed_since("incident", Some(since), &READ)
        .await
        .unwrap();

    assert_eq!(
        ids(&changed),
        BTreeSet::from([all[7].clone(), all[4321].clone(), all[9999].clone()])
    );
    assert_eq!(gets(&sim, "incident").await - before, 1);
    for record in &changed {
        assert_eq!(record.sys_updated_by(), Some("help.desk"));
        assert_eq!(record.sys_mod_count(), Some(1));
        assert_eq!(record.updated_on(), Some(since));
    }
}

#[tokio::test]
async fn more_changes_than_a_page_are_all_read_in_order_a_page_per_request() {
    let (sim, client) = start().await;
    let mut created = Vec::new();
    for n in 0..25 {
        created.push(incident(&client, &format!("snowsync:page-{n:02}")).await);
    }
    let since = later(&sim).await;
    let desk = help_desk(&sim);
    // Changed newest-first by creation, so the change order is not the insertion order.
    for sys_id in created.iter().rev() {
        sim.advance_clock(Duration::from_secs(1)).await;
        desk.patch("incident", sys_id, &fields(&[("state", "2")]), &[])
            .await
            .unwrap();
    }
    let before = gets(&sim, "incident").await;

    let changed = client
        .changes(ChangeScope::Tickets("incident"), Some(since), &READ, 10)
        .await
        .unwrap();

    let order: Vec<&str> = changed.iter().map(|r| r.sys_id().unwrap()).collect();
    let expected: Vec<&str> = created.iter().rev().map(String::as_str).collect();
    assert_eq!(order, expected, "oldest change first, each once");
    assert_eq!(gets(&sim, "incident").await - before, 3);
}

#[tokio::test]
async fn an_integration_user_in_another_time_zone_still_reads_and_compares_utc() {
    let mut config = SimConfig::default();
    config.integration.time_zone = "Etc/GMT-10".into();
    let (sim, client) = start_with(config).await;
    let early = incident(&client, "snowsync:early").await;
    let late = incident(&client, "snowsync:late").await;
    let created_at = sim.now();
    sim.advance_clock(Duration::from_secs(2 * 3600)).await;
    help_desk(&sim)
        .patch("incident", &late, &fields(&[("urgency", "2")]), &[])
        .await
        .unwrap();
    let changed_at = sim.now();

    // An hour after the creation in UTC; read as UTC+10 it would be after every change.
    let since = created_at + chrono::Duration::hours(1);
    let changed = client
        .changed_since("incident", Some(since), &READ)
        .await
        .unwrap();

    assert_eq!(ids(&changed), BTreeSet::from([late]));
    assert_eq!(changed[0].updated_on(), Some(changed_at));
    assert!(!ids(&changed).contains(&early));
}

#[tokio::test]
async fn records_changed_in_the_watermarks_own_second_are_all_returned() {
    let (sim, client) = start().await;
    let first = incident(&client, "snowsync:first").await;
    let second = incident(&client, "snowsync:second").await;
    sim.advance_clock(Duration::from_secs(60)).await;
    let desk = help_desk(&sim);
    let touched = desk
        .patch(
            "incident",
            &first,
            &fields(&[("state", "2")]),
            &["sys_updated_on"],
        )
        .await
        .unwrap();
    desk.patch("incident", &second, &fields(&[("state", "2")]), &[])
        .await
        .unwrap();

    // The watermark a poll that saw only the first change would keep: its exact second.
    let since = touched.updated_on();
    let changed = client
        .changed_since("incident", since, &READ)
        .await
        .unwrap();

    assert_eq!(ids(&changed), BTreeSet::from([first, second]));
}

#[tokio::test]
async fn records_without_a_snowsync_correlation_id_are_not_returned() {
    let (sim, client) = start().await;
    let ours = incident(&client, "snowsync:ours").await;
    let foreign = incident(&client, "jira:SEC-12").await;
    let plain = incident(&client, "").await;
    let since = later(&sim).await;
    let desk = help_desk(&sim);
    for sys_id in [&ours, &foreign, &plain] {
        desk.patch("incident", sys_id, &fields(&[("state", "2")]), &[])
            .await
            .unwrap();
    }

    let changed = client
        .changed_since("incident", Some(since), &READ)
        .await
        .unwrap();

    assert_eq!(ids(&changed), BTreeSet::from([ours]));
}

#[tokio::test]
async fn a_help_desk_approval_of_our_request_is_read_back_and_one_of_a_foreign_request_is_not() {
    let (sim, client) = start().await;
    let request = |correlation_id: &'static str| {
        let client = client.clone();
        async move {
            let f = fields(&[
                ("short_description", "Grant access to the payroll share"),
                ("correlation_id", correlation_id),
            ]);
            let r = client.create("sc_request", &f, &[]).await.unwrap();
            r.sys_id().unwrap().to_owned()
        }
    };
    let ours = request("snowsync:payroll-access").await;
    let foreign = request("").await;
    let since = later(&sim).await;
    let desk = help_desk(&sim);
    let approval_of = |req: String| {
        let desk = desk.clone();
        async move {
            let q = format!("sysapproval={req}");
            let found = desk
                .query("sysapproval_approver", &q, &[], 10)
                .await
                .unwrap();
            found[0].sys_id().unwrap().to_owned()
        }
    };
    let our_approval = approval_of(ours.clone()).await;
    let foreign_approval = approval_of(foreign).await;
    let approve = fields(&[("state", "approved"), ("comments", "Approved for Q3")]);
    let reject = fields(&[("state", "rejected"), ("comments", "Not ours")]);
    desk.patch("sysapproval_approver", &our_approval, &approve, &[])
        .await
        .unwrap();
    desk.patch("sysapproval_approver", &foreign_approval, &reject, &[])
        .await
        .unwrap();
    let before = gets(&sim, "sysapproval_approver").await;

    let decisions = client
        .approvals_changed_since(
            Some(since),
            &["state", "approver", "sysapproval", "sys_updated_by"],
        )
        .await
        .unwrap();

    assert_eq!(gets(&sim, "sysapproval_approver").await - before, 1);
    assert_eq!(ids(&decisions), BTreeSet::from([our_approval.clone()]));
    let decision = &decisions[0];
    assert_eq!(decision.str("state"), Some("approved"));
    assert_eq!(decision.reference("sysapproval"), Some(ours.as_str()));
    assert_eq!(decision.sys_updated_by(), Some("help.desk"));
    let desk_user = desk
        .query("sys_user", "user_name=help.desk", &[], 10)
        .await
        .unwrap();
    assert_eq!(decision.reference("approver"), desk_user[0].sys_id());

    let comments = client
        .journal_entries("sysapproval_approver", &[&our_approval], Journal::Comments)
        .await
        .unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].str("value"), Some("Approved for Q3"));
    assert_eq!(comments[0].str("sys_created_by"), Some("help.desk"));
}

#[tokio::test]
async fn approving_our_request_shows_as_a_change_of_the_request_itself() {
    let (sim, client) = start().await;
    let f = fields(&[("correlation_id", "snowsync:laptop")]);
    let request = client.create("sc_request", &f, &[]).await.unwrap();
    let request = request.sys_id().unwrap().to_owned();
    let since = later(&sim).await;
    let desk = help_desk(&sim);
    let approval = desk
        .query(
            "sysapproval_approver",
            &format!("sysapproval={request}"),
            &[],
            10,
        )
        .await
        .unwrap();
    desk.patch(
        "sysapproval_approver",
        approval[0].sys_id().unwrap(),
        &fields(&[("state", "approved")]),
        &[],
    )
    .await
    .unwrap();

    let changed = client
        .changed_since("sc_request", Some(since), &["approval", "sys_updated_by"])
        .await
        .unwrap();

    assert_eq!(ids(&changed), BTreeSet::from([request]));
    assert_eq!(changed[0].str("approval"), Some("approved"));
    assert_eq!(changed[0].sys_updated_by(), Some("help.desk"));
}
