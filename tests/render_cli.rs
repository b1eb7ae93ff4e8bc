//! `snowsync render` and the offline part of `snowsync check`, run as the binary.

use std::path::Path;
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn snowsync(args: &[&str]) -> Output {
    snowsync_with(args, &[])
}

fn snowsync_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_snowsync"));
    command.current_dir(root()).args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("SNOWSYNC_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command.output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn render_shows_the_seed_user_details_block_for_the_seed_user() {
    let out = stdout(&snowsync(&[
        "render",
        "--finding",
        "tests/fixtures/karsch_generic.json",
    ]));
    let digest =
        std::fs::read_to_string(root().join("tests/fixtures/oort_digest_expected.txt")).unwrap();
    assert!(out.contains(&digest), "{out}");
    assert!(
        out.contains(&format!(
            "rule:           oort-identity-threats ({}:",
            root().join("mappings/10-oort.toml").display()
        )),
        "{out}"
    );
    assert!(
        out.contains("caller_id = user `karsch.heuck@simubiz.com` in sys_user"),
        "{out}"
    );
    let payload: String = out
        .lines()
        .skip_while(|l| *l != "payload:")
        .skip(1)
        .take_while(|l| !l.starts_with("---"))
        .collect::<Vec<_>>()
        .join("\n");
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&payload).unwrap();
    assert!(
        fields["description"]
            .as_str()
            .unwrap()
            .contains("User Details:\nDisplay Name          : Karsch Heuck\n")
    );
    assert!(!fields.contains_key("priority"));
}

#[test]
fn render_of_the_oort_test_event_prints_one_payload_per_failing_user() {
    let out = stdout(&snowsync(&[
        "render",
        "--finding",
        "tests/fixtures/oort_webhook_test.json",
        "--format",
        "oort",
    ]));
    assert_eq!(out.matches("\npayload:\n").count(), 2, "{out}");
    assert!(out.contains("finding:        oort/check/oort-test-check-id/user1@example.com"));
    assert!(out.contains("finding:        oort/check/oort-test-check-id/user2@example.com"));
}

fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn render_routes_a_finding_to_each_starter_rule() {
    let dir = tempfile::tempdir().unwrap();
    let generic = |source: &str, check_id: &str, title: &str| {
        let path = dir.path().join(format!("{source}-{check_id}.json"));
        let body = serde_json::json!({
            "source": source, "check_id": check_id, "title": title, "severity": "medium",
            "occurred_at": "2024-03-01T10:00:00Z", "subject": {"login": "jo@simubiz.com"}
        });
        std::fs::write(&path, body.to_string()).unwrap();
        path.display().to_string()
    };
    let cases = [
        (
            "tests/fixtures/karsch_generic.json".to_owned(),
            "oort-identity-threats",
            "identity-threat",
            "incident",
            1,
        ),
        (
            generic("oort", "3f1c9a", "Impossible Travel"),
            "oort-identity-threat-titles",
            "identity-threat",
            "incident",
            1,
        ),
        (
            "tests/fixtures/oort_webhook_test.json".to_owned(),
            "oort-identity-checks",
            "identity",
            "incident",
            2,
        ),
        (
            "tests/fixtures/approval_request.json".to_owned(),
            "approval-requests",
            "approval",
            "sc_request",
            1,
        ),
        (
            generic("scanner", "open-port", "Open port 23"),
            "default",
            "general",
            "incident",
            1,
        ),
    ];
    for (file, rule, profile, table, count) in cases {
        let plans = json_lines(&snowsync(&["render", "--finding", &file, "--json"]));
        assert_eq!(plans.len(), count, "{file}");
        for plan in plans {
            assert_eq!(
                (
                    plan["rule"].as_str(),
                    plan["profile"].as_str(),
                    plan["table"].as_str()
                ),
                (Some(rule), Some(profile), Some(table)),
                "{file}"
            );
            assert!(
                plan["fields"]["short_description"].is_string(),
                "{file}: {plan}"
            );
            assert!(plan["fields"].get("priority").is_none(), "{file}");
        }
    }
}

#[test]
fn render_plans_resolved_and_escalated_events() {
    let file = "tests/fixtures/karsch_generic.json";
    let resolved = &json_lines(&snowsync(&[
        "render",
        "--finding",
        file,
        "--event",
        "resolved",
        "--json",
    ]))[0];
    assert_eq!(resolved["fields"]["state"], "6");
    assert_eq!(resolved["fields"]["close_code"], "Solution provided");
    let escalated = &json_lines(&snowsync(&[
        "render",
        "--finding",
        file,
        "--event",
        "escalated",
        "--json",
    ]))[0];
    assert_eq!(escalated["fields"]["state"], "2");
    assert!(escalated["fields"]["work_notes"].is_string());
}

