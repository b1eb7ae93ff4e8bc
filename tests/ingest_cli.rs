//! `snowsync ingest FILE`: JSON Lines in any format; bad lines reported with their line
//! numbers and skipped, good lines committed.

mod support;

use std::process::Command;

fn snowsync(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_snowsync"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run snowsync")
}

#[test]
fn bad_lines_are_reported_by_number_and_good_lines_are_committed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("snowsync.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}?mode=rwc\"\n[servicenow]\nusername = \"u\"\npassword = \"p\"\n[mapping]\nrules_dir = \"{}\"\ntemplates_dir = \"{}\"\n",
            dir.path().join("s.db").display(),
            support::harness::repo_path("mappings").display(),
            support::harness::repo_path("templates").display(),
        ),
    )
    .expect("config");
    let oort = std::fs::read_to_string(support::harness::repo_path(
        "src/cli/demo/oort_inactive_users.json",
    ))
    .expect("oort event");
    let lines = [
        support::harness::finding("inactive-users", "karsch.heuck@simubiz.com").to_string(),
        "{\"source\": \"oort\", ".to_owned(),
        String::new(),
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&oort).expect("json")).expect("one line"),
        "{\"source\": \"oort\", \"title\": \"x\", \"severity\": \"urgent\", \"check_id\": \"c\", \"subject\": {\"login\": \"a\"}, \"occurred_at\": \"2026-11-01T10:00:00Z\"}".to_owned(),
    ];
    let file = dir.path().join("findings.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("jsonl");

    let output = snowsync(
        &config,
        &["ingest", "--no-progress", file.to_str().expect("utf-8")],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(3),
        "skipped lines make a distinct exit code\n{stderr}"
    );
    assert!(
        stderr.contains("findings.jsonl:2: skipped: invalid JSON"),
        "{stderr}"
    );
    assert!(
        stderr.contains("findings.jsonl:5: skipped: severity"),
        "{stderr}"
    );
    assert!(
        stdout.contains("4 finding(s) recorded (4 new), 2 line(s) skipped"),
        "{stdout}"
    );

    let listed = snowsync(&config, &["findings", "list"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(
        listed
            .lines()
            .filter(|l| l.contains("@simubiz.com"))
            .count(),
        4,
        "{listed}"
    );
    let pending = snowsync(&config, &["outbox", "list", "--state", "pending"]);
    assert!(String::from_utf8_lossy(&pending.stdout).contains("create_ticket"));
}

/// A configuration file for `db` with the starter mappings, in `dir`.
fn config_for(dir: &std::path::Path, db: &support::TestDb) -> std::path::PathBuf {
    let schema = db
        .config
        .schema
        .as_ref()
        .map(|s| format!("schema = \"{s}\"\n"))
        .unwrap_or_default();
    let config = dir.join("snowsync.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n{schema}[servicenow]\nusername = \"u\"\npassword = \"p\"\n[mapping]\nrules_dir = \"{}\"\ntemplates_dir = \"{}\"\n",
            db.config.url,
            support::harness::repo_path("mappings").display(),
            support::harness::repo_path("templates").display(),
        ),
    )
    .expect("config");
    config
}

on_both_engines!(
    an_invalid_utf8_line_or_a_nul_is_reported_by_number_and_the_lines_after_it_are_read,
    |test_db| {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = config_for(dir.path(), &test_db);
        let good = |login: &str| {
            support::harness::finding("inactive-users", login)
                .to_string()
                .into_bytes()
        };
        let mut nul = support::harness::finding("inactive-users", "nul@simubiz.com");
        nul["title"] = serde_json::json!("a\u{0}b");
        let mut bytes = good("one@simubiz.com");
        bytes.extend_from_slice(b"\n{\"source\": \"oort\", \"title\": \"\xff\xfe\"}\n");
        bytes.extend(nul.to_string().into_bytes());
        bytes.extend_from_slice(b"\r\n");
        bytes.extend(good("two@simubiz.com"));
        bytes.push(b'\n');
        let file = dir.path().join("findings.jsonl");
        std::fs::write(&file, bytes).expect("jsonl");

        let output = snowsync(
            &config,
            &["ingest", "--no-progress", file.to_str().expect("utf-8")],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.contains("findings.jsonl:2: skipped: not valid UTF-8"),
            "{stderr}"
        );
        assert!(
            stderr.contains("findings.jsonl:3: skipped: title: contains a NUL"),
            "{stderr}"
        );
        assert!(
            stdout.contains("2 finding(s) recorded (2 new), 2 line(s) skipped"),
            "the line after the bad ones is read: {stdout}"
        );
    }
);

on_both_engines!(
    an_oort_test_event_line_records_nothing_and_is_not_a_skipped_line,
    |test_db| {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = config_for(dir.path(), &test_db);
        let test_event = std::fs::read_to_string(support::harness::repo_path(
            "tests/fixtures/oort_webhook_test.json",
        ))
        .expect("test event");
        let one_line = serde_json::to_string(
            &serde_json::from_str::<serde_json::Value>(&test_event).expect("json"),
        )
        .expect("one line");
        let file = dir.path().join("events.jsonl");
        std::fs::write(&file, format!("{one_line}\n")).expect("jsonl");

        let output = snowsync(
            &config,
            &["ingest", "--no-progress", file.to_str().expect("utf-8")],
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{stdout}");
        assert!(
            stdout.contains("0 finding(s) recorded (0 new), 0 line(s) skipped")
                && stdout.contains("1 Oort test event(s)"),
            "{stdout}"
        );
    }
);
