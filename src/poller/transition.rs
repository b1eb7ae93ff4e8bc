//! What a ticket change means for its finding, decided on values alone: the ticket as
//! snowsync last knew it, the ticket as ServiceNow has it now, and the finding. Who made the
//! change does not enter into it, so our own writes (whose results are the last known values
//! once delivered) never come back as help-desk changes, and a help-desk change right after
//! ours is not masked. Pure: no IO, no clock.

use crate::domain::{FindingStatus, spelled};
use crate::mapping::Profile;

spelled! {
    /// An approver's answer to a Service Request.
    pub enum Decision("approval decision") {
        Approved = "approved",
        Rejected = "rejected",
    }
}

spelled! {
    /// What a ticket change does to its finding; also the notification's event name after
    /// `finding.` or `approval.`.
    pub enum Transition("ticket transition") {
        /// The ticket entered one of the profile's `closed_states`.
        Resolved = "resolved",
        /// The ticket met the profile's `escalate_when`.
        Escalated = "escalated",
        /// A closed ticket was opened again.
        Reopened = "reopened",
        /// The Service Request was approved.
        Approved = "approved",
        /// The Service Request was rejected.
        Rejected = "rejected",
    }
}

impl Transition {
    /// The finding status this transition leads to; `None` leaves the status alone.
    pub fn status(self) -> Option<FindingStatus> {
        match self {
            Self::Resolved => Some(FindingStatus::Resolved),
            Self::Escalated => Some(FindingStatus::Escalated),
            Self::Reopened => Some(FindingStatus::Open),
            Self::Approved | Self::Rejected => None,
        }
    }

    /// The event name a source receives: `finding.resolved`, `approval.approved`, …
    pub fn notification_event(self) -> String {
        match self {
            Self::Approved | Self::Rejected => format!("approval.{self}"),
            _ => format!("finding.{self}"),
        }
    }
}

impl From<Decision> for Transition {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Approved => Self::Approved,
            Decision::Rejected => Self::Rejected,
        }
    }
}

/// The ticket fields the transitions read, as ServiceNow stores them (actual values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketValues {
    pub state: Option<String>,
    /// `sc_request` only.
    pub approval: Option<String>,
    pub priority: Option<String>,
    /// The group's sys_id.
    pub assignment_group: Option<String>,
    /// Any other field an `escalate_when` names, read from the record.
    pub other: Vec<(String, String)>,
}

impl TicketValues {
    fn get(&self, field: &str) -> Option<&str> {
        match field {
            "state" => self.state.as_deref(),
            "approval" => self.approval.as_deref(),
            "priority" => self.priority.as_deref(),
            "assignment_group" => self.assignment_group.as_deref(),
            other => self
                .other
                .iter()
                .find(|(f, _)| f == other)
                .map(|(_, v)| v.as_str()),
        }
    }
}

/// The finding as it stands when the change is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingNow {
    pub status: FindingStatus,
    pub decision: Option<Decision>,
}

/// The transitions a ticket change from `before` to `after` makes for a finding in `now`,
/// under `profile`. Each needs the ticket to have crossed a line (entered a closed state,
/// left one, met the escalation condition, got a decision) and the finding not to be there
/// already, which is what makes a change read twice, or our own write read back, a no-op.
pub fn ticket_transitions(
    profile: &Profile,
    before: &TicketValues,
    after: &TicketValues,
    now: FindingNow,
) -> Vec<Transition> {
    let closed = |v: &TicketValues| {
        v.state
            .as_deref()
            .is_some_and(|s| profile.is_closed_state(s))
    };
    let mut out = Vec::new();
    match (closed(before), closed(after)) {
        (false, true) if now.status != FindingStatus::Resolved => out.push(Transition::Resolved),
        (true, false) if now.status == FindingStatus::Resolved => out.push(Transition::Reopened),
        _ => {}
    }
    if let Some(condition) = &profile.escalate_when {
        let met = |v: &TicketValues| condition.matches(|field| v.get(field));
        if !closed(after) && met(after) && !met(before) && now.status == FindingStatus::Open {
            out.push(Transition::Escalated);
        }
    }
    if let Some(decision) = after.approval.as_deref().and_then(Decision::parse)
        && before.approval != after.approval
        && now.decision.is_none()
    {
        out.push(decision.into());
    }
    out
}

/// The transition an approver's record makes: a decision, unless the finding has one.
pub fn approval_transition(approver_state: &str, now: FindingNow) -> Option<Transition> {
    let decision = Decision::parse(approver_state)?;
    now.decision.is_none().then(|| decision.into())
}