#[test]
fn render_of_a_bad_finding_names_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    std::fs::write(
        &path,
        r#"{"detail": {"checkId": "c", "title": "T", "severity": "high", "usersFailing": ["a", "b", 5], "published": "2023-08-08T13:27:22Z"}}"#,
    )
    .unwrap();
    let out = snowsync(&[
        "render",
        "--finding",
        path.to_str().unwrap(),
        "--format",
        "oort",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}: detail.usersFailing[2]: expected a string",
            path.display()
        )),
        "{stderr}"
    );
}

#[test]
fn check_loads_the_starter_mappings_and_renders_every_profile() {
    let out = stdout(&snowsync(&["check", "--offline"]));
    let templates = format!(
        "ok   templates: 9 compiled from {}",
        root().join("templates").display()
    );
    for line in [
        "ok   mappings: 5 rule(s) and the default rule, 5 profile(s)",
        &templates,
        "ok   profile approval (sc_request): renders",
        "ok   profile identity-threat (incident): renders",
        "ok   profile identity-grouped (incident): renders",
        "skip ServiceNow (--offline)",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(line)),
            "missing {line:?} in\n{out}"
        );
    }
    assert!(!out.contains("FAIL"), "{out}");
}

#[test]
fn check_fails_on_a_broken_mapping_and_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("mappings");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("m.toml"),
        "[default]\nprofile = \"p\"\n[profile.p]\ntable = \"incident\"\npriority = 1\n",
    )
    .unwrap();
    let out = snowsync_with(
        &["check", "--offline"],
        &[("SNOWSYNC_MAPPING__RULES_DIR", rules.to_str().unwrap())],
    );
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = format!(
        "FAIL {}:5: profile.p.priority: priority is computed by ServiceNow",
        rules.join("m.toml").display()
    );
    assert!(text.lines().any(|l| l.starts_with(&expected)), "{text}");
    assert!(text.contains("ok   templates:"), "{text}");
}

#[test]
fn check_renders_a_profile_grouping_by_check_with_the_group_templates_and_no_warning() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("mappings");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("m.toml"),
        "[default]\nprofile = \"p\"\n[profile.p]\ntable = \"incident\"\nclosed_states = [\"resolved\"]\ngroup_by = \"check\"\n",
    )
    .unwrap();
    let out = snowsync_with(
        &["check", "--offline"],
        &[("SNOWSYNC_MAPPING__RULES_DIR", rules.to_str().unwrap())],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("ok   profile p (incident): renders")),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("warn") && l.contains("m.toml")),
        "{text}"
    );
}

#[test]
fn check_refuses_reopen_within_on_a_profile_grouping_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("mappings");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("m.toml"),
        "[default]\nprofile = \"p\"\n[profile.p]\ntable = \"incident\"\nreopen_within = \"1d\"\ngroup_by = \"check\"\n",
    )
    .unwrap();
    let out = snowsync_with(
        &["check", "--offline"],
        &[("SNOWSYNC_MAPPING__RULES_DIR", rules.to_str().unwrap())],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    let expected = format!(
        "FAIL {}:5: profile.p.reopen_within: reopens one subject's ticket",
        rules.join("m.toml").display()
    );
    assert!(text.lines().any(|l| l.starts_with(&expected)), "{text}");
}

#[test]
fn render_shows_the_users_of_an_oort_event_of_a_grouped_check_as_one_ticket() {
    let out = stdout(&snowsync(&[
        "render",
        "--finding",
        "src/cli/demo/oort_inactive_users.json",
    ]));
    assert_eq!(out.matches("rule:").count(), 1, "{out}");
    assert!(out.contains("profile:        identity-grouped"), "{out}");
    assert!(
        out.contains("3 users are failing Oort Check: Inactive Users"),
        "{out}"
    );
    for user in [
        "ana.souza@simubiz.com",
        "li.wei@simubiz.com",
        "omar.haddad@simubiz.com",
    ] {
        assert!(out.contains(&format!("- {user}")), "{out}");
    }
    assert!(
        out.contains("enrichment:     description completed at delivery from the sys_user records of the 3 members listed"),
        "{out}"
    );
}

#[test]
fn render_says_which_field_delivery_completes_from_the_instance() {
    let out = stdout(&snowsync(&[
        "render",
        "--finding",
        "tests/fixtures/karsch_generic.json",
    ]));
    assert!(
        out.contains("enrichment:     description completed at delivery from the sys_user record of `karsch.heuck@simubiz.com`"),
        "{out}"
    );
}
