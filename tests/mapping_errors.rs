//! Every mapping mistake is reported with the file, the line and the key.

use snowsync::mapping::{self, MappingError};

const TAIL: &str = "\n[default]\nprofile = \"p\"\n";

fn load(files: &[(&str, &str)]) -> MappingError {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    mapping::from_texts(&files).expect_err("the mapping should be refused")
}

/// A profile `p` with `body` as its keys, then the default rule; the profile starts on line 2.
fn profile(body: &str) -> String {
    format!("# rules\n[profile.p]\ntable = \"incident\"\n{body}{TAIL}")
}

#[test]
fn every_profile_error_names_file_line_and_key() {
    // (profile keys from line 4 on, expected origin, key, part of the message)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "urgncy = 1\n",
            "m.toml:4",
            "profile.p.urgncy",
            "unknown key",
        ),
        (
            "priority = 1\n",
            "m.toml:4",
            "profile.p.priority",
            "priority is computed by ServiceNow",
        ),
        (
            "impact = \"huge\"\n",
            "m.toml:4",
            "profile.p.impact",
            "`\"huge\"` is not an impact/urgency",
        ),
        (
            "urgency = 4\n",
            "m.toml:4",
            "profile.p.urgency",
            "is not an impact/urgency",
        ),
        (
            "\nstate = \"open\"\n",
            "m.toml:5",
            "profile.p.state",
            "`open` is not a incident state",
        ),
        (
            "auto_close_state = \"review\"\n",
            "m.toml:4",
            "profile.p.auto_close_state",
            "`review` is not a incident state (expected one of new, in_progress, on_hold, resolved, closed, canceled, or a numeric code)",
        ),
        (
            "state = \"frozen\"\n",
            "m.toml:4",
            "profile.p.state",
            "unknown state `frozen`",
        ),
        (
            "closed_states = []\n",
            "m.toml:4",
            "profile.p.closed_states",
            "at least one state",
        ),
        (
            "auto_close_state = 1.5\n",
            "m.toml:4",
            "profile.p.auto_close_state",
            "is not a state",
        ),
        (
            "assignment_group = \" \"\n",
            "m.toml:4",
            "profile.p.assignment_group",
            "must not be empty",
        ),
        (
            "caller = \"fixed\"\n",
            "m.toml:4",
            "profile.p.caller",
            "needs `caller_user`",
        ),
        (
            "caller = \"boss\"\n",
            "m.toml:4",
            "profile.p.caller",
            "unknown caller `boss`",
        ),
        (
            "caller_user = \"x\"\n",
            "m.toml:4",
            "profile.p.caller_user",
            "only used with",
        ),
        (
            "reopen_within = \"soon\"\n",
            "m.toml:4",
            "profile.p.reopen_within",
            "not a duration",
        ),
        (
            "group_by = \"user\"\n",
            "m.toml:4",
            "profile.p.group_by",
            "unknown grouping `user`",
        ),
        (
            "group_cap = 5\n",
            "m.toml:4",
            "profile.p.group_cap",
            "only used with `group_by = \"check\"`",
        ),
        (
            "group_by = \"check\"\ngroup_cap = 0\n",
            "m.toml:5",
            "profile.p.group_cap",
            "positive",
        ),
        (
            "tags = \"x\"\n",
            "m.toml:4",
            "profile.p.tags",
            "invalid type",
        ),
        (
            "escalate_when = { field = \"State\", equals = [\"2\"] }\n",
            "m.toml:4",
            "profile.p.escalate_when.field",
            "not a field name",
        ),
        (
            "escalate_when = { field = \"state\", equals = [\"later\"] }\n",
            "m.toml:4",
            "profile.p.escalate_when.equals",
            "unknown state `later`",
        ),
        (
            "[profile.p.severity_map]\nsevere = { impact = 1, urgency = 1 }\n",
            "m.toml:5",
            "profile.p.severity_map.severe",
            "unknown severity `severe`",
        ),
        (
            "[profile.p.severity_map]\nhigh = { impact = 1, urgency = \"now\" }\n",
            "m.toml:5",
            "profile.p.severity_map.high.urgency",
            "is not an impact/urgency",
        ),
        (
            "[profile.p.severity_map]\nhigh = { impact = 1 }\n",
            "m.toml:5",
            "profile.p.severity_map.high.urgency",
            "is required",
        ),
        (
            "[profile.p.fields]\nu_ok = \"{{title}}\"\npriority = \"1\"\n",
            "m.toml:6",
            "profile.p.fields.priority",
            "never sent",
        ),
        (
            "[profile.p.fields]\nshort_description = \"x\"\n",
            "m.toml:5",
            "profile.p.fields.short_description",
            "is set by the `templates.short_description` template",
        ),
        (
            "[profile.p.fields]\ncorrelation_id = \"x\"\n",
            "m.toml:5",
            "profile.p.fields.correlation_id",
            "snowsync itself",
        ),
        (
            "[profile.p.fields]\nsys_id = \"x\"\n",
            "m.toml:5",
            "profile.p.fields.sys_id",
            "system field",
        ),
        (
            "[profile.p.fields]\nnumber = \"x\"\n",
            "m.toml:5",
            "profile.p.fields.number",
            "system field",
        ),
        (
            "[profile.p.fields]\nU_Login = \"x\"\n",
            "m.toml:5",
            "profile.p.fields.U_Login",
            "is not a field name",
        ),
        (
            "[profile.p.fields]\nu_login = \"{{#if title}}open\"\n",
            "m.toml:5",
            "profile.p.fields.u_login",
            "template does not compile",
        ),
        (
            "[profile.p.templates]\ndescription = \"../x\"\n",
            "m.toml:5",
            "profile.p.templates.description",
            "is not a template name",
        ),
        (
            "[profile.p.templates]\nsummary = \"x\"\n",
            "m.toml:5",
            "profile.p.templates.summary",
            "unknown key",
        ),
    ];
    for (body, origin, key, message) in cases {
        let err = load(&[("m.toml", &profile(body))]);
        assert_eq!(
            (err.origin.as_str(), err.key.as_str()),
            (*origin, *key),
            "{body}\n  got: {err}"
        );
        assert!(
            err.message.contains(message),
            "{body}\n  got: {err}\n  expected: {message}"
        );
    }
}

