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
    // Relative to the current folder, made absolute so messages name the file exactly.
    let here = std::env::current_dir().unwrap();
    assert_eq!(
        config.database.url,
        format!("sqlite://{}/data/snowsync.db?mode=rwc", here.display())
    );
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

#[test]
fn an_api_key_without_brackets_is_refused_without_echoing_it() {
    let canary = "canary-api-key-0123456789";
    let err = Config::from_toml(
        "built-in defaults",
        "",
        vars(&[("SNOWSYNC_HTTP__API_KEYS", canary)]),
    )
    .expect_err("a bare string is not a list");
    assert_eq!(err.key, "http.api_keys");
    assert!(!err.to_string().contains(canary), "{err}");
    assert!(
        err.to_string().contains("list"),
        "says what to write: {err}"
    );
}

#[test]
fn a_numeric_secret_in_the_file_is_refused_without_echoing_it() {
    for (section, key) in [
        ("servicenow", "password"),
        ("servicenow", "client_secret"),
        ("poller", "push_secret"),
        ("sources.oort", "hmac_secret"),
    ] {
        let text = format!("[{section}]\n{key} = 987654321987\n");
        let err = Config::from_toml("custom.toml", &text, vars(&[])).expect_err("wrong type");
        assert!(err.key.ends_with(key), "{err}");
        assert!(!err.to_string().contains("987654321987"), "{err}");
        assert!(err.to_string().contains("integer"), "names the type: {err}");
    }
    let listed = "[http]\napi_keys = [987654321987654321]\n";
    let err = Config::from_toml("custom.toml", listed, vars(&[])).expect_err("wrong type");
    assert!(!err.to_string().contains("987654321987654321"), "{err}");
}

#[test]
fn credentials_in_the_instance_url_are_refused_without_echoing_them() {
    let text = "[servicenow]\ninstance_url = \"https://admin:canary-pw@acme.service-now.com\"\nusername = \"u\"\npassword = \"p\"\n";
    let err = Config::from_toml("custom.toml", text, vars(&[])).expect_err("credentials");
    assert_eq!(err.key, "servicenow.instance_url");
    assert!(!err.to_string().contains("canary-pw"), "{err}");
}

/// `text` with the credentials basic auth needs, unless it has a `[servicenow]` section.
fn credentialed(text: &str) -> String {
    if text.contains("[servicenow]") {
        text.to_owned()
    } else {
        format!("[servicenow]\nusername = \"u\"\npassword = \"p\"\n{text}")
    }
}

#[test]
fn counts_are_bounded_with_a_clear_message() {
    for (text, key) in [
        ("[outbox]\nworkers = 100000000000\n", "outbox.workers"),
        ("[outbox]\nworkers = 0\n", "outbox.workers"),
        (
            "[servicenow]\nusername = \"u\"\npassword = \"p\"\nmax_concurrency = 100000000\n",
            "servicenow.max_concurrency",
        ),
        (
            "[database]\nmax_connections = 4000000\n",
            "database.max_connections",
        ),
    ] {
        let err = Config::from_toml("custom.toml", &credentialed(text), vars(&[])).expect_err(text);
        assert_eq!(err.key, key);
        assert!(err.message.contains("between 1 and"), "{err}");
    }
    let float = Config::from_toml(
        "custom.toml",
        &credentialed("[outbox]\nworkers = 1e11\n"),
        vars(&[]),
    )
    .expect_err("a float is not a count");
    assert_eq!(float.key, "outbox.workers");
    let from_env = Config::from_toml(
        "built-in defaults",
        "",
        vars(&[("SNOWSYNC_OUTBOX__WORKERS", "1e11")]),
    )
    .expect_err("a float is not a count");
    assert_eq!(from_env.key, "outbox.workers");
}

#[test]
fn a_webhook_over_plain_http_is_refused_unless_loopback() {
    let remote = "[sources.oort]\nwebhook_url = \"http://hooks.example.com/in\"\n";
    let err =
        Config::from_toml("custom.toml", &credentialed(remote), vars(&[])).expect_err("plain http");
    assert_eq!(err.key, "sources.oort.webhook_url");
    assert!(err.message.contains("https"), "{err}");
    for ok in [
        "http://127.0.0.1:9000/in",
        "http://localhost/in",
        "https://hooks.example.com/in",
    ] {
        let text = format!("[sources.oort]\nwebhook_url = \"{ok}\"\n");
        Config::from_toml("custom.toml", &credentialed(&text), vars(&[])).expect(ok);
    }
}

