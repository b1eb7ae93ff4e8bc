//! Scenarios around the mapping: request economy of a plain ticket, and a dead row revived
//! by `outbox retry` after the mapping is fixed. Each on SQLite and on PostgreSQL.

mod support;

use std::path::Path;

use snowsync::domain::{FindingStatus, SourceEvent};
use snowsync::mapping::PlanErrorKind;
use snowsync::sim::SimConfig;
use snowsync::store::outbox;
use support::harness::{Harness, finding};

const PLAIN: &str = r#"
[default]
profile = "plain"

[profile.plain]
table = "incident"
impact = "medium"
urgency = "medium"
caller = "none"
state = "new"
auto_close_state = "resolved"
close_code = "Solution provided"
escalation_state = "in_progress"
"#;

fn mappings(dir: &Path, text: &str) {
    std::fs::write(dir.join("rules.toml"), text).expect("write the mapping");
}

on_both_engines!(
    creating_a_ticket_without_tags_or_references_costs_one_request,
    |test_db| {
        let dir = tempfile::tempdir().expect("temp dir");
        mappings(dir.path(), PLAIN);
        let h = Harness::with(test_db.engine, SimConfig::default(), dir.path(), "basic").await;
        h.failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        h.drain().await;
        let stats = h.stats().await;
        assert_eq!(stats.requests_to("POST", "/api/now/table/incident"), 1);
        assert_eq!(
            stats.requests_total, 1,
            "no lookup before the create and no re-read after it: {:?}",
            stats.requests
        );
    }
);

on_both_engines!(a_coalesced_burst_of_repeats_costs_one_request, |test_db| {
    let dir = tempfile::tempdir().expect("temp dir");
    mappings(dir.path(), PLAIN);
    let h = Harness::with(test_db.engine, SimConfig::default(), dir.path(), "basic").await;
    h.failing(&finding("inactive-users", "ana.souza@simubiz.com"))
        .await;
    h.drain().await;
    for _ in 0..10 {
        h.failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
    }
    h.drain().await;
    assert_eq!(
        h.stats().await.requests_total,
        2,
        "one create, one update for ten repeats"
    );
});

on_both_engines!(
    an_unknown_assignment_group_goes_dead_and_outbox_retry_revives_it_after_the_fix,
    |test_db| {
        let dir = tempfile::tempdir().expect("temp dir");
        let broken = PLAIN.replace(
            "caller = \"none\"",
            "caller = \"none\"\nassignment_group = \"Servce Desk\"",
        );
        mappings(dir.path(), &broken);
        let h = Harness::with(test_db.engine, SimConfig::default(), dir.path(), "basic").await;
        let recorded = h
            .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        h.drain().await;
        let dead = outbox::of_finding(&h.db, recorded.finding_id)
            .await
            .expect("rows")
            .remove(0);
        assert_eq!(dead.status, snowsync::store::outbox::RowStatus::Dead);
        assert!(
            dead.last_error
                .clone()
                .unwrap_or_default()
                .contains("Servce Desk"),
            "the reason names the value"
        );

        let fixed = PLAIN.replace(
            "caller = \"none\"",
            "caller = \"none\"\nassignment_group = \"Service Desk\"",
        );
        mappings(dir.path(), &fixed);
        let pipeline = snowsync::pipeline::load(&h.config.mapping).expect("fixed mappings");
        let (report, all) = snowsync::cli::admin::outbox_retry(&h.db, &[dead.id], &pipeline)
            .await
            .expect("retry");
        assert!(all, "{report}");
        assert!(
            report.contains("rendered from the current mappings"),
            "{report}"
        );
        h.drain().await;
        let row = outbox::get(&h.db, dead.id)
            .await
            .expect("get")
            .expect("row");
        assert_eq!(row.status, snowsync::store::outbox::RowStatus::Done);
        assert_eq!(h.stats().await.tables["incident"].records, 1);
    }
);

on_both_engines!(
    two_service_instances_on_one_database_never_send_a_row_twice,
    |test_db| {
        let dir = tempfile::tempdir().expect("temp dir");
        mappings(dir.path(), PLAIN);
        let h = Harness::with(test_db.engine, SimConfig::default(), dir.path(), "basic").await;
        for n in 0..40 {
            h.failing(&finding("inactive-users", &format!("user{n}@simubiz.com")))
                .await;
        }
        // A second instance: its own connection pool and client, the same database and queue.
        let other_db = h.test_db.open().await;
        let other = support::harness::deliverer(&other_db, &h.config);
        // The second instance takes its share before both run concurrently.
        assert!(
            snowsync::outbox::dispatch_once(&other_db, "b0", &h.config.outbox, &other)
                .await
                .expect("dispatch")
        );
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..3 {
            let (db, config, deliverer) = (h.db.clone(), h.config.clone(), h.another_instance());
            tasks.spawn(async move {
                support::harness::drain_with(&db, &config, &deliverer, &format!("a{n}")).await
            });
        }
        let config = h.config.clone();
        tasks.spawn(
            async move { support::harness::drain_with(&other_db, &config, &other, "b0").await },
        );
        while let Some(done) = tasks.join_next().await {
            done.expect("instance");
        }
        let stats = h.stats().await;
        assert_eq!(
            stats.requests_to("POST", "/api/now/table/incident"),
            40,
            "each create sent exactly once"
        );
        assert_eq!(stats.tables["incident"].duplicate_correlation_records, 0);
    }
);

