//! Configuration loading: the example file, unknown keys, environment overrides, secrets.

use std::io::Write;

use secrecy::ExposeSecret;
use snowsync::config::{AuthMode, Config};

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn example() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/snowsync.example.toml"
    ))
    .expect("example config")
}

#[test]
fn example_config_parses_with_the_password_from_the_environment() {
    let config = Config::from_toml(
        "snowsync.example.toml",
        &example(),
        vars(&[("SNOWSYNC_SERVICENOW__PASSWORD", "from-env")]),
    )
    .expect("the example config is valid");
    assert_eq!(config.servicenow.auth, AuthMode::Basic);
    assert_eq!(
        config.servicenow.instance_url.as_str(),
        "http://127.0.0.1:18080/"
    );
    assert_eq!(config.outbox.workers, 4);
    assert!(config.sources.contains_key("oort"));
}

#[test]
fn built_in_defaults_run_against_the_local_emulator() {
    let config = Config::from_toml("built-in defaults", "", vars(&[])).expect("defaults are valid");
    assert_eq!(
        config.servicenow.username.as_deref(),
        Some("snowsync.integration")
    );
    assert!(config.database.url.starts_with("sqlite://data/"));
}

#[test]
fn unknown_key_is_rejected_naming_the_key_and_the_line() {
    let text = "[servicenow]\ninstance_url = \"https://acme.service-now.com\"\nusername = \"u\"\npassword = \"p\"\npasword_file = \"x\"\n";
    let err = Config::from_toml("custom.toml", text, vars(&[])).expect_err("unknown key");
    assert_eq!(err.key, "servicenow.pasword_file");
    assert_eq!(err.origin, "custom.toml:5");
    assert!(err.to_string().contains("unknown key"), "{err}");
}

#[test]
fn unknown_section_is_rejected_naming_it() {
    let err = Config::from_toml("custom.toml", "[servicenw]\nx = 1\n", vars(&[]))
        .expect_err("unknown section");
    assert_eq!(err.key, "servicenw");
}

#[test]
fn wrong_type_names_the_key() {
    let text = "[outbox]\nworkers = \"many\"\n";
    let err = Config::from_toml("custom.toml", text, vars(&[])).expect_err("wrong type");
    assert_eq!(err.key, "outbox.workers");
    assert_eq!(err.origin, "custom.toml:2");
}

#[test]
fn environment_override_wins_over_the_file() {
    let text = "[outbox]\nworkers = 2\n[servicenow]\nusername = \"file-user\"\npassword = \"p\"\n";
    let config = Config::from_toml(
        "custom.toml",
        text,
        vars(&[
            ("SNOWSYNC_OUTBOX__WORKERS", "9"),
            ("SNOWSYNC_SERVICENOW__USERNAME", "env-user"),
        ]),
    )
    .expect("valid");
    assert_eq!(config.outbox.workers, 9);
    assert_eq!(config.servicenow.username.as_deref(), Some("env-user"));
}

#[test]
fn numeric_looking_secret_from_the_environment_stays_a_string() {
    let config = Config::from_toml(
        "custom.toml",
        "[servicenow]\nusername = \"u\"\n",
        vars(&[("SNOWSYNC_SERVICENOW__PASSWORD", "123456")]),
    )
    .expect("valid");
    assert_eq!(
        config.servicenow.password.expect("set").expose_secret(),
        "123456"
    );
}

#[test]
fn environment_override_of_an_unknown_key_names_the_variable() {
    let err = Config::from_toml(
        "built-in defaults",
        "",
        vars(&[("SNOWSYNC_OUTBOX__WORKRS", "3")]),
    )
    .expect_err("unknown key");
    assert_eq!(err.origin, "SNOWSYNC_OUTBOX__WORKRS");
    assert_eq!(err.key, "outbox.workrs");
}

#[test]
fn secret_is_read_from_a_file() {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    writeln!(file, "s3cret-from-file").expect("write");
    let text = format!(
        "[servicenow]\nauth = \"oauth_password\"\nclient_id = \"snowsync\"\nclient_secret_file = \"{}\"\nusername = \"u\"\npassword = \"p\"\n",
        file.path().display()
    );
    let config = Config::from_toml("custom.toml", &text, vars(&[])).expect("valid");
    assert_eq!(
        config
            .servicenow
            .client_secret
            .expect("set")
            .expose_secret(),
        "s3cret-from-file"
    );
}

#[test]
fn secret_and_secret_file_together_are_refused() {
    let text = "[servicenow]\nusername = \"u\"\npassword = \"p\"\npassword_file = \"/dev/null\"\n";
    let err = Config::from_toml("custom.toml", text, vars(&[])).expect_err("both set");
    assert_eq!(err.key, "servicenow.password");
}

#[test]
fn debug_output_does_not_contain_any_secret() {
    let canary = "canary-7f3a9c1e-secret";
    let text = format!(
        "[servicenow]\nauth = \"oauth_password\"\nclient_id = \"snowsync\"\nclient_secret = \"{canary}\"\nusername = \"u\"\npassword = \"{canary}\"\n[http]\napi_keys = [\"{canary}\"]\n[sources.oort]\nhmac_secret = \"{canary}\"\n"
    );
    let config = Config::from_toml("custom.toml", &text, vars(&[])).expect("valid");
    let shown = format!("{config:?}");
    assert!(!shown.contains(canary), "Debug leaked a secret");
    assert!(shown.contains("REDACTED"));
    let described = snowsync::cli::describe(&config).join("\n");
    assert!(!described.contains(canary), "check output leaked a secret");
}

#[test]
fn oauth_password_mode_requires_the_client_secret() {
    let text = "[servicenow]\nauth = \"oauth_password\"\nclient_id = \"snowsync\"\nusername = \"u\"\npassword = \"p\"\n";
    let err = Config::from_toml("custom.toml", text, vars(&[])).expect_err("missing secret");
    assert_eq!(err.key, "servicenow.client_secret");
}

#[test]
fn plain_http_to_a_remote_instance_is_refused() {
    let text = "[servicenow]\ninstance_url = \"http://acme.service-now.com\"\nusername = \"u\"\npassword = \"p\"\n";
    let err = Config::from_toml("custom.toml", text, vars(&[])).expect_err("http");
    assert_eq!(err.key, "servicenow.instance_url");
    assert!(err.message.contains("https"));
}

#[test]
fn instance_url_gets_a_trailing_slash() {
    let text = "[servicenow]\ninstance_url = \"https://acme.service-now.com\"\nusername = \"u\"\npassword = \"p\"\n";
    let config = Config::from_toml("custom.toml", text, vars(&[])).expect("valid");
    assert_eq!(
        config.servicenow.instance_url.as_str(),
        "https://acme.service-now.com/"
    );
}
