//! Business rules of the emulated instance: default values, incident priority and state
//! model, the resolve data policy, closed-record protection, request approvals and the
//! security incident's closure.
//! Called by `write` around every stored change; never called from HTTP code directly.

mod approval;
mod security_incident;

pub(crate) use approval::{after, after_delete};

use crate::sim::clock;
use crate::sim::db::Db;
use crate::sim::error::SnError;
use crate::sim::schema::TableDef;
use crate::sim::write::{self, WriteCtx};

const RESOLVED: &str = "6";
const CLOSED: &str = "7";
const CANCELED: &str = "8";
const ON_HOLD: &str = "3";
const IN_PROGRESS: &str = "2";
/// hold_reason "Awaiting Caller" (open question 8: believed value).
const AWAITING_CALLER: &str = "1";

fn get<'v>(def: &TableDef, values: &'v [String], name: &str) -> &'v str {
    def.idx(name).map(|i| values[i].as_str()).unwrap_or("")
}

fn set(def: &TableDef, values: &mut [String], name: &str, v: impl Into<String>) {
    if let Some(i) = def.idx(name) {
        values[i] = v.into();
    }
}

/// Records who or when: always on an update; on a create only where the client left the
/// field empty, as an insert keeps the values it is given.
fn stamp(def: &TableDef, values: &mut [String], creating: bool, name: &str, v: &str) {
    if !creating || get(def, values, name).is_empty() {
        set(def, values, name, v);
    }
}

/// Priority from impact × urgency, the standard data-lookup matrix.
pub(crate) fn priority(impact: &str, urgency: &str) -> Option<&'static str> {
    let i: u8 = impact.parse().ok().filter(|n| (1..=3).contains(n))?;
    let u: u8 = urgency.parse().ok().filter(|n| (1..=3).contains(n))?;
    Some(["1", "2", "3", "4", "5"][usize::from(i + u - 2)])
}

/// Values a new record starts with, before the client's.
pub(crate) fn defaults(db: &mut Db, def: &TableDef, values: &mut [String], ctx: &WriteCtx<'_>) {
    let now = ctx.now.as_str();
    let user = ctx.actor.user_name.as_str();
    let d = |values: &mut [String], pairs: &[(&str, &str)]| {
        for (k, v) in pairs {
            set(def, values, k, *v);
        }
    };
    d(
        values,
        &[
            ("sys_created_on", now),
            ("sys_updated_on", now),
            ("sys_created_by", user),
            ("sys_updated_by", user),
            ("sys_mod_count", "0"),
        ],
    );
    set(def, values, "sys_id", write::new_sys_id());
    if let Some(prefix) = def.number_prefix {
        let number = db.next_number(def.name, prefix);
        set(def, values, "number", number);
    }
    if def.is_task() {
        d(
            values,
            &[
                ("made_sla", "true"),
                ("upon_reject", "cancel"),
                ("upon_approval", "proceed"),
                ("opened_at", now),
                ("sys_domain", "global"),
                ("sys_domain_path", "/"),
                ("state", "1"),
                ("knowledge", "false"),
                ("impact", "3"),
                ("urgency", "3"),
                ("priority", "4"),
                ("active", "true"),
                ("approval", "not requested"),
                ("reassignment_count", "0"),
                ("escalation", "0"),
                ("sys_class_name", def.name),
            ],
        );
        set(def, values, "opened_by", ctx.actor.sys_id.clone());
    }
    match def.name {
        "incident" => d(
            values,
            &[
                ("child_incidents", "0"),
                ("category", "inquiry"),
                ("notify", "1"),
                ("incident_state", "1"),
                ("severity", "3"),
                ("reopen_count", "0"),
            ],
        ),
        // Open question 10: a request starts awaiting approval (believed choice values).
        "sc_request" => d(
            values,
            &[
                ("price", "0"),
                ("request_state", "requested"),
                ("stage", "requested"),
                ("approval", "requested"),
            ],
        ),
        // A new security incident starts as a Draft (documented); "Non-critical" is the
        // documented default business impact (its value, 3, believed).
        "sn_si_incident" => d(
            values,
            &[
                ("state", security_incident::DRAFT),
                ("business_criticality", "3"),
            ],
        ),
        "sysapproval_approver" => d(values, &[("state", "requested")]),
        "sys_user" => d(values, &[("active", "true"), ("locked_out", "false")]),
        "sys_user_group" => d(values, &[("active", "true")]),
        "cmdb_ci_service" => d(values, &[("operational_status", "1")]),
        "label" => {
            d(
                values,
                &[
                    ("type", "standard"),
                    ("viewable_by", "everyone"),
                    ("active", "true"),
                ],
            );
            set(def, values, "owner", ctx.actor.sys_id.clone());
        }
        _ => {}
    }
}

/// Refuses changes to records the account may not touch: closed incidents are read-only for
/// non-admins, and no seeded account is an admin. Closed security incidents stay writable
/// (believed: the documentation names a property that locks only their attachments).
pub(crate) fn guard_update(def: &TableDef, old: &[String]) -> Result<(), SnError> {
    if def.name == "incident" && get(def, old, "state") == CLOSED {
        return Err(SnError::update_acl());
    }
    Ok(())
}

