//! The loaded mappings as an operator reads them: the rules in the order they are tried,
//! each with where it is written and what it matches, and the profiles they choose.
//! Read-only: mappings stay files under version control.

use serde::Serialize;
use utoipa::ToSchema;

use crate::mapping::{AttributeMatch, Caller, GroupBy, Mappings, Profile, Rule};

/// The rules and profiles in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MappingsView {
    /// The mapping files read, in order.
    pub files: Vec<String>,
    /// The rules in the order they are tried; the default rule last.
    pub rules: Vec<RuleView>,
    /// Every profile, by name.
    pub profiles: Vec<ProfileView>,
}

/// One rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleView {
    /// Its place in the order, from 1.
    pub position: usize,
    pub name: String,
    /// Where it is written: `mappings/10-oort.toml:12`.
    pub origin: String,
    /// Every condition, all of which must hold (none for the default rule).
    pub conditions: Vec<String>,
    /// The profile it chooses.
    pub profile: String,
    /// Whether it is the default rule, chosen when no other matches.
    pub default: bool,
}

/// One profile, its ticket settings in brief.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileView {
    pub name: String,
    /// Where it is written: `mappings/10-oort.toml:40`.
    pub origin: String,
    pub table: String,
    /// Impact/urgency per severity, most severe first, as the profile sets them.
    pub levels: String,
    pub assignment_group: Option<String>,
    pub business_service: Option<String>,
    pub caller: String,
    pub state: Option<String>,
    pub auto_close_state: String,
    pub escalation_state: String,
    pub closed_states: Vec<String>,
    pub tags: Vec<String>,
    /// Custom fields the profile fills.
    pub custom_fields: Vec<String>,
    pub group_by: String,
}

impl MappingsView {
    pub fn new(mappings: &Mappings) -> Self {
        let rules = mappings
            .rules()
            .iter()
            .map(|r| (r, false))
            .chain(std::iter::once((mappings.default_rule(), true)))
            .enumerate()
            .map(|(i, (rule, default))| RuleView {
                position: i + 1,
                name: rule.name.clone(),
                origin: rule.origin.clone(),
                conditions: conditions(rule),
                profile: rule.profile.clone(),
                default,
            })
            .collect();
        Self {
            files: mappings.files().to_vec(),
            rules,
            profiles: mappings.profiles().map(ProfileView::new).collect(),
        }
    }
}

fn conditions(rule: &Rule) -> Vec<String> {
    let mut out = Vec::new();
    let patterns = |name: &str, list: &[crate::mapping::Pattern]| {
        (!list.is_empty()).then(|| {
            let any: Vec<&str> = list.iter().map(|p| p.as_str()).collect();
            format!("{name} is {}", any.join(" or "))
        })
    };
    out.extend(patterns("source", &rule.source));
    if let Some(kind) = rule.kind {
        out.push(format!("kind is {kind}"));
    }
    out.extend(patterns("check_id", &rule.check_id));
    out.extend(patterns("title", &rule.title));
    if !rule.severity.is_empty() {
        let any: Vec<String> = rule.severity.iter().map(ToString::to_string).collect();
        out.push(format!("severity is {}", any.join(" or ")));
    }
    if let Some(min) = rule.min_severity {
        out.push(format!("severity at least {min}"));
    }
    for (name, m) in &rule.attributes {
        out.push(match m {
            AttributeMatch::Pattern(p) => format!("attributes.{name} is {}", p.as_str()),
            AttributeMatch::Equals(v) => format!("attributes.{name} equals {v}"),
        });
    }
    out
}

impl ProfileView {
    fn new(p: &Profile) -> Self {
        let level = |l: crate::domain::Level| format!("{l:?}").to_lowercase();
        let levels = crate::domain::Severity::ALL
            .iter()
            .rev()
            .map(|severity| {
                let (impact, urgency) = p.levels(*severity);
                format!("{severity}: {}/{}", level(impact), level(urgency))
            })
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            name: p.name.clone(),
            origin: p.origin(),
            table: p.table.as_str().to_owned(),
            levels,
            assignment_group: p.assignment_group.clone(),
            business_service: p.business_service.clone(),
            caller: match &p.caller {
                Caller::Subject => "the finding's subject".to_owned(),
                Caller::Fixed(user) => user.clone(),
                Caller::None => "(not set)".to_owned(),
            },
            state: p.state.map(|s| s.to_string()),
            auto_close_state: p.auto_close_state.to_string(),
            escalation_state: p.escalation_state.to_string(),
            closed_states: p.closed_states.iter().map(ToString::to_string).collect(),
            tags: p.tags.clone(),
            custom_fields: p.fields.iter().map(|f| f.name.clone()).collect(),
            group_by: match p.group_by {
                GroupBy::Subject => "subject".to_owned(),
                GroupBy::Check { cap } => format!("check (at most {cap} subjects)"),
            },
        }
    }
}
