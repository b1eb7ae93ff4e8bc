//! Properties of the parsers of outside input beyond the three finding formats: config files
//! and their environment overrides, mapping files, token responses, and the emulator's encoded
//! queries, `sysparm_*` parameters and Batch API bodies. None panics on arbitrary input, and
//! every refusal says where and what: the origin and key of a config or mapping error, the
//! token endpoint for a token response, a message in the body of a 4xx from the emulator.
//! (`Link` headers are private to the client; their properties are a unit test in `wire.rs`.)

mod servicenow_support;

use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use snowsync::config::{AuthMode, Config};
use snowsync::servicenow::{Client, ServiceNowError};
use snowsync::sim::{SimConfig, SimHandle};

use servicenow_support::{Server, config, json_answer, respond};

fn example() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/snowsync.example.toml"
    ))
    .unwrap()
}

/// Every key the example config sets, as a path of table names and the key.
fn example_keys() -> Vec<Vec<String>> {
    fn walk(table: &toml::Table, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for (k, v) in table {
            let mut path = prefix.to_vec();
            path.push(k.clone());
            match v {
                toml::Value::Table(t) => walk(t, &path, out),
                _ => out.push(path),
            }
        }
    }
    let mut out = Vec::new();
    walk(&toml::from_str(&example()).unwrap(), &[], &mut out);
    out
}

static KEYS: LazyLock<Vec<Vec<String>>> = LazyLock::new(example_keys);

fn env() -> Vec<(String, String)> {
    vec![(
        "SNOWSYNC_SERVICENOW__PASSWORD".to_owned(),
        "from-env".to_owned(),
    )]
}

/// Any TOML value of the kinds a config key can hold, and some it cannot.
fn any_toml() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        ".{0,24}".prop_map(toml::Value::String),
        "[0-9]{1,4}(ms|s|m|h|d|x)?".prop_map(toml::Value::String),
        any::<i64>().prop_map(toml::Value::Integer),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

/// TOML-looking text: sections, keys, values and stray punctuation, in any order.
fn tomlish_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("[servicenow]\n".to_owned()),
        Just("[outbox]\n".to_owned()),
        Just("[sources.oort]\n".to_owned()),
        Just("[[x]]\n".to_owned()),
        "[a-z_.]{1,20} = ".prop_map(|s| s),
        "\"[^\"\n]{0,12}\"\n".prop_map(|s| s),
        "[0-9.e+-]{1,8}\n".prop_map(|s| s),
        Just("true\n".to_owned()),
        Just("[1, \"a\"]\n".to_owned()),
        Just("{ a = 1 }\n".to_owned()),
        ".{0,12}".prop_map(|s| s),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

fn with_key(mut table: toml::Table, path: &[String], value: toml::Value) -> toml::Table {
    let mut at = &mut table;
    for segment in &path[..path.len() - 1] {
        at = at
            .get_mut(segment)
            .and_then(toml::Value::as_table_mut)
            .unwrap();
    }
    at.insert(path[path.len() - 1].clone(), value);
    table
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_config_text_never_panics_and_every_error_names_the_file_and_a_key(
        text in prop_oneof![".{0,200}", tomlish_text()],
    ) {
        if let Err(err) = Config::from_toml("prop.toml", &text, env()) {
            prop_assert!(err.origin.starts_with("prop.toml"), "{err}");
            prop_assert!(!err.key.is_empty(), "{err}");
            prop_assert!(!err.message.is_empty(), "{err}");
        }
    }

    #[test]
    fn an_arbitrary_value_for_a_known_config_key_never_panics_and_its_error_names_that_key(
        index in any::<prop::sample::Index>(),
        value in any_toml(),
    ) {
        let path = &KEYS[index.index(KEYS.len())];
        let key = path.join(".");
        let table = with_key(toml::from_str(&example()).unwrap(), path, value);
        let text = toml::to_string(&table).unwrap();
        if let Err(err) = Config::from_toml("prop.toml", &text, env()) {
            prop_assert!(err.origin.starts_with("prop.toml"), "{key}: {err}");
            // A key checked against another (a lease longer than the request timeout) may be
            // reported under the other one; the message then names this one.
            prop_assert!(
                err.key == key || err.message.contains(&key) || err.key.starts_with(&format!("{key}.")),
                "changed {key}, error: {err}"
            );
        }
    }

    #[test]
    fn an_arbitrary_environment_override_never_panics_and_its_error_names_the_variable(
        index in any::<prop::sample::Index>(),
        value in ".{0,40}",
    ) {
        let path = &KEYS[index.index(KEYS.len())];
        let var = format!("SNOWSYNC_{}", path.join("__").to_ascii_uppercase());
        let mut vars = env();
        vars.push((var.clone(), value));
        if let Err(err) = Config::from_toml("prop.toml", &example(), vars) {
            prop_assert!(
                err.origin.contains(&var) || err.origin.starts_with("prop.toml"),
                "{var}: {err}"
            );
            prop_assert!(!err.key.is_empty(), "{var}: {err}");
        }
    }

    #[test]
    fn arbitrary_mapping_text_never_panics_and_every_error_names_the_file_and_a_key(
        text in prop_oneof![".{0,200}", tomlish_text(), mapping_text()],
    ) {
        let files = vec![("prop.toml".to_owned(), text)];
        if let Err(err) = snowsync::mapping::from_texts(&files) {
            prop_assert!(err.origin.starts_with("prop.toml"), "{err}");
            prop_assert!(!err.key.is_empty(), "{err}");
            prop_assert!(!err.message.is_empty(), "{err}");
        }
    }
}

