//! Table API, Batch API, references, field discovery and tags against the emulator over HTTP.

mod servicenow_support;

use servicenow_support::{answers, fields, sim_config, start_sim, start_sim_with};
use snowsync::config::AuthMode;
use snowsync::servicenow::{
    BatchRequest, Client, Disposition, Journal, ReferenceError, ReferenceKind, report,
};
use snowsync::sim::{FaultRule, Faults, SimConfig};

#[tokio::test]
async fn paging_collects_every_record_once_over_several_pages() {
    let (sim, client) = start_sim().await;
    for i in 0..23 {
        let f = fields(&[
            ("short_description", &format!("paging {i}")),
            ("correlation_id", &format!("snowsync:paging-{i:02}")),
        ]);
        client.create("incident", &f, &[]).await.unwrap();
    }
    let before = sim
        .stats()
        .await
        .requests_to("GET", "/api/now/table/incident");
    let rows = client
        .query(
            "incident",
            "correlation_idSTARTSWITHsnowsync:paging-",
            &["correlation_id"],
            10,
        )
        .await
        .unwrap();
    let mut ids: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.str("correlation_id"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 23);
    let pages = sim
        .stats()
        .await
        .requests_to("GET", "/api/now/table/incident")
        - before;
    assert_eq!(pages, 3);
    assert_eq!(
        answers(&sim, 400).await,
        0,
        "no request for a negative offset"
    );
}

#[tokio::test]
async fn a_record_is_found_by_correlation_id_patched_and_given_journal_entries() {
    let (_sim, client) = start_sim().await;
    let created = client
        .create(
            "incident",
            &fields(&[
                ("short_description", "IP Threat Detected"),
                ("correlation_id", "snowsync:abc"),
            ]),
            &["sys_mod_count"],
        )
        .await
        .unwrap();
    let sys_id = created.sys_id().unwrap();
    let found = client
        .find_by_correlation_id("incident", "snowsync:abc", &["number"])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].sys_id(), Some(sys_id));
    assert!(
        client
            .find_by_correlation_id("incident", "snowsync:none", &[])
            .await
            .unwrap()
            .is_empty()
    );

    let patched = client
        .patch(
            "incident",
            sys_id,
            &fields(&[("urgency", "1")]),
            &["urgency", "sys_mod_count"],
        )
        .await
        .unwrap();
    assert_eq!(patched.str("urgency"), Some("1"));
    let noted = client
        .add_journal(
            "incident",
            sys_id,
            Journal::WorkNotes,
            "seen again",
            &["sys_mod_count"],
        )
        .await
        .unwrap();
    assert!(
        noted.sys_mod_count() > patched.sys_mod_count(),
        "a journal write bumps sys_mod_count"
    );
    assert!(
        client
            .get("incident", "0123456789abcdef0123456789abcdef", &[])
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn references_resolve_by_name_and_ambiguous_or_unknown_names_are_refused() {
    let (sim, client) = start_sim().await;
    let group = client
        .resolve_reference(ReferenceKind::Group, "Service Desk")
        .await
        .unwrap();
    assert_eq!(group.len(), 32);
    client
        .resolve_reference(ReferenceKind::Service, "VPN")
        .await
        .unwrap();
    let by_user_name = client
        .resolve_reference(ReferenceKind::User, "abel.tuter")
        .await
        .unwrap();
    for other in ["Abel Tuter", "abel.tuter@example.com"] {
        assert_eq!(
            client
                .resolve_reference(ReferenceKind::User, other)
                .await
                .unwrap(),
            by_user_name
        );
    }

    let before = sim.stats().await.requests_total;
    client
        .resolve_reference(ReferenceKind::Group, "Service Desk")
        .await
        .unwrap();
    assert_eq!(
        sim.stats().await.requests_total,
        before,
        "resolved names are cached"
    );

    let ambiguous = client
        .resolve_reference(ReferenceKind::Group, "Hardware")
        .await
        .unwrap_err();
    match &ambiguous {
        ReferenceError::Ambiguous { candidates, .. } => assert_eq!(candidates.len(), 2),
        other => panic!("expected ambiguous, got {other:?}"),
    }
    assert!(
        ambiguous
            .to_string()
            .contains("assignment group `Hardware`"),
        "{ambiguous}"
    );
    let missing = client
        .resolve_reference(ReferenceKind::Service, "Mainframe")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ReferenceError::NotFound { .. }),
        "{missing:?}"
    );
    assert!(missing.to_string().contains("`Mainframe`"), "{missing}");
    assert_eq!(missing.classify(), Disposition::GiveUp);
}

#[tokio::test]
async fn concurrent_lookups_of_one_name_cost_one_request() {
    let (sim, client) = start_sim().await;
    let mut lookups = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let client = client.clone();
        lookups.spawn(async move {
            client
                .resolve_reference(ReferenceKind::User, "abel.tuter")
                .await
                .unwrap()
        });
    }
    let ids = lookups.join_all().await;
    assert!(ids.iter().all(|id| id == &ids[0]));
    assert_eq!(
        sim.stats()
            .await
            .requests_to("GET", "/api/now/table/sys_user"),
        1
    );
}

#[tokio::test]
async fn a_name_that_matches_nothing_is_looked_up_once_for_a_burst_of_deliveries() {
    let (sim, client) = start_sim().await;
    for _ in 0..5 {
        let missing = client
            .resolve_reference(ReferenceKind::Group, "No Such Group")
            .await
            .unwrap_err();
        assert!(
            matches!(missing, ReferenceError::NotFound { .. }),
            "{missing:?}"
        );
    }
    assert_eq!(
        sim.stats()
            .await
            .requests_to("GET", "/api/now/table/sys_user_group"),
        1
    );
}

