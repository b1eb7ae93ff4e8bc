//! The digest's user details filled from the instance at delivery (`enrich_from_instance`):
//! a source such as Oort's webhook names the failing user by email only, so the description
//! rendered at intake says "N/A" where the instance knows the answer.
//!
//! Delivery looks the subject up in sys_user through the client's reference cache (one
//! request per user while the answer is fresh, shared with the caller reference), fills the
//! details the source left out, names them in `subject.from_servicenow`, and renders the
//! description again with the templates in force. Details the source sent always win.

use serde_json::{Map, Value};

use crate::operation::Enrichment;
use crate::servicenow::{Client, Disposition, ServiceNowError, UserDetails};
use crate::template::Templates;

/// The subject's keys in the template data, with how the template names them.
const FILLED: [(&str, &str); 5] = [
    ("display_name", "display name"),
    ("manager", "manager"),
    ("phone", "phone"),
    ("department", "department"),
    ("location", "location"),
];

/// The description with the subject's details from the instance, or `None` to send it as
/// rendered at intake: the user is unknown or ambiguous, the instance adds nothing, the
/// template is gone after a reload, or sys_user may not be read. A failure that will pass
/// (an outage, a timeout) is an error, so the row is retried rather than sent with less.
pub(super) async fn enriched(
    client: &Client,
    templates: &Templates,
    enrichment: &Enrichment,
) -> Result<Option<String>, ServiceNowError> {
    let details = match client.user_details(&enrichment.user).await {
        Ok(Some(details)) => details,
        Ok(None) => {
            tracing::debug!("subject not found in sys_user; digest sent as rendered");
            return Ok(None);
        }
        Err(e) if e.classify() == Disposition::GiveUp => {
            tracing::warn!(error = %e, "cannot read the subject from sys_user; digest sent as rendered");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut data = enrichment.context.clone();
    if fill(&mut data, &details).is_empty() {
        return Ok(None);
    }
    match templates.render(&enrichment.template, &data) {
        Ok(text) => Ok(Some(match enrichment.limit {
            Some(max) => crate::template::cut(&text, max).to_owned(),
            None => text,
        })),
        Err(e) => {
            tracing::warn!(error = %e, "the description template no longer renders; digest sent as rendered");
            Ok(None)
        }
    }
}

/// Fills each detail the data's subject lacks, and lists what was filled in
/// `subject.from_servicenow`; returns the labels filled.
fn fill(data: &mut Value, details: &UserDetails) -> Vec<&'static str> {
    let Some(subject) = data.get_mut("subject").and_then(Value::as_object_mut) else {
        return Vec::new();
    };
    let values = [
        &details.display_name,
        &details.manager,
        &details.phone,
        &details.department,
        &details.location,
    ];
    let mut filled = Vec::new();
    for ((key, label), value) in FILLED.iter().zip(values) {
        if let Some(value) = value
            && is_blank(subject, key)
        {
            subject.insert((*key).to_owned(), Value::String(value.clone()));
            filled.push(*label);
        }
    }
    subject.insert(
        "from_servicenow".to_owned(),
        Value::Array(
            filled
                .iter()
                .map(|l| Value::String((*l).to_owned()))
                .collect(),
        ),
    );
    filled
}

fn is_blank(subject: &Map<String, Value>, key: &str) -> bool {
    match subject.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_the_source_sent_win_and_only_filled_ones_are_named() {
        let mut data = serde_json::json!({"subject": {
            "display_name": "From Oort", "manager": null, "phone": "",
            "department": null, "location": null, "from_servicenow": []
        }});
        let details = UserDetails {
            display_name: Some("From ServiceNow".into()),
            manager: Some("David Loo".into()),
            phone: None,
            department: Some("Finance".into()),
            location: None,
        };
        assert_eq!(fill(&mut data, &details), ["manager", "department"]);
        assert_eq!(data["subject"]["display_name"], "From Oort");
        assert_eq!(data["subject"]["manager"], "David Loo");
        assert_eq!(data["subject"]["phone"], "");
        assert_eq!(
            data["subject"]["from_servicenow"],
            serde_json::json!(["manager", "department"])
        );
    }
}
