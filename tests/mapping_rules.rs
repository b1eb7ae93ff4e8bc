//! Rule matching, rule order across files, and what a profile tells the poller.

use std::path::Path;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use snowsync::domain::{Finding, FindingKind, Severity, Subject};
use snowsync::ingest::{self, InputFormat};
use snowsync::mapping::{self, GroupBy, Mappings};

const RULES: &str = r#"
[[rule]]
name = "threat-by-id"
source = "oort"
check_id = ["*threat*", "impossible-travel"]
profile = "p"

[[rule]]
name = "by-title"
title = "MFA Flood"
profile = "p"

[[rule]]
name = "approvals"
kind = "approval"
profile = "p"

[[rule]]
name = "listed-severities"
source = "scanner"
severity = ["critical", "high"]
profile = "p"

[[rule]]
name = "at-least-medium"
source = "scanner"
min_severity = "medium"
profile = "p"

[[rule]]
name = "by-attributes"
attributes = { region = "us-*", tier = 1, internal = true }
profile = "p"

[default]
profile = "p"

[profile.p]
table = "incident"
"#;

fn mappings(text: &str) -> Mappings {
    mapping::from_texts(&[("rules.toml".to_owned(), text.to_owned())]).unwrap()
}

fn finding(
    source: &str,
    kind: FindingKind,
    check_id: &str,
    title: &str,
    severity: Severity,
) -> Finding {
    Finding {
        source: source.to_owned(),
        kind,
        check_id: check_id.to_owned(),
        title: title.to_owned(),
        severity,
        subject: Subject {
            login: "u@example.com".to_owned(),
            ..Subject::default()
        },
        description: vec![],
        recommended_actions: vec![],
        link: None,
        occurred_at: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
        attributes: Default::default(),
        approval: None,
    }
}

#[test]
fn the_first_matching_rule_wins_and_the_default_catches_the_rest() {
    use FindingKind::{Approval, Check};
    use Severity::{Critical, High, Info, Low, Medium};
    let m = mappings(RULES);
    let cases = [
        (
            ("oort", Check, "ip-threat-detected", "x", Low),
            "threat-by-id",
        ),
        (
            ("oort", Check, "IP-THREAT-DETECTED", "x", Low),
            "threat-by-id",
        ),
        (
            ("oort", Check, "impossible-travel", "x", Low),
            "threat-by-id",
        ),
        (("oort", Check, "impossible-travel-2", "x", Low), "default"),
        (("other", Check, "ip-threat-detected", "x", Low), "default"),
        (("oort", Check, "c", "mfa flood", Low), "by-title"),
        (("oort", Check, "c", "MFA Flood!", Low), "default"),
        (
            ("threatlocker", Approval, "approval-request", "x", Low),
            "approvals",
        ),
        (("scanner", Check, "c", "x", Critical), "listed-severities"),
        (("scanner", Check, "c", "x", High), "listed-severities"),
        (("scanner", Check, "c", "x", Medium), "at-least-medium"),
        (("scanner", Check, "c", "x", Low), "default"),
        (("scanner", Check, "c", "x", Info), "default"),
    ];
    for ((source, kind, check, title, severity), expected) in cases {
        let f = finding(source, kind, check, title, severity);
        assert_eq!(
            m.select(&f).rule.name,
            expected,
            "{source} {kind:?} {check} {title} {severity}"
        );
    }
}

