//! The binary as a new user and an SRE run it: from any folder, with a config file elsewhere,
//! with nothing but the binary; every exit status it documents.

use std::path::Path;
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `snowsync ARGS` run in `dir`, with no configuration from the environment.
fn snowsync_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snowsync"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("SNOWSYNC_CONFIG")
        .env_remove("SNOWSYNC_DATABASE__URL")
        .output()
        .expect("run snowsync")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("an exit status")
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn demo_runs_from_an_empty_folder_on_the_built_in_starter_files_and_leaves_it_empty() {
    let dir = tempfile::tempdir().unwrap();
    let output = snowsync_in(dir.path(), &["demo"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let out = text(&output.stdout);
    assert!(out.contains("INC0010001"), "{out}");
    assert!(out.contains("signature verified"), "{out}");
    assert!(
        out.contains("3 users are failing Oort Check: Inactive Users")
            && out.contains(
                "- ana.souza@simubiz.com (Ana Souza), Finance, San Diego, manager David Loo"
            )
            && out.contains("(From ServiceNow's user records: display name, manager, phone, department, location.)"),
        "the demo shows one ticket for the check, its users' details completed from the instance: {out}"
    );
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[test]
fn render_runs_from_an_empty_folder_on_the_built_in_starter_files() {
    let dir = tempfile::tempdir().unwrap();
    let finding = root().join("tests/fixtures/karsch_generic.json");
    let output = snowsync_in(
        dir.path(),
        &["render", "--finding", finding.to_str().unwrap()],
    );
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let out = text(&output.stdout);
    assert!(
        out.contains("rule:           oort-identity-threats ((built-in) mappings/10-oort.toml:"),
        "{out}"
    );
    assert!(out.contains("\"short_description\""), "{out}");
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[test]
fn relative_paths_in_a_config_file_are_taken_from_the_file_s_folder() {
    let elsewhere = tempfile::tempdir().unwrap();
    let conf = elsewhere.path().join("conf");
    std::fs::create_dir_all(conf.join("rules")).unwrap();
    std::fs::write(
        conf.join("rules/only.toml"),
        "[default]\nprofile = \"p\"\n[profile.p]\ntable = \"incident\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(conf.join("secrets")).unwrap();
    std::fs::write(conf.join("secrets/password"), "from-a-file\n").unwrap();
    std::fs::write(
        conf.join("snowsync.toml"),
        "[servicenow]\nusername = \"u\"\npassword_file = \"secrets/password\"\n\
         [database]\nurl = \"sqlite://state/s.db?mode=rwc\"\n\
         [mapping]\nrules_dir = \"rules\"\n",
    )
    .unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let config = conf.join("snowsync.toml");
    let output = snowsync_in(
        cwd.path(),
        &["--config", config.to_str().unwrap(), "check", "--offline"],
    );
    let out = text(&output.stdout);
    assert_eq!(code(&output), 0, "{out}{}", text(&output.stderr));
    assert!(
        out.contains(&format!(
            "database.url = sqlite://{}?mode=rwc",
            conf.join("state/s.db").display()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "profile(s) from {}",
            conf.join("rules/only.toml").display()
        )),
        "{out}"
    );
    assert!(out.contains("password set"), "{out}");
    let migrate = snowsync_in(
        cwd.path(),
        &["--config", config.to_str().unwrap(), "migrate"],
    );
    assert_eq!(code(&migrate), 0, "{}", text(&migrate.stderr));
    assert!(conf.join("state/s.db").exists());
    assert_eq!(entries(cwd.path()), Vec::<String>::new());
}

#[test]
fn a_read_only_command_on_a_missing_database_names_its_absolute_path_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["findings", "list"][..],
        &["findings", "show", "1"],
        &["outbox", "list"],
    ] {
        let output = snowsync_in(dir.path(), args);
        assert_eq!(code(&output), 1, "{args:?}");
        let err = text(&output.stderr);
        assert!(
            err.contains(&format!(
                "no database at {}",
                dir.path().join("data/snowsync.db").display()
            )),
            "{args:?}: {err}"
        );
        assert!(!err.contains("migration"), "{err}");
        assert_eq!(entries(dir.path()), Vec::<String>::new(), "{args:?}");
    }
}

#[test]
fn an_empty_config_file_runs_on_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.toml"), "").unwrap();
    let output = snowsync_in(
        dir.path(),
        &["--config", "empty.toml", "check", "--offline"],
    );
    assert_eq!(code(&output), 0, "{}", text(&output.stdout));
}

#[test]
fn init_writes_the_starter_files_that_check_then_accepts_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("etc");
    let output = snowsync_in(dir.path(), &["init", target.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    for file in [
        "snowsync.toml",
        "mappings/10-oort.toml",
        "templates/description.hbs",
    ] {
        assert!(target.join(file).is_file(), "{file}");
    }
    assert!(target.join("mappings.d").is_dir());
    let config = target.join("snowsync.toml");
    // The example's instance wants a password; the environment gives it.
    let check = Command::new(env!("CARGO_BIN_EXE_snowsync"))
        .args(["--config", config.to_str().unwrap(), "check", "--offline"])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env("SNOWSYNC_SERVICENOW__PASSWORD", "p")
        .output()
        .unwrap();
    let out = text(&check.stdout);
    assert_eq!(code(&check), 0, "{out}{}", text(&check.stderr));
    assert!(
        out.contains(&target.join("mappings/10-oort.toml").display().to_string()),
        "{out}"
    );
    let again = snowsync_in(dir.path(), &["init", target.to_str().unwrap()]);
    assert_eq!(code(&again), 1);
    assert!(
        text(&again.stderr).contains("not overwriting"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn version_names_the_package_version_and_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let output = snowsync_in(dir.path(), &["--version"]);
    let out = text(&output.stdout);
    assert!(
        out.starts_with(&format!("snowsync {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
}

#[test]
fn completions_and_the_manual_page_are_generated_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let bash = snowsync_in(dir.path(), &["completions", "bash"]);
    assert_eq!(code(&bash), 0);
    assert!(text(&bash.stdout).contains("outbox"));
    let man = snowsync_in(dir.path(), &["man"]);
    assert_eq!(code(&man), 0);
    let page = text(&man.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH snowsync 1"),
        "{page}"
    );
    assert!(page.contains("Exit status"), "{page}");
}

#[test]
fn help_lists_every_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let out = text(&snowsync_in(dir.path(), &["--help"]).stdout);
    for line in ["0  ok", "1  failure", "2  usage", "3  partial"] {
        assert!(out.contains(line), "{line}: {out}");
    }
}

#[test]
fn exit_status_0_when_done() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&snowsync_in(dir.path(), &["check", "--offline"])), 0);
}

#[test]
fn exit_status_1_when_something_asked_for_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    assert_eq!(
        code(&snowsync_in(dir.path(), &["migrate", "--database", &db])),
        0
    );
    let output = Command::new(env!("CARGO_BIN_EXE_snowsync"))
        .args(["findings", "show", "42"])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env("SNOWSYNC_DATABASE__URL", &db)
        .output()
        .unwrap();
    assert_eq!(code(&output), 1);
    assert!(text(&output.stderr).contains("no finding 42"));
}

#[test]
fn exit_status_2_for_a_wrong_command_line_or_configuration() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&snowsync_in(dir.path(), &["no-such-command"])), 2);
    std::fs::write(dir.path().join("bad.toml"), "[outbox]\nretries = 1\n").unwrap();
    let output = snowsync_in(dir.path(), &["--config", "bad.toml", "check", "--offline"]);
    assert_eq!(code(&output), 2);
    assert!(text(&output.stderr).contains("bad.toml:2: outbox.retries"));
}

