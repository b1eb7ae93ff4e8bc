//! What `check` must confirm on the instance, and the pure checks of its answers.

use snowsync::domain::ReferenceKind;
use snowsync::mapping::online::{
    self, ChoiceRequirement, FieldFacts, OnlineRequirements, ReferenceRequirement,
};
use snowsync::mapping::{self, FieldLengths};

const MAPPING: &str = r#"[default]
profile = "inc"

[profile.inc]
table = "incident"
assignment_group = "Security Operations"
business_service = "Identity Management"
assigned_to = "abel.tuter"
caller = "fixed"
caller_user = "soc.bot"
category = "inquiry"
state = "new"
close_code = "Solved (Permanently)"

[profile.inc.fields]
u_source = "{{source}}"
u_affected_user = "{{subject.login}}"

[profile.req]
table = "sc_request"
assignment_group = "Service Desk"
auto_close_state = "closed_complete"
"#;

fn requirements() -> OnlineRequirements {
    let m = mapping::from_texts(&[("mappings/m.toml".to_owned(), MAPPING.to_owned())]).unwrap();
    online::online_requirements(&m)
}

#[test]
fn every_reference_is_listed_with_where_it_is_set() {
    let reqs = requirements();
    let refs: Vec<(ReferenceKind, &str, &str)> = reqs
        .references
        .iter()
        .map(|r| (r.kind, r.name.as_str(), r.location.as_str()))
        .collect();
    assert_eq!(
        refs,
        [
            (
                ReferenceKind::Group,
                "Security Operations",
                "mappings/m.toml:6: profile.inc.assignment_group"
            ),
            (
                ReferenceKind::Service,
                "Identity Management",
                "mappings/m.toml:7: profile.inc.business_service"
            ),
            (
                ReferenceKind::User,
                "abel.tuter",
                "mappings/m.toml:8: profile.inc.assigned_to"
            ),
            (
                ReferenceKind::User,
                "soc.bot",
                "mappings/m.toml:10: profile.inc.caller_user"
            ),
            (
                ReferenceKind::Group,
                "Service Desk",
                "mappings/m.toml:21: profile.req.assignment_group"
            ),
        ]
    );
}

#[test]
fn states_close_codes_and_categories_are_listed_as_choices() {
    let reqs = requirements();
    let states: Vec<(&str, &str, &str)> = reqs
        .states
        .iter()
        .map(|c| (c.table.as_str(), c.value.as_str(), c.location.as_str()))
        .collect();
    assert!(states.contains(&("incident", "1", "mappings/m.toml:12: profile.inc.state")));
    assert!(states.contains(&(
        "incident",
        "6",
        "mappings/m.toml:4: profile.inc.auto_close_state"
    )));
    assert!(states.contains(&(
        "sc_request",
        "3",
        "mappings/m.toml:22: profile.req.auto_close_state"
    )));
    assert_eq!(reqs.close_codes.len(), 1);
    assert_eq!(reqs.close_codes[0].value, "Solved (Permanently)");
    assert_eq!(
        reqs.close_codes[0].location,
        "mappings/m.toml:13: profile.inc.close_code"
    );
    assert_eq!(reqs.categories[0].element, "category");
}

fn facts(name: &str, internal_type: &str, reference: Option<&str>) -> FieldFacts {
    FieldFacts {
        name: name.to_owned(),
        internal_type: internal_type.to_owned(),
        max_length: Some(40),
        read_only: false,
        reference: reference.map(str::to_owned),
    }
}

