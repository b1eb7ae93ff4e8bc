//! Planning: the exact field map for each event, references by name, lengths, grouping.

use std::path::Path;

use snowsync::domain::{Finding, ReferenceKind, SourceEvent};
use snowsync::ingest::{self, InputFormat};
use snowsync::mapping::{self, FieldLengths, Mappings, Templates, TicketPlan};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> (Mappings, Templates) {
    (
        mapping::load(&root().join("mappings")).unwrap(),
        mapping::load_templates(&root().join("templates")).unwrap(),
    )
}

fn fixture(name: &str, format: InputFormat) -> Vec<Finding> {
    let body = std::fs::read(root().join("tests/fixtures").join(name)).unwrap();
    ingest::parse(format, &body).unwrap()
}

fn karsch() -> Finding {
    fixture("karsch_generic.json", InputFormat::Generic).remove(0)
}

fn keys(plan: &TicketPlan) -> Vec<&str> {
    plan.fields.keys().map(String::as_str).collect()
}

fn field<'a>(plan: &'a TicketPlan, name: &str) -> &'a str {
    plan.fields[name].as_str().unwrap()
}

#[test]
fn a_first_failing_event_plans_the_whole_incident() {
    let (m, t) = shipped();
    let f = karsch();
    let plan = mapping::plan(&f, SourceEvent::Failing, 1, &m, &t).unwrap();
    assert_eq!(
        (
            plan.rule.as_str(),
            plan.profile.as_str(),
            plan.table.as_str()
        ),
        ("oort-identity-threats", "identity-threat", "incident")
    );
    assert_eq!(
        keys(&plan),
        [
            "category",
            "correlation_id",
            "description",
            "impact",
            "short_description",
            "state",
            "subcategory",
            "u_check_id",
            "u_finding_key",
            "u_source",
            "u_source_url",
            "urgency"
        ]
    );
    assert!(plan.fields.values().all(serde_json::Value::is_string));
    assert_eq!(
        field(&plan, "short_description"),
        "karsch.heuck@simubiz.com failing Oort Check: IP Threat Detected"
    );
    assert_eq!(
        (field(&plan, "impact"), field(&plan, "urgency")),
        ("1", "1")
    );
    assert_eq!(field(&plan, "state"), "1");
    assert_eq!(field(&plan, "correlation_id"), f.key().correlation_id());
    assert_eq!(plan.correlation_id, f.key().correlation_id());
    assert_eq!(
        field(&plan, "u_finding_key"),
        "oort/check/ip-threat-detected/karsch.heuck@simubiz.com"
    );
    let digest =
        std::fs::read_to_string(root().join("tests/fixtures/oort_digest_expected.txt")).unwrap();
    assert_eq!(field(&plan, "description"), digest.trim_end_matches('\n'));
    assert_eq!(
        plan.references["assignment_group"],
        (ReferenceKind::Group, "Security Operations".to_owned())
    );
    assert_eq!(
        plan.references["business_service"],
        (ReferenceKind::Service, "Identity Management".to_owned())
    );
    assert_eq!(
        plan.references["caller_id"],
        (ReferenceKind::User, "karsch.heuck@simubiz.com".to_owned())
    );
    assert_eq!(plan.tags, ["snowsync", "oort", "identity-threat"]);
}

#[test]
fn priority_is_never_planned() {
    let (m, t) = shipped();
    let mut findings = fixture("oort_webhook_test.json", InputFormat::Oort);
    findings.push(karsch());
    findings.extend(fixture("approval_request.json", InputFormat::Approval));
    for f in &findings {
        for (event, n) in [
            (SourceEvent::Failing, 1),
            (SourceEvent::Failing, 2),
            (SourceEvent::Resolved, 1),
            (SourceEvent::Escalated, 1),
        ] {
            let plan = mapping::plan(f, event, n, &m, &t).unwrap();
            assert!(
                !plan.fields.contains_key("priority"),
                "{event:?} {}",
                f.key()
            );
        }
    }
}