#[test]
fn exit_status_3_when_ingest_skipped_lines() {
    let dir = tempfile::tempdir().unwrap();
    let generic =
        std::fs::read_to_string(root().join("tests/fixtures/karsch_generic.json")).unwrap();
    let one_line: serde_json::Value = serde_json::from_str(&generic).unwrap();
    std::fs::write(
        dir.path().join("in.jsonl"),
        format!("{one_line}\nnot json\n"),
    )
    .unwrap();
    let output = snowsync_in(dir.path(), &["ingest", "--no-progress", "in.jsonl"]);
    assert_eq!(code(&output), 3, "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("in.jsonl:2: skipped"));
}

#[test]
fn the_template_variables_page_is_what_render_variables_prints() {
    let dir = tempfile::tempdir().unwrap();
    let output = snowsync_in(dir.path(), &["render", "--variables"]);
    assert_eq!(code(&output), 0);
    let printed = text(&output.stdout);
    for variable in [
        "`subject.login`",
        "`subject.ip_addresses.[0].address`",
        "`approval.application`",
        "`correlation_id`",
    ] {
        assert!(printed.contains(variable), "{variable}: {printed}");
    }
    let page = std::fs::read_to_string(root().join("docs/template-variables.md")).unwrap();
    assert_eq!(
        page, printed,
        "docs/template-variables.md is out of date: regenerate it with `snowsync render --variables > docs/template-variables.md`"
    );
}
