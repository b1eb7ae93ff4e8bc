//! Planning a ticket grouped by check (`group_by = "check"`): one ticket per check and
//! generation, listing the subjects failing it. Intake says who is listed, who joined and
//! who passes now; this turns it into the fields to send, like `plan` does for one subject.

use serde_json::{Value, json};

use super::plan::{FieldLengths, PlanError, Planner, TicketPlan};
use super::{Mappings, Selection};
use crate::domain::Finding;
use crate::template::{self, ContextInfo, Templates};

/// What happens to a grouped ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    /// The generation's first subjects: the create, with an optional first work note
    /// (the ticket it continues, and why).
    Create { note: Option<String> },
    /// Subjects joined or pass now, and some are still failing: the listing again and one
    /// work note for the whole change.
    Update,
    /// The last subject passes: the auto-close.
    Close,
    /// The source escalated a subject of the group.
    Escalate,
}

/// A grouped ticket's subjects, as a change leaves them.
#[derive(Debug, Clone, Copy)]
pub struct Group<'a> {
    /// The generation of the check's group (1 for its first ticket).
    pub generation: u64,
    /// Subjects failing after the change, in the order they joined; the first one's
    /// finding supplies the check's own details (title, description, actions).
    pub members: &'a [Finding],
    /// The logins that joined, and those that pass again, with this change.
    pub joined: &'a [String],
    pub passing: &'a [String],
    /// The finding the change is about when `members` is empty (the last one passing).
    pub about: &'a Finding,
    /// The ticket this generation continues, by number (or correlation id before it has
    /// one), for the description.
    pub continues: Option<&'a str>,
}

/// Plans `change` of `group`.
pub fn plan_group(
    group: &Group<'_>,
    change: &GroupChange,
    mappings: &Mappings,
    templates: &Templates,
) -> Result<TicketPlan, PlanError> {
    plan_group_with(group, change, mappings, templates, &FieldLengths::default())
}

/// [`plan_group`] with the field lengths known.
pub fn plan_group_with(
    group: &Group<'_>,
    change: &GroupChange,
    mappings: &Mappings,
    templates: &Templates,
    lengths: &FieldLengths,
) -> Result<TicketPlan, PlanError> {
    let about = group.members.first().unwrap_or(group.about);
    plan_group_selected(group, change, mappings.select(about), templates, lengths)
}

pub(super) fn plan_group_selected(
    group: &Group<'_>,
    change: &GroupChange,
    selection: Selection<'_>,
    templates: &Templates,
    lengths: &FieldLengths,
) -> Result<TicketPlan, PlanError> {
    let about = group.members.first().unwrap_or(group.about);
    let correlation_id = about.group_correlation_id(group.generation);
    let event = match change {
        GroupChange::Create { .. } | GroupChange::Update => "failing",
        GroupChange::Close => "resolved",
        GroupChange::Escalate => "escalated",
    };
    let context = group_context(
        group,
        ContextInfo {
            event,
            occurrences: group.generation,
            rule: &selection.rule.name,
            profile: &selection.profile.name,
            correlation_id: &correlation_id,
        },
    );
    let member_users: Vec<String> = group.members.iter().map(lookup_name).collect();
    let mut planner = Planner::with_context(
        about,
        selection,
        templates,
        lengths,
        correlation_id,
        context,
    );
    let p = selection.profile;
    match change {
        GroupChange::Create { note } => {
            planner.render_field("short_description", &p.templates.short_description)?;
            planner.render_listing("description", &p.templates.description, &member_users)?;
            planner.ticket_fields(false)?;
            if let Some(note) = note {
                planner.set("work_notes", note.clone());
            }
        }
        GroupChange::Update => {
            planner.render_field("short_description", &p.templates.short_description)?;
            planner.render_listing("description", &p.templates.description, &member_users)?;
            planner.render_field("work_notes", &p.templates.work_note)?;
        }
        GroupChange::Close => {
            planner.set("state", p.auto_close_state.value());
            if let Some(code) = &p.close_code {
                planner.set("close_code", code.clone());
            }
            planner.render_field("close_notes", &p.templates.close_notes)?;
        }
        GroupChange::Escalate => {
            planner.set("state", p.escalation_state.value());
            planner.render_field("work_notes", &p.templates.work_note)?;
        }
    }
    let mut plan = planner.finish();
    if !matches!(change, GroupChange::Create { .. }) {
        plan.tags.clear();
    }
    Ok(plan)
}

/// Whom a member is looked up by in sys_user, as a subject caller is.
fn lookup_name(member: &Finding) -> String {
    let subject = &member.subject;
    subject
        .email_address()
        .unwrap_or(&subject.login)
        .trim()
        .to_owned()
}

/// The template context of a grouped ticket: a finding's (the first member's) and
/// `members` (each with `login`, `email`, `display_name`, `manager`, `phone`, `department`,
/// `location`), `members_count`, `more` (members not listed), `joined` and `passing`
/// (logins) with their counts, `generation`, `continues` and `from_servicenow` (the details
/// filled from the instance at delivery).
pub fn group_context(group: &Group<'_>, info: ContextInfo<'_>) -> Value {
    let about = group.members.first().unwrap_or(group.about);
    let mut context = template::context(about, info);
    add_group(&mut context, group);
    context
}