#[test]
fn attribute_conditions_all_hold_with_globs_for_text() {
    let m = mappings(RULES);
    let with = |pairs: serde_json::Value| {
        let mut f = finding("x", FindingKind::Check, "c", "t", Severity::Low);
        f.attributes = serde_json::from_value(pairs).unwrap();
        m.select(&f).rule.name.clone()
    };
    let cases = [
        (
            serde_json::json!({"region": "us-east-2", "tier": 1, "internal": true}),
            "by-attributes",
        ),
        (
            serde_json::json!({"region": "US-WEST-1", "tier": 1, "internal": true}),
            "by-attributes",
        ),
        (
            serde_json::json!({"region": "eu-west-1", "tier": 1, "internal": true}),
            "default",
        ),
        (
            serde_json::json!({"region": "us-east-2", "tier": 2, "internal": true}),
            "default",
        ),
        (
            serde_json::json!({"region": "us-east-2", "tier": 1}),
            "default",
        ),
        (
            serde_json::json!({"region": "us-east-2", "tier": "1", "internal": true}),
            "default",
        ),
    ];
    for (attributes, expected) in cases {
        assert_eq!(with(attributes.clone()), expected, "{attributes}");
    }
}

#[test]
fn rules_are_tried_in_file_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let rule =
        |name: &str| format!("[[rule]]\nname = \"{name}\"\nsource = \"oort\"\nprofile = \"p\"\n");
    std::fs::write(dir.path().join("20-late.toml"), rule("late")).unwrap();
    std::fs::write(dir.path().join("10-early.toml"), rule("early")).unwrap();
    std::fs::write(
        dir.path().join("90-default.toml"),
        "[default]\nprofile = \"p\"\n[profile.p]\ntable = \"incident\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a mapping").unwrap();
    let m = mapping::load(dir.path()).unwrap();
    let names: Vec<&str> = m.rules().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["early", "late"]);
    let f = finding("oort", FindingKind::Check, "c", "t", Severity::Low);
    assert_eq!(m.select(&f).rule.name, "early");
}

fn starter() -> Mappings {
    mapping::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings")).unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn starter_rules_route_each_sample_to_its_profile() {
    let m = starter();
    let cases = [
        (
            "karsch_generic.json",
            "oort-identity-threats",
            "identity-threat",
        ),
        ("oort_webhook_test.json", "oort-identity-checks", "identity"),
        ("approval_request.json", "approval-requests", "approval"),
    ];
    for (name, rule, profile) in cases {
        for f in ingest::detect_and_parse(&fixture(name)).unwrap() {
            let s = m.select(&f);
            assert_eq!(
                (s.rule.name.as_str(), s.profile.name.as_str()),
                (rule, profile),
                "{name}"
            );
        }
    }
    let mut threat = finding(
        "oort",
        FindingKind::Check,
        "0f6c",
        "Impossible Travel",
        Severity::High,
    );
    assert_eq!(m.select(&threat).rule.name, "oort-identity-threat-titles");
    threat.source = "scanner".to_owned();
    assert_eq!(m.select(&threat).rule.name, "default");
    assert_eq!(m.select(&threat).profile.name, "general");
}

#[test]
fn profiles_give_the_poller_closed_states_escalation_reopen_window_and_grouping() {
    let m = starter();
    let f = &ingest::parse(InputFormat::Generic, &fixture("karsch_generic.json")).unwrap()[0];
    let p = mapping::profile_for(&m, f);
    assert_eq!(p.name, "identity-threat");
    for (code, closed) in [
        ("6", true),
        ("7", true),
        ("8", true),
        ("1", false),
        ("2", false),
    ] {
        assert_eq!(p.is_closed_state(code), closed, "state {code}");
    }
    let escalate = p.escalate_when.as_ref().unwrap();
    assert!(escalate.matches(|field| (field == "state").then_some("3")));
    assert!(!escalate.matches(|field| (field == "state").then_some("2")));
    assert!(!escalate.matches(|_| None));
    assert_eq!(p.reopen_within, Some(Duration::from_secs(3 * 86_400)));
    assert_eq!(p.group_by, GroupBy::Subject);
    let approval = m.profile("approval").unwrap();
    assert!(approval.is_closed_state("3") && !approval.is_closed_state("6"));
}