#[test]
fn a_repeat_failing_event_is_only_a_work_note() {
    let (m, t) = shipped();
    let plan = mapping::plan(&karsch(), SourceEvent::Failing, 4, &m, &t).unwrap();
    assert_eq!(keys(&plan), ["work_notes"]);
    assert_eq!(
        field(&plan, "work_notes"),
        "IP Threat Detected is still failing for karsch.heuck@simubiz.com: 4 occurrences, last at 2022-09-18 16:08:55 UTC."
    );
    assert!(plan.references.is_empty() && plan.tags.is_empty());
}

#[test]
fn a_resolved_event_moves_the_incident_to_the_auto_close_state_with_code_and_notes() {
    let (m, t) = shipped();
    let plan = mapping::plan(&karsch(), SourceEvent::Resolved, 2, &m, &t).unwrap();
    assert_eq!(keys(&plan), ["close_code", "close_notes", "state"]);
    assert_eq!(field(&plan, "state"), "6");
    assert_eq!(field(&plan, "close_code"), "Solution provided");
    assert!(
        field(&plan, "close_notes")
            .starts_with("Oort reports IP Threat Detected resolved for karsch.heuck@simubiz.com")
    );
}

#[test]
fn an_escalated_event_moves_the_incident_to_the_escalation_state_with_a_note() {
    let (m, t) = shipped();
    let plan = mapping::plan(&karsch(), SourceEvent::Escalated, 2, &m, &t).unwrap();
    assert_eq!(keys(&plan), ["state", "work_notes"]);
    assert_eq!(field(&plan, "state"), "2");
    assert_eq!(
        field(&plan, "work_notes"),
        "Oort escalated this finding: IP Threat Detected for karsch.heuck@simubiz.com."
    );
}

#[test]
fn reopening_puts_the_ticket_back_in_progress_with_a_note() {
    let (m, t) = shipped();
    let plan = mapping::plan_reopen(&karsch(), 5, &m, &t).unwrap();
    assert_eq!(keys(&plan), ["state", "work_notes"]);
    assert_eq!(field(&plan, "state"), "2");
    assert!(
        field(&plan, "work_notes").contains("failing again"),
        "{plan:?}"
    );
}

#[test]
fn an_approval_request_plans_a_service_request_for_the_requesting_user() {
    let (m, t) = shipped();
    let f = fixture("approval_request.json", InputFormat::Approval).remove(0);
    let plan = mapping::plan(&f, SourceEvent::Failing, 1, &m, &t).unwrap();
    assert_eq!(plan.table, "sc_request");
    assert_eq!(
        plan.references["requested_for"],
        (ReferenceKind::User, "dana.reyes@simubiz.com".to_owned())
    );
    assert!(!plan.references.contains_key("caller_id"));
    assert_eq!(
        field(&plan, "short_description"),
        "Approval request: Notepad++ on FIN-LT-042 for dana.reyes@simubiz.com"
    );
    let description = field(&plan, "description");
    for line in [
        "Request ID       : a1b2c3d4",
        "Path             : C:\\Users\\dana\\Downloads\\npp.8.6.Installer.x64.exe",
        "Publisher        : Notepad++ Team",
        "I edit configuration files daily.",
        "https://portal.example.com/approvals/a1b2c3d4",
    ] {
        assert!(
            description.lines().any(|l| l == line),
            "missing {line:?} in\n{description}"
        );
    }
    let closed = mapping::plan(&f, SourceEvent::Resolved, 1, &m, &t).unwrap();
    assert_eq!(keys(&closed), ["close_notes", "state"]);
    assert_eq!(field(&closed, "state"), "3");
}

fn custom(profile_keys: &str) -> Mappings {
    let text =
        format!("[default]\nprofile = \"p\"\n[profile.p]\ntable = \"incident\"\n{profile_keys}");
    mapping::from_texts(&[("m.toml".to_owned(), text)]).unwrap()
}

