//! `snowsync check` and `snowsync fields`, run as the binary against the emulator.

use std::path::Path;
use std::process::Output;

use snowsync::sim::{self, SimConfig, SimHandle};

fn write_config(dir: &Path, sim: &SimHandle, auth: &str, password: &str) -> std::path::PathBuf {
    let (user, _) = sim.integration_credentials();
    let (client_id, secret) = sim.oauth_client();
    // Written without the trailing `/`: the configuration normalises it.
    let instance = sim.base_url().as_str().trim_end_matches('/').to_owned();
    let text = format!(
        r#"[servicenow]
instance_url = "{instance}"
auth = "{auth}"
client_id = "{client_id}"
client_secret = "{secret}"
username = "{user}"
password = "{password}"

[database]
url = "sqlite://{}/snowsync.db?mode=rwc"
"#,
        dir.display()
    );
    let path = dir.join(format!("{auth}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

async fn snowsync(args: &[&str]) -> Output {
    snowsync_with_env(args, &[]).await
}

async fn snowsync_with_env(args: &[&str], env: &[(&str, String)]) -> Output {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_snowsync"));
        command.args(&args);
        for var in [
            "SNOWSYNC_SERVICENOW__PASSWORD",
            "SNOWSYNC_CONFIG",
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            command.env_remove(var);
        }
        command.envs(env).output().unwrap()
    })
    .await
    .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_succeeds_against_the_emulator_in_each_auth_mode() {
    let sim = sim::spawn(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, password) = sim.integration_credentials();
    for auth in ["basic", "oauth_password", "oauth_client_credentials"] {
        let config = write_config(dir.path(), &sim, auth, &password);
        let out = snowsync(&["check", "--config", config.to_str().unwrap()]).await;
        let text = stdout(&out);
        assert!(
            out.status.success(),
            "{auth}:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("ok   authentication"), "{text}");
        assert!(text.contains("ok   read access to incident"), "{text}");
        assert!(text.contains("ok   read access to sc_request"), "{text}");
        assert!(text.contains("ok   tags can be written"), "{text}");
        assert!(text.contains("ok   Batch API"), "{text}");
        assert!(!text.contains("FAIL"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_warns_that_delivery_goes_one_request_per_write_when_the_batch_api_is_refused() {
    let sim = sim::spawn(SimConfig::default()).await.unwrap();
    sim.set_faults(
        snowsync::sim::Faults::none()
            .with_rule(snowsync::sim::FaultRule::error(403, 1.0).on("POST", "/api/now/v1/batch")),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (_, password) = sim.integration_credentials();
    let config = write_config(dir.path(), &sim, "basic", &password);
    let out = snowsync(&["check", "--config", config.to_str().unwrap()]).await;
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "a refused Batch API is not a failure:\n{text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains("Batch API"))
        .unwrap_or_else(|| panic!("no Batch API line:\n{text}"));
    assert!(line.starts_with("warn Batch API refused"), "{line}");
    assert!(
        line.contains("403") && line.contains("one request per write"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_fails_with_a_clear_line_when_the_password_is_wrong() {
    let sim = sim::spawn(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for auth in ["basic", "oauth_password"] {
        let config = write_config(dir.path(), &sim, auth, "not-the-password");
        let out = snowsync(&["check", "--config", config.to_str().unwrap()]).await;
        let text = stdout(&out);
        assert!(!out.status.success(), "{auth}:\n{text}");
        let fail: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
        assert_eq!(fail.len(), 1, "{text}");
        assert!(fail[0].starts_with("FAIL wrong credentials"), "{text}");
        assert!(fail[0].contains("401"), "{text}");
        assert!(!text.contains("not-the-password"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_string_only_lists_string_fields_and_not_references_or_integers() {
    let sim = sim::spawn(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, password) = sim.integration_credentials();
    let config = write_config(dir.path(), &sim, "basic", &password);
    let out = snowsync(&[
        "fields",
        "--table",
        "incident",
        "--string-only",
        "--config",
        config.to_str().unwrap(),
    ])
    .await;
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for present in [
        "short_description",
        "description",
        "u_finding_key",
        "u_source",
    ] {
        assert!(names.contains(&present), "{present}:\n{text}");
    }
    for absent in [
        "assignment_group",
        "caller_id",
        "u_affected_user",
        "u_occurrences",
        "impact",
    ] {
        assert!(!names.contains(&absent), "{absent}:\n{text}");
    }
    let short = text
        .lines()
        .find(|l| l.starts_with("short_description "))
        .unwrap();
    assert!(
        short.split_whitespace().any(|w| w.parse::<u32>().is_ok()),
        "max length shown: {short}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_proxy_variables_are_honoured() {
    // The emulator answers proxied requests; the `.test` host cannot resolve, so `check` can
    // only succeed through the proxy.
    let sim = sim::spawn(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, password) = sim.integration_credentials();
    let config = write_config(dir.path(), &sim, "basic", &password);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(
            sim.base_url().as_str().trim_end_matches('/'),
            "http://servicenow.snowsync.test",
        )
        .replace("[servicenow]", "[servicenow]\nallow_insecure_http = true");
    std::fs::write(&config, text).unwrap();
    let proxy = sim.base_url().as_str().trim_end_matches('/').to_owned();
    let out = snowsync_with_env(
        &["check", "--config", config.to_str().unwrap()],
        &[("HTTP_PROXY", proxy)],
    )
    .await;
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("ok   authentication to http://servicenow.snowsync.test/"),
        "{text}"
    );
    assert!(sim.stats().await.requests_total > 0);
}
