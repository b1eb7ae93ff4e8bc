//! `snowsync check` after the configuration lines: the mappings and templates offline, then
//! the instance (connection, read access, tags) and what the mappings need of it: reference
//! values that resolve, custom mappings onto String fields, states and codes that are choices.
//!
//! Returns lines; printing and the exit code belong to the command line. Against the instance
//! it only reads, apart from the one label `servicenow::report` writes to prove tags work.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::Config;
use crate::mapping::online::{self, ChoiceRequirement, FieldFacts, OnlineRequirements};
use crate::mapping::{self, Mappings, Profile, Table};
use crate::servicenow::report::{Level, Line};
use crate::servicenow::{self, Client, FieldInfo};

/// The lines of `check` after the configuration, and whether any failed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// `ok   …`, `warn …`, `FAIL …` and `skip …` lines, in order.
    pub lines: Vec<String>,
    pub failed: bool,
}

impl Report {
    fn push(&mut self, line: Line) {
        self.failed |= line.level == Level::Fail;
        self.lines.push(line.to_string());
    }

    fn skip(&mut self, text: &str) {
        self.lines.push(format!("skip {text}"));
    }
}

/// Checks the mappings and templates, then, unless `offline`, the instance and the mappings
/// against it. The mappings are checked against the instance only once authentication works.
pub async fn run(config: &Config, offline: bool) -> Report {
    let files = mapping::check::offline(&config.mapping);
    let mut report = Report {
        lines: files.lines,
        failed: files.failed,
    };
    if offline {
        report.skip(
            "ServiceNow (--offline): connection, read access, tags, reference values, custom fields and choices not checked",
        );
        return report;
    }
    let client = match super::servicenow_client(config).await {
        Ok(c) => c,
        Err(e) => {
            report.push(fail(format!("{e:#}")));
            report.skip("mappings against the instance: no client");
            return report;
        }
    };
    let lines = servicenow::report::check_with(&client).await;
    // The first line is authentication; `check_with` stops right after it when it fails.
    let authenticated = lines.first().is_some_and(|l| l.level != Level::Fail);
    for line in lines {
        report.push(line);
    }
    match (authenticated, &files.mappings) {
        (false, _) => report.skip("mappings against the instance: authentication failed"),
        (true, None) => report.skip("mappings against the instance: the mappings did not load"),
        (true, Some(mappings)) => {
            for line in mappings_online(&client, mappings).await {
                report.push(line);
            }
        }
    }
    report
}

/// What `serve` does at start: the mappings against the instance, each problem a warning
/// in the log and the rest one info line. Never stops the service.
pub async fn log_online(client: Client, mappings: std::sync::Arc<Mappings>) {
    let lines = mappings_online(&client, &mappings).await;
    let problems: Vec<&Line> = lines.iter().filter(|l| l.level != Level::Ok).collect();
    for line in &problems {
        tracing::warn!(problem = %line.text, "mapping check against the instance");
    }
    tracing::info!(
        checked = lines.len(),
        problems = problems.len(),
        "mappings checked against the instance"
    );
}

/// Checks `mappings` against the instance, one line per finding: every table a plugin brings
/// is there, every reference value names exactly one record, every custom mapping targets an
/// existing String field of its table, and every state, close code, category and subcategory
/// is a choice in `sys_choice`.
pub async fn mappings_online(client: &Client, mappings: &Mappings) -> Vec<Line> {
    let mut reqs = online::online_requirements(mappings);
    let (mut lines, missing) = plugin_tables(client, mappings).await;
    for table in missing {
        reqs.without_table(table.as_str());
    }
    lines.extend(references(client, &reqs).await);
    lines.extend(custom_fields(client, &reqs).await);
    lines.extend(choices(client, &reqs).await);
    lines
}

