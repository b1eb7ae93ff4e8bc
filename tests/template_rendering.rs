//! Templates: the Oort digest reproduced exactly, helpers, strict mode, plain-text output,
//! finding text treated as data, and cutting at character boundaries.

use std::path::Path;

use snowsync::domain::Finding;
use snowsync::ingest::{self, InputFormat};
use snowsync::template::{self, ContextInfo, Templates};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn karsch() -> Finding {
    let body = std::fs::read(root().join("tests/fixtures/karsch_generic.json")).unwrap();
    ingest::parse(InputFormat::Generic, &body)
        .unwrap()
        .remove(0)
}

fn context(finding: &Finding) -> serde_json::Value {
    template::context(
        finding,
        ContextInfo {
            event: "failing",
            occurrences: 1,
            rule: "r",
            profile: "p",
            correlation_id: "snowsync:0",
        },
    )
}

/// Templates from `(name, source)` pairs in a fresh directory.
fn templates(files: &[(&str, &str)]) -> (tempfile::TempDir, Templates) {
    let dir = tempfile::tempdir().unwrap();
    for (name, source) in files {
        std::fs::write(dir.path().join(format!("{name}.hbs")), source).unwrap();
    }
    let loaded = template::load_templates(dir.path()).unwrap();
    (dir, loaded)
}

#[test]
fn the_default_description_reproduces_the_oort_digest_line_for_line() {
    let shipped = template::load_templates(&root().join("templates")).unwrap();
    let rendered = shipped.render("description", &context(&karsch())).unwrap();
    let expected =
        std::fs::read_to_string(root().join("tests/fixtures/oort_digest_expected.txt")).unwrap();
    let expected = expected.strip_suffix('\n').unwrap();
    for (i, (got, want)) in rendered.lines().zip(expected.lines()).enumerate() {
        assert_eq!(got, want, "line {}", i + 1);
    }
    assert_eq!(rendered, expected);
}

#[test]
fn the_digest_lists_the_check_description_when_there_is_one() {
    let shipped = template::load_templates(&root().join("templates")).unwrap();
    let mut finding = karsch();
    finding.description = vec!["Traffic from a known-bad IP.".into(), "Seen twice.".into()];
    let rendered = shipped.render("description", &context(&finding)).unwrap();
    assert!(
        rendered.contains(
            "Last Sign-in Location : US\n\nDescription:\nTraffic from a known-bad IP.\nSeen twice.\n\n\nRecommended Actions:\n"
        ),
        "{rendered}"
    );
}

#[test]
fn text_from_a_finding_is_printed_never_evaluated() {
    let mut finding = karsch();
    finding.subject.display_name = Some("{{subject.login}} {{#each x}}{{/each}} {{{raw}}}".into());
    finding.title = "}}{{7*7}}{{".into();
    let (_dir, t) = templates(&[("t", "{{subject.display_name}} | {{title}}")]);
    let rendered = t.render("t", &context(&finding)).unwrap();
    assert_eq!(
        rendered,
        "{{subject.login}} {{#each x}}{{/each}} {{{raw}}} | }}{{7*7}}{{"
    );
}

#[test]
fn output_is_plain_text_without_html_escaping() {
    let mut finding = karsch();
    finding.title = r#"R&D <admins> "quoted" 'single' `tick` ="#.into();
    let (_dir, t) = templates(&[("t", "{{title}}")]);
    assert_eq!(t.render("t", &context(&finding)).unwrap(), finding.title);
}

#[test]
fn helpers_join_truncate_default_upper_and_date() {
    let mut finding = karsch();
    finding.title = "Zürich ☃ 😀 sign-in".into();
    finding.subject.status = Some("active".into());
    finding
        .attributes
        .insert("region".into(), serde_json::json!("us-east-2"));
    let cases = [
        ("{{join subject.used_factors}}", "push, totp"),
        ("{{join subject.used_factors \" | \"}}", "push | totp"),
        ("[{{join subject.unused_applications}}]", "[]"),
        ("{{truncate title 8}}", "Zürich ☃"),
        ("{{truncate title 10}}", "Zürich ☃ "),
        ("{{truncate title 11}}", "Zürich ☃ 😀"),
        (
            "{{truncate (join subject.used_applications) 13}}",
            "cisco asa vpn",
        ),
        ("{{default subject.manager \"N/A\"}}", "N/A"),
        ("{{default subject.display_name \"N/A\"}}", "Karsch Heuck"),
        ("{{default attributes.ticket_hint \"none\"}}", "none"),
        ("{{default attributes.region \"none\"}}", "us-east-2"),
        ("[{{attributes.region}}]", "[us-east-2]"),
        ("{{upper subject.status}}", "ACTIVE"),
        ("{{date occurred_at}}", "2022-09-18 16:08:55"),
        (
            "{{date occurred_at \"%d.%m.%Y %H:%M\"}}",
            "18.09.2022 16:08",
        ),
        ("{{#if (eq severity \"high\")}}H{{/if}}", "H"),
    ];
    for (source, expected) in cases {
        let (_dir, t) = templates(&[("t", source)]);
        assert_eq!(
            t.render("t", &context(&finding)).unwrap(),
            expected,
            "{source}"
        );
    }
}

#[test]
fn a_misspelt_variable_fails_with_file_line_and_name() {
    let cases = [
        (
            "line one\n  {{subject.loginn}}",
            "t.hbs:2:3",
            "`subject.loginn` is not a field of the finding",
        ),
        (
            "{{default subject.nam \"x\"}}",
            "t.hbs:1:1",
            "`subject.nam` is not a field of the finding",
        ),
        (
            "{{upper titel}}",
            "t.hbs:1:1",
            "`titel` is not a field of the finding",
        ),
    ];
    for (source, at, message) in cases {
        let (dir, t) = templates(&[("t", source)]);
        let err = t.render("t", &context(&karsch())).unwrap_err();
        let origin = dir.path().join(at).display().to_string();
        assert_eq!(err.origin, origin, "{source}: {err}");
        assert!(err.message.contains(message), "{source}: {err}");
    }
}

#[test]
fn a_template_that_does_not_compile_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.hbs"), "{{title}}").unwrap();
    std::fs::write(
        dir.path().join("broken.hbs"),
        "ok\n{{#if title}}never closed\n",
    )
    .unwrap();
    let err = template::load_templates(dir.path()).unwrap_err();
    let file = dir.path().join("broken.hbs").display().to_string();
    assert!(err.origin.starts_with(&format!("{file}:")), "{err}");
    let line: usize = err.origin[file.len() + 1..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((2..=3).contains(&line), "{err}");
}

#[test]
fn a_final_newline_in_a_template_file_does_not_reach_the_ticket() {
    let (_dir, t) = templates(&[("t", "{{title}}\n\n")]);
    assert_eq!(
        t.render("t", &context(&karsch())).unwrap(),
        "IP Threat Detected"
    );
}

#[test]
fn cutting_keeps_whole_characters_within_the_servicenow_length() {
    // ServiceNow counts UTF-16 units: an emoji counts two.
    let cases = [
        ("abc", 10, "abc"),
        ("abc", 2, "ab"),
        ("héllo", 2, "hé"),
        ("日本語テキスト", 3, "日本語"),
        ("😀😀", 3, "😀"),
        ("😀😀", 1, ""),
        ("e\u{301}x", 1, "e"),
        ("", 0, ""),
    ];
    for (text, max, expected) in cases {
        assert_eq!(template::cut(text, max), expected, "{text} {max}");
    }
}