fn add_group(context: &mut Value, group: &Group<'_>) {
    let members: Vec<Value> = group
        .members
        .iter()
        .map(|m| {
            let s = &m.subject;
            json!({
                "login": s.login,
                "email": s.email_address(),
                "display_name": s.display_name,
                "manager": s.manager,
                "phone": s.phone,
                "department": null,
                "location": null,
            })
        })
        .collect();
    let Some(map) = context.as_object_mut() else {
        return;
    };
    map.insert("members_count".to_owned(), json!(members.len()));
    map.insert("members".to_owned(), Value::Array(members));
    map.insert("more".to_owned(), json!(0));
    map.insert("joined_count".to_owned(), json!(group.joined.len()));
    map.insert("joined".to_owned(), json!(group.joined));
    map.insert("passing_count".to_owned(), json!(group.passing.len()));
    map.insert("passing".to_owned(), json!(group.passing));
    map.insert("generation".to_owned(), json!(group.generation));
    map.insert("continues".to_owned(), json!(group.continues));
    map.insert("from_servicenow".to_owned(), json!([]));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::check::sample_check_finding;
    use crate::template::load_templates_or_starter;

    fn grouped_mappings(cap: u32) -> Mappings {
        let text = format!(
            r#"
[[rule]]
name = "oort"
source = "oort"
profile = "grouped"

[default]
profile = "grouped"

[profile.grouped]
table = "incident"
assignment_group = "Identity and Access"
caller = "subject"
group_by = "check"
group_cap = {cap}
tags = ["snowsync"]
"#
        );
        crate::mapping::from_texts(&[("grouped.toml".to_owned(), text)]).expect("valid mappings")
    }

    fn user(login: &str) -> Finding {
        let mut finding = sample_check_finding();
        finding.subject.login = login.to_owned();
        finding.subject.email = Some(format!("{login}@example.com"));
        finding.subject.display_name = None;
        finding
    }

    fn logins(n: usize) -> Vec<Finding> {
        (0..n).map(|i| user(&format!("user{i:03}"))).collect()
    }

    #[test]
    fn a_create_lists_the_members_and_names_no_one_subject_as_caller() {
        let members = logins(3);
        let joined: Vec<String> = members.iter().map(|m| m.subject.login.clone()).collect();
        let group = Group {
            generation: 1,
            members: &members,
            joined: &joined,
            passing: &[],
            about: &members[0],
            continues: None,
        };
        let templates = load_templates_or_starter(None).expect("starter templates");
        let plan = plan_group(
            &group,
            &GroupChange::Create { note: None },
            &grouped_mappings(50),
            &templates,
        )
        .expect("plans");
        let description = plan.fields["description"].as_str().expect("text");
        assert!(description.starts_with("3 users are failing"));
        for login in &joined {
            assert!(description.contains(&format!("- {login}")), "{description}");
        }
        assert_eq!(
            plan.fields["correlation_id"],
            members[0].group_correlation_id(1)
        );
        assert!(!plan.references.contains_key("caller_id"));
        assert!(plan.references.contains_key("assignment_group"));
        assert_eq!(plan.tags, ["snowsync"]);
    }

    #[test]
    fn a_long_listing_ends_with_how_many_more_within_the_field() {
        let members = logins(1000);
        let group = Group {
            generation: 1,
            members: &members,
            joined: &[],
            passing: &[],
            about: &members[0],
            continues: None,
        };
        let templates = load_templates_or_starter(None).expect("starter templates");
        let plan = plan_group(
            &group,
            &GroupChange::Update,
            &grouped_mappings(500),
            &templates,
        )
        .expect("plans");
        let description = plan.fields["description"].as_str().expect("text");
        assert!(description.encode_utf16().count() <= 4000);
        let listed = description.lines().filter(|l| l.starts_with("- ")).count();
        assert!(
            listed > 10 && listed < 1000,
            "{listed} listed in {description}"
        );
        assert!(
            description.contains(&format!("... and {} more", 1000 - listed)),
            "{description}"
        );
    }

    #[test]
    fn an_update_notes_who_joined_and_who_passes_in_one_work_note() {
        let members = logins(2);
        let joined = vec!["user001".to_owned()];
        let passing = vec!["gone1".to_owned(), "gone2".to_owned()];
        let group = Group {
            generation: 2,
            members: &members,
            joined: &joined,
            passing: &passing,
            about: &members[0],
            continues: None,
        };
        let templates = load_templates_or_starter(None).expect("starter templates");
        let plan = plan_group(
            &group,
            &GroupChange::Update,
            &grouped_mappings(50),
            &templates,
        )
        .expect("plans");
        let note = plan.fields["work_notes"].as_str().expect("text");
        assert!(note.contains("Now failing"), "{note}");
        assert!(note.contains("(1): user001"), "{note}");
        assert!(note.contains("Passing again (2): gone1, gone2"), "{note}");
        assert!(note.ends_with("2 users are failing it now."), "{note}");
        assert_eq!(plan.correlation_id, members[0].group_correlation_id(2));
        assert!(plan.tags.is_empty());
    }
}