on_both_engines!(a_restart_keeps_the_retry_schedule, |test_db| {
    let dir = tempfile::tempdir().expect("temp dir");
    mappings(dir.path(), PLAIN);
    let h = Harness::with(test_db.engine, SimConfig::default(), dir.path(), "basic").await;
    let mut config = h.config.clone();
    config.outbox.retry.initial = std::time::Duration::from_secs(3600);
    config.outbox.retry.max = std::time::Duration::from_secs(3600);
    config.outbox.retry.jitter = false;
    h.sim
        .set_faults(
            snowsync::sim::Faults::none().with_rule(snowsync::sim::FaultRule::error(503, 1.0)),
        )
        .await;
    let recorded = h
        .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
        .await;
    assert!(
        snowsync::outbox::dispatch_once(&h.db, "before", &config.outbox, &h.deliverer)
            .await
            .expect("dispatch")
    );
    let before = outbox::of_finding(&h.db, recorded.finding_id)
        .await
        .expect("rows")
        .remove(0);
    h.sim.set_faults(snowsync::sim::Faults::none()).await;

    // The process restarts: a new pool, client and worker.
    h.db.clone().close().await.expect("close");
    let db = h.test_db.open().await;
    let deliverer = support::harness::deliverer(&db, &config);
    assert!(
        !snowsync::outbox::dispatch_once(&db, "after", &config.outbox, &deliverer)
            .await
            .expect("dispatch"),
        "not due for an hour"
    );
    let after = outbox::get(&db, before.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(after.next_attempt_at, before.next_attempt_at);
    assert_eq!(after.attempts, 1);
});

on_both_engines!(
    a_finding_with_a_ticket_of_its_own_keeps_it_when_its_profile_starts_grouping_by_check,
    |test_db| {
        let dir = tempfile::tempdir().expect("temp dir");
        mappings(dir.path(), PLAIN);
        let h = Harness::with(test_db.engine, SimConfig::default(), dir.path(), "basic").await;
        let ana = h
            .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        h.drain().await;
        mappings(
            dir.path(),
            &PLAIN.replace(
                "caller = \"none\"",
                "caller = \"none\"\ngroup_by = \"check\"",
            ),
        );
        let grouping = support::harness::intake(&h.db, &h.config);
        let event: Vec<_> = ["ana.souza@simubiz.com", "li.wei@simubiz.com"]
            .iter()
            .map(|login| {
                snowsync::ingest::parse(
                    snowsync::ingest::InputFormat::Generic,
                    finding("inactive-users", login).to_string().as_bytes(),
                )
                .expect("finding")
                .remove(0)
            })
            .collect();
        let recorded = grouping
            .failing_all(&event, "test")
            .await
            .expect("recorded");
        h.drain().await;
        let stats = h.stats().await;
        assert_eq!(
            stats.records("incident"),
            2,
            "ana's own ticket, and one for the check listing li"
        );
        assert_eq!(
            stats.table_requests("incident", "PATCH"),
            1,
            "ana's repeat is a work note on her own ticket"
        );
        let get = |id| snowsync::store::findings::get(&h.db, id);
        let ana_now = get(ana.finding_id).await.expect("read").expect("ana");
        let li_now = get(recorded[1].finding_id)
            .await
            .expect("read")
            .expect("li");
        assert_eq!((ana_now.group_id, ana_now.occurrences), (None, 2));
        assert!(li_now.group_id.is_some());
    }
);

on_both_engines!(
    an_event_its_mapping_cannot_plan_is_refused_with_the_template_and_kept_in_the_audit_trail,
    |test_db| {
        let dir = tempfile::tempdir().expect("temp dir");
        mappings(dir.path(), PLAIN);
        let h = Harness::with(test_db.engine, SimConfig::default(), dir.path(), "basic").await;
        let recorded = h
            .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;

        let templates = tempfile::tempdir().expect("temp dir");
        for entry in std::fs::read_dir(
            h.config
                .mapping
                .templates_dir
                .as_ref()
                .expect("a templates folder"),
        )
        .expect("templates")
        {
            let path = entry.expect("entry").path();
            std::fs::copy(
                &path,
                templates.path().join(path.file_name().expect("name")),
            )
            .expect("copy");
        }
        std::fs::write(
            templates.path().join("close_notes.hbs"),
            "Closed: {{no_such_variable}}\n",
        )
        .expect("break the close notes");
        let mut mapping = h.config.mapping.clone();
        mapping.templates_dir = Some(templates.path().to_path_buf());
        let pipeline = snowsync::pipeline::load(&mapping).expect("pipeline");
        let intake = snowsync::intake::Intake::new(
            h.db.clone(),
            pipeline.into(),
            std::sync::Arc::new(tokio::sync::Notify::new()),
        );

        let err = intake
            .event_for_id(recorded.finding_id, SourceEvent::Resolved, "test")
            .await
            .expect_err("the close notes do not render");
        let snowsync::intake::IntakeError::Plan(plan) = err else {
            panic!("a planning error, got {err}");
        };
        assert_eq!(plan.kind, PlanErrorKind::TemplateFailed);
        assert!(plan.origin.contains("close_notes.hbs"), "{}", plan.origin);

        let stored = snowsync::store::findings::get(&h.db, recorded.finding_id)
            .await
            .expect("read")
            .expect("finding");
        assert_eq!(
            stored.status,
            FindingStatus::Open,
            "the finding stays as it was"
        );
        let trail = snowsync::store::findings::audit_trail(&h.db, recorded.finding_id)
            .await
            .expect("trail");
        let refusal = trail.last().expect("an audit row");
        assert_eq!(refusal.event, "resolved");
        assert_eq!(refusal.to_status, "open");
        let detail: serde_json::Value =
            serde_json::from_str(refusal.detail.as_deref().expect("detail")).expect("json");
        assert_eq!(detail["plan_error"]["kind"], "template_failed");
        assert!(
            detail["plan_error"]["origin"]
                .as_str()
                .is_some_and(|o| o.contains("close_notes.hbs")),
            "{detail}"
        );
    }
);

on_both_engines!(
    outbox_retry_of_dead_rows_revives_only_those_matching_the_finding_and_operation,
    |test_db| {
        let dir = tempfile::tempdir().expect("temp dir");
        let broken = PLAIN.replace(
            "caller = \"none\"",
            "caller = \"none\"\nassignment_group = \"Servce Desk\"",
        );
        mappings(dir.path(), &broken);
        let h = Harness::with(test_db.engine, SimConfig::default(), dir.path(), "basic").await;
        let a = h
            .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        let b = h
            .failing(&finding("inactive-users", "li.wei@simubiz.com"))
            .await;
        h.drain().await;
        let fixed = PLAIN.replace(
            "caller = \"none\"",
            "caller = \"none\"\nassignment_group = \"Service Desk\"",
        );
        mappings(dir.path(), &fixed);
        let pipeline = snowsync::pipeline::load(&h.config.mapping).expect("fixed mappings");
        let status = |id| {
            let db = h.db.clone();
            async move { outbox::of_finding(&db, id).await.expect("rows")[0].status }
        };
        use snowsync::operation::OpKind;
        use snowsync::store::outbox::RowStatus;

        let (report, all) = snowsync::cli::admin::outbox_retry_dead(
            &h.db,
            Some(a.finding_id),
            Some(OpKind::UpdateTicket),
            &pipeline,
        )
        .await
        .expect("retry");
        assert!(all && report.contains("no dead rows match"), "{report}");
        assert_eq!(
            (status(a.finding_id).await, status(b.finding_id).await),
            (RowStatus::Dead, RowStatus::Dead)
        );

        let (report, all) = snowsync::cli::admin::outbox_retry_dead(
            &h.db,
            Some(a.finding_id),
            Some(OpKind::CreateTicket),
            &pipeline,
        )
        .await
        .expect("retry");
        assert!(all, "{report}");
        assert_eq!(
            (status(a.finding_id).await, status(b.finding_id).await),
            (RowStatus::Pending, RowStatus::Dead)
        );

        let (report, all) = snowsync::cli::admin::outbox_retry_dead(&h.db, None, None, &pipeline)
            .await
            .expect("retry");
        assert!(
            all && report.contains("rendered from the current mappings"),
            "{report}"
        );
        h.drain().await;
        assert_eq!(
            (status(a.finding_id).await, status(b.finding_id).await),
            (RowStatus::Done, RowStatus::Done)
        );
        assert_eq!(h.stats().await.tables["incident"].records, 2);
    }
);

on_both_engines!(
    a_queued_caller_no_lookup_can_carry_is_left_out_and_the_ticket_is_created,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        let recorded = h
            .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        // A row queued before intake dropped such callers: its caller cannot go into an
        // encoded query. Such rows predate the digest's enrichment from sys_user too.
        let row = outbox::get(&h.db, recorded.outbox_ids[0])
            .await
            .expect("read")
            .expect("the create row");
        let mut payload = row.payload.clone();
        payload["references"]["caller_id"]["name"] = "ana^souza".into();
        if let Some(fields) = payload.as_object_mut() {
            fields.remove("enrichment");
        }
        let stmt = sea_orm::Statement::from_sql_and_values(
            h.db.get_database_backend(),
            "UPDATE outbox SET payload = $1 WHERE id = $2",
            [payload.into(), row.id.into()],
        );
        sea_orm::ConnectionTrait::execute_raw(&h.db, stmt)
            .await
            .expect("rewrite the payload");

        h.drain().await;
        let stats = h.stats().await;
        assert_eq!(stats.records("incident"), 1, "{:?}", stats.requests);
        assert_eq!(stats.requests_to("GET", "/api/now/table/sys_user"), 0);
        assert!(
            outbox::list(&h.db, Some(outbox::RowStatus::Dead), 10)
                .await
                .expect("dead rows")
                .is_empty()
        );
    }
);
