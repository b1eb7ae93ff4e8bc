//! Mappings as an admin edits them: every mistake of every file in one run, rules an earlier
//! rule always takes, and the admin's own folder tried before the shipped one.

use std::path::Path;

use snowsync::config::MappingConfig;
use snowsync::domain::{Finding, FindingKind, Severity};
use snowsync::mapping;

fn texts(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect()
}

fn shipped() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings")
}

fn finding(source: &str, check_id: &str) -> Finding {
    let mut finding = mapping::check::sample_check_finding();
    finding.source = source.to_owned();
    finding.check_id = check_id.to_owned();
    finding.kind = FindingKind::Check;
    finding.title = "MFA Not Enrolled".to_owned();
    finding.severity = Severity::High;
    finding
}

#[test]
fn every_mistake_of_every_file_is_reported_in_one_run() {
    let errors = mapping::from_texts_all(&texts(&[
        (
            "a.toml",
            "[profile.p]\ntable = \"incident\"\nurgency = 4\nassignment_group = \"\"\nstate = \"frozen\"\n",
        ),
        ("b.toml", "[[rule]]\nname = \"r\"\nprofile = \"p\"\nseverity = \"dire\"\n"),
        ("c.toml", "[default]\nprofile = \"nowhere\"\n[profile.q]\ntable = \"incidnet\"\n"),
    ]))
    .expect_err("four files' worth of mistakes");
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    for expected in [
        "a.toml:3: profile.p.urgency",
        "a.toml:4: profile.p.assignment_group",
        "a.toml:5: profile.p.state",
        "b.toml:4: rule[0].severity",
        "c.toml:1: default.profile: no profile named `nowhere`",
        "c.toml:4: profile.q.table",
    ] {
        assert!(
            shown.iter().any(|line| line.starts_with(expected)),
            "missing {expected:?} in {shown:#?}"
        );
    }
}

#[test]
fn a_file_that_does_not_parse_does_not_hide_the_mistakes_of_the_next() {
    let errors = mapping::from_texts_all(&texts(&[
        ("a.toml", "[profile.p\ntable = \"incident\"\n"),
        (
            "b.toml",
            "[profile.q]\ntable = \"incident\"\npriority = 1\n",
        ),
    ]))
    .expect_err("refused");
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        shown.iter().any(|l| l.starts_with("a.toml:1: (syntax)")),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|l| l.starts_with("b.toml:3: profile.q.priority")),
        "{shown:#?}"
    );
}

#[test]
fn a_rule_after_a_catch_all_of_the_same_source_is_reported_as_never_reached() {
    let m = mapping::from_texts(&texts(&[(
        "m.toml",
        "[[rule]]\nname = \"all-oort\"\nsource = \"oort\"\nprofile = \"p\"\n\n\
         [[rule]]\nname = \"oort-mfa\"\nsource = \"oort\"\ncheck_id = \"mfa-*\"\nprofile = \"p\"\n\n\
         [[rule]]\nname = \"other\"\nsource = \"threatlocker\"\nprofile = \"p\"\n\n\
         [default]\nprofile = \"p\"\n[profile.p]\ntable = \"incident\"\n",
    )]))
    .unwrap();
    let shadowed: Vec<String> = m.shadowed().iter().map(ToString::to_string).collect();
    assert_eq!(shadowed.len(), 1, "{shadowed:#?}");
    assert!(
        shadowed[0].starts_with(
            "m.toml:7: rule `oort-mfa` is never reached: every finding it matches is taken first by m.toml:2: rule `all-oort`"
        ),
        "{shadowed:#?}"
    );
}

#[test]
fn a_narrower_rule_before_a_broader_one_is_not_reported() {
    let m = mapping::from_texts(&texts(&[(
        "m.toml",
        "[[rule]]\nname = \"oort-mfa\"\nsource = \"oort\"\ncheck_id = \"mfa-*\"\nprofile = \"p\"\n\n\
         [[rule]]\nname = \"all-oort\"\nsource = \"oort\"\nprofile = \"p\"\n\n\
         [[rule]]\nname = \"high-oort\"\nsource = \"oort\"\nmin_severity = \"high\"\nprofile = \"p\"\n\n\
         [default]\nprofile = \"p\"\n[profile.p]\ntable = \"incident\"\n",
    )]))
    .unwrap();
    let shadowed: Vec<String> = m.shadowed().iter().map(ToString::to_string).collect();
    // `high-oort` comes after `all-oort`, which takes every oort finding: that one is reported.
    assert_eq!(shadowed.len(), 1, "{shadowed:#?}");
    assert!(shadowed[0].contains("rule `high-oort`"), "{shadowed:#?}");
}

#[test]
fn the_starter_mappings_shadow_nothing() {
    let m = mapping::load(&shipped()).unwrap();
    assert_eq!(m.shadowed(), Vec::new());
}

#[test]
fn the_admins_own_rules_are_tried_before_the_shipped_ones() {
    let local = tempfile::tempdir().unwrap();
    std::fs::write(
        local.path().join("site.toml"),
        "[[rule]]\nname = \"site-mfa\"\nsource = \"oort\"\ncheck_id = \"mfa-flood\"\nprofile = \"site\"\n\
         [profile.site]\ntable = \"incident\"\nassignment_group = \"Site Security\"\n",
    )
    .unwrap();
    let m = mapping::load_all(Some(local.path()), Some(&shipped())).unwrap();
    let chosen = m.select(&finding("oort", "mfa-flood"));
    assert_eq!(chosen.rule.name, "site-mfa");
    assert_eq!(chosen.profile.name, "site");
    // Everything else still goes where the shipped files send it.
    assert_eq!(
        m.select(&finding("oort", "inactive-users")).rule.name,
        "oort-identity-checks"
    );
}

#[test]
fn without_folders_the_starter_files_built_into_the_binary_are_used() {
    let pipeline = snowsync::pipeline::load(&MappingConfig::default()).unwrap();
    assert!(
        pipeline.mappings.files()[0].starts_with("(built-in) mappings/"),
        "{:?}",
        pipeline.mappings.files()
    );
    assert!(pipeline.templates.contains("description"));
}

#[test]
fn check_reports_each_mistake_as_its_own_failed_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.toml"),
        "[default]\nprofile = \"p\"\n[profile.p]\ntable = \"incident\"\nurgency = 9\nstate = \"frozen\"\n",
    )
    .unwrap();
    let report = mapping::check::offline(&MappingConfig {
        rules_dir: Some(dir.path().to_owned()),
        ..MappingConfig::default()
    });
    let failed: Vec<&String> = report
        .lines
        .iter()
        .filter(|l| l.starts_with("FAIL"))
        .collect();
    assert_eq!(failed.len(), 2, "{:#?}", report.lines);
    assert!(failed[0].contains("profile.p.urgency"), "{failed:?}");
    assert!(failed[1].contains("profile.p.state"), "{failed:?}");
}