#[test]
fn custom_mappings_must_target_existing_string_fields() {
    let reqs = requirements();
    let string_source = facts("u_source", "string", None);
    let cases: Vec<(Vec<FieldFacts>, Vec<&str>)> = vec![
        (
            vec![
                string_source.clone(),
                facts("u_affected_user", "string", None),
            ],
            vec![],
        ),
        (
            vec![
                string_source.clone(),
                facts("u_affected_user", "reference", Some("sys_user")),
            ],
            vec![
                "mappings/m.toml:17: profile.inc.fields.u_affected_user: `u_affected_user` is a reference field (to sys_user) of incident; only String fields can be mapped",
            ],
        ),
        (
            vec![
                string_source.clone(),
                facts("u_affected_user", "integer", None),
            ],
            vec![
                "mappings/m.toml:17: profile.inc.fields.u_affected_user: `u_affected_user` is a field of type integer on incident; only String fields can be mapped",
            ],
        ),
        (
            vec![facts("u_affected_user", "glide_date_time", None)],
            vec![
                "mappings/m.toml:17: profile.inc.fields.u_affected_user: `u_affected_user` is a field of type glide_date_time on incident; only String fields can be mapped",
                "mappings/m.toml:16: profile.inc.fields.u_source: `u_source` is not a field of incident",
            ],
        ),
        (
            vec![
                string_source.clone(),
                FieldFacts {
                    read_only: true,
                    ..facts("u_affected_user", "string", None)
                },
            ],
            vec![
                "mappings/m.toml:17: profile.inc.fields.u_affected_user: `u_affected_user` is read-only on incident; ServiceNow ignores what a write sends for it",
            ],
        ),
    ];
    for (dictionary, expected) in cases {
        let problems: Vec<String> = online::check_custom_fields(&reqs, "incident", &dictionary)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(problems, expected, "{dictionary:?}");
    }
    assert!(online::check_custom_fields(&reqs, "sc_request", &[]).is_empty());
}

#[test]
fn states_and_close_codes_must_be_choices_of_their_table() {
    let reqs = requirements();
    let values = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let all = values(&["1", "2", "3", "6", "7", "8"]);
    assert!(online::check_choices(&reqs.states, "incident", "state", &all).is_empty());
    let problems = online::check_choices(
        &reqs.states,
        "incident",
        "state",
        &values(&["1", "2", "3", "7", "8"]),
    );
    assert_eq!(
        problems.len(),
        2,
        "auto-close and default closed state 6: {problems:?}"
    );
    assert!(problems[0].to_string().starts_with(
        "mappings/m.toml:4: profile.inc.auto_close_state: `6` is not a state choice of incident"
    ));
    let problems = online::check_choices(
        &reqs.close_codes,
        "incident",
        "close_code",
        &values(&["Solution provided", "Duplicate"]),
    );
    assert_eq!(
        problems[0].to_string(),
        "mappings/m.toml:13: profile.inc.close_code: `Solved (Permanently)` is not a close_code choice of incident (choices: Solution provided, Duplicate)"
    );
    let requirement = ChoiceRequirement {
        table: "incident".into(),
        element: "close_code".into(),
        value: "x".into(),
        location: "here".into(),
    };
    assert!(online::check_choices(&[requirement], "sc_request", "close_code", &[]).is_empty());
}

#[test]
fn a_reference_must_match_exactly_one_record() {
    let req = ReferenceRequirement {
        kind: ReferenceKind::Group,
        name: "Service Desk".into(),
        location: "mappings/m.toml:21: profile.req.assignment_group".into(),
    };
    assert_eq!(online::check_reference(&req, 1), None);
    assert_eq!(
        online::check_reference(&req, 0).unwrap().to_string(),
        "mappings/m.toml:21: profile.req.assignment_group: no group named `Service Desk` in sys_user_group"
    );
    assert!(
        online::check_reference(&req, 2)
            .unwrap()
            .message
            .contains("2 records named `Service Desk`")
    );
}

#[test]
fn dictionary_lengths_replace_the_defaults() {
    let mut lengths = FieldLengths::default();
    assert_eq!(lengths.limit("incident", "short_description"), Some(160));
    assert_eq!(lengths.limit("incident", "u_source"), Some(255));
    assert_eq!(lengths.limit("incident", "work_notes"), None);
    lengths.add_dictionary(
        "incident",
        &[
            facts("u_source", "string", None),
            facts("work_notes", "journal_input", None),
        ],
    );
    assert_eq!(lengths.limit("incident", "u_source"), Some(40));
    assert_eq!(lengths.limit("sc_request", "u_source"), Some(255));
    assert_eq!(
        lengths.limit("incident", "work_notes"),
        None,
        "journal fields are never cut"
    );
}
