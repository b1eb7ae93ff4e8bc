//! `escalate_when`: the ticket field and values that mean the help desk escalated a ticket.

use super::{Site, field_name, scalar};
use crate::mapping::MappingError;
use crate::mapping::profile::{EscalationCondition, StateCode, Table};
use crate::mapping::raw::RawProfile;

pub(super) fn escalate_when(
    site: &Site<'_>,
    table: Table,
    raw: &RawProfile,
) -> Result<Option<EscalationCondition>, MappingError> {
    let Some(cond) = &raw.escalate_when else {
        return Ok(None);
    };
    field_name(&cond.field).map_err(|m| site.fail("escalate_when.field", m))?;
    if cond.equals.is_empty() {
        return Err(site.fail(
            "escalate_when.equals",
            "must list at least one value".to_owned(),
        ));
    }
    let equals = cond
        .equals
        .iter()
        .map(|v| {
            if cond.field == "state" {
                site.state(table, "escalate_when.equals", v)
                    .map(StateCode::value)
            } else {
                scalar(v).ok_or_else(|| {
                    site.fail("escalate_when.equals", format!("`{v}` is not a value"))
                })
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(EscalationCondition {
        field: cond.field.clone(),
        equals,
    }))
}
