//! The binary's foundation commands: `migrate` on both engines, `check` on good and bad files.

mod support;

use std::process::Command;

fn snowsync(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_snowsync"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("SNOWSYNC_CONFIG")
        .output()
        .expect("run snowsync")
}

#[test]
fn migrate_creates_the_tables_in_a_new_sqlite_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
    let output = snowsync(&["migrate", "--database", &url]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("migrations applied"));
    assert!(dir.path().join("x.db").exists());
}

#[test]
fn migrate_creates_the_tables_in_postgresql() {
    // A database of its own, so the test can run beside the others.
    let name = format!("snowsync_cli_{}", uuid::Uuid::new_v4().simple());
    let admin = support::postgres_url();
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .expect("a database in the URL");
    let created = Command::new("psql")
        .args([&admin, "-qc", &format!("CREATE DATABASE {name}")])
        .status();
    if !matches!(created, Ok(s) if s.success()) {
        panic!("cannot create a test database with psql on {admin}");
    }
    let url = format!("{base}/{name}");
    let output = snowsync(&["migrate", "--database", &url]);
    let tables = Command::new("psql").args([&url, "-tAc", "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('findings','ticket_links','outbox','poll_cursors','leases','audit')"]).output();
    let _ = Command::new("psql")
        .args([&admin, "-qc", &format!("DROP DATABASE {name}")])
        .status();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&tables.expect("psql").stdout).trim(),
        "6"
    );
}

#[test]
fn check_with_an_unknown_key_fails_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[outbox]\nworkers = 2\nretries = 5\n").expect("write");
    let output = snowsync(&[
        "--config",
        file.to_str().expect("utf-8"),
        "check",
        "--offline",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("outbox.retries") && stderr.contains("bad.toml:3"),
        "{stderr}"
    );
}

#[test]
fn check_with_a_valid_file_succeeds_and_prints_no_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("good.toml");
    let canary = "canary-password-4242-never-printed";
    std::fs::write(
        &file,
        format!(
            "[servicenow]\nusername = \"snowsync.integration\"\npassword = \"{canary}\"\n[mapping]\nrules_dir = \"{}\"\ntemplates_dir = \"{}\"\n",
            support::harness::repo_path("mappings").display(),
            support::harness::repo_path("templates").display()
        ),
    )
    .expect("write");
    let output = snowsync(&[
        "--config",
        file.to_str().expect("utf-8"),
        "check",
        "--offline",
    ]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{all}");
    assert!(!all.contains(canary), "check printed the password");
    assert!(all.contains("password set"), "{all}");
}

#[test]
fn a_log_level_option_that_is_not_a_filter_is_a_usage_error_naming_the_option() {
    let output = snowsync(&["--log-level", "snowsync=¡", "check", "--offline"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--log-level") && stderr.contains("not ASCII"),
        "{stderr}"
    );
}
