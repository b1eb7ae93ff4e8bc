//! A profile: the ticket settings a rule selects (table, impact/urgency, groups, states,
//! close code, tags, custom fields, templates), validated at load.
//! Data and small lookups only: validation is `validate.rs`, planning is `plan.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::domain::{Level, Severity, TicketState};
use crate::template::{self, InlineTemplate};

/// The tables snowsync writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Incident,
    ScRequest,
    /// `sn_si_incident`, a security incident of the Security Incident Response application.
    SecurityIncident,
}

/// An application a table comes with, for telling an admin what to install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plugin {
    pub name: &'static str,
    pub id: &'static str,
}

impl Table {
    /// Every table, in the order error messages list them.
    pub const ALL: [Table; 3] = [Self::Incident, Self::ScRequest, Self::SecurityIncident];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incident => "incident",
            Self::ScRequest => "sc_request",
            Self::SecurityIncident => "sn_si_incident",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The reference field naming the user the ticket is for: the caller of an incident, the
    /// requester of a request, the affected user of a security incident (its "Requested by"
    /// is whoever reports it, not whom it is about).
    pub fn caller_field(self) -> &'static str {
        match self {
            Self::Incident => "caller_id",
            Self::ScRequest => "requested_for",
            Self::SecurityIncident => "affected_user",
        }
    }

    /// The application that brings the table, when a base instance lacks it.
    pub fn plugin(self) -> Option<Plugin> {
        match self {
            Self::Incident | Self::ScRequest => None,
            Self::SecurityIncident => Some(Plugin {
                name: "Security Incident Response",
                id: "com.snc.security_incident",
            }),
        }
    }
}

/// A `state` choice: its code, and its name when the mapping used one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateCode {
    pub code: i32,
    pub name: Option<TicketState>,
}

impl StateCode {
    pub fn named(state: TicketState) -> Self {
        Self {
            code: state.code(),
            name: Some(state),
        }
    }

    /// The value sent to ServiceNow, e.g. `"6"`.
    pub fn value(self) -> String {
        self.code.to_string()
    }
}

impl std::fmt::Display for StateCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name {
            Some(name) => write!(f, "{} ({})", name.name(), self.code),
            None => write!(f, "{}", self.code),
        }
    }
}

/// Who the ticket is for: `caller_id` on incidents, `requested_for` on requests,
/// `affected_user` on security incidents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The finding's subject, looked up by email (or login).
    Subject,
    /// Always this user (user name or email).
    Fixed(String),
    /// Not set; ServiceNow's default applies.
    None,
}

/// How findings share tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// One ticket per check and subject (the default, as Oort does).
    Subject,
    /// One ticket per check listing its failing subjects, at most `cap` of them.
    Check { cap: u32 },
}

/// When a ticket change means the finding is escalated (the way back to the source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationCondition {
    /// A field of the ticket, e.g. `state` or `priority`.
    pub field: String,
    /// Values (as ServiceNow stores them; state names already turned into codes).
    pub equals: Vec<String>,
}

impl EscalationCondition {
    /// Whether a ticket whose fields read through `value_of` meets the condition.
    pub fn matches<'a>(&self, value_of: impl Fn(&str) -> Option<&'a str>) -> bool {
        value_of(&self.field).is_some_and(|v| self.equals.iter().any(|e| e == v))
    }
}

/// The templates a profile renders, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileTemplates {
    pub short_description: String,
    pub description: String,
    pub work_note: String,
    pub close_notes: String,
}

impl ProfileTemplates {
    /// The starter templates of a profile on `table`; a profile grouping by check lists its
    /// subjects with the `group_*` ones.
    pub(super) fn defaults(table: Table, grouped: bool) -> Self {
        if grouped {
            return Self {
                short_description: template::GROUP_SHORT_DESCRIPTION.to_owned(),
                description: template::GROUP_DESCRIPTION.to_owned(),
                work_note: template::GROUP_WORK_NOTE.to_owned(),
                close_notes: template::GROUP_CLOSE_NOTES.to_owned(),
            };
        }
        Self {
            short_description: template::SHORT_DESCRIPTION.to_owned(),
            description: match table {
                Table::Incident | Table::SecurityIncident => template::DESCRIPTION,
                Table::ScRequest => template::APPROVAL_DESCRIPTION,
            }
            .to_owned(),
            work_note: template::WORK_NOTE.to_owned(),
            close_notes: template::CLOSE_NOTES.to_owned(),
        }
    }

