//! Security incidents (`sn_si_incident`) both ways, against the emulator over HTTP and a real
//! database on each engine: a security incident profile opens a SIR ticket for the affected
//! user, a resolved finding closes it, a help desk closing it resolves the finding, and an
//! instance without the Security Incident Response plugin still syncs its incidents.

mod servicenow_support;
mod support;

use std::time::Duration;

use snowsync::domain::{FindingStatus, SourceEvent};
use snowsync::poller::transition::Transition;
use snowsync::servicenow::{Client, Record};
use snowsync::sim::SimConfig;
use snowsync::store::findings;
use support::harness::{Harness, finding};

/// Identity checks go to incidents; every other finding to security incidents.
const MAPPINGS: &str = r#"
[[rule]]
name = "inactive-users"
check_id = "inactive-users"
profile = "inc"

[default]
profile = "sir"

[profile.sir]
table = "sn_si_incident"
assignment_group = "Security Operations"
tags = ["snowsync"]

[profile.inc]
table = "incident"
"#;

struct World {
    h: Harness,
    desk: Client,
    _mappings: tempfile::TempDir,
}

impl World {
    async fn start(engine: support::Engine, sim: SimConfig) -> Self {
        let mappings = tempfile::tempdir().expect("temp dir");
        std::fs::write(mappings.path().join("m.toml"), MAPPINGS).expect("mappings");
        let h = Harness::with(engine, sim, mappings.path(), "basic").await;
        let desk = servicenow_support::help_desk(&h.sim);
        Self {
            h,
            desk,
            _mappings: mappings,
        }
    }

    /// One poller cycle.
    async fn poll(&self) -> Vec<Transition> {
        let poller = self.h.poller("a");
        poller
            .cycle()
            .await
            .expect("poll")
            .expect("the only poller holds the lease")
            .iter()
            .map(|a| a.transition)
            .collect()
    }

    /// A failing finding of `check_id` with its ticket created and first read back.
    async fn ticketed(&self, check_id: &str, login: &str) -> (i64, String, String) {
        let recorded = self.h.failing(&finding(check_id, login)).await;
        self.h.drain().await;
        assert!(
            self.poll().await.is_empty(),
            "creating is not a help-desk change"
        );
        let link = findings::link(&self.h.db, recorded.finding_id)
            .await
            .expect("link")
            .expect("a ticket link");
        let sys_id = link.sys_id.expect("a created ticket");
        (recorded.finding_id, link.table_name, sys_id)
    }

    async fn ticket(&self, table: &str, sys_id: &str) -> Record {
        self.h
            .client()
            .get(
                table,
                sys_id,
                &[
                    "number",
                    "state",
                    "close_code",
                    "close_notes",
                    "affected_user",
                    "active",
                ],
            )
            .await
            .expect("read")
            .expect("the ticket exists")
    }

    /// The help desk changes a ticket one second later than anything before.
    async fn desk_changes(&self, table: &str, sys_id: &str, pairs: &[(&str, &str)]) {
        self.h.desk_changes(&self.desk, table, sys_id, pairs).await
    }

    async fn status(&self, finding_id: i64) -> FindingStatus {
        self.h.status(finding_id).await
    }
}

on_both_engines!(
    a_security_incident_profile_opens_one_sir_ticket_for_the_affected_user,
    |test_db| {
        let w = World::start(test_db.engine, SimConfig::default()).await;
        let (_, table, sys_id) = w.ticketed("mfa-flood", "abel.tuter@example.com").await;

        assert_eq!(table, "sn_si_incident");
        let ticket = w.ticket(&table, &sys_id).await;
        assert_eq!(ticket.number(), Some("SIR0010001"));
        assert_eq!(
            ticket.str("state"),
            Some("10"),
            "a Draft, as ServiceNow starts it"
        );
        assert!(
            ticket.reference("affected_user").is_some(),
            "the subject, found by email"
        );
        let stats = w.h.stats().await;
        assert_eq!(stats.records("sn_si_incident"), 1);
        assert_eq!(stats.records("incident"), 0);
    }
);

on_both_engines!(
    a_resolved_finding_closes_its_security_incident_with_the_close_code,
    |test_db| {
        let w = World::start(test_db.engine, SimConfig::default()).await;
        let (id, table, sys_id) = w.ticketed("mfa-flood", "ana.souza@simubiz.com").await;
        w.h.sim.advance_clock(Duration::from_secs(1)).await;

        w.h.event(id, SourceEvent::Resolved).await;
        w.h.drain().await;

        let ticket = w.ticket(&table, &sys_id).await;
        assert_eq!(ticket.str("state"), Some("3"));
        assert_eq!(ticket.str("close_code"), Some("Threat mitigated"));
        assert!(!ticket.str("close_notes").unwrap_or_default().is_empty());
        assert_eq!(ticket.str("active"), Some("false"));
        assert!(
            w.poll().await.is_empty(),
            "our own close is not the help desk's"
        );
        assert_eq!(w.status(id).await, FindingStatus::Resolved);
    }
);

on_both_engines!(
    a_help_desk_closing_the_security_incident_resolves_the_finding,
    |test_db| {
        let w = World::start(test_db.engine, SimConfig::default()).await;
        let (id, table, sys_id) = w.ticketed("mfa-flood", "ana.souza@simubiz.com").await;

        w.desk_changes(
            &table,
            &sys_id,
            &[
                ("state", "3"),
                ("close_code", "Investigation completed"),
                ("close_notes", "Sessions revoked by the SOC"),
            ],
        )
        .await;

        assert_eq!(w.poll().await, [Transition::Resolved]);
        let stored = findings::get(&w.h.db, id).await.expect("read").expect("f");
        assert_eq!(stored.status, FindingStatus::Resolved);
        assert_eq!(stored.resolved_by.as_deref(), Some("ticket"));
    }
);

on_both_engines!(
    incidents_still_sync_back_from_an_instance_without_the_security_incident_table,
    |test_db| {
        let w = World::start(
            test_db.engine,
            SimConfig {
                security_incident_response: false,
                ..SimConfig::default()
            },
        )
        .await;
        let (id, table, sys_id) = w.ticketed("inactive-users", "ana.souza@simubiz.com").await;
        assert_eq!(table, "incident");

        w.desk_changes(
            &table,
            &sys_id,
            &[
                ("state", "6"),
                ("close_code", "Solution provided"),
                ("close_notes", "Account disabled by the help desk"),
            ],
        )
        .await;

        assert_eq!(w.poll().await, [Transition::Resolved]);
        assert_eq!(w.status(id).await, FindingStatus::Resolved);
    }
);
