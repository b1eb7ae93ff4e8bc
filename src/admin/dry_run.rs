//! The dry run behind `snowsync render`, `POST /v1/render` and the console's mapping
//! tester: a finding document in any input format, planned with the current mappings and
//! templates into the rule, the profile and the exact fields that would be sent. Never
//! contacts ServiceNow and writes nothing.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Finding, SourceEvent};
use crate::ingest::{self, IngestError, InputFormat};
use crate::mapping::{
    Group, GroupChange, Mappings, PlanError, Templates, TicketPlan, plan, plan_group,
};

/// Why a document cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    /// The document is not a finding in the format given (or in any, when none is).
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// A finding of it cannot be planned by the mappings.
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// One finding of the document and what it would become.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub finding_key: String,
    pub plan: TicketPlan,
}

/// Parses `body` (`format`, or recognised from the document without one) and plans each of
/// its findings for `event`, as the `occurrences`-th failure; the findings of a check whose
/// profile groups by check are planned together, as their group's ticket.
pub fn plans(
    body: &[u8],
    format: Option<InputFormat>,
    event: SourceEvent,
    occurrences: u64,
    mappings: &Mappings,
    templates: &Templates,
) -> Result<Vec<Rendered>, DryRunError> {
    let findings = match format {
        None => ingest::detect_and_parse(body),
        Some(format) => ingest::parse(format, body),
    }?;
    let mut rendered = Vec::new();
    let mut checks_done: Vec<String> = Vec::new();
    for finding in &findings {
        if !mappings.select(finding).profile.groups_by_check() {
            rendered.push(Rendered {
                finding_key: finding.key().as_str().to_owned(),
                plan: plan(finding, event, occurrences, mappings, templates)?,
            });
            continue;
        }
        // The findings of one check become one grouped ticket, shown once.
        let check = finding.check_key().as_str().to_owned();
        if checks_done.contains(&check) {
            continue;
        }
        let members: Vec<Finding> = findings
            .iter()
            .filter(|f| f.check_key().as_str() == check)
            .cloned()
            .collect();
        checks_done.push(check);
        rendered.push(Rendered {
            finding_key: finding.group_key(1).as_str().to_owned(),
            plan: group_plan(finding, &members, event, occurrences, mappings, templates)?,
        });
    }
    Ok(rendered)
}

/// The grouped ticket of `members` (one check) for `event`: the create, an update listing
/// them as joined (a repeat), the close when they all pass, or the escalation.
fn group_plan(
    about: &Finding,
    members: &[Finding],
    event: SourceEvent,
    occurrences: u64,
    mappings: &Mappings,
    templates: &Templates,
) -> Result<TicketPlan, PlanError> {
    let logins: Vec<String> = members.iter().map(|m| m.subject.login.clone()).collect();
    let (change, listed, joined, passing): (_, &[Finding], &[String], &[String]) = match event {
        SourceEvent::Failing if occurrences <= 1 => {
            (GroupChange::Create { note: None }, members, &logins, &[])
        }
        SourceEvent::Failing => (GroupChange::Update, members, &logins, &[]),
        SourceEvent::Resolved => (GroupChange::Close, &[], &[], &logins),
        SourceEvent::Escalated => (GroupChange::Escalate, members, &[], &[]),
    };
    let group = Group {
        generation: 1,
        members: listed,
        joined,
        passing,
        about,
        continues: None,
    };
    plan_group(&group, &change, mappings, templates)
}

/// Where the rule and the profile of a plan are written: `mappings/x.toml:12`.
pub fn origins(plan: &TicketPlan, mappings: &Mappings) -> (String, String) {
    let rule = mappings
        .rules()
        .iter()
        .chain(std::iter::once(mappings.default_rule()))
        .find(|r| r.name == plan.rule)
        .map(|r| r.origin.clone())
        .unwrap_or_default();
    let profile = mappings
        .profile(&plan.profile)
        .map(crate::mapping::Profile::origin)
        .unwrap_or_default();
    (rule, profile)
}

/// A plan as the API and the console show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanView {
    pub finding_key: String,
    pub rule: String,
    /// Where the rule is written, `mappings/x.toml:12`.
    pub rule_origin: String,
    pub profile: String,
    /// Where the profile is written.
    pub profile_origin: String,
    pub table: String,
    pub correlation_id: String,
    /// Exactly the fields sent, each a string (reference fields are looked up at delivery).
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Reference fields given by name, resolved to sys_ids at delivery.
    pub references: BTreeMap<String, ReferenceView>,
    /// Tags applied after the create.
    pub tags: Vec<String>,
}

/// A reference field's lookup.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReferenceView {
    /// What is looked up: a user, a group, a service.
    pub kind: String,
    /// The table it is looked up in.
    pub table: String,
    pub name: String,
}

impl PlanView {
    pub fn new(rendered: Rendered, mappings: &Mappings) -> Self {
        let (rule_origin, profile_origin) = origins(&rendered.plan, mappings);
        let plan = rendered.plan;
        Self {
            finding_key: rendered.finding_key,
            rule: plan.rule,
            rule_origin,
            profile: plan.profile,
            profile_origin,
            table: plan.table,
            correlation_id: plan.correlation_id,
            fields: plan.fields,
            references: plan
                .references
                .into_iter()
                .map(|(field, (kind, name))| {
                    (
                        field,
                        ReferenceView {
                            kind: kind.as_str().to_owned(),
                            table: kind.table().to_owned(),
                            name,
                        },
                    )
                })
                .collect(),
            tags: plan.tags,
        }
    }
}