/// Mapping files assembled from the keys real ones use, with arbitrary values.
fn mapping_text() -> impl Strategy<Value = String> {
    const RULE_KEYS: [&str; 10] = [
        "[[rule]]\nname",
        "[[rule]]\nprofile",
        "[[rule]]\ncheck_id",
        "[[rule]]\nsource",
        "[default]\nprofile",
        "[profile.identity]\nurgency",
        "[profile.identity]\nimpact",
        "[profile.identity]\ntable",
        "[profile.identity]\nassignment_group",
        "[profile.identity.fields]\nu_custom",
    ];
    let value = any_toml().prop_map(|v| {
        let mut t = toml::Table::new();
        t.insert("v".to_owned(), v);
        toml::to_string(&t)
            .unwrap()
            .trim_start_matches("v = ")
            .to_owned()
    });
    prop::collection::vec((prop::sample::select(&RULE_KEYS[..]), value), 0..6).prop_map(|kv| {
        kv.into_iter()
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect::<String>()
    })
}

// ---- Token responses: through the client, against a stand-in token endpoint. ----

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
});

/// An answer from the token endpoint: a status and a body, maybe one with the shape of a token.
fn token_answer() -> impl Strategy<Value = (u16, String, String)> {
    let token = "[A-Za-z0-9._-]{12,24}";
    let field = prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
    ];
    let shaped = (token, field.clone(), field.clone(), field).prop_map(|(t, ty, exp, scope)| {
        let mut m = Map::new();
        m.insert("access_token".into(), Value::String(t.clone()));
        m.insert("token_type".into(), ty);
        m.insert("expires_in".into(), exp);
        m.insert("scope".into(), scope);
        (t, Value::Object(m).to_string())
    });
    let raw = (token, ".{0,60}").prop_map(|(t, s)| (t, s));
    let error = (token, ".{0,20}", ".{0,20}")
        .prop_map(|(t, e, d)| (t, json!({"error": e, "error_description": d}).to_string()));
    (
        prop::sample::select(&[200u16, 400, 401, 403][..]),
        prop_oneof![shaped, raw, error],
    )
        .prop_map(|(status, (token, body))| (status, token, body))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn an_arbitrary_token_response_never_panics_and_a_refusal_names_the_token_endpoint(
        (status, token, body) in token_answer(),
    ) {
        let outcome = RUNTIME.block_on(async move {
            let server = Server::start(move |seen| {
                if seen.path.ends_with("oauth_token.do") {
                    respond(status, &[], body.clone())
                } else {
                    json_answer(200, json!({"result": {"sys_id": "a", "number": "INC1"}}))
                }
            })
            .await;
            let client = Client::new(&config(&server.base, AuthMode::OauthPassword)).unwrap();
            client.get("incident", "46d44a5fa9fe198100bf5d1f2d0e4c09", &[]).await
        });
        if let Err(err) = outcome {
            let text = err.to_string();
            prop_assert!(!text.contains(&token), "the token is never in an error: {text}");
            match &err {
                ServiceNowError::Auth { message, .. } => {
                    prop_assert!(message.contains("token endpoint"), "{text}")
                }
                ServiceNowError::Status { endpoint, .. }
                | ServiceNowError::Decode { endpoint, .. }
                | ServiceNowError::InstanceUnavailable { endpoint, .. } => {
                    prop_assert!(endpoint.contains("oauth_token.do"), "{text}")
                }
                other => prop_assert!(false, "unexpected error kind: {other:?}"),
            }
        }
    }
}

// ---- The emulator: encoded queries, sysparm_* and the Batch API body, over HTTP. ----

static SIM: LazyLock<(SimHandle, reqwest::Client)> = LazyLock::new(|| {
    let sim = RUNTIME
        .block_on(snowsync::sim::spawn(SimConfig::default()))
        .unwrap();
    (sim, reqwest::Client::new())
});

