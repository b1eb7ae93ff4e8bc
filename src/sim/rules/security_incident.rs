//! The security incident (`sn_si_incident`, Security Incident Response): priority from impact
//! and urgency, and closure. ServiceNow documents the state names and that the closure
//! information must be filled in before a security incident is closed; the values are
//! believed (see `seed::choices`), and the refusal is the incident's data-policy error.

use super::{get, priority, set, stamp};
use crate::sim::error::SnError;
use crate::sim::schema::TableDef;
use crate::sim::write::WriteCtx;

/// Draft, the state a new security incident starts in.
pub(super) const DRAFT: &str = "10";
const CLOSED: &str = "3";
const CANCELLED: &str = "7";

pub(super) fn before(
    def: &TableDef,
    old: Option<&[String]>,
    new: &mut [String],
    ctx: &WriteCtx<'_>,
) -> Result<(), SnError> {
    // Believed to follow the task data lookup as incidents do: no recording shows it.
    if let Some(p) = priority(get(def, new, "impact"), get(def, new, "urgency")) {
        set(def, new, "priority", p);
    }
    let state = get(def, new, "state").to_owned();
    let old_state = old.map(|o| get(def, o, "state")).unwrap_or("");
    if state != old_state {
        let creating = old.is_none();
        match state.as_str() {
            CLOSED => {
                stamp(def, new, creating, "closed_at", &ctx.now);
                stamp(def, new, creating, "closed_by", &ctx.actor.sys_id);
                set(def, new, "active", "false");
            }
            CANCELLED => set(def, new, "active", "false"),
            _ if matches!(old_state, CLOSED | CANCELLED) => set(def, new, "active", "true"),
            _ => {}
        }
    }
    if state == CLOSED {
        let missing: Vec<&str> = [("close_code", "Close code"), ("close_notes", "Close notes")]
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
