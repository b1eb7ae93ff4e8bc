//! Properties of the three input parsers over arbitrary input: they never panic, and every
//! refusal of a JSON document names the field that is wrong.

use proptest::prelude::*;
use serde_json::{Map, Value};
use snowsync::ingest::{self, IngestError, InputFormat};

const GENERIC: &str = include_str!("fixtures/karsch_generic.json");
const OORT: &str = include_str!("fixtures/oort_webhook_test.json");
const APPROVAL: &str = include_str!("fixtures/approval_request.json");

const FORMATS: [InputFormat; 3] = [
    InputFormat::Generic,
    InputFormat::Oort,
    InputFormat::Approval,
];

/// Any JSON value, strings included with NUL, line breaks and non-ASCII text.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        "[a-z@.\\^\n\r\u{0}]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A refusal of a well-formed JSON document must say where: a non-empty field path.
fn names_a_field(result: &Result<Vec<snowsync::domain::Finding>, IngestError>) -> bool {
    match result {
        Ok(_) => true,
        Err(IngestError::Field { path, message }) => !path.is_empty() && !message.is_empty(),
        Err(_) => false,
    }
}

/// The paths of the top-level members of `sample`, and of one level below for objects.
fn member_paths(sample: &Value) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    if let Some(map) = sample.as_object() {
        for (key, value) in map {
            paths.push(vec![key.clone()]);
            if let Some(inner) = value.as_object() {
                for inner_key in inner.keys() {
                    paths.push(vec![key.clone(), inner_key.clone()]);
                }
            }
        }
    }
    paths
}

fn replaced(sample: &Value, path: &[String], value: Value) -> Value {
    let mut doc = sample.clone();
    let mut at = &mut doc;
    for key in &path[..path.len() - 1] {
        at = &mut at[key.as_str()];
    }
    at[path[path.len() - 1].as_str()] = value;
    doc
}

/// The JSON names of a member, as the parsers spell it in paths.
fn spelled(path: &[String]) -> String {
    path.join(".")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for format in FORMATS {
            let _ = ingest::parse(format, &bytes);
        }
        let _ = ingest::detect_and_parse(&bytes);
    }

    #[test]
    fn every_refusal_of_arbitrary_json_names_a_field(doc in any_json()) {
        let bytes = serde_json::to_vec(&doc).expect("serialise");
        for format in FORMATS {
            let result = ingest::parse(format, &bytes);
            prop_assert!(names_a_field(&result), "{format}: {result:?} for {doc}");
        }
    }

    #[test]
    fn a_wrong_member_is_named_in_the_refusal(
        which in any::<prop::sample::Index>(),
        value in any_json(),
        sample in prop::sample::select(vec![
            (InputFormat::Generic, GENERIC),
            (InputFormat::Oort, OORT),
            (InputFormat::Approval, APPROVAL),
        ]),
    ) {
        let (format, text) = sample;
        let sample: Value = serde_json::from_str(text).expect("fixture");
        let paths = member_paths(&sample);
        let path = which.get(&paths);
        let doc = replaced(&sample, path, value.clone());
        let result = ingest::parse(format, &serde_json::to_vec(&doc).expect("serialise"));
        if let Err(err) = &result {
            let IngestError::Field { path: named, .. } = err else {
                return Err(TestCaseError::fail(format!("{format}: not a field error: {err:?}")));
            };
            let member = spelled(path);
            // The replaced member, something inside it, or a field it made required.
            let inside = named == &member
                || named.starts_with(&format!("{member}."))
                || named.starts_with(&format!("{member}["));
            let required_by_it = err.to_string().contains("is required")
                || err.to_string().contains("only allowed with");
            prop_assert!(
                inside || required_by_it,
                "{format}: replacing {member} with {value} was refused naming {named}: {err}"
            );
        }
    }
}

#[test]
fn the_fixtures_parse() {
    for (format, text) in [
        (InputFormat::Generic, GENERIC),
        (InputFormat::Oort, OORT),
        (InputFormat::Approval, APPROVAL),
    ] {
        let findings =
            ingest::parse(format, text.as_bytes()).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert!(
            !findings.is_empty(),
            "{format}: the fixture holds no finding"
        );
    }
}
