//! ServiceNow's codes for ticket states, impact/urgency and reference targets: the one
//! place where a state name becomes a number. Pure data, no IO.

use serde::{Deserialize, Serialize};

/// A ServiceNow task state, by name, with its code.
///
/// Incident codes are the out-of-box `state` choices; the request names are the `task`
/// choices an `sc_request` inherits. Any other code is written as a number in mappings.
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
}

impl TicketState {
    const NAMES: [(&'static str, TicketState); 12] = [
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
    ];

    /// The `state` choice value ServiceNow stores.
    pub fn code(self) -> i32 {
        match self {
            Self::New | Self::Open => 1,
            Self::InProgress | Self::WorkInProgress => 2,
            Self::OnHold | Self::ClosedComplete => 3,
            Self::ClosedIncomplete => 4,
            Self::Resolved => 6,
            Self::Closed | Self::ClosedSkipped => 7,
            Self::Canceled => 8,
            Self::Pending => -5,
        }
    }

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("", |(n, _)| n)
    }

    /// Parses a state name (`in_progress`, `In Progress` and `in-progress` alike).
    pub fn parse(text: &str) -> Option<Self> {
        let normal: String = text
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        let normal = if normal == "cancelled" {
            "canceled".to_owned()
        } else {
            normal
        };
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == normal)
            .map(|(_, s)| *s)
    }

    /// Whether this name belongs to `table` (`incident` or `sc_request`).
    pub fn belongs_to(self, table: &str) -> bool {
        let request = matches!(
            self,
            Self::Pending
                | Self::Open
                | Self::WorkInProgress
                | Self::ClosedComplete
                | Self::ClosedIncomplete
                | Self::ClosedSkipped
        );
        if table == "sc_request" {
            request
        } else {
            !request
        }
    }

    /// Every state name valid for `table`, for error messages.
    pub fn names_for(table: &str) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(_, s)| s.belongs_to(table))
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