/// Sends a request to the emulator as the integration user; returns the status and the body.
fn sim_send(
    build: impl FnOnce(&reqwest::Client, url::Url) -> reqwest::RequestBuilder,
) -> (u16, Value, String) {
    let (sim, http) = &*SIM;
    let (user, password) = sim.integration_credentials();
    let request = build(http, sim.base_url()).basic_auth(user, Some(password));
    RUNTIME.block_on(async move {
        let reply = request.send().await.unwrap();
        let status = reply.status().as_u16();
        let text = reply.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, json, text)
    })
}

/// A 4xx from the emulator carries ServiceNow's error envelope with a message.
fn says_what_is_wrong(body: &Value) -> bool {
    body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.trim().is_empty())
}

/// Encoded-query text: fields, operators, values, `^OR`, `^NQ`, `ORDERBY`, scripts and noise.
fn encoded_query() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "(number|state|short_description|sys_id|caller_id\\.user_name|sys_tags\\.[a-z]{1,5}|[a-z_]{1,10})(=|!=|LIKE|STARTSWITH|IN|NOT IN|BETWEEN|<=|>|ISEMPTY|ANYTHING|[A-Z]{1,6})[^^]{0,12}",
        "ORDERBY(DESC)?[a-z_.]{0,12}",
        Just("javascript:gs.getUserID()".to_owned()),
        Just("sys_created_on>javascript:gs.daysAgoStart(1)".to_owned()),
        Just("sys_updated_on>=javascript:gs.dateGenerate('2020-01-01','00:00:00')".to_owned()),
        ".{0,16}",
    ];
    let sep = prop::sample::select(&["^", "^OR", "^NQ", "^^", ""][..]);
    prop::collection::vec((part, sep), 0..6)
        .prop_map(|v| v.into_iter().map(|(p, s)| format!("{p}{s}")).collect())
}

fn sysparm_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[0-9]{1,20}",
        "(true|false|all|display_value|[a-z_,.]{0,20})",
        ".{0,20}",
    ]
}

/// Any JSON value, with strings that look like the Batch API's own fields now and then.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
        "(GET|POST|PATCH|DELETE|/api/now/table/incident[?/a-z=_0-9]{0,20})".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                "(id|method|url|headers|body|name|value|exclude_response_headers|[a-z_]{1,8})",
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Batch bodies: arbitrary JSON, envelopes with arbitrary items, and arbitrary bytes.
fn batch_body() -> impl Strategy<Value = Vec<u8>> {
    let envelope = (any_json(), prop::collection::vec(any_json(), 0..4)).prop_map(|(id, items)| {
        json!({"batch_request_id": id, "rest_requests": items})
            .to_string()
            .into_bytes()
    });
    prop_oneof![
        any_json().prop_map(|v| v.to_string().into_bytes()),
        envelope,
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn an_arbitrary_encoded_query_and_sysparms_get_an_answer_never_a_5xx(
        query in encoded_query(),
        params in prop::collection::vec(
            (
                prop::sample::select(&[
                    "sysparm_limit", "sysparm_offset", "sysparm_fields",
                    "sysparm_display_value", "sysparm_exclude_reference_link",
                    "sysparm_suppress_pagination_header", "sysparm_no_count",
                    "sysparm_query_no_domain", "sysparm_view",
                ][..]),
                sysparm_value(),
            ),
            0..4,
        ),
        table in prop::sample::select(&["incident", "sc_request", "sys_user", "nope_table"][..]),
    ) {
        let (status, body, text) = sim_send(|http, base| {
            let mut url = base.join(&format!("api/now/table/{table}")).unwrap();
            url.query_pairs_mut().append_pair("sysparm_query", &query);
            for (k, v) in &params {
                url.query_pairs_mut().append_pair(k, v);
            }
            http.get(url)
        });
        prop_assert!(status < 500, "{status}: {text}");
        if status >= 400 {
            prop_assert!(says_what_is_wrong(&body), "{status}: {text}");
        }
    }

    #[test]
    fn an_arbitrary_batch_body_gets_an_answer_never_a_5xx_and_a_refusal_says_why(
        body in batch_body(),
    ) {
        let (status, json, text) = sim_send(|http, base| {
            http.post(base.join("api/now/v1/batch").unwrap())
                .header("content-type", "application/json")
                .body(body)
        });
        prop_assert!(status < 500, "{status}: {text}");
        if status >= 400 {
            prop_assert!(says_what_is_wrong(&json), "{status}: {text}");
        }
    }
}

#[test]
fn the_example_config_has_keys_to_vary() {
    // The properties above vary these; an empty list would make them vacuous. (The mapping
    // folders are commented out in the example: their default is "found beside, or built in".)
    assert!(KEYS.len() > 25, "{:?}", *KEYS);
    assert!(Config::from_toml("prop.toml", &example(), env()).is_ok());
}
