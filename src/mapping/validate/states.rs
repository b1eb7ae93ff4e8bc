//! The ticket states a profile moves through: on create, on auto-close (with its close code),
//! on escalation and on reopen, and which states mean "closed by the help desk".

use std::time::Duration;

use super::Site;
use crate::domain::TicketState;
use crate::mapping::MappingError;
use crate::mapping::profile::{StateCode, Table};
use crate::mapping::raw::RawProfile;

/// The close code used when an incident profile names none (out-of-box since Tokyo).
pub const DEFAULT_CLOSE_CODE: &str = "Solution provided";

/// The close code used when a security incident profile names none: of the close codes
/// ServiceNow documents for security incidents, the one that says the source no longer sees
/// the problem.
pub const DEFAULT_SECURITY_CLOSE_CODE: &str = "Threat mitigated";

/// How snowsync closes a ticket and how it recognises one closed by someone else.
pub(super) struct Closing {
    pub(super) auto_close_state: StateCode,
    pub(super) close_code: Option<String>,
    pub(super) closed_states: Vec<StateCode>,
}

/// The states snowsync puts an open ticket in.
pub(super) struct Transitions {
    pub(super) state: Option<StateCode>,
    pub(super) escalation_state: StateCode,
    pub(super) reopen_state: StateCode,
}

/// `auto_close_state`, `close_code` and `closed_states`, with the table's defaults.
pub(super) fn closing(
    site: &Site<'_>,
    table: Table,
    raw: &RawProfile,
) -> Result<Closing, MappingError> {
    let auto_close_state = match &raw.auto_close_state {
        Some(v) => site.state(table, "auto_close_state", v)?,
        None => named(
            table,
            TicketState::Resolved,
            TicketState::ClosedComplete,
            TicketState::SecurityClosed,
        ),
    };
    let close_code = match (table, site.text("close_code", raw.close_code.as_ref())?) {
        (Table::ScRequest, Some(_)) => {
            return Err(site.fail(
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
        (Table::SecurityIncident, Some(code)) => Some(code),
        // A security incident is closed only with its closure information filled in.
        (Table::SecurityIncident, None)
            if auto_close_state.code == TicketState::SecurityClosed.code() =>
        {
            Some(DEFAULT_SECURITY_CLOSE_CODE.to_owned())
        }
        (Table::SecurityIncident, None) => None,
    };
    Ok(Closing {
        auto_close_state,
        close_code,
        closed_states: closed_states_or_default(site, table, raw.closed_states.as_deref())?,
    })
}

fn closed_states_or_default(
    site: &Site<'_>,
    table: Table,
    values: Option<&[toml::Value]>,
) -> Result<Vec<StateCode>, MappingError> {
    match values {
        Some([]) => Err(site.fail("closed_states", "must list at least one state".to_owned())),
        Some(values) => values
            .iter()
            .map(|v| site.state(table, "closed_states", v))
            .collect(),
        None => Ok(match table {
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
            // Review is a security incident's Resolved: the work is done and systems are back
            // to normal, only the post-incident review is left.
            Table::SecurityIncident => vec![
                StateCode::named(TicketState::Review),
                StateCode::named(TicketState::SecurityClosed),
                StateCode::named(TicketState::SecurityCanceled),
            ],
        }),
    }
}

/// `state`, `escalation_state` and `reopen_state`, with the table's defaults.
pub(super) fn transitions(
    site: &Site<'_>,
    table: Table,
    raw: &RawProfile,
) -> Result<Transitions, MappingError> {
    let in_progress = || {
        named(
            table,
            TicketState::InProgress,
            TicketState::WorkInProgress,
            TicketState::Analysis,
        )
    };
    Ok(Transitions {
        state: raw
            .state
            .as_ref()
            .map(|v| site.state(table, "state", v))
            .transpose()?,
        escalation_state: match &raw.escalation_state {
            Some(v) => site.state(table, "escalation_state", v)?,
            None => in_progress(),
        },
        reopen_state: match &raw.reopen_state {
            Some(v) => site.state(table, "reopen_state", v)?,
            None => in_progress(),
        },
    })
}

/// `reopen_within`: a human duration such as `"7d"`.
pub(super) fn reopen_within(
    site: &Site<'_>,
    raw: &RawProfile,
) -> Result<Option<Duration>, MappingError> {
    raw.reopen_within
        .as_deref()
        .map(|t| {
            humantime::parse_duration(t).map_err(|e| {
                site.fail(
                    "reopen_within",
                    format!("`{t}` is not a duration such as \"7d\" ({e})"),
                )
            })
        })
        .transpose()
}

/// The named state for `table`: `incident` on incidents, `request` on requests, `security`
/// on security incidents.
fn named(
    table: Table,
    incident: TicketState,
    request: TicketState,
    security: TicketState,
) -> StateCode {
    StateCode::named(match table {
        Table::Incident => incident,
        Table::ScRequest => request,
        Table::SecurityIncident => security,
    })
}