#[tokio::test]
async fn a_failed_lookup_is_not_remembered() {
    let (sim, client) = start_sim().await;
    sim.set_faults(Faults::none().with_rule(FaultRule::error(500, 1.0)))
        .await;
    let failed = client
        .resolve_reference(ReferenceKind::Group, "Service Desk")
        .await
        .unwrap_err();
    assert_ne!(failed.classify(), Disposition::GiveUp, "{failed:?}");
    sim.set_faults(Faults::none()).await;
    client
        .resolve_reference(ReferenceKind::Group, "Service Desk")
        .await
        .expect("asked again once the instance answers");
}

#[tokio::test]
async fn fields_include_those_inherited_from_task_with_type_and_max_length() {
    let (_sim, client) = start_sim().await;
    let all = client.fields("incident").await.unwrap();
    let field = |name: &str| {
        all.iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let short = field("short_description");
    assert!(short.is_string());
    assert_eq!(short.defined_on, "task");
    assert!(short.max_length.is_some());
    assert!(field("description").is_string());
    assert!(field("u_finding_key").is_string());
    assert_eq!(
        field("assignment_group").reference.as_deref(),
        Some("sys_user_group")
    );
    assert_eq!(field("u_occurrences").kind, "integer");
    assert!(field("caller_id").defined_on == "incident");

    let listed = report::fields(&client, "incident", true)
        .await
        .unwrap()
        .join("\n");
    for present in [
        "short_description",
        "description",
        "u_finding_key",
        "u_source",
    ] {
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with(&format!("{present} "))),
            "{present}:\n{listed}"
        );
    }
    for absent in [
        "assignment_group",
        "u_affected_user",
        "u_occurrences",
        "caller_id",
    ] {
        assert!(
            !listed.lines().any(|l| l.starts_with(&format!("{absent} "))),
            "{absent}:\n{listed}"
        );
    }
}

#[tokio::test]
async fn choices_come_from_sys_choice_in_sequence() {
    let (_sim, client) = start_sim().await;
    let states = client.choices("incident", "state").await.unwrap();
    let pairs: Vec<(&str, &str)> = states
        .iter()
        .map(|c| (c.value.as_str(), c.label.as_str()))
        .collect();
    assert!(pairs.contains(&("6", "Resolved")), "{pairs:?}");
    assert_eq!(pairs.first(), Some(&("1", "New")));
}

#[tokio::test]
async fn a_tag_is_created_once_and_attached_once() {
    let (sim, client) = start_sim().await;
    let a = client
        .create("incident", &fields(&[("short_description", "a")]), &[])
        .await
        .unwrap();
    let b = client
        .create("incident", &fields(&[("short_description", "b")]), &[])
        .await
        .unwrap();
    for record in [&a, &a, &b] {
        client
            .add_tag("incident", record.sys_id().unwrap(), "snowsync")
            .await
            .unwrap();
    }
    let other = Client::new(&sim_config(&sim, AuthMode::Basic)).unwrap();
    other
        .add_tag("incident", a.sys_id().unwrap(), "snowsync")
        .await
        .unwrap();
    let stats = sim.stats().await;
    assert_eq!(stats.records("label"), 1);
    assert_eq!(stats.records("label_entry"), 2);
}

#[tokio::test]
async fn a_refused_tag_write_is_a_permanent_403() {
    let (_sim, client) = start_sim_with(SimConfig {
        deny_label_entry_writes: true,
        ..SimConfig::default()
    })
    .await;
    let a = client
        .create("incident", &fields(&[("short_description", "a")]), &[])
        .await
        .unwrap();
    let err = client
        .add_tag("incident", a.sys_id().unwrap(), "snowsync")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert_eq!(err.classify(), Disposition::GiveUp);
}

#[tokio::test]
async fn a_batch_sends_several_requests_in_one_call_and_answers_each() {
    let (sim, client) = start_sim().await;
    let existing = client
        .create("incident", &fields(&[("short_description", "old")]), &[])
        .await
        .unwrap();
    let requests = vec![
        BatchRequest::create(
            "one",
            "incident",
            &fields(&[("short_description", "one")]),
            &["number"],
        )
        .unwrap(),
        BatchRequest::patch(
            "two",
            "incident",
            existing.sys_id().unwrap(),
            &fields(&[("urgency", "1")]),
            &["urgency"],
        )
        .unwrap(),
        BatchRequest::get(
            "three",
            "incident",
            "0123456789abcdef0123456789abcdef",
            &["number"],
        )
        .unwrap(),
    ];
    let batch_calls = || async { sim.stats().await.requests_to("POST", "/api/now/v1/batch") };
    let before = batch_calls().await;
    let answers = client.batch(requests).await.unwrap();
    assert_eq!(
        batch_calls().await - before,
        1,
        "one HTTP call for three requests"
    );
    let ids: Vec<&str> = answers.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["one", "two", "three"]);
    let one = answers[0].result.as_ref().unwrap().first().unwrap();
    assert!(one.number().unwrap().starts_with("INC"));
    let two = answers[1].result.as_ref().unwrap().first().unwrap();
    assert_eq!(two.str("urgency"), Some("1"));
    assert!(answers[2].result.as_ref().unwrap().is_empty());
}
