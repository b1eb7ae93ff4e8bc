//! The approval request format: one application approval request, one finding (pure
//! parsing, no IO).
//!
//! ```json
//! {
//!   "source": "threatlocker",              // required
//!   "request_id": "a1b2c3",                // required: identifies the finding
//!   "user": "dana.reyes@simubiz.com",      // required: the requesting user's login
//!   "user_email": null,                    // when the login is not an email address
//!   "user_display_name": "Dana Reyes",
//!   "computer": "FIN-LT-042",
//!   "application": "Notepad++",            // required
//!   "path": "C:\\Users\\dana\\Downloads\\npp.8.6.Installer.x64.exe",
//!   "hash": "9f86d08...",
//!   "publisher": "Notepad++ Team",
//!   "requested_action": "install",
//!   "justification": "I edit configuration files daily.",
//!   "link": "https://portal.example.com/approvals/a1b2c3",
//!   "requested_at": "2024-05-02T09:30:00Z", // required: RFC 3339
//!   "title": null,                          // default: "Approval request: <application> on <computer>"
//!   "severity": "medium",                   // default: medium
//!   "attributes": {}
//! }
//! ```
//! The same request fields, nested as `"approval": {...}`, make a generic finding an approval.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::limits::{identifier, optional_identifier, title};
use super::{IngestError, from_json, severity};
use crate::domain::{APPROVAL_CHECK_ID, ApprovalRequest, Finding, FindingKind, Severity, Subject};

/// The request fields, as nested in a generic finding.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApprovalFields)]
pub(crate) struct RawRequest {
    request_id: String,
    #[serde(default)]
    computer: Option<String>,
    user: String,
    application: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    hash: Option<String>,
    #[serde(default)]
    publisher: Option<String>,
    #[serde(default)]
    requested_action: Option<String>,
    #[serde(default)]
    justification: Option<String>,
}

impl RawRequest {
    pub(super) fn validate(self, path: &str) -> Result<ApprovalRequest, IngestError> {
        let at = |field: &str| format!("{path}.{field}");
        Ok(ApprovalRequest {
            request_id: identifier(&at("request_id"), self.request_id)?,
            computer: self.computer,
            user: identifier(&at("user"), self.user)?,
            application: title(&at("application"), self.application)?,
            path: self.path,
            hash: self.hash,
            publisher: self.publisher,
            requested_action: self.requested_action,
            justification: self.justification,
        })
    }
}

/// The approval request as written (documented above); also its OpenAPI schema.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApprovalRequest)]
pub(crate) struct Raw {
    source: String,
    request_id: String,
    user: String,
    #[serde(default)]
    user_email: Option<String>,
    #[serde(default)]
    user_display_name: Option<String>,
    #[serde(default)]
    computer: Option<String>,
    application: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    hash: Option<String>,
    #[serde(default)]
    publisher: Option<String>,
    #[serde(default)]
    requested_action: Option<String>,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    link: Option<String>,
    requested_at: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    attributes: BTreeMap<String, serde_json::Value>,
}

pub(super) fn parse(body: &[u8]) -> Result<Finding, IngestError> {
    let raw: Raw = from_json(body, &[])?;
    let request = ApprovalRequest {
        request_id: identifier("request_id", raw.request_id)?,
        computer: raw.computer,
        user: identifier("user", raw.user)?,
        application: title("application", raw.application)?,
        path: raw.path,
        hash: raw.hash,
        publisher: raw.publisher,
        requested_action: raw.requested_action,
        justification: raw.justification,
    };
    let title = match raw.title {
        Some(text) => title("title", text)?,
        None => match &request.computer {
            Some(computer) => format!("Approval request: {} on {computer}", request.application),
            None => format!("Approval request: {}", request.application),
        },
    };
    let severity = match raw.severity {
        Some(text) => severity("severity", &text)?,
        None => Severity::Medium,
    };
    Ok(Finding {
        source: identifier("source", raw.source)?,
        kind: FindingKind::Approval,
        check_id: APPROVAL_CHECK_ID.to_owned(),
        title,
        severity,
        subject: Subject {
            login: request.user.clone(),
            email: optional_identifier("user_email", raw.user_email)?,
            display_name: raw.user_display_name,
            ..Subject::default()
        },
        description: Vec::new(),
        recommended_actions: Vec::new(),
        link: raw.link.filter(|l| !l.trim().is_empty()),
        occurred_at: super::generic::timestamp("requested_at", &raw.requested_at)?,
        attributes: raw.attributes,
        approval: Some(request),
    })
}
