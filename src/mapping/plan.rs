//! Planning: finding + event + mappings → the exact field map to send, with references
//! by name and values cut to each field's length.
//! It never plans priority and never resolves a reference name: delivery does that.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::profile::{Caller, GroupBy, Profile};
use super::{Mappings, Selection};
use crate::domain::{Finding, ReferenceKind, SourceEvent, spelled};
use crate::operation::Enrichment;
use crate::template::{self, ContextInfo, TemplateData, TemplateError, Templates};

/// What to send to ServiceNow for one finding event.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketPlan {
    /// The rule that matched.
    pub rule: String,
    pub profile: String,
    pub table: String,
    pub correlation_id: String,
    /// Every value a string, exactly what is sent (reference fields excepted).
    pub fields: Map<String, Value>,
    /// Reference field → what to look up; resolved to sys_ids at delivery.
    pub references: BTreeMap<String, (ReferenceKind, String)>,
    /// Tags to apply after the create (empty on updates).
    pub tags: Vec<String>,
    /// The fields filled by the profile's custom field mappings (on a create): cut here to
    /// the lengths known when planning, and again at delivery to the instance's.
    pub custom_fields: Vec<String>,
    /// On a create with `enrich_from_instance`: the description to complete at delivery.
    pub enrichment: Option<Enrichment>,
}

spelled! {
    /// Why a finding event cannot be planned.
    pub enum PlanErrorKind("planning error") {
        /// A template of the profile fails to render for this finding.
        TemplateFailed = "template_failed",
        /// The profile asks for something delivery does not do.
        Unsupported = "unsupported",
    }
}

/// A finding event the mappings cannot plan: the kind, the profile, where the problem is
/// (`templates/description.hbs:12:5`, `mappings/x.toml:7: profile.y.group_by`) and what
/// is wrong. It reaches the API answer and the audit trail whole.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("profile `{profile}`: {origin}: {message}")]
pub struct PlanError {
    pub kind: PlanErrorKind,
    pub profile: String,
    pub origin: String,
    pub message: String,
}

impl PlanError {
    /// The profile's `key` asks for something delivery does not do.
    pub fn unsupported(profile: &Profile, key: &str, message: impl Into<String>) -> Self {
        Self {
            kind: PlanErrorKind::Unsupported,
            profile: profile.name.clone(),
            origin: profile.location(key),
            message: message.into(),
        }
    }
}

/// Maximum field lengths (in ServiceNow characters) per table, from the dictionary when
/// known; otherwise `short_description` 160, `description` and `close_notes` 4000,
/// journal fields unlimited, any other rendered field 255.
#[derive(Debug, Clone, Default)]
pub struct FieldLengths {
    tables: BTreeMap<String, BTreeMap<String, usize>>,
}

impl FieldLengths {
    /// Records the dictionary's `max_length` of `field` on `table` (0 means unknown).
    pub fn set(&mut self, table: &str, field: &str, max_length: usize) {
        if max_length > 0 {
            self.tables
                .entry(table.to_owned())
                .or_default()
                .insert(field.to_owned(), max_length);
        }
    }

    /// The length `field` of `table` is cut to; `None` for unlimited.
    pub fn limit(&self, table: &str, field: &str) -> Option<usize> {
        if matches!(field, "work_notes" | "comments") {
            // Journal entries are stored apart from the record and are not cut.
            return None;
        }
        if let Some(max) = self.tables.get(table).and_then(|t| t.get(field)) {
            return Some(*max);
        }
        Some(match field {
            "short_description" => 160,
            "description" | "close_notes" => 4000,
            _ => 255,
        })
    }
}

/// [`plan_with`] using the default field lengths.
pub fn plan(
    finding: &Finding,
    event: SourceEvent,
    occurrences: u64,
    mappings: &Mappings,
    templates: &Templates,
) -> Result<TicketPlan, PlanError> {
    plan_with(
        finding,
        event,
        occurrences,
        mappings,
        templates,
        &FieldLengths::default(),
    )
}

/// Plans one event:
/// - `Failing`, first occurrence: the create payload and references and tags;
/// - `Failing` again (`occurrences > 1`): only `work_notes`;
/// - `Resolved`: the auto-close state, close code and rendered close notes;
/// - `Escalated`: the escalation state and a work note.
pub fn plan_with(
    finding: &Finding,
    event: SourceEvent,
    occurrences: u64,
    mappings: &Mappings,
    templates: &Templates,
    lengths: &FieldLengths,
) -> Result<TicketPlan, PlanError> {
    plan_selected(
        finding,
        mappings.select(finding),
        event,
        occurrences,
        templates,
        lengths,
    )
}

