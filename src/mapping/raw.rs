//! A mapping file as written (every key checked for spelling), and where each key is,
//! so that later validation can name the line. It gives no meaning to values.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, SeqAccess, Visitor};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    #[serde(default)]
    pub rule: Vec<RawRule>,
    #[serde(default)]
    pub profile: BTreeMap<String, RawProfile>,
    #[serde(default)]
    pub default: Option<RawDefault>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefault {
    pub profile: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub name: String,
    #[serde(default)]
    pub source: OneOrMany,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub check_id: OneOrMany,
    #[serde(default)]
    pub title: OneOrMany,
    #[serde(default)]
    pub severity: OneOrMany,
    #[serde(default)]
    pub min_severity: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, toml::Value>,
    pub profile: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
    pub table: String,
    #[serde(default)]
    pub impact: Option<toml::Value>,
    #[serde(default)]
    pub urgency: Option<toml::Value>,
    #[serde(default)]
    pub severity_map: BTreeMap<String, RawLevels>,
    #[serde(default)]
    pub assignment_group: Option<String>,
    #[serde(default)]
    pub business_service: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub subcategory: Option<String>,
    #[serde(default)]
    pub assigned_to: Option<String>,
    #[serde(default)]
    pub caller: Option<String>,
    #[serde(default)]
    pub caller_user: Option<String>,
    #[serde(default)]
    pub state: Option<toml::Value>,
    #[serde(default)]
    pub auto_close_state: Option<toml::Value>,
    #[serde(default)]
    pub close_code: Option<String>,
    #[serde(default)]
    pub escalation_state: Option<toml::Value>,
    #[serde(default)]
    pub reopen_state: Option<toml::Value>,
    #[serde(default)]
    pub closed_states: Option<Vec<toml::Value>>,
    #[serde(default)]
    pub escalate_when: Option<RawEscalation>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub reopen_within: Option<String>,
    #[serde(default)]
    pub enrich_from_instance: Option<bool>,
    #[serde(default)]
    pub group_by: Option<String>,
    #[serde(default)]
    pub group_cap: Option<i64>,
    #[serde(default)]
    pub templates: RawTemplates,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Accepted only to explain why it is refused.
    #[serde(default)]
    pub priority: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLevels {
    pub impact: toml::Value,
    pub urgency: toml::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEscalation {
    pub field: String,
    pub equals: Vec<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTemplates {
    #[serde(default)]
    pub short_description: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub work_note: Option<String>,
    #[serde(default)]
    pub close_notes: Option<String>,
}

/// A string or a list of strings.
#[derive(Debug, Default)]
pub(super) struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, Copy)]
pub(super) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Finds the line a key path is written on.
pub(super) struct Locator<'i> {
    text: &'i str,
    root: Option<Spanned<DeTable<'i>>>,
}

impl<'i> Locator<'i> {
    pub(super) fn new(text: &'i str) -> Self {
        Self {
            text,
            root: DeTable::parse(text).ok(),
        }
    }

    /// The 1-based line of the deepest part of `path` that exists.
    pub(super) fn line(&self, path: &[Seg<'_>]) -> Option<usize> {
        let root = self.root.as_ref()?;
        let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
        let mut value: Option<&Spanned<DeValue<'_>>> = None;
        let mut best = None;
        for seg in path {
            match (seg, table, value) {
                (Seg::Key(key), Some(t), _) => {
                    let Some((k, v)) = t.iter().find(|(k, _)| k.get_ref().as_ref() == *key) else {
                        break;
                    };
                    best = Some(k.span().start);
                    value = Some(v);
                }
                (Seg::Index(i), _, Some(v)) => {
                    let DeValue::Array(items) = v.get_ref() else {
                        break;
                    };
                    let Some(item) = items.get(*i) else {
                        break;
                    };
                    best = Some(item.span().start);
                    value = Some(item);
                }
                _ => break,
            }
            table = match value.map(Spanned::get_ref) {
                Some(DeValue::Table(t)) => Some(t),
                _ => None,
            };
        }
        best.map(|offset| line_at(self.text, offset))
    }
}

impl Locator<'_> {
    /// Every key below the table at `path`, dotted and relative to it, with its line.
    pub(super) fn keys_under(&self, path: &[Seg<'_>]) -> Vec<(String, usize)> {
        let Some(root) = self.root.as_ref() else {
            return Vec::new();
        };
        let mut table = root.get_ref();
        for seg in path {
            let Seg::Key(key) = seg else {
                return Vec::new();
            };
            match table.iter().find(|(k, _)| k.get_ref().as_ref() == *key) {
                Some((_, v)) => match v.get_ref() {
                    DeValue::Table(t) => table = t,
                    _ => return Vec::new(),
                },
                None => return Vec::new(),
            }
        }
        let mut out = Vec::new();
        self.collect(table, "", &mut out);
        out
    }

    fn collect(&self, table: &DeTable<'_>, prefix: &str, out: &mut Vec<(String, usize)>) {
        for (k, v) in table.iter() {
            let key = format!("{prefix}{}", k.get_ref());
            out.push((key.clone(), line_at(self.text, k.span().start)));
            if let DeValue::Table(t) = v.get_ref() {
                self.collect(t, &format!("{key}."), out);
            }
        }
    }
}

/// The 1-based line holding byte `offset`.
pub(super) fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}
