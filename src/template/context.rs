//! The data a template sees: the finding, every field always present (null when unknown)
//! so that strict mode flags misspelt names, plus the event being rendered.
//! It copies finding text as values; nothing here is ever compiled.

use serde_json::{Value, json};

use crate::domain::Finding;

/// What is being rendered besides the finding itself.
#[derive(Debug, Clone, Copy)]
pub struct ContextInfo<'a> {
    /// `failing`, `resolved`, `escalated` or `reopened`.
    pub event: &'a str,
    /// How often the source reported the finding failing.
    pub occurrences: u64,
    pub rule: &'a str,
    pub profile: &'a str,
    pub correlation_id: &'a str,
}

/// How the source is named in ticket text: the `source_label` attribute, else a known
/// product name, else the source as given.
pub fn source_label(finding: &Finding) -> String {
    if let Some(Value::String(label)) = finding.attributes.get("source_label") {
        return label.clone();
    }
    match finding.source.as_str() {
        "oort" => "Oort".to_owned(),
        "threatlocker" => "ThreatLocker".to_owned(),
        other => other.to_owned(),
    }
}

/// The template context for `finding`.
///
/// Top-level names: `source`, `source_label`, `kind`, `check_id`, `title`, `severity`,
/// `subject` (`login`, `email`, `display_name`, `status`, `user_type`, `manager`, `phone`,
/// `ip_addresses` [`address`, `location`], `used_applications`, `unused_applications`,
/// `used_factors`, `last_sign_in_location`, `department`, `location`, `from_servicenow`), `description`, `recommended_actions`, `link`,
/// `occurred_at`, `attributes`, `approval` (`request_id`, `computer`, `user`, `application`,
/// `path`, `hash`, `publisher`, `requested_action`, `justification`, or null), `key`,
/// `event`, `occurrences`, `rule`, `profile`, `correlation_id`.
pub fn context(finding: &Finding, info: ContextInfo<'_>) -> Value {
    let s = &finding.subject;
    let ips: Vec<Value> = s
        .ip_addresses
        .iter()
        .map(|ip| json!({"address": ip.address, "location": ip.location}))
        .collect();
    let approval = finding.approval.as_ref().map(|a| {
        json!({
            "request_id": a.request_id,
            "computer": a.computer,
            "user": a.user,
            "application": a.application,
            "path": a.path,
            "hash": a.hash,
            "publisher": a.publisher,
            "requested_action": a.requested_action,
            "justification": a.justification,
        })
    });
    json!({
        "source": finding.source,
        "source_label": source_label(finding),
        "kind": finding.kind.as_str(),
        "check_id": finding.check_id,
        "title": finding.title,
        "severity": finding.severity.as_str(),
        "subject": {
            "login": s.login,
            "email": s.email_address(),
            "display_name": s.display_name,
            "status": s.status,
            "user_type": s.user_type,
            "manager": s.manager,
            "phone": s.phone,
            "ip_addresses": ips,
            "used_applications": s.used_applications,
            "unused_applications": s.unused_applications,
            "used_factors": s.used_factors,
            "last_sign_in_location": s.last_sign_in_location,
            // Sources do not send these; enrichment fills them from the instance.
            "department": null,
            "location": null,
            "from_servicenow": [],
        },
        "description": finding.description,
        "recommended_actions": finding.recommended_actions,
        "link": finding.link,
        "occurred_at": finding.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "attributes": finding.attributes,
        "approval": approval,
        "key": finding.key().as_str(),
        "event": info.event,
        "occurrences": info.occurrences,
        "rule": info.rule,
        "profile": info.profile,
        "correlation_id": info.correlation_id,
    })
}