    /// (key, template name) pairs, for checks.
    pub fn iter(&self) -> [(&'static str, &str); 4] {
        [
            ("short_description", &self.short_description),
            ("description", &self.description),
            ("work_note", &self.work_note),
            ("close_notes", &self.close_notes),
        ]
    }
}

/// A custom field mapping: `u_field = "{{template}}"`.
#[derive(Debug, Clone)]
pub struct CustomField {
    pub name: String,
    pub template: InlineTemplate,
}

/// The validated ticket settings of one `[profile.NAME]`.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    /// The mapping file it was read from.
    pub file: String,
    pub table: Table,
    pub impact: Option<Level>,
    pub urgency: Option<Level>,
    /// Severity → (impact, urgency); wins over `impact`/`urgency` for listed severities,
    /// which win over [`default_levels`].
    pub severity_map: BTreeMap<Severity, (Level, Level)>,
    pub assignment_group: Option<String>,
    pub business_service: Option<String>,
    pub category: Option<String>,
    pub subcategory: Option<String>,
    pub assigned_to: Option<String>,
    pub caller: Caller,
    /// State on create; `None` leaves ServiceNow's default.
    pub state: Option<StateCode>,
    pub auto_close_state: StateCode,
    pub close_code: Option<String>,
    pub escalation_state: StateCode,
    /// State a closed ticket is put back to when its finding fails again in time.
    pub reopen_state: StateCode,
    /// Ticket states that mean "closed by the help desk".
    pub closed_states: Vec<StateCode>,
    pub escalate_when: Option<EscalationCondition>,
    pub tags: Vec<String>,
    /// A closed ticket is reopened when its finding fails again within this; else a new one.
    pub reopen_within: Option<Duration>,
    /// Fill the digest's user details the source left out from the subject's sys_user
    /// record, looked up at delivery.
    pub enrich_from_instance: bool,
    pub group_by: GroupBy,
    pub templates: ProfileTemplates,
    pub fields: Vec<CustomField>,
    /// Line of each key in `file`, for messages.
    pub(super) lines: BTreeMap<String, usize>,
}

/// Impact and urgency for a severity the profile says nothing about: one ServiceNow priority
/// per severity (critical 1 - Critical, high 2 - High, medium 3 - Moderate, low 4 - Low,
/// info 5 - Planning), so a critical finding never becomes a "4 - Low" incident by default.
pub fn default_levels(severity: Severity) -> (Level, Level) {
    match severity {
        Severity::Critical => (Level::High, Level::High),
        Severity::High => (Level::High, Level::Medium),
        Severity::Medium => (Level::Medium, Level::Medium),
        Severity::Low => (Level::Medium, Level::Low),
        Severity::Info => (Level::Low, Level::Low),
    }
}

impl Profile {
    /// This profile as it writes one subject's ticket: a finding that had a ticket of its
    /// own before the profile grouped by check keeps it, with the table's subject templates.
    pub fn for_one_subject(&self) -> Profile {
        let mut profile = self.clone();
        profile.group_by = GroupBy::Subject;
        profile.templates = ProfileTemplates::defaults(self.table, false);
        profile
    }

    /// Whether the profile lists the subjects of a check in one ticket.
    pub fn groups_by_check(&self) -> bool {
        matches!(self.group_by, GroupBy::Check { .. })
    }
}

impl Profile {
    /// Impact and urgency for a severity: the severity map, else the fixed values, else
    /// [`default_levels`].
    pub fn levels(&self, severity: Severity) -> (Level, Level) {
        if let Some(levels) = self.severity_map.get(&severity) {
            return *levels;
        }
        let (impact, urgency) = default_levels(severity);
        (
            self.impact.unwrap_or(impact),
            self.urgency.unwrap_or(urgency),
        )
    }

    /// Whether a ticket state code means the help desk closed the ticket.
    pub fn is_closed_state(&self, code: &str) -> bool {
        self.closed_states.iter().any(|s| s.value() == code)
    }

    /// `mappings/x.toml:12`, where the profile's table starts.
    pub fn origin(&self) -> String {
        match self.lines.get("") {
            Some(line) => format!("{}:{line}", self.file),
            None => self.file.clone(),
        }
    }

    /// `mappings/x.toml:12: profile.NAME.KEY`, naming where a key of this profile is.
    pub fn location(&self, key: &str) -> String {
        let line = self
            .lines
            .get(key)
            .or_else(|| self.lines.get(key.split('.').next().unwrap_or(key)))
            .or_else(|| self.lines.get(""));
        match line {
            Some(line) => format!("{}:{line}: profile.{}.{key}", self.file, self.name),
            None => format!("{}: profile.{}.{key}", self.file, self.name),
        }
    }
}
