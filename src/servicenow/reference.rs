//! Reference values given by name (assignment group, business service, user) resolved to
//! sys_ids, with a cache; none or several matches is an error naming the value.

use std::fmt;
use std::time::{Duration, Instant};

use tracing::debug;

use super::Client;
use super::error::{Disposition, ServiceNowError};
use super::wire::{self, Record};

/// How long a resolved name is trusted before it is looked up again.
const TTL: Duration = Duration::from_secs(3600);

/// How long "no record" or "several records" is trusted: a burst of findings naming a
/// missing group costs one lookup, and a fix on the instance is seen within a minute.
const MISS_TTL: Duration = Duration::from_secs(60);

/// Names kept at most; the least used go first beyond it.
const CAPACITY: u64 = 10_000;

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

    /// A user's details come with its lookup, so one request serves both the reference and
    /// the digest's user details ([`Client::user_details`]).
    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Group | Self::Service => &["name", "active"],
            Self::User => &[
                "name",
                "user_name",
                "email",
                "active",
                "phone",
                "mobile_phone",
                "manager.name",
                "department.name",
                "location.name",
            ],
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

/// What a lookup found: kept in the cache, misses included.
#[derive(Debug, Clone)]
enum Found {
    /// The sys_id, and for a user what the digest can show of them.
    One(String, Option<UserDetails>),
    None,
    /// `name (sys_id)` of the first few matches.
    Several(Vec<String>),
}

type Key = (ReferenceKind, String);

/// Lookups shared by the clones of a client: bounded, expiring, one request per name at a
/// time (concurrent deliveries for the same caller wait for the one lookup in flight).
/// A failed request is not kept, so the next delivery asks again.
pub(crate) struct Cache(moka::future::Cache<Key, Found>);

impl Default for Cache {
    fn default() -> Self {
        Self(
            moka::future::Cache::builder()
                .max_capacity(CAPACITY)
                .expire_after(Freshness)
                .build(),
        )
    }
}

/// How long each answer is trusted: a found record for `TTL`, a miss for `MISS_TTL`, so a
/// record an administrator adds after a failed delivery is seen soon.
struct Freshness;

impl moka::Expiry<Key, Found> for Freshness {
    fn expire_after_create(&self, _: &Key, found: &Found, _: Instant) -> Option<Duration> {
        Some(match found {
            Found::One(..) => TTL,
            Found::None | Found::Several(_) => MISS_TTL,
        })
    }
}

impl Client {
    /// The sys_id of the one record `name` names, cached (see [`Cache`]).
    ///
    /// When several match and exactly one of them is active, that one is taken.
    pub async fn resolve_reference(
        &self,
        kind: ReferenceKind,
        name: &str,
    ) -> Result<String, ReferenceError> {
        let value = name.trim();
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
        let found = self
            .inner
            .references
            .0
            .try_get_with((kind, value.to_owned()), self.look_up(kind, &query))
            .await
            .map_err(|e| lookup(unshare(&e)))?;
        match found {
            Found::One(sys_id, _) => {
                debug!(%kind, value, sys_id, "resolved reference");
                Ok(sys_id)
            }
            Found::None => Err(ReferenceError::NotFound {
                kind,
                value: value.to_owned(),
            }),
            Found::Several(candidates) => Err(ReferenceError::Ambiguous {
                kind,
                value: value.to_owned(),
                candidates,
            }),
        }
    }

    async fn look_up(&self, kind: ReferenceKind, query: &str) -> Result<Found, ServiceNowError> {
        let page = self
            .query_page(
                kind.table(),
                query,
                kind.fields(),
                CANDIDATES,
                0,
                "reference",
            )
            .await?;
        Ok(judge(kind, &page.rows))
    }

