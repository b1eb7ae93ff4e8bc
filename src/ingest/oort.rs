//! The Oort failing-check webhook event: an EventBridge envelope whose `detail` names the
//! check and the users failing it; each failing user becomes one finding (pure parsing).
//!
//! ```json
//! {"version": "0", "id": "abf0607d-…", "detail-type": "WebhookTest", "source": "…",
//!  "time": "2023-08-08T13:27:22Z",
//!  "detail": {"id": "…", "checkId": "oort-test-check-id", "title": "OORT Failing Check Event Test",
//!             "description": ["description1"], "recommendedActions": ["action1"],
//!             "severity": "critical", "usersFailing": ["user1@example.com"],
//!             "published": "2023-08-08T13:27:22.416Z"}}
//! ```
//! Unknown fields are ignored here: the envelope belongs to AWS and Oort, who add fields.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::limits::{identifier, title};
use super::{IngestError, from_json, severity};
use crate::domain::{Finding, FindingKind, Subject};

/// The `source` of findings made from Oort events.
pub const SOURCE: &str = "oort";

/// The EventBridge envelope of an Oort event; also its OpenAPI schema.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = OortEvent)]
pub(crate) struct Envelope {
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "detail-type")]
    detail_type: Option<String>,
    #[serde(default)]
    time: Option<String>,
    detail: Detail,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OortEventDetail)]
pub(crate) struct Detail {
    #[serde(default)]
    id: Option<String>,
    check_id: String,
    title: String,
    #[serde(default)]
    description: Vec<String>,
    #[serde(default)]
    recommended_actions: Vec<String>,
    severity: String,
    users_failing: Vec<String>,
    #[serde(default)]
    published: Option<String>,
}

pub(super) fn parse(body: &[u8]) -> Result<Vec<Finding>, IngestError> {
    let envelope: Envelope = from_json(body, &["detail"])?;
    let detail = envelope.detail;
    let occurred_at = match (&detail.published, &envelope.time) {
        (Some(published), _) => super::generic::timestamp("detail.published", published)?,
        (None, Some(time)) => super::generic::timestamp("time", time)?,
        (None, None) => {
            return Err(IngestError::field(
                "detail.published",
                "is required (or the envelope's `time`)",
            ));
        }
    };
    let check_id = identifier("detail.checkId", detail.check_id)?;
    let title = title("detail.title", detail.title)?;
    let severity = severity("detail.severity", &detail.severity)?;
    let mut attributes = BTreeMap::new();
    for (name, value) in [
        ("event_id", envelope.id),
        ("detail_type", envelope.detail_type),
        ("oort_event_id", detail.id),
    ] {
        if let Some(value) = value {
            attributes.insert(name.to_owned(), serde_json::Value::String(value));
        }
    }
    let mut seen = BTreeSet::new();
    let mut findings = Vec::with_capacity(detail.users_failing.len());
    for (i, user) in detail.users_failing.into_iter().enumerate() {
        let login = identifier(&format!("detail.usersFailing[{i}]"), user)?;
        // Oort lists each user once; a repeat would only make the same finding twice.
        if !seen.insert(login.to_lowercase()) {
            continue;
        }
        findings.push(Finding {
            source: SOURCE.to_owned(),
            kind: FindingKind::Check,
            check_id: check_id.clone(),
            title: title.clone(),
            severity,
            subject: Subject {
                login,
                ..Subject::default()
            },
            description: detail.description.clone(),
            recommended_actions: detail.recommended_actions.clone(),
            link: None,
            occurred_at,
            attributes: attributes.clone(),
            approval: None,
        });
    }
    Ok(findings)
}

/// Whether `body` is Oort's test event (`detail-type: "WebhookTest"`, sent by its "Test
/// Connectivity" button): it proves the webhook reaches snowsync and reports no real failure.
pub fn is_test_event(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Kind {
        #[serde(rename = "detail-type")]
        detail_type: Option<String>,
    }
    serde_json::from_slice::<Kind>(body)
        .ok()
        .and_then(|k| k.detail_type)
        .is_some_and(|t| t == TEST_EVENT)
}

/// The `detail-type` of Oort's test event.
pub const TEST_EVENT: &str = "WebhookTest";
