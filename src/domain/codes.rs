//! ServiceNow's codes for ticket states, impact/urgency and reference targets: the one
//! place where a state name becomes a number. Pure data, no IO.

use serde::{Deserialize, Serialize};

/// A ServiceNow task state, by name, with its code.
///
/// Incident codes are the out-of-box `state` choices; the request names are the `task`
/// choices an `sc_request` inherits; the security incident names are the `state` choices of
/// `sn_si_incident` (Security Incident Response). A name means a code only on its own table
/// (`closed` is 7 on incidents, 3 on security incidents). Any other code is written as a
/// number in mappings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketState {
    New,
    InProgress,
    OnHold,
    Resolved,
    Closed,
    Canceled,
    /// `sc_request`: Pending (-5).
    Pending,
    /// `sc_request`: Open (1).
    Open,
    /// `sc_request`: Work in Progress (2).
    WorkInProgress,
    /// `sc_request`: Closed Complete (3).
    ClosedComplete,
    /// `sc_request`: Closed Incomplete (4).
    ClosedIncomplete,
    /// `sc_request`: Closed Skipped (7).
    ClosedSkipped,
    /// `sn_si_incident`: Draft (10), the state a new security incident starts in.
    Draft,
    /// `sn_si_incident`: Analysis (16).
    Analysis,
    /// `sn_si_incident`: Contain (18).
    Contain,
    /// `sn_si_incident`: Eradicate (19).
    Eradicate,
    /// `sn_si_incident`: Recover (20).
    Recover,
    /// `sn_si_incident`: Review (100), completed but for the post-incident review.
    Review,
    /// `sn_si_incident`: Closed (3).
    SecurityClosed,
    /// `sn_si_incident`: Cancelled (7).
    SecurityCanceled,
}

/// Which table's `state` choices a name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateTable {
    Incident,
    Request,
    SecurityIncident,
}

impl StateTable {
    fn of(table: &str) -> Option<Self> {
        match table {
            "incident" => Some(Self::Incident),
            "sc_request" => Some(Self::Request),
            "sn_si_incident" => Some(Self::SecurityIncident),
            _ => None,
        }
    }
}

impl TicketState {
    const NAMES: [(&'static str, TicketState); 20] = [
        ("new", Self::New),
        ("in_progress", Self::InProgress),
        ("on_hold", Self::OnHold),
        ("resolved", Self::Resolved),
        ("closed", Self::Closed),
        ("canceled", Self::Canceled),
        ("pending", Self::Pending),
        ("open", Self::Open),
        ("work_in_progress", Self::WorkInProgress),
        ("closed_complete", Self::ClosedComplete),
        ("closed_incomplete", Self::ClosedIncomplete),
        ("closed_skipped", Self::ClosedSkipped),
        ("draft", Self::Draft),
        ("analysis", Self::Analysis),
        ("contain", Self::Contain),
        ("eradicate", Self::Eradicate),
        ("recover", Self::Recover),
        ("review", Self::Review),
        ("closed", Self::SecurityClosed),
        ("canceled", Self::SecurityCanceled),
    ];

    /// The `state` choice value ServiceNow stores.
    ///
    /// The security incident values are not in ServiceNow's documentation, which names the
    /// states only (and not Cancelled): 3, 7, 10, 16, 18 and 19 are those Palo Alto's
    /// ServiceNow v2 integration (demisto/content) lists for `sn_si_incident`; Recover 20 and
    /// Review 100 are believed. `snowsync check`
    /// confirms every state a profile uses against the instance's `sys_choice`.
    pub fn code(self) -> i32 {
        match self {
            Self::New | Self::Open => 1,
            Self::InProgress | Self::WorkInProgress => 2,
            Self::OnHold | Self::ClosedComplete | Self::SecurityClosed => 3,
            Self::ClosedIncomplete => 4,
            Self::Resolved => 6,
            Self::Closed | Self::ClosedSkipped | Self::SecurityCanceled => 7,
            Self::Canceled => 8,
            Self::Pending => -5,
            Self::Draft => 10,
            Self::Analysis => 16,
            Self::Contain => 18,
            Self::Eradicate => 19,
            Self::Recover => 20,
            Self::Review => 100,
        }
    }

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("", |(n, _)| n)
    }

    fn table(self) -> StateTable {
        match self {
            Self::New
            | Self::InProgress
            | Self::OnHold
            | Self::Resolved
            | Self::Closed
            | Self::Canceled => StateTable::Incident,
            Self::Pending
            | Self::Open
            | Self::WorkInProgress
            | Self::ClosedComplete
            | Self::ClosedIncomplete
            | Self::ClosedSkipped => StateTable::Request,
            Self::Draft
            | Self::Analysis
            | Self::Contain
            | Self::Eradicate
            | Self::Recover
            | Self::Review
            | Self::SecurityClosed
            | Self::SecurityCanceled => StateTable::SecurityIncident,
        }
    }

    /// `in_progress`, `In Progress` and `in-progress` alike; `cancelled` as `canceled`.
    fn normal(text: &str) -> String {
        let normal: String = text
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        if normal == "cancelled" {
            "canceled".to_owned()
        } else {
            normal
        }
    }

    /// The state of `table` (`incident`, `sc_request` or `sn_si_incident`) by name.
    pub fn parse(table: &str, text: &str) -> Option<Self> {
        let table = StateTable::of(table)?;
        let normal = Self::normal(text);
        Self::NAMES
            .iter()
            .find(|(n, s)| *n == normal && s.table() == table)
            .map(|(_, s)| *s)
    }

    /// Whether some table has a state by this name, for telling a name of another table
    /// from one that names nothing.
    pub fn is_name(text: &str) -> bool {
        let normal = Self::normal(text);
        Self::NAMES.iter().any(|(n, _)| *n == normal)
    }

    /// Every state name valid for `table`, for error messages.
    pub fn names_for(table: &str) -> Vec<&'static str> {
        let table = StateTable::of(table);
        Self::NAMES
            .iter()
            .filter(|(_, s)| Some(s.table()) == table)
            .map(|(n, _)| *n)
            .collect()
    }
}

/// Impact or urgency: ServiceNow computes priority from the two, so priority is never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    High,
    Medium,
    Low,
}

impl Level {
    /// The choice value: 1 High, 2 Medium, 3 Low.
    pub fn code(self) -> i32 {
        match self {
            Self::High => 1,
            Self::Medium => 2,
            Self::Low => 3,
        }
    }

    /// Parses `high`/`medium`/`low` (any case) or `1`/`2`/`3`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "high" | "1" => Some(Self::High),
            "medium" | "2" => Some(Self::Medium),
            "low" | "3" => Some(Self::Low),
            _ => None,
        }
    }
}

/// What a reference field points at; names are resolved to sys_ids at delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceKind {
    /// `sys_user_group`, by name.
    Group,
    /// `cmdb_ci_service`, by name.
    Service,
    /// `sys_user`, by `user_name` or `email`.
    User,
}

impl ReferenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::Service => "service",
            Self::User => "user",
        }
    }

    /// The table the reference points into.
    pub fn table(self) -> &'static str {
        match self {
            Self::Group => "sys_user_group",
            Self::Service => "cmdb_ci_service",
            Self::User => "sys_user",
        }
    }
}
