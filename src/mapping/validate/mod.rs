//! Turns a `[profile.NAME]` as written into a [`Profile`], applying the per-table defaults
//! and refusing what ServiceNow would refuse or silently ignore.
//!
//! One submodule per part of a profile; [`profile`] runs every one of them and reports all
//! the problems found, in a fixed order.

mod escalation;
mod fields;
mod grouping;
mod levels;
mod references;
mod states;
mod templates;

use std::collections::BTreeMap;

use super::MappingError;
use super::profile::{GroupBy, Profile, StateCode, Table};
use super::raw::RawProfile;
use crate::domain::TicketState;

pub use grouping::DEFAULT_GROUP_CAP;
pub use states::{DEFAULT_CLOSE_CODE, DEFAULT_SECURITY_CLOSE_CODE};

const PRIORITY: &str = "priority is computed by ServiceNow from impact and urgency and is never sent; set `impact` and `urgency` (or `severity_map`) instead";

/// Validates `[profile.NAME]` from `file`; `lines` holds the line of each of its keys.
/// Every part is checked, so all the profile's problems come back at once; the parts that
/// need the table are checked only when the table is valid.
pub(super) fn profile(
    file: &str,
    name: &str,
    raw: RawProfile,
    lines: BTreeMap<String, usize>,
) -> Result<Profile, Vec<MappingError>> {
    let site = Site {
        file,
        name,
        lines: &lines,
    };
    let mut errors = Vec::new();
    if raw.priority.is_some() {
        keep(
            &mut errors,
            Err::<(), _>(site.fail("priority", PRIORITY.to_owned())),
        );
    }
    let table = keep(&mut errors, levels::table(&site, &raw.table));
    let levels = keep(&mut errors, levels::levels(&site, &raw));
    let caller = keep(&mut errors, references::caller(&site, &raw));
    let closing = table.and_then(|t| keep(&mut errors, states::closing(&site, t, &raw)));
    let escalate_when =
        table.and_then(|t| keep(&mut errors, escalation::escalate_when(&site, t, &raw)));
    let tags = keep(&mut errors, references::tags(&site, &raw));
    let reopen_within = keep(&mut errors, states::reopen_within(&site, &raw));
    let group_by = keep(&mut errors, grouping::group_by(&site, &raw));
    let grouped = matches!(group_by, Some(GroupBy::Check { .. }));
    let templates =
        table.and_then(|t| keep(&mut errors, templates::templates(&site, t, grouped, &raw)));
    let fields = keep(&mut errors, fields::fields(&site, &raw));
    let references = keep(&mut errors, references::references(&site, &raw));
    let transitions = table.and_then(|t| keep(&mut errors, states::transitions(&site, t, &raw)));
    let (
        Some(table),
        Some(levels),
        Some(caller),
        Some(closing),
        Some(escalate_when),
        Some(tags),
        Some(reopen_within),
        Some(group_by),
        Some(templates),
        Some(fields),
        Some(references),
        Some(transitions),
    ) = (
        table,
        levels,
        caller,
        closing,
        escalate_when,
        tags,
        reopen_within,
        group_by,
        templates,
        fields,
        references,
        transitions,
    )
    else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Profile {
        name: name.to_owned(),
        file: file.to_owned(),
        table,
        impact: levels.impact,
        urgency: levels.urgency,
        severity_map: levels.severity_map,
        assignment_group: references.assignment_group,
        business_service: references.business_service,
        category: references.category,
        subcategory: references.subcategory,
        assigned_to: references.assigned_to,
        caller,
        state: transitions.state,
        auto_close_state: closing.auto_close_state,
        close_code: closing.close_code,
        escalation_state: transitions.escalation_state,
        reopen_state: transitions.reopen_state,
        closed_states: closing.closed_states,
        escalate_when,
        tags,
        reopen_within,
        enrich_from_instance: raw.enrich_from_instance.unwrap_or(false),
        group_by,
        templates,
        fields,
        lines,
    })
}

/// The value of a step that succeeded; a failed step's error joins `errors`.
fn keep<T>(errors: &mut Vec<MappingError>, result: Result<T, MappingError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// The profile being validated: where its keys are written, for messages.
struct Site<'a> {
    file: &'a str,
    name: &'a str,
    lines: &'a BTreeMap<String, usize>,
}

impl Site<'_> {
    /// An error at `profile.NAME.key`, on the key's line (else its section's, else the profile's).
    fn fail(&self, key: &str, message: String) -> MappingError {
        let line = self
            .lines
            .get(key)
            .or_else(|| self.lines.get(key.split('.').next().unwrap_or(key)))
            .or_else(|| self.lines.get(""));
        let origin = match line {
            Some(line) => format!("{}:{line}", self.file),
            None => self.file.to_owned(),
        };
        MappingError::new(origin, format!("profile.{}.{key}", self.name), message)
    }

    /// An optional text value: absent is fine, blank is a mistake.
    fn text(&self, key: &str, value: Option<&String>) -> Result<Option<String>, MappingError> {
        match value {
            Some(v) if v.trim().is_empty() => Err(self.fail(
                key,
                "must not be empty (leave the key out instead)".to_owned(),
            )),
            other => Ok(other.cloned()),
        }
    }

    /// A state valid for `table`, by name or code.
    fn state(
        &self,
        table: Table,
        key: &str,
        value: &toml::Value,
    ) -> Result<StateCode, MappingError> {
        state_code(table, value).map_err(|m| self.fail(key, m))
    }
}

/// A TOML scalar as ServiceNow would store it: strings as written, integers in decimal.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A state by name (valid for `table`) or by numeric code.
fn state_code(table: Table, value: &toml::Value) -> Result<StateCode, String> {
    let names = || TicketState::names_for(table.as_str()).join(", ");
    let text = scalar(value).ok_or_else(|| format!("`{value}` is not a state"))?;
    if let Ok(code) = text.trim().parse::<i32>() {
        return Ok(StateCode { code, name: None });
    }
    match TicketState::parse(table.as_str(), &text) {
        Some(state) => Ok(StateCode::named(state)),
        None if TicketState::is_name(&text) => Err(format!(
            "`{text}` is not a {} state (expected one of {}, or a numeric code)",
            table.as_str(),
            names()
        )),
        None => Err(format!(
            "unknown state `{text}` (expected one of {}, or a numeric code)",
            names()
        )),
    }
}

/// A ServiceNow column name: lower case letters, digits and `_`, starting with a letter.
fn field_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a field name (lower case letters, digits and `_`, such as u_oort_login)"
        ))
    }
}
