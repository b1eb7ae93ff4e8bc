//! The generic finding JSON, snowsync's own input format (pure parsing, no IO).
//!
//! ```json
//! {
//!   "source": "oort",                      // required: the producing system
//!   "kind": "check",                       // "check" (default) or "approval"
//!   "check_id": "ip-threat-detected",      // required for checks
//!   "title": "IP Threat Detected",         // required
//!   "severity": "high",                    // required: info, low, medium, high, critical
//!   "subject": {                           // required for checks: the user
//!     "login": "karsch.heuck@simubiz.com", // required
//!     "email": null, "display_name": "Karsch Heuck", "status": "ACTIVE",
//!     "user_type": "INTERNAL", "manager": null, "phone": null,
//!     "ip_addresses": [{"address": "50.229.84.62", "location": "US:Stamford:Connecticut"}],
//!     "used_applications": [], "unused_applications": [], "used_factors": ["push"],
//!     "last_sign_in_location": "US"
//!   },
//!   "description": ["line", "line"],
//!   "recommended_actions": ["line"],
//!   "link": "https://...",
//!   "occurred_at": "2022-09-18T16:08:55Z", // required: RFC 3339
//!   "attributes": {"any": "value"},        // free; rules match on it, templates print it
//!   "approval": { ... }                    // for kind "approval": see `approval.rs`
//! }
//! ```
//! Subject fields also accept Oort's payload names (`displayName`, `userTypeClassification`,
//! `managerLogin`, `phoneNumber`, `ipAddresses`, `usedApplications`, `unusedApplications`,
//! `usedFactors`, `lastSignInLocation`); an IP address may be a bare string.
//! Unknown fields are errors, so a misspelt field is reported instead of ignored.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::limits::{identifier, optional_identifier, title};
use super::{IngestError, from_json, non_empty, severity};
use crate::domain::{APPROVAL_CHECK_ID, Finding, FindingKind, IpAddress, Subject};

/// The generic finding as written (documented field by field above); also its OpenAPI schema.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GenericFinding)]
pub(crate) struct Raw {
    source: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default, alias = "checkId")]
    check_id: Option<String>,
    title: String,
    severity: String,
    #[serde(default)]
    subject: Option<RawSubject>,
    #[serde(default)]
    description: Vec<String>,
    #[serde(default, alias = "recommendedActions")]
    recommended_actions: Vec<String>,
    #[serde(default)]
    link: Option<String>,
    #[serde(alias = "occurredAt")]
    occurred_at: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    attributes: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    approval: Option<super::approval::RawRequest>,
}

/// The subject as written, shared with the approval format.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Subject)]
pub(crate) struct RawSubject {
    login: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, alias = "displayName")]
    display_name: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, alias = "userTypeClassification", alias = "userType")]
    user_type: Option<String>,
    #[serde(default, alias = "managerLogin")]
    manager: Option<String>,
    #[serde(default, alias = "phoneNumber")]
    phone: Option<String>,
    /// Each an address or `{"address": …, "location": …}`.
    #[serde(default, alias = "ipAddresses")]
    #[schema(value_type = Vec<Object>)]
    ip_addresses: Vec<serde_json::Value>,
    #[serde(default, alias = "usedApplications")]
    used_applications: Vec<String>,
    #[serde(default, alias = "unusedApplications")]
    unused_applications: Vec<String>,
    #[serde(default, alias = "usedFactors")]
    used_factors: Vec<String>,
    #[serde(default, alias = "lastSignInLocation")]
    last_sign_in_location: Option<String>,
}