#[test]
fn the_caller_is_the_subject_a_fixed_user_or_nobody() {
    let (_, t) = shipped();
    let mut f = karsch();
    f.subject.login = "kheuck".into();
    f.subject.email = Some("karsch.heuck@simubiz.com".into());
    let cases = [
        ("", Some("karsch.heuck@simubiz.com")),
        (
            "caller = \"fixed\"\ncaller_user = \"soc.bot\"\n",
            Some("soc.bot"),
        ),
        ("caller = \"none\"\n", None),
    ];
    for (keys, expected) in cases {
        let plan = mapping::plan(&f, SourceEvent::Failing, 1, &custom(keys), &t).unwrap();
        let caller = plan
            .references
            .get("caller_id")
            .map(|(_, name)| name.as_str());
        assert_eq!(caller, expected, "{keys}");
    }
}

#[test]
fn severity_picks_impact_and_urgency_before_the_fixed_values() {
    let (_, t) = shipped();
    let m = custom(
        "impact = 3\nurgency = \"low\"\n[profile.p.severity_map]\nhigh = { impact = \"high\", urgency = 2 }\n",
    );
    let mut f = karsch();
    let plan = mapping::plan(&f, SourceEvent::Failing, 1, &m, &t).unwrap();
    assert_eq!(
        (field(&plan, "impact"), field(&plan, "urgency")),
        ("1", "2")
    );
    f.severity = snowsync::domain::Severity::Low;
    let plan = mapping::plan(&f, SourceEvent::Failing, 1, &m, &t).unwrap();
    assert_eq!(
        (field(&plan, "impact"), field(&plan, "urgency")),
        ("3", "3")
    );
}

#[test]
fn a_profile_without_levels_follows_the_default_severity_map() {
    let (_, t) = shipped();
    let mut f = karsch();
    let levels = |f: &snowsync::domain::Finding, m: &Mappings| {
        let plan = mapping::plan(f, SourceEvent::Failing, 1, m, &t).unwrap();
        (
            field(&plan, "impact").to_owned(),
            field(&plan, "urgency").to_owned(),
        )
    };
    use snowsync::domain::Severity::*;
    for (severity, expected) in [
        (Critical, ("1", "1")),
        (High, ("1", "2")),
        (Medium, ("2", "2")),
        (Low, ("2", "3")),
        (Info, ("3", "3")),
    ] {
        f.severity = severity;
        let got = levels(&f, &custom(""));
        assert_eq!((got.0.as_str(), got.1.as_str()), expected, "{severity}");
    }
    // A fixed value wins for its own level only.
    f.severity = Critical;
    let got = levels(&f, &custom("impact = \"low\"\n"));
    assert_eq!((got.0.as_str(), got.1.as_str()), ("3", "1"));
}

#[test]
fn grouping_by_check_gives_each_ticket_of_a_check_one_correlation_id() {
    let (_, t) = shipped();
    let findings = fixture("oort_webhook_test.json", InputFormat::Oort);
    let grouped = custom("group_by = \"check\"\ngroup_cap = 20\n");
    let logins: Vec<String> = findings.iter().map(|f| f.subject.login.clone()).collect();
    let ticket = |generation| {
        let group = mapping::Group {
            generation,
            members: &findings,
            joined: &logins,
            passing: &[],
            about: &findings[0],
            continues: None,
        };
        mapping::plan_group(
            &group,
            &mapping::GroupChange::Create { note: None },
            &grouped,
            &t,
        )
        .unwrap()
        .correlation_id
    };
    assert_eq!(ticket(1), findings[0].check_key().correlation_id());
    assert_eq!(ticket(1), findings[1].group_correlation_id(1));
    assert_eq!(
        ticket(2),
        findings[0].check_key().correlation_id_of_generation(2)
    );
    // A finding planned alone (one that had its own ticket before the profile grouped)
    // keeps its own id.
    let alone = mapping::plan(&findings[0], SourceEvent::Failing, 2, &grouped, &t).unwrap();
    assert_eq!(alone.correlation_id, findings[0].key().correlation_id());
}

