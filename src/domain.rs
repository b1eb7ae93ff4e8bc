//! The finding model and the ServiceNow codes snowsync speaks: findings, their keys,
//! source events, finding statuses, ticket states, impact/urgency levels and reference kinds.
//!
//! Pure data: no IO, no parsing of wire formats (that is `ingest`), no ServiceNow URLs.
//! Every ServiceNow state code lives in `domain/codes.rs` and nowhere else.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod codes;
mod spelled;

pub use codes::{Level, ReferenceKind, TicketState};
pub use spelled::UnknownSpelling;
pub(crate) use spelled::spelled;

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

spelled! {
    /// What kind of finding: a failing check or an approval request.
    #[derive(sea_orm::DeriveValueType)]
    #[sea_orm(value_type = "String")]
    pub enum FindingKind("finding kind") {
        Check = "check",
        Approval = "approval",
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

spelled! {
    /// What a source reports about a finding: the one event type of intake, the store's
    /// audit trail, the API and the command line.
    pub enum SourceEvent("source event") {
        /// The check fails (first time or again).
        Failing = "failing",
        /// The check passes again.
        Resolved = "resolved",
        /// The source escalated the finding.
        Escalated = "escalated",
    }
}

spelled! {
    /// Where a finding stands, as stored in `findings.status`.
    #[derive(sea_orm::DeriveValueType)]
    #[sea_orm(value_type = "String")]
    pub enum FindingStatus("finding status") {
        /// Failing, with a ticket owed or open.
        Open = "open",
        /// Escalated by the source; a repeat keeps it escalated.
        Escalated = "escalated",
        /// Passing again, or closed; a later failure is a new finding.
        Resolved = "resolved",
    }
}

impl FindingStatus {
    /// The status a finding in `self` moves to on `event`.
    pub fn after(self, event: SourceEvent) -> Self {
        match event {
            SourceEvent::Failing if self == Self::Escalated => Self::Escalated,
            SourceEvent::Failing => Self::Open,
            SourceEvent::Resolved => Self::Resolved,
            SourceEvent::Escalated => Self::Escalated,
        }
    }
}

/// The stable identity of a finding: source, kind, check (or request) id and subject.
///
/// Components are percent-encoded for `%` and `/`, so the key is readable and unambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FindingKey(String);

/// What every `correlation_id` snowsync writes starts with: how our tickets are told apart
/// from everyone else's on the instance.
pub const CORRELATION_PREFIX: &str = "snowsync:";

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

    /// The ServiceNow `correlation_id` of the key's first ticket: `snowsync:` and the first
    /// 32 hex characters of the key's SHA-256, so that one key always means one ticket.
    pub fn correlation_id(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        let mut hex = hex::encode(digest);
        hex.truncate(32);
        format!("{CORRELATION_PREFIX}{hex}")
    }

    /// The `correlation_id` of the key's `generation`th ticket: a finding that fails again
    /// after its ticket closed, outside `reopen_within`, gets a ticket of its own, and the
    /// lookup after an ambiguous create must find that one, never the closed one before it.
    /// The first generation keeps the plain id.
    pub fn correlation_id_of_generation(&self, generation: u64) -> String {
        match generation {
            0 | 1 => self.correlation_id(),
            n => format!("{}-{n}", self.correlation_id()),
        }
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

    /// The key of the `generation`th group of this finding's check (`group_by = "check"`):
    /// the check's parts, an empty subject and the generation. Five parts, where a
    /// subject's key has four, so a group and a finding never share a key.
    pub fn group_key(&self, generation: u64) -> FindingKey {
        FindingKey::from_parts(&[
            &self.source,
            self.kind.as_str(),
            &self.check_id,
            "",
            &generation.to_string(),
        ])
    }

    /// The `correlation_id` of the `generation`th grouped ticket of this finding's check.
    pub fn group_correlation_id(&self, generation: u64) -> String {
        self.check_key().correlation_id_of_generation(generation)
    }
}
