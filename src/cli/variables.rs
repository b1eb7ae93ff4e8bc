//! `snowsync render --variables`: every variable a template can use, with an example value,
//! computed from the real template context of sample findings, so the list cannot drift from
//! what templates actually see. `docs/template-variables.md` is this output.

use std::fmt::Write as _;

use serde_json::Value;

use crate::mapping::check::{sample_approval_finding, sample_check_finding};
use crate::mapping::{Group, group_context};
use crate::template::{ContextInfo, context};

/// The Markdown listing of every template variable with an example value.
pub fn listing() -> String {
    let info = ContextInfo {
        event: "failing",
        occurrences: 1,
        rule: "oort-identity-checks",
        profile: "identity",
        correlation_id: "snowsync:0123456789abcdef0123456789abcdef",
    };
    let check = context(&sample_check_finding(), info);
    let approval = context(&sample_approval_finding(), info);
    let mut out = String::new();
    out.push_str("# Template variables\n\n");
    out.push_str("Every variable a template (`templates/*.hbs`, or a custom field's value in a profile) can use, with the value it has for a sample finding.\n");
    out.push_str("Templates run in strict mode: a name not listed here is an error at load (`snowsync check --offline`), not an empty string.\n");
    out.push_str("A variable whose value is unknown for a finding is `null`; use `{{#if name}}` or the `default` helper.\n");
    out.push_str("Helpers: `join LIST \", \"`, `truncate TEXT N`, `default VALUE \"fallback\"`, `upper TEXT`, `date TIMESTAMP \"%Y-%m-%d\"`.\n");
    out.push_str("With `enrich_from_instance = true` in the profile, the description is rendered again at delivery with the subject's sys_user record: `subject.display_name`, `manager`, `phone`, `department` and `location` are filled where the source left them out, and `subject.from_servicenow` lists which (`[\"manager\", \"department\"]`); sources never send `department` or `location`.\n");
    out.push_str("This page is the output of `snowsync render --variables`.\n\n");
    out.push_str("## A check finding (Oort, generic)\n\n| variable | example |\n|---|---|\n");
    rows(&mut out, "", &check);
    out.push_str("\n## A grouped ticket (`group_by = \"check\"`)\n\n");
    out.push_str("A profile grouping by check renders one ticket per check with the variables of its first failing user's finding above, and these; `members` is cut to what fits the field (`more` counts the rest), and with `enrich_from_instance` each listed member's details are filled from sys_user at delivery, `from_servicenow` naming the kinds filled.\n\n| variable | example |\n|---|---|\n");
    let mut second = sample_check_finding();
    second.subject.login = "ana.souza@simubiz.com".to_owned();
    second.subject.email = Some(second.subject.login.clone());
    second.subject.display_name = None;
    let members = [sample_check_finding(), second];
    let joined = [members[1].subject.login.clone()];
    let group = Group {
        generation: 2,
        members: &members,
        joined: &joined,
        passing: &[],
        about: &members[0],
        continues: Some("INC0010001"),
    };
    let grouped = group_context(&group, info);
    for key in [
        "members",
        "members_count",
        "more",
        "joined",
        "joined_count",
        "passing",
        "passing_count",
        "generation",
        "continues",
        "from_servicenow",
    ] {
        if let Some(value) = grouped.get(key) {
            rows(&mut out, key, value);
        }
    }
    out.push_str("\n## An approval request (the `approval` object is set; `null` for checks)\n\n| variable | example |\n|---|---|\n");
    if let Some(approval) = approval.get("approval") {
        rows(&mut out, "approval", approval);
    }
    out
}

/// One row per leaf; a list is shown as `name` (the list) and `name.[0].field` rows.
fn rows(out: &mut String, path: &str, value: &Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                rows(out, &path, value);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            let _ = writeln!(out, "| `{path}` | a list of {} |", items.len());
            if let Some(first) = items.first() {
                rows(out, &format!("{path}.[0]"), first);
            }
        }
        other => {
            let shown = other.to_string().replace('|', "\\|").replace('\n', "\\n");
            let shown = if shown.chars().count() > 80 {
                format!("{}…", shown.chars().take(80).collect::<String>())
            } else {
                shown
            };
            let _ = writeln!(out, "| `{path}` | `{shown}` |");
        }
    }
}