pub(super) fn parse(body: &[u8]) -> Result<Finding, IngestError> {
    let raw: Raw = from_json(body, &["subject", "approval"])?;
    let kind = match raw.kind.as_deref() {
        None => FindingKind::Check,
        Some(text) => FindingKind::parse(text).ok_or_else(|| {
            IngestError::field(
                "kind",
                format!("unknown kind `{text}` (expected check or approval)"),
            )
        })?,
    };
    let approval = match raw.approval {
        Some(request) => Some(request.validate("approval")?),
        None => None,
    };
    let (check_id, subject) = match kind {
        FindingKind::Check => {
            if approval.is_some() {
                return Err(IngestError::field(
                    "approval",
                    "only allowed with \"kind\": \"approval\"",
                ));
            }
            let check_id = raw
                .check_id
                .ok_or_else(|| IngestError::field("check_id", "is required for checks"))?;
            let subject = raw
                .subject
                .ok_or_else(|| IngestError::field("subject", "is required for checks"))?;
            (
                identifier("check_id", check_id)?,
                subject.validate("subject")?,
            )
        }
        FindingKind::Approval => {
            let request = approval.as_ref().ok_or_else(|| {
                IngestError::field("approval", "is required for \"kind\": \"approval\"")
            })?;
            let subject = match raw.subject {
                Some(subject) => subject.validate("subject")?,
                None => Subject {
                    login: request.user.clone(),
                    ..Subject::default()
                },
            };
            let check_id = raw.check_id.unwrap_or_else(|| APPROVAL_CHECK_ID.to_owned());
            (identifier("check_id", check_id)?, subject)
        }
    };
    Ok(Finding {
        source: identifier("source", raw.source)?,
        kind,
        check_id,
        title: title("title", raw.title)?,
        severity: severity("severity", &raw.severity)?,
        subject,
        description: raw.description,
        recommended_actions: raw.recommended_actions,
        link: raw.link.filter(|l| !l.trim().is_empty()),
        occurred_at: timestamp("occurred_at", &raw.occurred_at)?,
        attributes: raw.attributes,
        approval,
    })
}

impl RawSubject {
    pub(super) fn validate(self, path: &str) -> Result<Subject, IngestError> {
        let ip_addresses = self
            .ip_addresses
            .into_iter()
            .enumerate()
            .map(|(i, v)| ip_address(&format!("{path}.ip_addresses[{i}]"), v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Subject {
            login: identifier(&format!("{path}.login"), self.login)?,
            email: optional_identifier(&format!("{path}.email"), self.email)?,
            display_name: self.display_name,
            status: self.status,
            user_type: self.user_type,
            manager: self.manager,
            phone: self.phone,
            ip_addresses,
            used_applications: self.used_applications,
            unused_applications: self.unused_applications,
            used_factors: self.used_factors,
            last_sign_in_location: self.last_sign_in_location,
        })
    }
}

fn ip_address(path: &str, value: serde_json::Value) -> Result<IpAddress, IngestError> {
    let expected = "expected an address string or an object with `address` and `location`";
    match value {
        serde_json::Value::String(address) => Ok(IpAddress {
            address: non_empty(path, address)?,
            location: None,
        }),
        serde_json::Value::Object(mut map) => {
            let address = match map.remove("address") {
                Some(serde_json::Value::String(a)) => non_empty(&format!("{path}.address"), a)?,
                Some(_) => {
                    return Err(IngestError::field(
                        format!("{path}.address"),
                        "expected a string",
                    ));
                }
                None => return Err(IngestError::field(format!("{path}.address"), "is required")),
            };
            let location = match map.remove("location") {
                Some(serde_json::Value::String(l)) => Some(l),
                Some(serde_json::Value::Null) | None => None,
                Some(_) => {
                    return Err(IngestError::field(
                        format!("{path}.location"),
                        "expected a string",
                    ));
                }
            };
            if let Some(other) = map.keys().next() {
                return Err(IngestError::field(
                    format!("{path}.{other}"),
                    "unknown field (expected address or location)",
                ));
            }
            Ok(IpAddress { address, location })
        }
        _ => Err(IngestError::field(path, expected)),
    }
}

/// Parses an RFC 3339 time into UTC.
pub(super) fn timestamp(path: &str, text: &str) -> Result<DateTime<Utc>, IngestError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            IngestError::field(
                path,
                format!("`{text}` is not an RFC 3339 time such as 2022-09-18T16:08:55Z ({e})"),
            )
        })
}