    /// What the instance knows of the one user `name` names (user name, email or full name,
    /// as a caller reference is looked up): `None` when none or several match. It shares the
    /// reference cache, so a ticket whose caller is the same user costs one lookup in all,
    /// and findings of one user one lookup between them.
    pub async fn user_details(&self, name: &str) -> Result<Option<UserDetails>, ServiceNowError> {
        let kind = ReferenceKind::User;
        let value = name.trim();
        if value.is_empty() {
            return Ok(None);
        }
        // A name no lookup can carry names nobody the instance knows.
        let Ok(query) = kind.query(value) else {
            return Ok(None);
        };
        let found = self
            .inner
            .references
            .0
            .try_get_with((kind, value.to_owned()), self.look_up(kind, &query))
            .await
            .map_err(|e| unshare(&e))?;
        Ok(match found {
            Found::One(_, details) => details,
            Found::None | Found::Several(_) => None,
        })
    }

    /// Looks up, in one Batch API call, every name of `wanted` the cache does not hold yet,
    /// and keeps the answers, so the `resolve_reference` calls that follow are served from
    /// the cache: deliveries for many callers cost one request, not one per caller. Nothing
    /// is kept from a failed call or item; those names are looked up on their own after.
    pub async fn prefetch_references(&self, wanted: &[(ReferenceKind, String)]) {
        let cache = &self.inner.references.0;
        let mut keys: Vec<Key> = Vec::new();
        let mut items = Vec::new();
        for (kind, name) in wanted {
            let key = (*kind, name.trim().to_owned());
            if key.1.is_empty() || keys.contains(&key) || cache.contains_key(&key) {
                continue;
            }
            let Ok(query) = kind.query(&key.1) else {
                continue;
            };
            let Ok(item) = super::BatchRequest::query(
                format!("ref{}", items.len()),
                kind.table(),
                &query,
                kind.fields(),
                CANDIDATES,
            ) else {
                continue;
            };
            items.push(item);
            keys.push(key);
        }
        // One name costs one request either way; resolve_reference asks for it alone.
        if items.len() < 2 || !self.batch_usable() {
            return;
        }
        let answers = match self.batch(items).await {
            Ok(answers) => answers,
            Err(e) => {
                debug!(error = %e, "reference prefetch failed; names are looked up one by one");
                return;
            }
        };
        for (key, answer) in keys.into_iter().zip(answers) {
            if let Ok(rows) = answer.result {
                cache.insert(key.clone(), judge(key.0, &rows)).await;
            }
        }
    }
}

/// What the matches of a name's lookup say: one record, none, or several. When several
/// match and exactly one of them is active, that one is taken.
fn judge(kind: ReferenceKind, rows: &[Record]) -> Found {
    let chosen = match rows.len() {
        0 => None,
        1 => rows.first(),
        _ => {
            let mut active = rows.iter().filter(|r| r.str("active") != Some("false"));
            match (active.next(), active.next()) {
                (Some(one), None) => Some(one),
                _ => return Found::Several(rows.iter().map(describe).collect()),
            }
        }
    };
    match chosen.and_then(|r| Some((r, r.sys_id()?))) {
        Some((record, sys_id)) => Found::One(
            sys_id.to_owned(),
            (kind == ReferenceKind::User).then(|| UserDetails::of(record)),
        ),
        None => Found::None,
    }
}

/// A user as the digest shows them, from their sys_user record; a field the record leaves
/// empty (or the caller may not read) is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDetails {
    pub display_name: Option<String>,
    pub manager: Option<String>,
    pub phone: Option<String>,
    pub department: Option<String>,
    pub location: Option<String>,
}

impl UserDetails {
    fn of(r: &Record) -> Self {
        let text = |field: &str| {
            r.str(field)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Self {
            display_name: text("name"),
            manager: text("manager.name"),
            phone: text("phone").or_else(|| text("mobile_phone")),
            department: text("department.name"),
            location: text("location.name"),
        }
    }
}

/// The cache hands every waiter the one lookup's error behind an `Arc`; each caller gets
/// its own copy with the same classification.
fn unshare(e: &std::sync::Arc<ServiceNowError>) -> ServiceNowError {
    e.as_ref().clone()
}

fn describe(r: &Record) -> String {
    let name = r
        .str("name")
        .filter(|n| !n.is_empty())
        .or_else(|| r.str("user_name"))
        .unwrap_or("?");
    format!("{name} ({})", r.sys_id().unwrap_or("?"))
}