#[test]
fn states_are_names_or_codes_and_map_to_servicenow_codes_in_one_place() {
    let m = mappings(
        r#"
[default]
profile = "inc"
[profile.inc]
table = "incident"
state = "New"
auto_close_state = "closed"
escalation_state = "on-hold"
closed_states = ["resolved", 7, "8", "cancelled"]
group_by = "check"
[profile.req]
table = "sc_request"
state = "pending"
auto_close_state = 4
"#,
    );
    let inc = m.profile("inc").unwrap();
    assert_eq!(inc.state.unwrap().value(), "1");
    assert_eq!(inc.auto_close_state.value(), "7");
    assert_eq!(inc.escalation_state.value(), "3");
    assert_eq!(inc.reopen_state.value(), "2");
    let closed: Vec<String> = inc.closed_states.iter().map(|s| s.value()).collect();
    assert_eq!(closed, ["6", "7", "8", "8"]);
    assert_eq!(inc.close_code.as_deref(), Some(mapping::DEFAULT_CLOSE_CODE));
    assert_eq!(
        inc.group_by,
        GroupBy::Check {
            cap: mapping::DEFAULT_GROUP_CAP
        }
    );
    let req = m.profile("req").unwrap();
    assert_eq!(req.state.unwrap().value(), "-5");
    assert_eq!(req.auto_close_state.value(), "4");
    assert_eq!(req.escalation_state.value(), "2");
    assert_eq!(req.close_code, None);
    assert_eq!(req.templates.description, "approval_description");
}

#[test]
fn a_security_incident_profile_defaults_to_the_security_incident_state_model() {
    let m = mappings("[default]\nprofile = \"sir\"\n[profile.sir]\ntable = \"sn_si_incident\"\n");
    let sir = m.profile("sir").unwrap();
    assert_eq!(sir.table.as_str(), "sn_si_incident");
    assert_eq!(sir.state, None, "ServiceNow starts it as a Draft");
    assert_eq!(sir.auto_close_state.value(), "3");
    assert_eq!(
        sir.close_code.as_deref(),
        Some(mapping::DEFAULT_SECURITY_CLOSE_CODE)
    );
    assert_eq!(sir.escalation_state.value(), "16");
    assert_eq!(sir.reopen_state.value(), "16");
    let closed: Vec<String> = sir.closed_states.iter().map(|s| s.value()).collect();
    assert_eq!(closed, ["100", "3", "7"]);
    assert_eq!(sir.templates.description, "description");
}

#[test]
fn a_state_name_means_the_code_of_its_own_table() {
    let m = mappings(
        r#"
[default]
profile = "sir"
[profile.sir]
table = "sn_si_incident"
state = "analysis"
auto_close_state = "closed"
escalation_state = "Contain"
closed_states = ["review", "closed", "cancelled"]
[profile.inc]
table = "incident"
auto_close_state = "closed"
"#,
    );
    let sir = m.profile("sir").unwrap();
    assert_eq!(sir.state.unwrap().value(), "16");
    assert_eq!(sir.auto_close_state.value(), "3");
    assert_eq!(sir.escalation_state.value(), "18");
    let closed: Vec<String> = sir.closed_states.iter().map(|s| s.value()).collect();
    assert_eq!(closed, ["100", "3", "7"]);
    assert_eq!(m.profile("inc").unwrap().auto_close_state.value(), "7");
}

#[test]
fn the_commented_security_incident_example_of_the_starter_mappings_loads_uncommented() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/10-oort.toml"),
    )
    .unwrap();
    let example: String = text
        .lines()
        .skip_while(|l| *l != "# [profile.identity-threat-sir]")
        .filter_map(|l| l.strip_prefix("# "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!example.is_empty(), "the example is in the starter file");
    let m = mappings(&format!(
        "[default]\nprofile = \"identity-threat-sir\"\n{example}"
    ));
    let sir = m.profile("identity-threat-sir").unwrap();
    assert_eq!(sir.table.as_str(), "sn_si_incident");
    assert_eq!(sir.auto_close_state.value(), "3");
    assert_eq!(sir.escalation_state.value(), "16");
    let closed: Vec<String> = sir.closed_states.iter().map(|s| s.value()).collect();
    assert_eq!(closed, ["100", "3", "7"]);
}