/// Plans one event with an already chosen rule and profile.
pub(super) fn plan_selected(
    finding: &Finding,
    selection: Selection<'_>,
    event: SourceEvent,
    occurrences: u64,
    templates: &Templates,
    lengths: &FieldLengths,
) -> Result<TicketPlan, PlanError> {
    // A finding opened with a ticket of its own before its profile grouped by check keeps
    // that ticket, written with the subject templates: the group's list members.
    let as_subject;
    let selection = match selection.profile.group_by {
        GroupBy::Subject => selection,
        GroupBy::Check { .. } => {
            as_subject = selection.profile.for_one_subject();
            Selection {
                rule: selection.rule,
                profile: &as_subject,
            }
        }
    };
    let mut planner = Planner::new(
        finding,
        selection,
        templates,
        lengths,
        event.as_str(),
        occurrences,
    );
    let p = selection.profile;
    match event {
        SourceEvent::Failing if occurrences <= 1 => planner.create()?,
        SourceEvent::Failing => planner.render_field("work_notes", &p.templates.work_note)?,
        SourceEvent::Resolved => {
            planner.set("state", p.auto_close_state.value());
            if let Some(code) = &p.close_code {
                planner.set("close_code", code.clone());
            }
            planner.render_field("close_notes", &p.templates.close_notes)?;
        }
        SourceEvent::Escalated => {
            planner.set("state", p.escalation_state.value());
            planner.render_field("work_notes", &p.templates.work_note)?;
        }
    }
    Ok(planner.finish())
}

/// The update that reopens a closed ticket when its finding fails again within the
/// profile's `reopen_within`: the reopen state and a work note (event `reopened`).
pub fn plan_reopen(
    finding: &Finding,
    occurrences: u64,
    mappings: &Mappings,
    templates: &Templates,
) -> Result<TicketPlan, PlanError> {
    let selection = mappings.select(finding);
    let lengths = FieldLengths::default();
    let mut planner = Planner::new(
        finding,
        selection,
        templates,
        &lengths,
        "reopened",
        occurrences,
    );
    planner.set("state", selection.profile.reopen_state.value());
    planner.render_field("work_notes", &selection.profile.templates.work_note)?;
    Ok(planner.finish())
}

pub(super) struct Planner<'a> {
    finding: &'a Finding,
    selection: Selection<'a>,
    templates: &'a Templates,
    lengths: &'a FieldLengths,
    correlation_id: String,
    context: TemplateData,
    fields: Map<String, Value>,
    references: BTreeMap<String, (ReferenceKind, String)>,
    tags: Vec<String>,
    enrichment: Option<Enrichment>,
}

impl<'a> Planner<'a> {
    fn new(
        finding: &'a Finding,
        selection: Selection<'a>,
        templates: &'a Templates,
        lengths: &'a FieldLengths,
        event: &str,
        occurrences: u64,
    ) -> Self {
        let correlation_id = finding.key().correlation_id();
        let context = template::context(
            finding,
            ContextInfo {
                event,
                occurrences,
                rule: &selection.rule.name,
                profile: &selection.profile.name,
                correlation_id: &correlation_id,
            },
        );
        Self::with_context(
            finding,
            selection,
            templates,
            lengths,
            correlation_id,
            context,
        )
    }

    /// A planner rendering `context` (a grouped ticket's, which lists its members) into the
    /// ticket with `correlation_id`.
    pub(super) fn with_context(
        finding: &'a Finding,
        selection: Selection<'a>,
        templates: &'a Templates,
        lengths: &'a FieldLengths,
        correlation_id: String,
        context: Value,
    ) -> Self {
        let context = TemplateData::new(context);
        Self {
            finding,
            selection,
            templates,
            lengths,
            correlation_id,
            context,
            fields: Map::new(),
            references: BTreeMap::new(),
            tags: Vec::new(),
            enrichment: None,
        }
    }