#[test]
fn a_ca_file_the_client_would_refuse_is_refused_at_load() {
    let dir = tempfile::tempdir().expect("dir");
    for (name, content) in [
        ("empty.pem", "not a certificate\n"),
        (
            "garbage.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("write");
        let text = format!(
            "[servicenow]\nusername = \"u\"\npassword = \"p\"\nca_file = \"{}\"\n",
            path.display()
        );
        let loaded = Config::from_toml("custom.toml", &text, vars(&[]));
        // Whatever load accepts, the client must accept too: the same check both.
        match loaded {
            Err(err) => assert_eq!(err.key, "servicenow.ca_file", "{err}"),
            Ok(config) => {
                snowsync::servicenow::Client::new(&config.servicenow).unwrap_or_else(|e| {
                    panic!("{name}: load accepted what the client refuses: {e}")
                });
            }
        }
    }
    let empty = dir.path().join("empty.pem");
    let text = format!(
        "[servicenow]\nusername = \"u\"\npassword = \"p\"\nca_file = \"{}\"\n",
        empty.display()
    );
    let err = Config::from_toml("custom.toml", &text, vars(&[])).expect_err("no certificate");
    assert!(err.message.contains("no certificate"), "{err}");
}

/// The least `[servicenow]` section a file needs besides the one under test (3 lines).
const SERVICENOW: &str = "[servicenow]\nusername = \"u\"\npassword = \"p\"\n";

#[test]
fn admin_keys_come_from_the_admin_section_and_the_environment() {
    let text = "[servicenow]\nusername = \"u\"\npassword = \"p\"\n[http]\napi_keys = [\"ingest-key-0123456789\"]\n[admin]\napi_keys = [\"admin-key-0123456789\"]\nsession_ttl = \"1h\"\n";
    let config = Config::from_toml("custom.toml", text, vars(&[])).expect("valid");
    assert_eq!(config.admin.api_keys.len(), 1);
    assert_eq!(
        config.admin.api_keys[0].expose_secret(),
        "admin-key-0123456789"
    );
    assert_eq!(
        config.admin.session_ttl,
        std::time::Duration::from_secs(3600)
    );
    let config = Config::from_toml(
        "built-in defaults",
        "",
        vars(&[("SNOWSYNC_ADMIN__API_KEYS", "[\"env-admin-key-0123456789\"]")]),
    )
    .expect("valid");
    assert_eq!(config.admin.api_keys.len(), 1);
    assert_eq!(
        config.admin.session_ttl,
        std::time::Duration::from_secs(8 * 3600)
    );
}

#[test]
fn an_admin_key_that_is_also_an_ingest_key_is_refused_without_echoing_it() {
    let canary = "canary-shared-key-0123456789";
    let text = format!(
        "{SERVICENOW}[http]\napi_keys = [\"{canary}\"]\n[admin]\napi_keys = [\"{canary}\"]\n"
    );
    let err = Config::from_toml("custom.toml", &text, vars(&[])).expect_err("one key, one role");
    assert_eq!(err.key, "admin.api_keys[0]");
    assert!(err.message.contains("http.api_keys"), "{err}");
    assert!(!err.to_string().contains(canary), "{err}");
}

#[test]
fn a_short_admin_key_and_an_unknown_admin_key_are_refused_by_name() {
    let err = Config::from_toml(
        "custom.toml",
        &format!("{SERVICENOW}[admin]\napi_keys = [\"short\"]\n"),
        vars(&[]),
    )
    .expect_err("too short");
    assert_eq!(err.key, "admin.api_keys[0]");
    let err = Config::from_toml(
        "custom.toml",
        &format!("{SERVICENOW}[admin]\npassword = \"x\"\n"),
        vars(&[]),
    )
    .expect_err("unknown key");
    assert_eq!(err.key, "admin.password");
    assert_eq!(err.origin, "custom.toml:5");
    let err = Config::from_toml(
        "custom.toml",
        &format!("{SERVICENOW}[admin]\nsession_ttl = \"0s\"\n"),
        vars(&[]),
    )
    .expect_err("zero");
    assert_eq!(err.key, "admin.session_ttl");
}

#[test]
fn a_log_level_with_a_character_outside_ascii_is_refused_naming_the_key() {
    // Found by proptest: the log filter's own parser panicked on these.
    for level in ["\u{b}0¡=", "\n:¥=x"] {
        let err = Config::from_toml(
            "built-in defaults",
            "",
            vars(&[("SNOWSYNC_LOG__LEVEL", level)]),
        )
        .expect_err("a filter that is not ASCII");
        assert_eq!(err.key, "log.level");
        assert!(err.message.contains("not ASCII"), "{err}");
    }
}