/// Reads one record of each table the mappings use that comes with a plugin (the base tables
/// are read by `servicenow::report`). A table the instance does not have fails once per
/// profile writing to it, naming the plugin; it is returned so its fields and choices, which
/// cannot be there either, are not reported again.
async fn plugin_tables(client: &Client, mappings: &Mappings) -> (Vec<Line>, Vec<Table>) {
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    for table in mappings.tables() {
        let Some(plugin) = table.plugin() else {
            continue;
        };
        let name = table.as_str();
        let profiles: Vec<&Profile> = mappings.profiles().filter(|p| p.table == table).collect();
        match client
            .query_page(name, "", &["number"], 1, 0, "check")
            .await
        {
            Ok(page) => lines.push(ok(match page.total {
                Some(n) => format!(
                    "{} installed: read access to {name} ({n} records visible)",
                    plugin.name
                ),
                None => format!("{} installed: read access to {name}", plugin.name),
            })),
            Err(e) if e.is_unknown_table() => {
                missing.push(table);
                lines.extend(profiles.iter().map(|p| {
                    fail(format!(
                        "{}: `{name}` is not a table of the instance: the {} plugin ({}) is not installed ({e})",
                        p.location("table"),
                        plugin.name,
                        plugin.id
                    ))
                }));
            }
            Err(e) => lines.push(fail(format!(
                "read access to {name}, the table of profile {}: {e}",
                profiles
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
    (lines, missing)
}

/// Resolves each reference value as delivery will, so a name that matches none or several
/// records fails here, with where it is set.
async fn references(client: &Client, reqs: &OnlineRequirements) -> Vec<Line> {
    let mut lines = Vec::new();
    for req in &reqs.references {
        lines.push(match client.resolve_reference(req.kind, &req.name).await {
            Ok(sys_id) => ok(format!(
                "{}: {} `{}` found (sys_id {sys_id})",
                req.location, req.kind, req.name
            )),
            Err(e) => fail(format!("{}: {e}", req.location)),
        });
    }
    lines
}

/// Reads the dictionary of each table that custom mappings fill and refuses the mappings
/// onto fields that are missing, read-only or not String fields.
async fn custom_fields(client: &Client, reqs: &OnlineRequirements) -> Vec<Line> {
    let tables: BTreeSet<&str> = reqs
        .custom_fields
        .iter()
        .map(|r| r.table.as_str())
        .collect();
    let mut lines = Vec::new();
    for table in tables {
        let facts: Vec<FieldFacts> = match client.fields(table).await {
            Ok(fields) => fields.iter().map(facts).collect(),
            Err(e) => {
                lines.push(fail(format!(
                    "fields of {table} from sys_dictionary, needed to check the custom mappings: {e}"
                )));
                continue;
            }
        };
        let problems = online::check_custom_fields(reqs, table, &facts);
        let good: BTreeSet<&str> = reqs
            .custom_fields
            .iter()
            .filter(|r| r.table == table && !problems.iter().any(|p| p.location == r.location))
            .map(|r| r.field.as_str())
            .collect();
        if !good.is_empty() {
            lines.push(ok(format!(
                "custom mappings onto String fields of {table}: {}",
                good.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        lines.extend(problems.iter().map(|p| fail(p.to_string())));
    }
    lines
}

fn facts(field: &FieldInfo) -> FieldFacts {
    FieldFacts {
        name: field.name.clone(),
        internal_type: field.kind.clone(),
        max_length: field.max_length,
        read_only: field.read_only,
        reference: field.reference.clone(),
    }
}

/// Reads the choices of each `table.element` the mappings set (the client walks up to `task`,
/// where sc_request's states live) and refuses the values that are not among them.
async fn choices(client: &Client, reqs: &OnlineRequirements) -> Vec<Line> {
    let all: Vec<ChoiceRequirement> = reqs
        .states
        .iter()
        .chain(&reqs.close_codes)
        .chain(&reqs.categories)
        .cloned()
        .collect();
    let mut wanted: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for r in &all {
        wanted
            .entry((r.table.as_str(), r.element.as_str()))
            .or_default()
            .insert(r.value.as_str());
    }
    let mut lines = Vec::new();
    for ((table, element), values) in wanted {
        let choices = match client.choices(table, element).await {
            Ok(c) => c,
            Err(e) => {
                lines.push(fail(format!(
                    "{element} choices of {table} from sys_choice: {e}"
                )));
                continue;
            }
        };
        let known: Vec<String> = choices.iter().map(|c| c.value.clone()).collect();
        let found: Vec<String> = choices
            .iter()
            .filter(|c| values.contains(c.value.as_str()))
            .map(|c| match c.label.as_str() {
                "" => c.value.clone(),
                label if label == c.value => c.value.clone(),
                label => format!("{} ({label})", c.value),
            })
            .collect();
        if !found.is_empty() {
            lines.push(ok(format!(
                "{element} choices of {table}: {}",
                found.join(", ")
            )));
        }
        lines.extend(
            online::check_choices(&all, table, element, &known)
                .iter()
                .map(|p| fail(p.to_string())),
        );
    }
    lines
}

fn ok(text: String) -> Line {
    Line {
        level: Level::Ok,
        text,
    }
}

fn fail(text: String) -> Line {
    Line {
        level: Level::Fail,
        text,
    }
}
