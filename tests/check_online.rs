//! `snowsync check` against the emulator over HTTP: the mappings' reference values, custom
//! fields and choices checked on the instance, and `--offline`.

mod servicenow_support;

use std::path::{Path, PathBuf};

use servicenow_support::start_sim;
use snowsync::config::Config;
use snowsync::mapping;
use snowsync::servicenow::report::Level;
use snowsync::sim::{self, SimConfig, SimHandle};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A mapping directory holding one file `m.toml` with `text`.
fn mapping_dir(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.toml");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

/// One incident profile with `extra` appended to it.
fn incident_profile(extra: &str) -> String {
    format!(
        "[default]\nprofile = \"p\"\n\n[profile.p]\ntable = \"incident\"\nassignment_group = \"Service Desk\"\n{extra}"
    )
}

/// The `FAIL` lines of checking the mappings in `text` against the emulator.
async fn failures(text: &str) -> (Vec<String>, PathBuf) {
    let (_sim, client) = start_sim().await;
    let (dir, file) = mapping_dir(text);
    let mappings = mapping::load(dir.path()).unwrap();
    let lines = snowsync::cli::check::mappings_online(&client, &mappings).await;
    let failed = lines
        .iter()
        .filter(|l| l.level == Level::Fail)
        .map(|l| l.to_string())
        .collect();
    (failed, file)
}

#[tokio::test]
async fn the_starter_mappings_pass_against_the_emulator() {
    let (_sim, client) = start_sim().await;
    let mappings = mapping::load(&root().join("mappings")).unwrap();
    let lines: Vec<String> = snowsync::cli::check::mappings_online(&client, &mappings)
        .await
        .iter()
        .map(|l| l.to_string())
        .collect();
    let text = lines.join("\n");
    assert!(lines.iter().all(|l| l.starts_with("ok   ")), "{text}");
    for expected in [
        "profile.approval.assignment_group: assignment group `Service Desk` found (sys_id ",
        "profile.identity.business_service: business service `Identity Management` found (sys_id ",
        "ok   custom mappings onto String fields of incident: u_check_id, u_finding_key, u_source, u_source_url",
        "ok   close_code choices of incident: Solution provided",
        "ok   state choices of sc_request: 1 (Open), 2 (Work in Progress), 3 (Closed Complete)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[tokio::test]
async fn a_custom_mapping_onto_a_reference_field_is_refused_with_the_field_its_type_and_where() {
    let (failed, file) = failures(&incident_profile(
        "\n[profile.p.fields]\nu_source = \"{{source}}\"\nu_affected_user = \"{{subject.login}}\"\n",
    ))
    .await;
    assert_eq!(
        failed,
        [format!(
            "FAIL {}:10: profile.p.fields.u_affected_user: `u_affected_user` is a reference field (to sys_user) of incident; only String fields can be mapped",
            file.display()
        )]
    );
}

#[tokio::test]
async fn a_custom_mapping_onto_an_integer_field_is_refused_with_the_field_and_its_type() {
    let (failed, file) = failures(&incident_profile(
        "\n[profile.p.fields]\nu_occurrences = \"{{occurrences}}\"\n",
    ))
    .await;
    assert_eq!(
        failed,
        [format!(
            "FAIL {}:9: profile.p.fields.u_occurrences: `u_occurrences` is a field of type integer on incident; only String fields can be mapped",
            file.display()
        )]
    );
}

#[tokio::test]
async fn a_custom_mapping_onto_an_unknown_field_is_refused_by_name() {
    let (failed, file) = failures(&incident_profile(
        "\n[profile.p.fields]\nu_no_such_field = \"{{key}}\"\n",
    ))
    .await;
    assert_eq!(
        failed,
        [format!(
            "FAIL {}:9: profile.p.fields.u_no_such_field: `u_no_such_field` is not a field of incident",
            file.display()
        )]
    );
}

#[tokio::test]
async fn an_unknown_assignment_group_is_refused_naming_the_value() {
    let (failed, file) = failures(
        "[default]\nprofile = \"p\"\n\n[profile.p]\ntable = \"incident\"\nassignment_group = \"Night Shift\"\n",
    )
    .await;
    assert_eq!(
        failed,
        [format!(
            "FAIL {}:6: profile.p.assignment_group: assignment group `Night Shift`: no sys_user_group record matches",
            file.display()
        )]
    );
}

#[tokio::test]
async fn an_assignment_group_name_shared_by_two_groups_is_refused_listing_both() {
    let (failed, _) = failures(
        "[default]\nprofile = \"p\"\n\n[profile.p]\ntable = \"incident\"\nassignment_group = \"Hardware\"\n",
    )
    .await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].contains("profile.p.assignment_group: assignment group `Hardware`: several sys_user_group records match (Hardware ("),
        "{failed:?}"
    );
    assert_eq!(failed[0].matches("Hardware (").count(), 2, "{failed:?}");
}

#[tokio::test]
async fn an_unknown_close_code_is_refused_naming_it() {
    let (failed, file) = failures(&incident_profile("close_code = \"Fixed by magic\"\n")).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].starts_with(&format!(
            "FAIL {}:7: profile.p.close_code: `Fixed by magic` is not a close_code choice of incident (choices: Duplicate, ",
            file.display()
        )),
        "{failed:?}"
    );
}

#[tokio::test]
async fn a_request_state_missing_from_the_task_choices_is_refused() {
    let (failed, file) = failures(
        "[default]\nprofile = \"r\"\n\n[profile.r]\ntable = \"sc_request\"\nassignment_group = \"Service Desk\"\nescalation_state = 5\n",
    )
    .await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].starts_with(&format!(
            "FAIL {}:7: profile.r.escalation_state: `5` is not a state choice of sc_request (choices: -5, 1, 2, 3, 4, 7)",
            file.display()
        )),
        "{failed:?}"
    );
}