#[test]
fn table_and_close_code_follow_servicenow() {
    let err = load(&[(
        "m.toml",
        "[profile.p]\ntable = \"problem\"\n[default]\nprofile = \"p\"\n",
    )]);
    assert_eq!(
        err.to_string(),
        "m.toml:2: profile.p.table: unknown table `problem` (expected incident, sc_request or sn_si_incident)"
    );
    let err = load(&[(
        "m.toml",
        "[profile.p]\n\ntable = \"sc_request\"\nclose_code = \"Solved\"\n[default]\nprofile = \"p\"\n",
    )]);
    assert_eq!(
        (err.origin.as_str(), err.key.as_str()),
        ("m.toml:4", "profile.p.close_code")
    );
    let err = load(&[(
        "m.toml",
        "[profile.p]\nstate = \"new\"\n[default]\nprofile = \"p\"\n",
    )]);
    assert_eq!(
        (err.origin.as_str(), err.key.as_str()),
        ("m.toml:1", "profile.p.table")
    );
    assert!(err.message.contains("missing field `table`"), "{err}");
}

#[test]
fn every_rule_error_names_file_line_and_key() {
    let p = "[profile.p]\ntable = \"incident\"\n";
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "[[rule]]\nname = \"r\"\nprofile = \"nope\"\n",
            "m.toml:2",
            "rule `r`.profile",
            "no profile named `nope` (defined: p)",
        ),
        (
            "[[rule]]\nname = \"r\"\ncheck_id = \"[a-\"\nprofile = \"p\"\n",
            "m.toml:3",
            "rule[0].check_id",
            "bad pattern `[a-`",
        ),
        (
            "[[rule]]\nname = \"r\"\nseverity = [\"high\", \"huge\"]\nprofile = \"p\"\n",
            "m.toml:3",
            "rule[0].severity",
            "unknown severity `huge`",
        ),
        (
            "[[rule]]\nname = \"r\"\nmin_severity = \"loud\"\nprofile = \"p\"\n",
            "m.toml:3",
            "rule[0].min_severity",
            "unknown severity `loud`",
        ),
        (
            "[[rule]]\nname = \"r\"\nkind = \"alert\"\nprofile = \"p\"\n",
            "m.toml:3",
            "rule[0].kind",
            "unknown kind `alert`",
        ),
        (
            "[[rule]]\nname = \"r\"\nsource = 5\nprofile = \"p\"\n",
            "m.toml:3",
            "rule[0].source",
            "a string or a list of strings",
        ),
        (
            "[[rule]]\nname = \"r\"\nprofile = \"p\"\n[[rule]]\nname = \"r\"\nprofile = \"p\"\n",
            "m.toml:5",
            "rule[1].name",
            "already defined at m.toml:2",
        ),
        (
            "[[rule]]\nname = \"default\"\nprofile = \"p\"\n",
            "m.toml:2",
            "rule[0].name",
            "other than `default`",
        ),
        (
            "[[rule]]\nname = \"r\"\nprofil = \"p\"\n",
            "m.toml:3",
            "rule[0].profil",
            "unknown key",
        ),
        (
            "[[rule]]\nname = \"r\"\n",
            "m.toml:1",
            "rule[0].profile",
            "is required",
        ),
        (
            "[[rule]]\nname = \"r\"\nattributes = { region = \"[\" }\nprofile = \"p\"\n",
            "m.toml:3",
            "rule[0].attributes.region",
            "bad pattern",
        ),
        (
            "[[rule]]\nname = \"r\"\nprofile = \"p\"\nthis is not toml\n",
            "m.toml:4",
            "(syntax)",
            "",
        ),
    ];
    for (rules, origin, key, message) in cases {
        let text = format!("{rules}{p}{TAIL}");
        let err = load(&[("m.toml", &text)]);
        assert_eq!(
            (err.origin.as_str(), err.key.as_str()),
            (*origin, *key),
            "{rules}\n  got: {err}"
        );
        assert!(
            err.message.contains(message),
            "{rules}\n  got: {err}\n  expected: {message}"
        );
    }
}

