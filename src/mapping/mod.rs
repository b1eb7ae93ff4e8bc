//! Mapping: rules and profiles from `mappings/*.toml`, and planning — finding + event +
//! rules → the exact ServiceNow field map to send.
//!
//! Pure: no network, no database, no clock. Reference names (groups, services, users) stay
//! names here; they are resolved to sys_ids at delivery. Priority is never planned: ServiceNow
//! computes it from impact and urgency.

pub mod check;
mod group;
mod load;
pub mod online;
mod plan;
mod profile;
mod raw;
mod rule;
pub mod shadow;
mod validate;

use std::collections::BTreeMap;

pub use group::{Group, GroupChange, group_context, plan_group, plan_group_with};
pub use load::{from_texts, from_texts_all, load, load_all, read_folder};
pub use plan::{FieldLengths, PlanError, PlanErrorKind, TicketPlan, plan, plan_reopen, plan_with};
pub use profile::{
    Caller, CustomField, EscalationCondition, GroupBy, Plugin, Profile, ProfileTemplates,
    StateCode, Table,
};
pub use rule::{AttributeMatch, Pattern, Rule};
pub use validate::{DEFAULT_CLOSE_CODE, DEFAULT_GROUP_CAP, DEFAULT_SECURITY_CLOSE_CODE};

pub use crate::domain::ReferenceKind;
pub use crate::template::{TemplateError, Templates, load_templates, load_templates_or_starter};

use crate::domain::Finding;

/// A mapping problem: the file (and line), the key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {key}: {message}")]
pub struct MappingError {
    /// `mappings/oort.toml:12`, or the file alone when the line is unknown.
    pub origin: String,
    /// The dotted key, e.g. `profile.identity.urgency` or `rule[2].check_id`.
    pub key: String,
    pub message: String,
}

impl MappingError {
    pub(crate) fn new(
        origin: impl Into<String>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            origin: origin.into(),
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Every rule, in order, the default rule, and the profiles they name.
#[derive(Debug, Clone)]
pub struct Mappings {
    rules: Vec<Rule>,
    default: Rule,
    profiles: BTreeMap<String, Profile>,
    files: Vec<String>,
}

/// The rule that matched a finding and the profile it names.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    pub rule: &'a Rule,
    pub profile: &'a Profile,
}

impl Mappings {
    /// The first rule matching `finding`, else the default rule, with its profile.
    pub fn select(&self, finding: &Finding) -> Selection<'_> {
        let rule = self
            .rules
            .iter()
            .find(|r| r.matches(finding))
            .unwrap_or(&self.default);
        Selection {
            rule,
            profile: self.profile_of(rule),
        }
    }

    fn profile_of(&self, rule: &Rule) -> &Profile {
        // Invariant: `load` refuses a rule whose profile is not defined.
        self.profiles
            .get(&rule.profile)
            .expect("every rule's profile exists (checked at load)")
    }

    /// A profile by name.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }

    /// Every profile, by name.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }

    /// The ordered rules, without the default rule.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn default_rule(&self) -> &Rule {
        &self.default
    }

    /// Rules never reached because an earlier rule takes every finding they match.
    pub fn shadowed(&self) -> Vec<shadow::Shadowed> {
        shadow::shadowed(&self.rules)
    }

    /// The mapping files read, in order.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// Tables any profile writes, for the poller.
    pub fn tables(&self) -> Vec<Table> {
        let mut tables: Vec<Table> = self.profiles.values().map(|p| p.table).collect();
        tables.sort();
        tables.dedup();
        tables
    }

    /// Every profile's templates exist among `templates`; one error per missing one.
    pub fn verify_templates(&self, templates: &Templates) -> Vec<MappingError> {
        let mut problems = Vec::new();
        for profile in self.profiles.values() {
            for (key, name) in profile.templates.iter() {
                if !templates.contains(name) {
                    let location = profile.location(&format!("templates.{key}"));
                    let (origin, key) = location
                        .rsplit_once(": ")
                        .map_or((location.as_str(), ""), |(o, k)| (o, k));
                    problems.push(MappingError::new(
                        origin,
                        key,
                        format!(
                            "template `{name}` not found in {} (no {name}.hbs)",
                            templates.dir().display()
                        ),
                    ));
                }
            }
        }
        problems
    }
}

/// The profile that applies to `finding` (the poller reads its closed states, escalation
/// condition, reopen window and grouping).
pub fn profile_for<'a>(mappings: &'a Mappings, finding: &Finding) -> &'a Profile {
    mappings.select(finding).profile
}
