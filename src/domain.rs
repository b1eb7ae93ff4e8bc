//! The finding model and the ServiceNow codes snowsync speaks: findings, their keys,
//! source events, ticket states, impact/urgency levels and reference kinds.
//!
//! Pure data: no IO, no parsing of wire formats (that is `ingest`), no ServiceNow URLs.
//! Every ServiceNow state code lives here and nowhere else.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The check id given to approval requests, which have a request id instead.
pub const APPROVAL_CHECK_ID: &str = "approval-request";

/// One security finding: a check failing for one subject, or one approval request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The producing system, e.g. `oort`; also names the source to notify.
    pub source: String,
    pub kind: FindingKind,
    /// The source's check identifier ([`APPROVAL_CHECK_ID`] for approval requests).
    pub check_id: String,
    pub title: String,
    pub severity: Severity,
    pub subject: Subject,
    /// Free text lines describing the check.
    #[serde(default)]
    pub description: Vec<String>,
    #[serde(default)]
    pub recommended_actions: Vec<String>,
    /// A link back to the finding in the source.
    #[serde(default)]
    pub link: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// Anything else the source sent; rules can match on it and templates can print it.
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// Present exactly when `kind` is [`FindingKind::Approval`].
    #[serde(default)]
    pub approval: Option<ApprovalRequest>,
}

/// The user a finding is about, with the fields of the Oort user digest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// The user's login; identifies the subject in the finding key.
    pub login: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Such as `ACTIVE` or `INACTIVE`.
    #[serde(default)]
    pub status: Option<String>,
    /// `INTERNAL`, `EXTERNAL`, `MISSING`, `UNCLASSIFIED`, `INCONSISTENT`, `SERVICE_ACCOUNT`.
    #[serde(default)]
    pub user_type: Option<String>,
    /// The manager's login.
    #[serde(default)]
    pub manager: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// Recently used addresses (Oort sends up to 5).
    #[serde(default)]
    pub ip_addresses: Vec<IpAddress>,
    #[serde(default)]
    pub used_applications: Vec<String>,
    #[serde(default)]
    pub unused_applications: Vec<String>,
    #[serde(default)]
    pub used_factors: Vec<String>,
    #[serde(default)]
    pub last_sign_in_location: Option<String>,
}

impl Subject {
    /// The address to find the user by in ServiceNow: the email, else a login that is one.
    pub fn email_address(&self) -> Option<&str> {
        self.email
            .as_deref()
            .or_else(|| Some(self.login.as_str()).filter(|l| l.contains('@')))
    }
}

/// An IP address a subject used, with its geolocation as the source prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpAddress {
    pub address: String,
    /// Such as `US:New York:New York`.
    #[serde(default)]
    pub location: Option<String>,
}

/// An application approval request (one finding per request).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    pub request_id: String,
    #[serde(default)]
    pub computer: Option<String>,
    /// The requesting user's login (also the finding's subject).
    pub user: String,
    pub application: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub hash: Option<String>,
    #[serde(default)]
    pub publisher: Option<String>,
    /// What the user asks for, such as `install` or `elevate`.
    #[serde(default)]
    pub requested_action: Option<String>,
    /// The user's own words.
    #[serde(default)]
    pub justification: Option<String>,
}

/// What kind of finding: a failing check or an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Check,
    Approval,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Check => "check",
            Self::Approval => "approval",
        }
    }

    /// Parses `check` or `approval`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "check" => Some(Self::Check),
            "approval" => Some(Self::Approval),
            _ => None,
        }
    }
}

/// Severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Self::Info,
        Self::Low,
        Self::Medium,
        Self::High,
        Self::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// Parses a severity case-insensitively, accepting the usual synonyms
    /// (`informational`, `moderate`).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "info" | "informational" => Some(Self::Info),
            "low" => Some(Self::Low),
            "medium" | "moderate" => Some(Self::Medium),
            "high" => Some(Self::High),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a source reports about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceEvent {
    /// The check fails (first time or again).
    Failing,
    /// The check passes again.
    Resolved,
    /// The source escalated the finding.
    Escalated,
}

impl SourceEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failing => "failing",
            Self::Resolved => "resolved",
            Self::Escalated => "escalated",
        }
    }

    /// Parses `failing`, `resolved` or `escalated`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "failing" => Some(Self::Failing),
            "resolved" => Some(Self::Resolved),
            "escalated" => Some(Self::Escalated),
            _ => None,
        }
    }
}

/// The stable identity of a finding: source, kind, check (or request) id and subject.
///
/// Components are percent-encoded for `%` and `/`, so the key is readable and unambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FindingKey(String);

const KEY_COMPONENT: &AsciiSet = &CONTROLS.add(b'%').add(b'/');

impl FindingKey {
    fn from_parts(parts: &[&str]) -> Self {
        let encoded: Vec<String> = parts
            .iter()
            .map(|p| utf8_percent_encode(p, KEY_COMPONENT).to_string())
            .collect();
        Self(encoded.join("/"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ServiceNow `correlation_id` of the ticket for this key: `snowsync:` and the first
    /// 32 hex characters of the key's SHA-256, so that one key always means one ticket.
    pub fn correlation_id(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        let mut hex = hex::encode(digest);
        hex.truncate(32);
        format!("snowsync:{hex}")
    }
}

impl fmt::Display for FindingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Finding {
    /// One key per check and user; one per approval request.
    /// Logins compare case-insensitively, as identity providers treat them.
    pub fn key(&self) -> FindingKey {
        let login = self.subject.login.to_lowercase();
        let id = match &self.approval {
            Some(request) if self.kind == FindingKind::Approval => request.request_id.as_str(),
            _ => self.check_id.as_str(),
        };
        FindingKey::from_parts(&[&self.source, self.kind.as_str(), id, &login])
    }

    /// The key shared by every subject failing the same check, for tickets grouped by check.
    pub fn check_key(&self) -> FindingKey {
        FindingKey::from_parts(&[&self.source, self.kind.as_str(), &self.check_id])
    }
}

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
