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
/// A grouped ticket's listed members are each looked up the same way.
pub(super) async fn enriched(
    client: &Client,
    templates: &Templates,
    enrichment: &Enrichment,
) -> Result<Option<String>, ServiceNowError> {
    let mut data = enrichment.context.clone();
    let filled = if enrichment.members.is_empty() {
        let Some(details) = lookup(client, &enrichment.user).await? else {
            return Ok(None);
        };
        match data.get_mut("subject").and_then(Value::as_object_mut) {
            Some(subject) => !fill(subject, &details).is_empty(),
            None => false,
        }
    } else {
        let mut looked_up = Vec::with_capacity(enrichment.members.len());
        for user in &enrichment.members {
            looked_up.push(lookup(client, user).await?);
        }
        fill_members(&mut data, &looked_up)
    };
    if !filled {
        return Ok(None);
    }
    match templates.render_fitting(&enrichment.template, &data, enrichment.limit) {
        Ok((text, _)) => Ok(Some(text)),
        Err(e) => {
            tracing::warn!(error = %e, "the description template no longer renders; digest sent as rendered");
            Ok(None)
        }
    }
}

/// A user's details in sys_user: `None` when unknown, or when sys_user may not be read.
async fn lookup(client: &Client, user: &str) -> Result<Option<UserDetails>, ServiceNowError> {
    match client.user_details(user).await {
        Ok(Some(details)) => Ok(Some(details)),
        Ok(None) => {
            tracing::debug!(
                "user not found in sys_user; their details stay as the source sent them"
            );
            Ok(None)
        }
        Err(e) if e.classify() == Disposition::GiveUp => {
            tracing::warn!(error = %e, "cannot read the user from sys_user; details stay as the source sent them");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Fills the details of the data's first `members` from `looked_up` (in order), and lists
/// every kind of detail filled in the data's `from_servicenow`; returns whether any was.
fn fill_members(data: &mut Value, looked_up: &[Option<UserDetails>]) -> bool {
    let mut labels: Vec<&'static str> = Vec::new();
    if let Some(members) = data.get_mut("members").and_then(Value::as_array_mut) {
        for (member, details) in members.iter_mut().zip(looked_up) {
            if let (Some(member), Some(details)) = (member.as_object_mut(), details) {
                for label in fill(member, details) {
                    if !labels.contains(&label) {
                        labels.push(label);
                    }
                }
            }
        }
    }
    labels.sort_by_key(|l| FILLED.iter().position(|(_, f)| f == l));
    if let Some(map) = data.as_object_mut() {
        map.insert(
            "from_servicenow".to_owned(),
            Value::Array(
                labels
                    .iter()
                    .map(|l| Value::String((*l).to_owned()))
                    .collect(),
            ),
        );
    }
    !labels.is_empty()
}

/// Fills each detail `person` lacks, and lists what was filled in its `from_servicenow`;
/// returns the labels filled.
fn fill(person: &mut Map<String, Value>, details: &UserDetails) -> Vec<&'static str> {
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
            && is_blank(person, key)
        {
            person.insert((*key).to_owned(), Value::String(value.clone()));
            filled.push(*label);
        }
    }
    person.insert(
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
        let subject = data["subject"].as_object_mut().expect("an object");
        assert_eq!(fill(subject, &details), ["manager", "department"]);
        assert_eq!(data["subject"]["display_name"], "From Oort");
        assert_eq!(data["subject"]["manager"], "David Loo");
        assert_eq!(data["subject"]["phone"], "");
        assert_eq!(
            data["subject"]["from_servicenow"],
            serde_json::json!(["manager", "department"])
        );
    }
}

#[cfg(test)]
mod group_tests {
    use super::*;

    #[test]
    fn listed_members_are_filled_and_the_kinds_filled_are_named_once() {
        let mut data = serde_json::json!({
            "members": [
                {"login": "a", "display_name": null, "department": null},
                {"login": "b", "display_name": "B from Oort", "department": null},
                {"login": "c", "display_name": null, "department": null},
            ],
            "from_servicenow": [],
        });
        let known = |name: &str, department: &str| UserDetails {
            display_name: Some(name.to_owned()),
            manager: None,
            phone: None,
            department: Some(department.to_owned()),
            location: None,
        };
        let looked_up = [Some(known("Ana", "Finance")), Some(known("Bo", "IT")), None];
        assert!(fill_members(&mut data, &looked_up));
        assert_eq!(data["members"][0]["display_name"], "Ana");
        assert_eq!(data["members"][1]["display_name"], "B from Oort");
        assert_eq!(data["members"][1]["department"], "IT");
        assert_eq!(data["members"][2]["display_name"], Value::Null);
        assert_eq!(
            data["from_servicenow"],
            serde_json::json!(["display name", "department"])
        );
    }
}
