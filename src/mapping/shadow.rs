//! Rules an earlier rule always shadows: every finding the later rule matches, the earlier
//! one matches first, so the later rule is never reached (a rule placed after a catch-all).
//! Conservative: a warning is given only when the earlier rule provably covers the later one.

use super::rule::{AttributeMatch, Pattern, Rule};
use crate::domain::Severity;

/// One rule never reached, and the earlier rule that takes its findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowed {
    /// `mappings/x.toml:12: rule `name``.
    pub rule: String,
    pub by: String,
}

impl std::fmt::Display for Shadowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is never reached: every finding it matches is taken first by {}; move it above that rule or narrow the earlier one",
            self.rule, self.by
        )
    }
}

/// Every rule of `rules` (in order) that an earlier rule always shadows.
pub fn shadowed(rules: &[Rule]) -> Vec<Shadowed> {
    let name = |r: &Rule| format!("{}: rule `{}`", r.origin, r.name);
    rules
        .iter()
        .enumerate()
        .filter_map(|(i, later)| {
            rules[..i]
                .iter()
                .find(|earlier| covers(earlier, later))
                .map(|earlier| Shadowed {
                    rule: name(later),
                    by: name(earlier),
                })
        })
        .collect()
}

/// Whether every finding `b` matches is also matched by `a`.
fn covers(a: &Rule, b: &Rule) -> bool {
    patterns_cover(&a.source, &b.source)
        && a.kind.is_none_or(|k| b.kind == Some(k))
        && patterns_cover(&a.check_id, &b.check_id)
        && patterns_cover(&a.title, &b.title)
        && severities(b).iter().all(|s| severities(a).contains(s))
        && a.attributes.iter().all(|(name, m)| {
            b.attributes
                .iter()
                .any(|(other, n)| other == name && same_match(m, n))
        })
}

/// `a` (any of its patterns) matches whatever `b` (any of its patterns) matches. No
/// patterns means no condition. A glob of `b` is covered only by the same glob or by `*`.
fn patterns_cover(a: &[Pattern], b: &[Pattern]) -> bool {
    if a.is_empty() {
        return true;
    }
    if b.is_empty() {
        return false;
    }
    b.iter().all(|pb| {
        a.iter().any(|pa| {
            pa.as_str() == "*"
                || pa.as_str().eq_ignore_ascii_case(pb.as_str())
                || (!is_glob(pb.as_str()) && pa.matches(pb.as_str()))
        })
    })
}

fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', '{', '\\'])
}

/// The severities a rule lets through.
fn severities(rule: &Rule) -> Vec<Severity> {
    Severity::ALL
        .iter()
        .copied()
        .filter(|s| rule.severity.is_empty() || rule.severity.contains(s))
        .filter(|s| rule.min_severity.is_none_or(|min| *s >= min))
        .collect()
}

fn same_match(a: &AttributeMatch, b: &AttributeMatch) -> bool {
    match (a, b) {
        (AttributeMatch::Pattern(pa), AttributeMatch::Pattern(pb)) => {
            pa.as_str() == "*" || pa.as_str().eq_ignore_ascii_case(pb.as_str())
        }
        (AttributeMatch::Equals(va), AttributeMatch::Equals(vb)) => va == vb,
        _ => false,
    }
}
