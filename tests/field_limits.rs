//! Custom field values cut to the length of the instance's field (`sys_dictionary`), read once
//! per table rather than once per ticket. Each on SQLite and on PostgreSQL.

mod support;

use std::path::Path;

use snowsync::sim::SimConfig;
use support::harness::{Harness, finding};

/// The emulator's incident has `u_source` of 40 characters and `u_check_id` of 100.
const LONG_VALUES: &str = r#"
[default]
profile = "long"

[profile.long]
table = "incident"
caller = "none"
state = "new"
auto_close_state = "resolved"
close_code = "Solution provided"
escalation_state = "in_progress"

[profile.long.fields]
u_source = "{{title}}"
u_check_id = "{{title}}"
"#;

fn mappings(dir: &Path) {
    std::fs::write(dir.join("rules.toml"), LONG_VALUES).expect("write the mapping");
}

/// A finding whose title is 80 characters long.
fn long_titled(login: &str) -> serde_json::Value {
    let mut f = finding("inactive-users", login);
    f["title"] = serde_json::json!("T".repeat(80));
    f
}

on_both_engines!(
    a_custom_value_longer_than_its_field_is_cut_to_the_dictionary_length_before_sending,
    |test_db| {
        let dir = tempfile::tempdir().expect("temp dir");
        mappings(dir.path());
        let h = Harness::with(test_db.engine, SimConfig::default(), dir.path(), "basic").await;
        h.failing(&long_titled("ana.souza@simubiz.com")).await;
        h.drain().await;
        let stats = h.stats().await;
        assert_eq!(stats.tables["incident"].records, 1);
        assert!(
            stats.tables["incident"].cut_values.is_empty(),
            "the instance had to cut {:?}",
            stats.tables["incident"].cut_values
        );
        let ticket = h
            .client()
            .query("incident", "", &["u_source", "u_check_id"], 1)
            .await
            .expect("read the ticket");
        assert_eq!(ticket[0].str("u_source").map(str::len), Some(40));
        assert_eq!(ticket[0].str("u_check_id").map(str::len), Some(80));
    }
);

on_both_engines!(
    the_dictionary_of_a_table_is_read_once_for_many_tickets,
    |test_db| {
        let dir = tempfile::tempdir().expect("temp dir");
        mappings(dir.path());
        let h = Harness::with(test_db.engine, SimConfig::default(), dir.path(), "basic").await;
        for n in 0..12 {
            h.failing(&long_titled(&format!("user{n}@simubiz.com")))
                .await;
        }
        h.drain().await;
        let stats = h.stats().await;
        assert_eq!(stats.tables["incident"].records, 12);
        assert_eq!(
            stats.requests_to("GET", "/api/now/table/sys_dictionary"),
            1,
            "{:?}",
            stats.requests
        );
        assert!(stats.tables["incident"].cut_values.is_empty());
    }
);