#[test]
fn rendered_values_are_cut_to_the_field_length_at_a_character_boundary() {
    let (_, t) = shipped();
    let m = custom("[profile.p.fields]\nu_title = \"{{title}}\"\nu_note = \"{{title}}\"\n");
    let mut f = karsch();
    f.title = "Ünïcödé 😀 ".repeat(40);
    let mut lengths = FieldLengths::default();
    lengths.set("incident", "u_note", 9);
    let plan = mapping::plan_with(&f, SourceEvent::Failing, 1, &m, &t, &lengths).unwrap();
    let short = field(&plan, "short_description");
    assert_eq!(short.encode_utf16().count(), 160);
    assert!(
        f.title
            .contains(short.split(" failing Oort Check: ").nth(1).unwrap())
    );
    assert_eq!(field(&plan, "u_title").encode_utf16().count(), 255);
    assert_eq!(
        field(&plan, "u_note"),
        "Ünïcödé ",
        "the emoji does not fit in 9"
    );
    assert!(field(&plan, "description").encode_utf16().count() <= 4000);
    let repeat = mapping::plan_with(&f, SourceEvent::Failing, 9, &m, &t, &lengths).unwrap();
    assert!(
        field(&repeat, "work_notes").contains(&f.title),
        "work notes are never cut"
    );
}

#[test]
fn a_custom_field_template_prints_finding_text_verbatim() {
    let (_, t) = shipped();
    let m =
        custom("[profile.p.fields]\nu_user = \"{{subject.display_name}} ({{subject.login}})\"\n");
    let mut f = karsch();
    f.subject.display_name = Some("{{subject.login}}".into());
    let plan = mapping::plan(&f, SourceEvent::Failing, 1, &m, &t).unwrap();
    assert_eq!(
        field(&plan, "u_user"),
        "{{subject.login}} (karsch.heuck@simubiz.com)"
    );
}

#[test]
fn a_template_error_names_the_profile_and_the_mapping_key() {
    let (_, t) = shipped();
    let m = custom("[profile.p.fields]\nu_x = \"{{subject.mail}}\"\n");
    let err = mapping::plan(&karsch(), SourceEvent::Failing, 1, &m, &t).unwrap_err();
    assert_eq!(
        err.to_string(),
        "profile `p`: m.toml:6: profile.p.fields.u_x:1:1: `subject.mail` is not a field of the finding (strict mode)"
    );
}

fn security_incidents() -> Mappings {
    let text = "[default]\nprofile = \"sir\"\n[profile.sir]\ntable = \"sn_si_incident\"\nassignment_group = \"Security Operations\"\n";
    mapping::from_texts(&[("m.toml".to_owned(), text.to_owned())]).unwrap()
}

#[test]
fn a_security_incident_is_planned_for_its_affected_user() {
    let (_, t) = shipped();
    let plan = mapping::plan(
        &karsch(),
        SourceEvent::Failing,
        1,
        &security_incidents(),
        &t,
    )
    .unwrap();
    assert_eq!(plan.table, "sn_si_incident");
    assert_eq!(
        plan.references["affected_user"],
        (ReferenceKind::User, "karsch.heuck@simubiz.com".to_owned())
    );
    assert!(!plan.references.contains_key("caller_id"));
    assert!(
        !plan.fields.contains_key("state"),
        "left to ServiceNow's Draft"
    );
}

#[test]
fn a_resolved_event_closes_a_security_incident_with_its_close_code_and_notes() {
    let (_, t) = shipped();
    let plan = mapping::plan(
        &karsch(),
        SourceEvent::Resolved,
        2,
        &security_incidents(),
        &t,
    )
    .unwrap();
    assert_eq!(keys(&plan), ["close_code", "close_notes", "state"]);
    assert_eq!(field(&plan, "state"), "3");
    assert_eq!(field(&plan, "close_code"), "Threat mitigated");
}
