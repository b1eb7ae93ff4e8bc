//! `snowsync check` tells apart why the instance cannot be used, each against the emulator's
//! faults over real HTTP: unreachable, TLS failure, hibernating, wrong credentials, missing role.

use snowsync::config::Config;
use snowsync::servicenow::report::{self, Level, Line};
use snowsync::sim::{self, Fault, FaultRule, Faults, SimConfig, SimHandle};

fn config(instance_url: &str, username: &str, password: &str) -> Config {
    let text = format!(
        "[servicenow]\ninstance_url = \"{instance_url}\"\nauth = \"basic\"\nusername = \"{username}\"\npassword = \"{password}\"\nconnect_timeout = \"2s\"\nrequest_timeout = \"5s\"\n"
    );
    Config::from_toml("test", &text, Vec::new()).expect("valid")
}

fn for_sim(sim: &SimHandle) -> Config {
    let (user, password) = sim.integration_credentials();
    config(sim.base_url().as_str(), &user, &password)
}

fn failed(lines: &[Line]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.level == Level::Fail)
        .map(ToString::to_string)
        .collect()
}

#[tokio::test]
async fn an_instance_nobody_listens_on_is_unreachable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let lines =
        report::check(&config(&format!("http://127.0.0.1:{port}"), "u", "p").servicenow).await;
    let failed = failed(&lines);
    assert_eq!(failed.len(), 1, "{lines:?}");
    assert!(failed[0].starts_with("FAIL unreachable: "), "{failed:?}");
    assert!(failed[0].contains("servicenow.instance_url"), "{failed:?}");
}

#[tokio::test]
async fn https_to_something_that_does_not_speak_tls_is_a_tls_failure() {
    let sim = sim::spawn(SimConfig::default()).await.unwrap();
    let (user, password) = sim.integration_credentials();
    let https = sim.base_url().as_str().replace("http://", "https://");
    let lines = report::check(&config(&https, &user, &password).servicenow).await;
    let failed = failed(&lines);
    assert_eq!(failed.len(), 1, "{lines:?}");
    assert!(failed[0].starts_with("FAIL TLS failure: "), "{failed:?}");
    assert!(failed[0].contains("servicenow.ca_file"), "{failed:?}");
}

#[tokio::test]
async fn a_hibernating_instance_is_told_apart_from_refused_credentials() {
    let sim = sim::spawn(SimConfig::default()).await.unwrap();
    sim.set_faults(Faults::none().with_rule(FaultRule::new(Fault::Hibernate, 1.0)))
        .await;
    let lines = report::check(&for_sim(&sim).servicenow).await;
    let failed = failed(&lines);
    assert_eq!(failed.len(), 1, "{lines:?}");
    assert!(
        failed[0].starts_with("FAIL instance hibernating or not serving the API: "),
        "{failed:?}"
    );
    assert!(!failed[0].contains("credentials"), "{failed:?}");
}

#[tokio::test]
async fn a_wrong_password_is_wrong_credentials() {
    let sim = sim::spawn(SimConfig::default()).await.unwrap();
    let (user, _) = sim.integration_credentials();
    let lines =
        report::check(&config(sim.base_url().as_str(), &user, "not-the-password").servicenow).await;
    let failed = failed(&lines);
    assert_eq!(failed.len(), 1, "{lines:?}");
    assert!(
        failed[0].starts_with("FAIL wrong credentials: "),
        "{failed:?}"
    );
    assert!(!failed[0].contains("not-the-password"), "{failed:?}");
}

#[tokio::test]
async fn a_table_the_user_may_not_read_is_a_missing_role() {
    let sim = sim::spawn(SimConfig::default()).await.unwrap();
    sim.set_faults(
        Faults::none().with_rule(FaultRule::error(403, 1.0).on("GET", "/api/now/table/incident")),
    )
    .await;
    let lines = report::check(&for_sim(&sim).servicenow).await;
    let failed = failed(&lines);
    assert_eq!(failed.len(), 1, "{lines:?}");
    assert!(
        failed[0].starts_with("FAIL read access to incident: missing role: "),
        "{failed:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.to_string().starts_with("ok   read access to sc_request"))
    );
}

#[tokio::test]
async fn label_entry_writes_refused_warn_and_name_the_roles() {
    let sim = sim::spawn(SimConfig {
        deny_label_entry_writes: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let lines = report::check(&for_sim(&sim).servicenow).await;
    assert!(failed(&lines).is_empty(), "{lines:?}");
    let warn: Vec<String> = lines
        .iter()
        .filter(|l| l.level == Level::Warn)
        .map(ToString::to_string)
        .collect();
    assert_eq!(warn.len(), 1, "{lines:?}");
    assert!(warn[0].contains("tags cannot be written"), "{warn:?}");
}

#[test]
fn fields_of_a_table_that_does_not_exist_exits_1() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime.block_on(sim::spawn(SimConfig::default())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (user, password) = sim.integration_credentials();
    std::fs::write(
        dir.path().join("c.toml"),
        format!(
            "[servicenow]\ninstance_url = \"{}\"\nusername = \"{user}\"\npassword = \"{password}\"\n",
            sim.base_url()
        ),
    )
    .unwrap();
    let run = |table: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_snowsync"))
            .args(["--config", "c.toml", "fields", "--table", table])
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let good = run("incident");
    assert_eq!(good.status.code(), Some(0));
    let bad = run("nosuch");
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("table `nosuch` has no fields"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
