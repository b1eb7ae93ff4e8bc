//! Turns a `[profile.NAME]` as written into a [`Profile`], applying the per-table defaults
//! and refusing what ServiceNow would refuse or silently ignore.

use std::collections::BTreeMap;

use super::MappingError;
use super::profile::{
    Caller, CustomField, EscalationCondition, GroupBy, Profile, ProfileTemplates, StateCode, Table,
};
use super::raw::RawProfile;
use crate::domain::{Level, Severity, TicketState};
use crate::template::InlineTemplate;

/// The close code used when an incident profile names none (out-of-box since Tokyo).
pub const DEFAULT_CLOSE_CODE: &str = "Solution provided";

/// The default cap on subjects listed in one grouped ticket.
pub const DEFAULT_GROUP_CAP: u32 = 50;

/// Fields the profile fills from its own keys or templates; a custom mapping may not.
const RESERVED: &[(&str, &str)] = &[
    (
        "short_description",
        "the `templates.short_description` template",
    ),
    ("description", "the `templates.description` template"),
    ("work_notes", "the `templates.work_note` template"),
    ("close_notes", "the `templates.close_notes` template"),
    (
        "comments",
        "nothing: snowsync writes work notes, not customer-visible comments",
    ),
    ("impact", "the `impact` key"),
    ("urgency", "the `urgency` key"),
    ("state", "the `state` keys"),
    ("incident_state", "the `state` keys"),
    ("close_code", "the `close_code` key"),
    ("category", "the `category` key"),
    ("subcategory", "the `subcategory` key"),
    ("assignment_group", "the `assignment_group` key"),
    ("business_service", "the `business_service` key"),
    ("assigned_to", "the `assigned_to` key"),
    ("caller_id", "the `caller` key"),
    ("requested_for", "the `caller` key"),
    ("correlation_id", "snowsync itself (one ticket per finding)"),
];

const PRIORITY: &str = "priority is computed by ServiceNow from impact and urgency and is never sent; set `impact` and `urgency` (or `severity_map`) instead";

