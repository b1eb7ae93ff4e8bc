//! `snowsync sim` as a command: flags, the banner, and serving until stopped.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use clap::Parser;
use snowsync::cli::{Cli, Command as Cmd};
use snowsync::sim::{AfterCommit, Fault, FaultRule};

fn sim_args(args: &[&str]) -> snowsync::sim::cli::SimArgs {
    let argv = ["snowsync", "sim"].iter().chain(args).copied();
    match Cli::try_parse_from(argv).expect("flags parse").command {
        Cmd::Sim(a) => *a,
        other => panic!("not the sim command: {other:?}"),
    }
}

#[test]
fn flags_set_accounts_and_faults() {
    let config = sim_args(&[
        "--listen",
        "127.0.0.1:0",
        "--integration-user",
        "svc",
        "--expires-in",
        "60",
        "--seed",
        "9",
        "--error-rate",
        "0.05",
        "--commit-then-fail-rate",
        "0.02",
        "--rate-limit-per-hour",
        "100",
        "--no-client-credentials",
    ])
    .config()
    .expect("valid flags");
    assert_eq!(config.integration.user_name, "svc");
    assert_eq!(config.help_desk.user_name, "help.desk");
    assert_eq!(config.expires_in, 60);
    assert!(!config.client_credentials_enabled);
    assert_eq!(config.faults.seed, Some(9));
    assert_eq!(
        config.faults.rules,
        [
            FaultRule::error(500, 0.05),
            FaultRule::commit_then_fail(AfterCommit::Error, 0.02)
        ]
    );
    assert_eq!(config.faults.rate_limit.map(|r| r.per_hour), Some(100));
    assert!(matches!(FaultRule::hang(1.0).fault, Fault::Hang));
}

#[test]
fn the_security_incident_response_plugin_is_installed_unless_turned_off() {
    assert!(sim_args(&[]).config().unwrap().security_incident_response);
    let without = sim_args(&["--no-security-incident-response"])
        .config()
        .unwrap();
    assert!(!without.security_incident_response);
}

#[test]
fn a_share_outside_zero_to_one_is_refused_with_its_flag() {
    let err = sim_args(&["--error-rate", "5"]).config().unwrap_err();
    assert_eq!(
        err.to_string(),
        "--error-rate must be between 0 and 1, got 5"
    );
}

#[test]
fn a_faults_file_that_is_not_valid_json_names_where() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faults.json");
    std::fs::write(&path, r#"{"burst": {"requests": "many"}}"#).unwrap();
    let err = sim_args(&["--faults", path.to_str().unwrap()])
        .config()
        .unwrap_err();
    assert!(err.to_string().contains("burst.requests"), "{err}");
}

#[tokio::test]
async fn snowsync_sim_serves_until_stopped_and_prints_the_defaults() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_snowsync"))
        .args(["sim", "--listen", "127.0.0.1:0"])
        .env_remove("SNOWSYNC_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("snowsync starts");
    let stdout = child.stdout.take().unwrap();
    let banner: Vec<String> = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .take(4)
            .map(|l| l.unwrap())
            .collect()
    })
    .await
    .unwrap();
    let url = banner[0].rsplit(' ').next().unwrap().to_owned();
    assert!(
        banner[1].contains("snowsync.integration (password snowsync)"),
        "{banner:?}"
    );
    assert!(
        banner[2].contains("help.desk (password help.desk)"),
        "{banner:?}"
    );
    assert!(
        banner[3].contains("snowsync (secret snowsync-secret)"),
        "{banner:?}"
    );
    let http = reqwest::Client::new();
    let status = http
        .get(format!("{url}api/now/table/incident"))
        .basic_auth("snowsync.integration", Some("snowsync"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let stats: serde_json::Value = http
        .get(format!("{url}sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["requests"]["GET /api/now/table/incident"], 1);
    child.kill().unwrap();
    child.wait().unwrap();
}
