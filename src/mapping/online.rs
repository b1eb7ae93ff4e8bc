//! What the mappings need from the live instance, and pure checks of the instance's
//! answers: references that must resolve, custom fields that must be String fields,
//! states, close codes and categories that must be choices.
//!
//! No IO here: the caller fetches `sys_dictionary`, `sys_choice` and the reference tables
//! and hands the facts in.

use std::fmt;

use super::Mappings;
use super::plan::FieldLengths;
use super::profile::Caller;
use crate::domain::ReferenceKind;

/// A name that must resolve to exactly one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceRequirement {
    pub kind: ReferenceKind,
    pub name: String,
    /// `mappings/x.toml:12: profile.y.assignment_group`.
    pub location: String,
}

/// A custom mapping's target field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub table: String,
    pub field: String,
    pub location: String,
}

/// A value that must be a choice of `table.element` in `sys_choice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceRequirement {
    pub table: String,
    /// `state`, `close_code`, `category` or `subcategory`.
    pub element: String,
    pub value: String,
    pub location: String,
}

/// Everything `check` must confirm against the instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnlineRequirements {
    pub references: Vec<ReferenceRequirement>,
    pub custom_fields: Vec<FieldRequirement>,
    pub states: Vec<ChoiceRequirement>,
    pub close_codes: Vec<ChoiceRequirement>,
    /// `category` and `subcategory` values.
    pub categories: Vec<ChoiceRequirement>,
}

/// One `sys_dictionary` row, as far as a custom mapping cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldFacts {
    pub name: String,
    /// `string`, `reference`, `integer`, `glide_date_time`, ...
    pub internal_type: String,
    pub max_length: Option<u32>,
    /// The dictionary marks it read-only.
    pub read_only: bool,
    /// The referenced table, for reference fields.
    pub reference: Option<String>,
}

/// Something the instance does not have, and where the mappings ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub location: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Lists what every profile needs from the instance, each with its location.
pub fn online_requirements(mappings: &Mappings) -> OnlineRequirements {
    let mut reqs = OnlineRequirements::default();
    for p in mappings.profiles() {
        let table = p.table.as_str();
        let mut reference = |kind, key: &str, name: &Option<String>| {
            if let Some(name) = name {
                reqs.references.push(ReferenceRequirement {
                    kind,
                    name: name.clone(),
                    location: p.location(key),
                });
            }
        };
        reference(
            ReferenceKind::Group,
            "assignment_group",
            &p.assignment_group,
        );
        reference(
            ReferenceKind::Service,
            "business_service",
            &p.business_service,
        );
        reference(ReferenceKind::User, "assigned_to", &p.assigned_to);
        if let Caller::Fixed(user) = &p.caller {
            reference(ReferenceKind::User, "caller_user", &Some(user.clone()));
        }
        for field in &p.fields {
            reqs.custom_fields.push(FieldRequirement {
                table: table.to_owned(),
                field: field.name.clone(),
                location: p.location(&format!("fields.{}", field.name)),
            });
        }
        let choice = |element: &str, value: String, key: &str| ChoiceRequirement {
            table: table.to_owned(),
            element: element.to_owned(),
            value,
            location: p.location(key),
        };
        if let Some(state) = p.state {
            reqs.states.push(choice("state", state.value(), "state"));
        }
        reqs.states.push(choice(
            "state",
            p.auto_close_state.value(),
            "auto_close_state",
        ));
        reqs.states.push(choice(
            "state",
            p.escalation_state.value(),
            "escalation_state",
        ));
        reqs.states
            .push(choice("state", p.reopen_state.value(), "reopen_state"));
        for state in &p.closed_states {
            reqs.states
                .push(choice("state", state.value(), "closed_states"));
        }
        if let Some(code) = &p.close_code {
            reqs.close_codes
                .push(choice("close_code", code.clone(), "close_code"));
        }
        if let Some(category) = &p.category {
            reqs.categories
                .push(choice("category", category.clone(), "category"));
        }
        if let Some(subcategory) = &p.subcategory {
            reqs.categories
                .push(choice("subcategory", subcategory.clone(), "subcategory"));
        }
    }
    reqs
}

impl OnlineRequirements {
    /// Leaves out what `table` needs of its dictionary and choices: for a table the instance
    /// does not have, whose one problem is said once.
    pub fn without_table(&mut self, table: &str) {
        self.custom_fields.retain(|r| r.table != table);
        for choices in [
            &mut self.states,
            &mut self.close_codes,
            &mut self.categories,
        ] {
            choices.retain(|r| r.table != table);
        }
    }
}

/// Checks the custom mappings onto `table` against its dictionary: each must name an
/// existing String field. Reference, integer and other typed fields are refused by name.
pub fn check_custom_fields(
    reqs: &OnlineRequirements,
    table: &str,
    fields_of_table: &[FieldFacts],
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for req in reqs.custom_fields.iter().filter(|r| r.table == table) {
        let message = match fields_of_table.iter().find(|f| f.name == req.field) {
            None => Some(format!("`{}` is not a field of {table}", req.field)),
            Some(f) if f.read_only => Some(format!(
                "`{}` is read-only on {table}; ServiceNow ignores what a write sends for it",
                req.field
            )),
            Some(f) if f.internal_type == "string" => None,
            Some(f) if f.internal_type == "reference" => Some(format!(
                "`{}` is a reference field{} of {table}; only String fields can be mapped",
                req.field,
                f.reference
                    .as_deref()
                    .map(|t| format!(" (to {t})"))
                    .unwrap_or_default()
            )),
            Some(f) => Some(format!(
                "`{}` is a field of type {} on {table}; only String fields can be mapped",
                req.field, f.internal_type
            )),
        };
        if let Some(message) = message {
            problems.push(Problem {
                location: req.location.clone(),
                message,
            });
        }
    }
    problems
}

/// Checks the required choices of `table.element` against the values `sys_choice` lists.
pub fn check_choices(
    requirements: &[ChoiceRequirement],
    table: &str,
    element: &str,
    values: &[String],
) -> Vec<Problem> {
    requirements
        .iter()
        .filter(|r| r.table == table && r.element == element && !values.contains(&r.value))
        .map(|r| Problem {
            location: r.location.clone(),
            message: format!(
                "`{}` is not a {element} choice of {table} (choices: {})",
                r.value,
                if values.is_empty() {
                    "none".to_owned()
                } else {
                    values.join(", ")
                }
            ),
        })
        .collect()
}

/// Checks that a reference name matched exactly one record.
pub fn check_reference(req: &ReferenceRequirement, matches: usize) -> Option<Problem> {
    let message = match matches {
        1 => return None,
        0 => format!(
            "no {} named `{}` in {}",
            req.kind.as_str(),
            req.name,
            req.kind.table()
        ),
        n => format!(
            "{n} records named `{}` in {}; the name must pick exactly one",
            req.name,
            req.kind.table()
        ),
    };
    Some(Problem {
        location: req.location.clone(),
        message,
    })
}

impl FieldLengths {
    /// Field lengths of `table` from its dictionary rows.
    pub fn add_dictionary(&mut self, table: &str, facts: &[FieldFacts]) {
        for f in facts {
            if let Some(max) = f.max_length {
                self.set(table, &f.name, max as usize);
            }
        }
    }
}