pub(super) fn profile(
    file: &str,
    name: &str,
    raw: RawProfile,
    lines: BTreeMap<String, usize>,
) -> Result<Profile, MappingError> {
    let fail = |key: &str, message: String| {
        let line = lines
            .get(key)
            .or_else(|| lines.get(key.split('.').next().unwrap_or(key)))
            .or_else(|| lines.get(""));
        let origin = match line {
            Some(line) => format!("{file}:{line}"),
            None => file.to_owned(),
        };
        MappingError::new(origin, format!("profile.{name}.{key}"), message)
    };
    if raw.priority.is_some() {
        return Err(fail("priority", PRIORITY.to_owned()));
    }
    let table = Table::parse(&raw.table).ok_or_else(|| {
        fail(
            "table",
            format!(
                "unknown table `{}` (expected incident or sc_request)",
                raw.table
            ),
        )
    })?;
    let level = |key: &str, value: &toml::Value| {
        scalar(value)
            .as_deref()
            .and_then(Level::parse)
            .ok_or_else(|| {
                fail(
                    key,
                    format!(
                        "`{value}` is not an impact/urgency (expected high, medium, low or 1, 2, 3)"
                    ),
                )
            })
    };
    let impact = raw
        .impact
        .as_ref()
        .map(|v| level("impact", v))
        .transpose()?;
    let urgency = raw
        .urgency
        .as_ref()
        .map(|v| level("urgency", v))
        .transpose()?;
    let mut severity_map = BTreeMap::new();
    for (text, levels) in &raw.severity_map {
        let key = format!("severity_map.{text}");
        let severity = Severity::parse(text).ok_or_else(|| {
            fail(
                &key,
                format!("unknown severity `{text}` (expected info, low, medium, high or critical)"),
            )
        })?;
        let pair = (
            level(&format!("{key}.impact"), &levels.impact)?,
            level(&format!("{key}.urgency"), &levels.urgency)?,
        );
        severity_map.insert(severity, pair);
    }
    let text = |key: &str, value: Option<String>| match value {
        Some(v) if v.trim().is_empty() => Err(fail(
            key,
            "must not be empty (leave the key out instead)".to_owned(),
        )),
        other => Ok(other),
    };
    let caller = match (raw.caller.as_deref(), text("caller_user", raw.caller_user)?) {
        (None | Some("subject"), None) => Caller::Subject,
        (Some("none"), None) => Caller::None,
        (Some("fixed"), Some(user)) => Caller::Fixed(user),
        (Some("fixed"), None) => {
            return Err(fail(
                "caller",
                "`caller = \"fixed\"` needs `caller_user` (a user name or email)".to_owned(),
            ));
        }
        (_, Some(_)) => {
            return Err(fail(
                "caller_user",
                "only used with `caller = \"fixed\"`".to_owned(),
            ));
        }
        (Some(other), None) => {
            return Err(fail(
                "caller",
                format!("unknown caller `{other}` (expected subject, fixed or none)"),
            ));
        }
    };
    let state = |key: &str, value: &toml::Value| state_code(table, value).map_err(|m| fail(key, m));
    let named = |incident: TicketState, request: TicketState| {
        StateCode::named(match table {
            Table::Incident => incident,
            Table::ScRequest => request,
        })
    };
    let auto_close_state = match &raw.auto_close_state {
        Some(v) => state("auto_close_state", v)?,
        None => named(TicketState::Resolved, TicketState::ClosedComplete),
    };
    let close_code = match (table, text("close_code", raw.close_code)?) {
        (Table::ScRequest, Some(_)) => {
            return Err(fail(
                "close_code",
                "requests have no close code; leave it out of sc_request profiles".to_owned(),
            ));
        }
        (Table::ScRequest, None) => None,
        (Table::Incident, Some(code)) => Some(code),
        // ServiceNow's data policy requires a close code on resolved and closed incidents.
        (Table::Incident, None) if matches!(auto_close_state.code, 6 | 7) => {
            Some(DEFAULT_CLOSE_CODE.to_owned())
        }
        (Table::Incident, None) => None,
    };
    let closed_states = match &raw.closed_states {
        Some(values) if values.is_empty() => {
            return Err(fail(
                "closed_states",
                "must list at least one state".to_owned(),
            ));
        }
        Some(values) => values
            .iter()
            .map(|v| state("closed_states", v))
            .collect::<Result<Vec<_>, _>>()?,
        None => match table {
            Table::Incident => vec![
                StateCode::named(TicketState::Resolved),
                StateCode::named(TicketState::Closed),
                StateCode::named(TicketState::Canceled),
            ],
            Table::ScRequest => vec![
                StateCode::named(TicketState::ClosedComplete),
                StateCode::named(TicketState::ClosedIncomplete),
                StateCode::named(TicketState::ClosedSkipped),
            ],
        },
    };
    let escalate_when = match raw.escalate_when {
        None => None,
        Some(cond) => {
            field_name(&cond.field).map_err(|m| fail("escalate_when.field", m))?;
            if cond.equals.is_empty() {
                return Err(fail(
                    "escalate_when.equals",
                    "must list at least one value".to_owned(),
                ));
            }
            let equals = cond
                .equals
                .iter()
                .map(|v| {
                    if cond.field == "state" {
                        state("escalate_when.equals", v).map(StateCode::value)
                    } else {
                        scalar(v).ok_or_else(|| {
                            fail("escalate_when.equals", format!("`{v}` is not a value"))
                        })
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(EscalationCondition {
                field: cond.field,
                equals,
            })
        }
    };
    let mut tags: Vec<String> = Vec::new();
    for tag in raw.tags {
        if tag.trim().is_empty() {
            return Err(fail("tags", "a tag must not be empty".to_owned()));
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let reopen_within = raw
        .reopen_within
        .as_deref()
        .map(|t| {
            humantime::parse_duration(t).map_err(|e| {
                fail(
                    "reopen_within",
                    format!("`{t}` is not a duration such as \"7d\" ({e})"),
                )
            })
        })
        .transpose()?;
    let group_by = match (raw.group_by.as_deref(), raw.group_cap) {
        (None | Some("subject"), None) => GroupBy::Subject,
        (None | Some("subject"), Some(_)) => {
            return Err(fail(
                "group_cap",
                "only used with `group_by = \"check\"`".to_owned(),
            ));
        }
        (Some("check"), cap) => GroupBy::Check {
            cap: match cap {
                None => DEFAULT_GROUP_CAP,
                Some(c) => u32::try_from(c).ok().filter(|c| *c > 0).ok_or_else(|| {
                    fail("group_cap", format!("must be a positive number, not {c}"))
                })?,
            },
        },
        (Some(other), _) => {
            return Err(fail(
                "group_by",
                format!("unknown grouping `{other}` (expected subject or check)"),
            ));
        }
    };
    let mut templates = ProfileTemplates::defaults(table);
    for (key, value, slot) in [
        (
            "templates.short_description",
            raw.templates.short_description,
            &mut templates.short_description,
        ),
        (
            "templates.description",
            raw.templates.description,
            &mut templates.description,
        ),
        (
            "templates.work_note",
            raw.templates.work_note,
            &mut templates.work_note,
        ),
        (
            "templates.close_notes",
            raw.templates.close_notes,
            &mut templates.close_notes,
        ),
    ] {
        if let Some(value) = value {
            let stem = value.strip_suffix(".hbs").unwrap_or(&value);
            if stem.is_empty() || stem.contains(['/', '\\']) {
                return Err(fail(
                    key,
                    format!("`{value}` is not a template name such as \"description\""),
                ));
            }
            *slot = stem.to_owned();
        }
    }
    let mut fields = Vec::new();
    for (field, source) in raw.fields {
        let key = format!("fields.{field}");
        if field == "priority" {
            return Err(fail(&key, PRIORITY.to_owned()));
        }
        field_name(&field).map_err(|m| fail(&key, m))?;
        if let Some((_, by)) = RESERVED.iter().find(|(f, _)| *f == field) {
            return Err(fail(
                &key,
                format!("`{field}` is set by {by}, not by a custom mapping"),
            ));
        }
        if field.starts_with("sys_") {
            return Err(fail(
                &key,
                format!("`{field}` is a system field ServiceNow maintains"),
            ));
        }
        let template = InlineTemplate::compile(&source)
            .map_err(|m| fail(&key, format!("template does not compile: {m}")))?;
        fields.push(CustomField {
            name: field,
            template,
        });
    }
    Ok(Profile {
        name: name.to_owned(),
        file: file.to_owned(),
        table,
        impact,
        urgency,
        severity_map,
        assignment_group: text("assignment_group", raw.assignment_group)?,
        business_service: text("business_service", raw.business_service)?,
        category: text("category", raw.category)?,
        subcategory: text("subcategory", raw.subcategory)?,
        assigned_to: text("assigned_to", raw.assigned_to)?,
        caller,
        state: raw.state.as_ref().map(|v| state("state", v)).transpose()?,
        auto_close_state,
        close_code,
        escalation_state: match &raw.escalation_state {
            Some(v) => state("escalation_state", v)?,
            None => named(TicketState::InProgress, TicketState::WorkInProgress),
        },
        reopen_state: match &raw.reopen_state {
            Some(v) => state("reopen_state", v)?,
            None => named(TicketState::InProgress, TicketState::WorkInProgress),
        },
        closed_states,
        escalate_when,
        tags,
        reopen_within,
        group_by,
        templates,
        fields,
        lines,
    })
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
    match TicketState::parse(&text) {
        Some(state) if state.belongs_to(table.as_str()) => Ok(StateCode::named(state)),
        Some(_) => Err(format!(
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
