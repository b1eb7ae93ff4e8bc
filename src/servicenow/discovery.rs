//! Field discovery: a table's fields with the inherited ones (`sys_dictionary`, up the
//! `sys_db_object` chain to `task`), and a field's choices (`sys_choice`).

use std::collections::BTreeMap;

use tracing::debug;

use super::Client;
use super::error::{Disposition, ServiceNowError};
use super::wire::{self, Record};

/// Tables known to extend `task`, for when `sys_db_object` cannot be read.
const TASK_TABLES: &[&str] = &[
    "incident",
    "incident_task",
    "problem",
    "problem_task",
    "change_request",
    "change_task",
    "sc_request",
    "sc_req_item",
    "sc_task",
    "sn_si_incident",
];

/// Guards against a cycle in `super_class`.
const MAX_DEPTH: usize = 10;

/// One field of a table, from `sys_dictionary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// The column name (`element`), e.g. `short_description`.
    pub name: String,
    /// The label shown on forms (`column_label`).
    pub label: String,
    /// The internal type: `string`, `integer`, `reference`, `glide_date_time`, ...
    pub kind: String,
    pub max_length: Option<u32>,
    pub mandatory: bool,
    /// The dictionary marks it read-only: the instance ignores what a write sends for it.
    pub read_only: bool,
    /// The referenced table, for reference fields.
    pub reference: Option<String>,
    /// The table that defines the field: the table itself or an ancestor such as `task`.
    pub defined_on: String,
}

impl FieldInfo {
    /// A String field, the only kind custom mappings may fill (as ThreatLocker offers).
    pub fn is_string(&self) -> bool {
        self.kind == "string"
    }
}

/// One choice of a choice field, from `sys_choice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The stored value, e.g. `6`.
    pub value: String,
    /// The label, e.g. `Resolved`.
    pub label: String,
    pub sequence: Option<i64>,
}