    pub(super) fn profile(&self) -> &'a Profile {
        self.selection.profile
    }

    fn fail(&self, source: TemplateError) -> PlanError {
        PlanError {
            kind: PlanErrorKind::TemplateFailed,
            profile: self.profile().name.clone(),
            origin: source.origin,
            message: source.message,
        }
    }

    /// Sets a field, cut to its length.
    pub(super) fn set(&mut self, field: &str, value: String) {
        let value = match self.lengths.limit(self.profile().table.as_str(), field) {
            Some(max) => template::cut(&value, max).to_owned(),
            None => value,
        };
        self.fields.insert(field.to_owned(), Value::String(value));
    }

    pub(super) fn render_field(
        &mut self,
        field: &str,
        template_name: &str,
    ) -> Result<(), PlanError> {
        let text = self
            .templates
            .render_data(template_name, &self.context)
            .map_err(|e| self.fail(e))?;
        self.set(field, text);
        Ok(())
    }

    /// Renders a grouped ticket's listing field: as many members as fit its length, and
    /// with `enrich_from_instance`, what delivery needs to fill the listed members' details.
    pub(super) fn render_listing(
        &mut self,
        field: &str,
        template_name: &str,
        member_users: &[String],
    ) -> Result<(), PlanError> {
        let p = self.profile();
        let limit = self.lengths.limit(p.table.as_str(), field);
        let (text, shown) = self
            .templates
            .render_fitting(template_name, self.context.value(), limit)
            .map_err(|e| self.fail(e))?;
        self.fields.insert(field.to_owned(), Value::String(text));
        if p.enrich_from_instance && field == "description" {
            self.enrichment = Some(Enrichment {
                user: String::new(),
                members: member_users.iter().take(shown).cloned().collect(),
                field: field.to_owned(),
                limit,
                template: template_name.to_owned(),
                context: self.context.value().clone(),
            });
        }
        Ok(())
    }

    fn create(&mut self) -> Result<(), PlanError> {
        let p = self.profile();
        self.render_field("short_description", &p.templates.short_description)?;
        self.render_field("description", &p.templates.description)?;
        if p.enrich_from_instance {
            let subject = &self.finding.subject;
            let user = subject.email_address().unwrap_or(&subject.login).trim();
            if !user.is_empty() {
                self.enrichment = Some(Enrichment {
                    user: user.to_owned(),
                    members: Vec::new(),
                    field: "description".to_owned(),
                    limit: self.lengths.limit(p.table.as_str(), "description"),
                    template: p.templates.description.clone(),
                    context: self.context.value().clone(),
                });
            }
        }
        self.ticket_fields(true)
    }

    /// The fields of a create besides its text: levels, category, state, correlation id,
    /// custom fields, references and tags. A grouped ticket (`for_subject` false) has no
    /// one subject to be its caller.
    pub(super) fn ticket_fields(&mut self, for_subject: bool) -> Result<(), PlanError> {
        let p = self.profile();
        let (impact, urgency) = p.levels(self.finding.severity);
        self.set("impact", impact.code().to_string());
        self.set("urgency", urgency.code().to_string());
        if let Some(category) = &p.category {
            self.set("category", category.clone());
        }
        if let Some(subcategory) = &p.subcategory {
            self.set("subcategory", subcategory.clone());
        }
        if let Some(state) = p.state {
            self.set("state", state.value());
        }
        self.set("correlation_id", self.correlation_id.clone());
        for field in &p.fields {
            let origin = p.location(&format!("fields.{}", field.name));
            let text = self
                .templates
                .render_inline(&origin, &field.template, &self.context)
                .map_err(|e| self.fail(e))?;
            self.set(&field.name, text);
        }
        let mut reference = |field: &str, kind: ReferenceKind, name: &Option<String>| {
            if let Some(name) = name {
                self.references
                    .insert(field.to_owned(), (kind, name.clone()));
            }
        };
        reference(
            "assignment_group",
            ReferenceKind::Group,
            &p.assignment_group,
        );
        reference(
            "business_service",
            ReferenceKind::Service,
            &p.business_service,
        );
        reference("assigned_to", ReferenceKind::User, &p.assigned_to);
        let caller = match &p.caller {
            Caller::Subject if !for_subject => None,
            Caller::Subject => Some(
                self.finding
                    .subject
                    .email_address()
                    .unwrap_or(&self.finding.subject.login)
                    .to_owned(),
            ),
            Caller::Fixed(user) => Some(user.clone()),
            Caller::None => None,
        };
        reference(p.table.caller_field(), ReferenceKind::User, &caller);
        self.tags = p.tags.clone();
        Ok(())
    }

    pub(super) fn finish(self) -> TicketPlan {
        let custom_fields = self
            .profile()
            .fields
            .iter()
            .map(|f| f.name.clone())
            .filter(|name| self.fields.contains_key(name))
            .collect();
        TicketPlan {
            rule: self.selection.rule.name.clone(),
            profile: self.profile().name.clone(),
            table: self.profile().table.as_str().to_owned(),
            correlation_id: self.correlation_id,
            fields: self.fields,
            references: self.references,
            tags: self.tags,
            custom_fields,
            enrichment: self.enrichment,
        }
    }
}