/// Derived fields and checks before a record is stored.
pub(crate) fn before(
    _db: &Db,
    def: &TableDef,
    old: Option<&[String]>,
    new: &mut [String],
    ctx: &WriteCtx<'_>,
) -> Result<(), SnError> {
    if def.is_task() {
        let number = get(def, new, "number").to_owned();
        set(def, new, "task_effective_number", number);
        let before = old.map(|o| get(def, o, "approval")).unwrap_or("");
        let after = get(def, new, "approval");
        if before != after && matches!(after, "approved" | "rejected") {
            set(def, new, "approval_set", ctx.now.clone());
        }
    }
    match def.name {
        "incident" => incident(def, old, new, ctx),
        "sn_si_incident" => security_incident::before(def, old, new, ctx),
        "sc_request" => {
            request_closure(def, old, new, ctx);
            Ok(())
        }
        "label_entry" => {
            // The target fills itself in from the tagged record.
            let key = get(def, new, "table_key").to_owned();
            set(def, new, "target", key);
            Ok(())
        }
        _ => Ok(()),
    }
}

fn incident(
    def: &TableDef,
    old: Option<&[String]>,
    new: &mut [String],
    ctx: &WriteCtx<'_>,
) -> Result<(), SnError> {
    // state and incident_state carry the same value; whichever the client changed wins.
    let base = |f: &str| {
        old.map(|o| get(def, o, f).to_owned())
            .unwrap_or_else(|| "1".into())
    };
    let (state, istate) = (
        get(def, new, "state").to_owned(),
        get(def, new, "incident_state").to_owned(),
    );
    if state == base("state") && istate != base("incident_state") {
        set(def, new, "state", istate);
    } else {
        set(def, new, "incident_state", state);
    }
    // Priority is computed, never taken from the client.
    if let Some(p) = priority(get(def, new, "impact"), get(def, new, "urgency")) {
        set(def, new, "priority", p);
    }
    let old_state = old.map(|o| get(def, o, "state")).unwrap_or("");
    let user = ctx.actor.sys_id.clone();
    let now = ctx.now.clone();
    if let Some(o) = old {
        // The caller answering an "Awaiting Caller" hold puts the incident back in progress.
        let caller = get(def, o, "caller_id");
        if old_state == ON_HOLD
            && get(def, new, "state") == ON_HOLD
            && get(def, o, "hold_reason") == AWAITING_CALLER
            && !caller.is_empty()
            && caller == ctx.actor.sys_id
        {
            set(def, new, "state", IN_PROGRESS);
            set(def, new, "incident_state", IN_PROGRESS);
        }
        if get(def, o, "assignment_group") != get(def, new, "assignment_group") {
            let n: u64 = get(def, new, "reassignment_count").parse().unwrap_or(0);
            set(def, new, "reassignment_count", (n + 1).to_string());
        }
    }
    let state = get(def, new, "state").to_owned();
    if state != ON_HOLD {
        set(def, new, "hold_reason", "");
    }
    if state != old_state {
        let creating = old.is_none();
        let resolve = |new: &mut [String]| {
            stamp(def, new, creating, "resolved_at", &now);
            stamp(def, new, creating, "resolved_by", &user);
            if let Some(secs) = clock::seconds_between(get(def, new, "opened_at"), &now) {
                set(def, new, "calendar_stc", secs.to_string());
                set(def, new, "calendar_duration", clock::duration_text(secs));
            }
        };
        match state.as_str() {
            RESOLVED => resolve(new),
            CLOSED => {
                if get(def, new, "resolved_at").is_empty() {
                    resolve(new);
                }
                stamp(def, new, creating, "closed_at", &now);
                stamp(def, new, creating, "closed_by", &user);
                set(def, new, "active", "false");
            }
            CANCELED => set(def, new, "active", "false"),
            _ if matches!(old_state, RESOLVED | CLOSED | CANCELED) => {
                let n: u64 = get(def, new, "reopen_count").parse().unwrap_or(0);
                set(def, new, "reopen_count", (n + 1).to_string());
                set(def, new, "reopened_by", user.clone());
                set(def, new, "reopened_time", now.clone());
                set(def, new, "active", "true");
            }
            _ => {}
        }
    }
    // Data policy: resolving or closing needs a resolution code and notes.
    if matches!(state.as_str(), RESOLVED | CLOSED) {
        let missing: Vec<&str> = [
            ("close_code", "Resolution code"),
            ("close_notes", "Resolution notes"),
        ]
        .iter()
        .filter(|(f, _)| get(def, new, f).trim().is_empty())
        .map(|(_, label)| *label)
        .collect();
        if !missing.is_empty() {
            return Err(SnError::data_policy(&missing));
        }
    }
    Ok(())
}

/// sc_request states 3, 4 and 7 (Closed Complete, Incomplete, Skipped) end the request.
fn request_closure(def: &TableDef, old: Option<&[String]>, new: &mut [String], ctx: &WriteCtx<'_>) {
    let state = get(def, new, "state").to_owned();
    let old_state = old.map(|o| get(def, o, "state")).unwrap_or("");
    if state != old_state && matches!(state.as_str(), "3" | "4" | "7") {
        set(def, new, "active", "false");
        stamp(def, new, old.is_none(), "closed_at", &ctx.now);
        stamp(def, new, old.is_none(), "closed_by", &ctx.actor.sys_id);
    }
}

#[cfg(test)]
mod tests {
    use super::priority;

    #[test]
    fn priority_follows_the_standard_matrix() {
        let expected = [["1", "2", "3"], ["2", "3", "4"], ["3", "4", "5"]];
        for (i, row) in expected.iter().enumerate() {
            for (u, p) in row.iter().enumerate() {
                assert_eq!(
                    priority(&(i + 1).to_string(), &(u + 1).to_string()),
                    Some(*p)
                );
            }
        }
        assert_eq!(priority("4", "1"), None);
        assert_eq!(priority("", "1"), None);
    }
}
