//! Reference values given by name (assignment group, business service, user) resolved to
//! sys_ids, with a cache; none or several matches is an error naming the value.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::debug;

use super::Client;
use super::error::{Disposition, ServiceNowError};
use super::wire::{self, Record};

/// How long a resolved name is trusted before it is looked up again.
const TTL: Duration = Duration::from_secs(3600);

/// How many matches are fetched to tell one from several, and to list in the error.
const CANDIDATES: u32 = 5;

/// What a reference value names; shared with the mapping, which stores it in plans.
pub use crate::domain::ReferenceKind;

/// How a name is looked up: the query and the fields read for each kind.
impl ReferenceKind {
    fn query(self, value: &str) -> Result<String, String> {
        match self {
            Self::Group | Self::Service => wire::eq("name", value),
            Self::User => Ok(format!(
                "{}^OR{}^OR{}",
                wire::eq("user_name", value)?,
                wire::eq("email", value)?,
                wire::eq("name", value)?
            )),
        }
    }

    /// Why `name` can never be looked up (a `^`, a line break, a `javascript:` prefix: an
    /// encoded query cannot carry it), or `None` when it can. Intake drops an optional
    /// reference that cannot be looked up rather than queue a lookup that must fail.
    pub fn unlookable(self, name: &str) -> Option<String> {
        let value = name.trim();
        if value.is_empty() {
            return Some("the value is empty".to_owned());
        }
        self.query(value).err()
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Group | Self::Service => &["name", "active"],
            Self::User => &["name", "user_name", "email", "active"],
        }
    }
}

impl fmt::Display for ReferenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Group => "assignment group",
            Self::Service => "business service",
            Self::User => "user",
        })
    }
}

/// A reference value that does not name exactly one record, or a failed lookup.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("{kind} `{value}`: no {table} record matches", table = kind.table())]
    NotFound { kind: ReferenceKind, value: String },
    #[error("{kind} `{value}`: several {table} records match ({}); name one exactly", candidates.join(", "), table = kind.table())]
    Ambiguous {
        kind: ReferenceKind,
        value: String,
        /// `name (sys_id)` of the first few matches.
        candidates: Vec<String>,
    },
    #[error("{kind} `{value}`: {source}")]
    Lookup {
        kind: ReferenceKind,
        value: String,
        source: ServiceNowError,
    },
}

impl ReferenceError {
    /// A missing or ambiguous name is permanent until someone fixes the mapping; a failed
    /// lookup is classified like any other call.
    pub fn classify(&self) -> Disposition {
        match self {
            Self::Lookup { source, .. } => source.classify(),
            Self::NotFound { .. } | Self::Ambiguous { .. } => Disposition::GiveUp,
        }
    }
}

/// Resolved names, shared by the clones of a client.
#[derive(Default)]
pub(crate) struct Cache(Mutex<HashMap<(ReferenceKind, String), (String, Instant)>>);

impl Cache {
    fn get(&self, key: &(ReferenceKind, String)) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(id, _)| id.clone())
    }

    fn put(&self, key: (ReferenceKind, String), sys_id: String) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(key, (sys_id, Instant::now()));
    }
}

impl Client {
    /// The sys_id of the one record `name` names, cached for an hour.
    ///
    /// When several match and exactly one of them is active, that one is taken.
    pub async fn resolve_reference(
        &self,
        kind: ReferenceKind,
        name: &str,
    ) -> Result<String, ReferenceError> {
        let value = name.trim();
        let key = (kind, value.to_owned());
        if let Some(id) = self.inner.references.get(&key) {
            return Ok(id);
        }
        let lookup = |source| ReferenceError::Lookup {
            kind,
            value: value.to_owned(),
            source,
        };
        if value.is_empty() {
            return Err(lookup(ServiceNowError::InvalidRequest(
                "the value is empty".into(),
            )));
        }
        let query = kind
            .query(value)
            .map_err(|m| lookup(ServiceNowError::InvalidRequest(m)))?;
        let page = self
            .query_page(
                kind.table(),
                &query,
                kind.fields(),
                CANDIDATES,
                0,
                "reference",
            )
            .await
            .map_err(lookup)?;
        let rows = page.rows;
        let chosen = match rows.len() {
            0 => None,
            1 => rows.first(),
            _ => {
                let mut active = rows.iter().filter(|r| r.str("active") != Some("false"));
                match (active.next(), active.next()) {
                    (Some(one), None) => Some(one),
                    _ => {
                        return Err(ReferenceError::Ambiguous {
                            kind,
                            value: value.to_owned(),
                            candidates: rows.iter().map(describe).collect(),
                        });
                    }
                }
            }
        };
        let Some(sys_id) = chosen.and_then(Record::sys_id) else {
            return Err(ReferenceError::NotFound {
                kind,
                value: value.to_owned(),
            });
        };
        debug!(%kind, value, sys_id, "resolved reference");
        self.inner.references.put(key, sys_id.to_owned());
        Ok(sys_id.to_owned())
    }
}

fn describe(r: &Record) -> String {
    let name = r
        .str("name")
        .filter(|n| !n.is_empty())
        .or_else(|| r.str("user_name"))
        .unwrap_or("?");
    format!("{name} ({})", r.sys_id().unwrap_or("?"))
}