/// A configuration file for the emulator, with the mappings in `rules_dir` and the starter
/// templates.
fn write_config(dir: &Path, sim: &SimHandle, password: &str, rules_dir: &Path) -> PathBuf {
    let (user, _) = sim.integration_credentials();
    let text = format!(
        r#"[servicenow]
instance_url = "{}"
auth = "basic"
username = "{user}"
password = "{password}"

[mapping]
rules_dir = "{}"
templates_dir = "{}"
"#,
        sim.base_url(),
        rules_dir.display(),
        root().join("templates").display()
    );
    let path = dir.join("snowsync.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn load(path: &Path) -> Config {
    Config::load(Some(path), std::iter::empty()).unwrap()
}

#[tokio::test]
async fn offline_check_contacts_nothing() {
    let sim = sim::spawn(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = load(&write_config(
        dir.path(),
        &sim,
        "snowsync",
        &root().join("mappings"),
    ));
    let report = snowsync::cli::check::run(&config, true).await;
    assert!(!report.failed, "{:#?}", report.lines);
    assert!(
        report
            .lines
            .last()
            .unwrap()
            .starts_with("skip ServiceNow (--offline)"),
        "{:#?}",
        report.lines
    );
    assert_eq!(sim.stats().await.requests_total, 0);
}

#[tokio::test]
async fn mappings_are_not_checked_on_the_instance_when_authentication_fails() {
    let sim = sim::spawn(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = load(&write_config(
        dir.path(),
        &sim,
        "not-the-password",
        &root().join("mappings"),
    ));
    let report = snowsync::cli::check::run(&config, false).await;
    assert!(report.failed);
    let tail: Vec<&str> = report
        .lines
        .iter()
        .skip_while(|l| !l.starts_with("FAIL"))
        .map(String::as_str)
        .collect();
    assert_eq!(tail.len(), 2, "{:#?}", report.lines);
    assert!(tail[0].starts_with("FAIL wrong credentials"), "{tail:?}");
    assert_eq!(
        tail[1],
        "skip mappings against the instance: authentication failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_against_the_emulator_rejects_a_custom_mapping_onto_a_reference_field_and_names_it() {
    let sim = sim::spawn(SimConfig::default()).await.unwrap();
    let (rules, file) = mapping_dir(&incident_profile(
        "\n[profile.p.fields]\nu_affected_user = \"{{subject.login}}\"\n",
    ));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, "snowsync", rules.path());
    let out = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_snowsync"));
        command.args(["check", "--config", config.to_str().unwrap()]);
        for (name, _) in std::env::vars() {
            if name.starts_with("SNOWSYNC_") || name.to_ascii_lowercase().ends_with("_proxy") {
                command.env_remove(name);
            }
        }
        command.output().unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("ok   authentication"), "{text}");
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(
        failed,
        [format!(
            "FAIL {}:9: profile.p.fields.u_affected_user: `u_affected_user` is a reference field (to sys_user) of incident; only String fields can be mapped",
            file.display()
        )
        .as_str()],
        "{text}"
    );
}

/// One security incident profile, on line 4, writing to `sn_si_incident` (line 5).
const SECURITY_INCIDENT_PROFILE: &str = "[default]\nprofile = \"sir\"\n\n[profile.sir]\ntable = \"sn_si_incident\"\nassignment_group = \"Security Operations\"\n";

#[tokio::test]
async fn check_fails_naming_the_plugin_when_the_instance_has_no_security_incident_table() {
    let sim = sim::spawn(SimConfig {
        security_incident_response: false,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (rules, file) = mapping_dir(SECURITY_INCIDENT_PROFILE);
    let dir = tempfile::tempdir().unwrap();
    let config = load(&write_config(dir.path(), &sim, "snowsync", rules.path()));
    let report = snowsync::cli::check::run(&config, false).await;
    assert!(report.failed, "{:#?}", report.lines);
    let failed: Vec<&String> = report
        .lines
        .iter()
        .filter(|l| l.starts_with("FAIL"))
        .collect();
    assert_eq!(failed.len(), 1, "{:#?}", report.lines);
    let expected = format!(
        "FAIL {}:5: profile.sir.table: `sn_si_incident` is not a table of the instance: the Security Incident Response plugin (com.snc.security_incident) is not installed (",
        file.display()
    );
    assert!(failed[0].starts_with(&expected), "{}", failed[0]);
    assert!(
        failed[0].contains("Invalid table sn_si_incident"),
        "{}",
        failed[0]
    );
}

#[tokio::test]
async fn a_security_incident_profile_passes_against_an_instance_with_the_plugin() {
    let (_sim, client) = start_sim().await;
    let (dir, _) = mapping_dir(SECURITY_INCIDENT_PROFILE);
    let mappings = mapping::load(dir.path()).unwrap();
    let lines: Vec<String> = snowsync::cli::check::mappings_online(&client, &mappings)
        .await
        .iter()
        .map(|l| l.to_string())
        .collect();
    let text = lines.join("\n");
    assert!(lines.iter().all(|l| l.starts_with("ok   ")), "{text}");
    for expected in [
        "ok   Security Incident Response installed: read access to sn_si_incident (0 records visible)",
        "ok   state choices of sn_si_incident: 16 (Analysis), 100 (Review), 3 (Closed), 7 (Cancelled)",
        "ok   close_code choices of sn_si_incident: Threat mitigated",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}
