//! Rules: ordered conditions on a finding that choose a profile.
//!
//! Within a rule every given condition must hold; within one condition any listed value
//! may match. Text patterns are globs (`*`, `?`, `[a-z]`) compared case-insensitively;
//! a pattern without glob characters is an exact match. Rules only select; they set nothing.

use globset::{GlobBuilder, GlobMatcher};
use serde_json::Value;

use crate::domain::{Finding, FindingKind, Severity};

/// A case-insensitive glob (or exact text).
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    matcher: GlobMatcher,
}

impl Pattern {
    /// Compiles `text`; the error says why the glob is malformed.
    pub fn new(text: &str) -> Result<Self, String> {
        let glob = GlobBuilder::new(text)
            .case_insensitive(true)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|e| format!("bad pattern `{text}`: {}", e.kind()))?;
        Ok(Self {
            text: text.to_owned(),
            matcher: glob.compile_matcher(),
        })
    }

    pub fn matches(&self, value: &str) -> bool {
        self.matcher.is_match(value)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// What an attribute must be: text patterns for strings (and the text of numbers and
/// booleans), or an exact value.
#[derive(Debug, Clone)]
pub enum AttributeMatch {
    Pattern(Pattern),
    Equals(Value),
}

impl AttributeMatch {
    fn matches(&self, value: Option<&Value>) -> bool {
        match (self, value) {
            (_, None) => false,
            (Self::Pattern(p), Some(Value::String(s))) => p.matches(s),
            (Self::Pattern(p), Some(v @ (Value::Number(_) | Value::Bool(_)))) => {
                p.matches(&v.to_string())
            }
            (Self::Pattern(_), Some(_)) => false,
            (Self::Equals(expected), Some(v)) => expected == v,
        }
    }
}

/// One `[[rule]]` (or the `[default]` rule, which has no conditions).
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    /// `mappings/x.toml:12`, where the rule is written.
    pub origin: String,
    pub source: Vec<Pattern>,
    pub kind: Option<FindingKind>,
    pub check_id: Vec<Pattern>,
    pub title: Vec<Pattern>,
    pub severity: Vec<Severity>,
    pub min_severity: Option<Severity>,
    pub attributes: Vec<(String, AttributeMatch)>,
    /// The profile it selects.
    pub profile: String,
}

impl Rule {
    /// Whether every condition of the rule holds for `finding`.
    pub fn matches(&self, finding: &Finding) -> bool {
        let any = |patterns: &[Pattern], value: &str| {
            patterns.is_empty() || patterns.iter().any(|p| p.matches(value))
        };
        any(&self.source, &finding.source)
            && self.kind.is_none_or(|k| k == finding.kind)
            && any(&self.check_id, &finding.check_id)
            && any(&self.title, &finding.title)
            && (self.severity.is_empty() || self.severity.contains(&finding.severity))
            && self.min_severity.is_none_or(|min| finding.severity >= min)
            && self
                .attributes
                .iter()
                .all(|(name, m)| m.matches(finding.attributes.get(name)))
    }
}