impl Client {
    /// The fields of `table` including inherited ones, sorted by name. A field defined on
    /// both the table and an ancestor is reported as the table defines it.
    pub async fn fields(&self, table: &str) -> Result<Vec<FieldInfo>, ServiceNowError> {
        let chain = self.hierarchy(table).await?;
        let query = chain
            .iter()
            .map(|t| wire::eq("name", t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ServiceNowError::InvalidRequest)?
            .join("^OR");
        let rows = self
            .query(
                "sys_dictionary",
                &query,
                &[
                    "name",
                    "element",
                    "column_label",
                    "internal_type",
                    "max_length",
                    "mandatory",
                    "read_only",
                    "reference",
                ],
                1000,
            )
            .await?;
        let mut fields: BTreeMap<String, (usize, FieldInfo)> = BTreeMap::new();
        for row in rows {
            let Some(info) = field_info(&row) else {
                continue;
            };
            // The nearer the defining table is to `table`, the more it wins.
            let depth = chain
                .iter()
                .position(|t| *t == info.defined_on)
                .unwrap_or(usize::MAX);
            match fields.get(&info.name) {
                Some((d, _)) if *d <= depth => {}
                _ => {
                    fields.insert(info.name.clone(), (depth, info));
                }
            }
        }
        Ok(fields.into_values().map(|(_, f)| f).collect())
    }

    /// The active choices of `table.element`, by sequence; from the nearest table in the chain
    /// that defines any (choices of `task` fields live on `task`).
    pub async fn choices(
        &self,
        table: &str,
        element: &str,
    ) -> Result<Vec<Choice>, ServiceNowError> {
        let chain = self.hierarchy(table).await?;
        for t in &chain {
            let query = format!(
                "{}^{}",
                wire::eq("name", t).map_err(ServiceNowError::InvalidRequest)?,
                wire::eq("element", element).map_err(ServiceNowError::InvalidRequest)?
            );
            let rows = self
                .query(
                    "sys_choice",
                    &query,
                    &["value", "label", "sequence", "inactive", "language"],
                    1000,
                )
                .await?;
            let choices = choices_from(rows);
            if !choices.is_empty() {
                return Ok(choices);
            }
        }
        Ok(Vec::new())
    }

    /// `table` and its ancestors, nearest first, from `sys_db_object.super_class`. When that
    /// table cannot be read (ACLs often hide it), tables known to extend `task` get `task`.
    async fn hierarchy(&self, table: &str) -> Result<Vec<String>, ServiceNowError> {
        wire::check_table(table).map_err(ServiceNowError::InvalidRequest)?;
        match self.walk_super_classes(table).await {
            Ok(Some(chain)) => return Ok(chain),
            Ok(None) => debug!(table, "no sys_db_object row, using the known hierarchy"),
            Err(e) if e.classify() == Disposition::GiveUp => {
                debug!(table, error = %e, "sys_db_object not readable, using the known hierarchy")
            }
            Err(e) => return Err(e),
        }
        let mut chain = vec![table.to_owned()];
        if TASK_TABLES.contains(&table) {
            chain.push("task".to_owned());
        }
        Ok(chain)
    }

    async fn walk_super_classes(
        &self,
        table: &str,
    ) -> Result<Option<Vec<String>>, ServiceNowError> {
        let by_name = wire::eq("name", table).map_err(ServiceNowError::InvalidRequest)?;
        let page = self
            .query_page(
                "sys_db_object",
                &by_name,
                &["name", "super_class"],
                1,
                0,
                "fields",
            )
            .await?;
        let Some(mut row) = page.rows.into_iter().next() else {
            return Ok(None);
        };
        let mut chain = vec![table.to_owned()];
        while chain.len() < MAX_DEPTH {
            let Some(parent) = row.reference("super_class").map(str::to_owned) else {
                break;
            };
            let Ok(by_id) = wire::eq("sys_id", &parent) else {
                break;
            };
            let page = self
                .query_page(
                    "sys_db_object",
                    &by_id,
                    &["name", "super_class"],
                    1,
                    0,
                    "fields",
                )
                .await?;
            let Some(next) = page.rows.into_iter().next() else {
                break;
            };
            match next.str("name") {
                Some(name) if !name.is_empty() && !chain.iter().any(|t| t == name) => {
                    chain.push(name.to_owned());
                }
                _ => break,
            }
            row = next;
        }
        Ok(Some(chain))
    }
}

/// A `sys_dictionary` row as a field; `None` for the table's own row (no `element`, or the
/// `collection` type).
fn field_info(row: &Record) -> Option<FieldInfo> {
    let name = row.str("element").filter(|e| !e.is_empty())?;
    // internal_type is a reference to sys_glide_object whose sys_id is the type name.
    let kind = row
        .reference("internal_type")
        .or_else(|| row.str("internal_type"))
        .unwrap_or("");
    if kind == "collection" {
        return None;
    }
    Some(FieldInfo {
        name: name.to_owned(),
        label: row.str("column_label").unwrap_or_default().to_owned(),
        kind: kind.to_owned(),
        max_length: row
            .str("max_length")
            .and_then(|m| m.replace(',', "").trim().parse().ok()),
        mandatory: row.str("mandatory") == Some("true"),
        read_only: row.str("read_only") == Some("true"),
        reference: row
            .reference("reference")
            .or_else(|| row.str("reference"))
            .filter(|r| !r.is_empty())
            .map(str::to_owned),
        defined_on: row.str("name").unwrap_or_default().to_owned(),
    })
}

/// Active choices, one per value (English preferred when several languages exist), by
/// sequence then value.
fn choices_from(rows: Vec<Record>) -> Vec<Choice> {
    let mut by_value: BTreeMap<String, (bool, Choice)> = BTreeMap::new();
    for row in rows {
        if row.str("inactive") == Some("true") {
            continue;
        }
        let Some(value) = row.str("value") else {
            continue;
        };
        let english = matches!(row.str("language"), None | Some("") | Some("en"));
        let choice = Choice {
            value: value.to_owned(),
            label: row.str("label").unwrap_or(value).to_owned(),
            sequence: row.str("sequence").and_then(|s| s.trim().parse().ok()),
        };
        match by_value.get(value) {
            Some((true, _)) => {}
            Some((false, _)) if !english => {}
            _ => {
                by_value.insert(value.to_owned(), (english, choice));
            }
        }
    }
    let mut out: Vec<Choice> = by_value.into_values().map(|(_, c)| c).collect();
    out.sort_by(|a, b| {
        a.sequence
            .unwrap_or(i64::MAX)
            .cmp(&b.sequence.unwrap_or(i64::MAX))
            .then_with(|| a.value.cmp(&b.value))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(v: serde_json::Value) -> Record {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn dictionary_rows_become_fields_and_the_collection_row_is_skipped() {
        let table_row = record(serde_json::json!({
            "name": "incident", "element": "", "internal_type": "collection"
        }));
        assert_eq!(field_info(&table_row), None);
        let linked = record(serde_json::json!({
            "name": "task", "element": "short_description", "column_label": "Short description",
            "internal_type": {"link": "https://i/api/now/table/sys_glide_object/string", "value": "string"},
            "max_length": "160", "mandatory": "false", "reference": ""
        }));
        let f = field_info(&linked).unwrap();
        assert!(f.is_string());
        assert_eq!(f.max_length, Some(160));
        assert_eq!(f.defined_on, "task");
        assert_eq!(f.reference, None);
        let reference = record(serde_json::json!({
            "name": "task", "element": "assignment_group", "internal_type": "reference",
            "max_length": "32", "mandatory": "true", "reference": "sys_user_group"
        }));
        let f = field_info(&reference).unwrap();
        assert!(!f.is_string());
        assert!(f.mandatory);
        assert_eq!(f.reference.as_deref(), Some("sys_user_group"));
    }

    #[test]
    fn choices_skip_inactive_rows_and_prefer_english() {
        let rows = vec![
            record(
                serde_json::json!({"value": "7", "label": "Geschlossen", "sequence": "7", "language": "de"}),
            ),
            record(
                serde_json::json!({"value": "7", "label": "Closed", "sequence": "7", "language": "en"}),
            ),
            record(
                serde_json::json!({"value": "1", "label": "New", "sequence": "1", "language": "en"}),
            ),
            record(
                serde_json::json!({"value": "9", "label": "Old", "sequence": "2", "inactive": "true"}),
            ),
        ];
        let got = choices_from(rows);
        let labels: Vec<&str> = got.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["New", "Closed"]);
    }
}