#[test]
fn the_default_rule_is_required_once_and_profiles_once() {
    let p = "[profile.p]\ntable = \"incident\"\n";
    let err = load(&[("a.toml", p)]);
    assert_eq!(
        (err.origin.as_str(), err.key.as_str()),
        ("a.toml", "default")
    );
    assert!(err.message.contains("a default rule is required"), "{err}");

    let with_default = format!("{p}{TAIL}");
    let err = load(&[
        ("a.toml", &with_default),
        ("b.toml", "\n[default]\nprofile = \"p\"\n"),
    ]);
    assert_eq!(
        err.to_string(),
        "b.toml:2: default: a default rule is already defined at a.toml:4"
    );

    let err = load(&[
        ("a.toml", &with_default),
        ("b.toml", "# again\n[profile.p]\ntable = \"incident\"\n"),
    ]);
    assert_eq!(
        err.to_string(),
        "b.toml:2: profile.p: profile `p` is already defined in a.toml"
    );

    let err = load(&[("a.toml", "[default]\nprofile = \"q\"\n")]);
    assert_eq!(
        err.to_string(),
        "a.toml:1: default.profile: no profile named `q` (defined: none)"
    );
}

#[test]
fn directories_without_mappings_or_templates_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let err = mapping::load(dir.path()).unwrap_err();
    assert!(
        err.message.contains("no *.toml mapping files found"),
        "{err}"
    );
    let err = mapping::load_templates(dir.path()).unwrap_err();
    assert!(err.message.contains("no *.hbs templates found"), "{err}");
    let err = mapping::load(&dir.path().join("missing")).unwrap_err();
    assert!(
        err.message.contains("cannot read the mappings directory"),
        "{err}"
    );
}

#[test]
fn a_profile_naming_a_missing_template_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("short_description.hbs"), "{{title}}").unwrap();
    let templates = mapping::load_templates(dir.path()).unwrap();
    let m = mapping::from_texts(&[(
        "m.toml".to_owned(),
        "[default]\nprofile = \"p\"\n[profile.p]\ntable = \"incident\"\n[profile.p.templates]\ndescription = \"digest\"\n".to_owned(),
    )])
    .unwrap();
    let problems: Vec<String> = m
        .verify_templates(&templates)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        problems.iter().any(|p| p
            .starts_with("m.toml:6: profile.p.templates.description: template `digest` not found")),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with(
            "m.toml:5: profile.p.templates.work_note: template `work_note` not found"
        )),
        "{problems:#?}"
    );
}
