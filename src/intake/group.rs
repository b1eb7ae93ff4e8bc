//! Intake of findings whose profile groups by check (`group_by = "check"`): the findings of
//! one source event that share a check change their group's ticket once, whatever their
//! number. A group is a finding row of its own (`is_group`) owning the ticket link and the
//! outbox rows, so one ticket per group generation, per-group order and the fence hold as
//! they do for a single finding; its members are findings with no rows of their own.
//!
//! A membership change bumps the group row's `occurrences`, which is the version the plan
//! was made against: a concurrent change makes the write `Moved`, and it is planned again.

use std::collections::BTreeMap;

use super::{Intake, IntakeError, Prepared, finding_record, stored_finding};
use crate::domain::{Finding, FindingStatus, SourceEvent};
use crate::mapping::{self, Group, GroupBy, GroupChange, Profile};
use crate::operation::OpKind;
use crate::store::entity::finding::Model as FindingRow;
use crate::store::findings::{self, Planned, PlannedFor};
use crate::store::groups;

/// Turns at planning the events of grouped checks, one lock per stripe of check keys: an
/// event of a grouped check plans and writes while holding its checks' stripes, so the
/// events of one check in this process never plan against the same version of its group.
/// Other instances on the database still can; their writes meet as `Moved` and plan again.
pub(super) struct CheckLocks {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

/// Stripes of check keys: enough that unrelated checks rarely wait on each other.
const STRIPES: usize = 64;

impl Default for CheckLocks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }
}

impl CheckLocks {
    /// Takes the stripes of the checks of `findings`, in stripe order so that two events
    /// never wait on each other.
    pub(super) async fn lock(&self, findings: &[&Finding]) -> Vec<tokio::sync::MutexGuard<'_, ()>> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        let mut stripes: Vec<usize> = findings
            .iter()
            .map(|f| (hasher.hash_one(f.check_key().as_str()) % STRIPES as u64) as usize)
            .collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for stripe in stripes {
            guards.push(self.stripes[stripe].lock().await);
        }
        guards
    }
}

/// Where a member belongs: a group stored before, or one this write creates (by key).
#[derive(Debug, Clone)]
pub(super) enum GroupRef {
    Stored(i64),
    New(String),
}

/// One generation of a check's group as the event leaves it.
struct Generation {
    stored: Option<FindingRow>,
    /// A stored generation's ticket, by number once known, for its successor's note.
    name: Option<String>,
    generation: u64,
    members: Vec<Finding>,
    joined: Vec<String>,
    passing: Vec<String>,
    escalated: bool,
    /// The generation before, by number or correlation id, and whether it is still open
    /// (this one then continues it past the cap).
    follows: Option<(String, bool)>,
}

impl Generation {
    fn changed(&self) -> bool {
        self.stored.is_none()
            || !self.joined.is_empty()
            || !self.passing.is_empty()
            || self.escalated
    }

    fn group_ref(&self, about: &Finding) -> GroupRef {
        match &self.stored {
            Some(row) => GroupRef::Stored(row.id),
            None => GroupRef::New(about.group_key(self.generation).as_str().to_owned()),
        }
    }
}

impl Intake {
    /// Plans `event` for the findings of one check (`findings` share source, kind and
    /// check id) whose profile groups by check: a row per finding and one change of each
    /// group generation they touch. Findings that have a ticket of their own (opened before
    /// the profile grouped) are returned to be planned alone.
    pub(super) async fn prepare_check<'f>(
        &self,
        findings: &[&'f Finding],
        event: SourceEvent,
    ) -> Result<(Vec<Prepared>, Vec<&'f Finding>), IntakeError> {
        let pipeline = self.pipeline.current();
        let first = findings[0];
        let selection = pipeline.mappings.select(first);
        let GroupBy::Check { cap } = selection.profile.group_by else {
            return Ok((Vec::new(), findings.to_vec()));
        };
        let cap = usize::try_from(cap).unwrap_or(usize::MAX);
        let stored = groups::of_check(&self.db, &first.source, first.kind, &first.check_id).await?;
        let mut generations = Vec::new();
        let mut previous: Option<(String, bool)> = None;
        for (at, row) in stored.iter().enumerate() {
            let open = row.status != FindingStatus::Resolved;
            // Only open generations and the newest one can be named by a next ticket: the
            // closed ones before are not read again on every event.
            if !open && at + 1 < stored.len() {
                continue;
            }
            let named = self.ticket_name(row).await?;
            if open {
                let members = groups::open_members(&self.db, row.id)
                    .await?
                    .iter()
                    .map(stored_finding)
                    .collect::<Result<Vec<_>, _>>()?;
                generations.push(Generation {
                    stored: Some(row.clone()),
                    name: Some(named.clone()),
                    generation: generation_of(row),
                    members,
                    joined: Vec::new(),
                    passing: Vec::new(),
                    escalated: false,
                    follows: None,
                });
            }
            previous = Some((named, open));
        }
        let mut next_generation = stored.iter().map(generation_of).max().unwrap_or(0) + 1;

        let mut prepared = Vec::new();
        let mut alone = Vec::new();
        let mut joiners: Vec<&Finding> = Vec::new();
        for &finding in findings {
            let key = finding.key();
            let existing = findings::open_by_key(&self.db, key.as_str(), false).await?;
            let Some(row) = existing else {
                if event != SourceEvent::Failing {
                    return Err(IntakeError::NotFound(format!("with key {key}")));
                }
                joiners.push(finding);
                continue;
            };
            let Some(group_id) = row.group_id else {
                alone.push(finding);
                continue;
            };
            let login = finding.subject.login.clone();
            if let Some(generation) = generations
                .iter_mut()
                .find(|g| g.stored.as_ref().is_some_and(|s| s.id == group_id))
            {
                let position = generation.members.iter().position(|m| m.key() == key);
                match (event, position) {
                    (SourceEvent::Failing, Some(at)) => generation.members[at] = finding.clone(),
                    (SourceEvent::Resolved, Some(at)) => {
                        generation.members.remove(at);
                        generation.passing.push(login);
                    }
                    (SourceEvent::Escalated, _) => generation.escalated = true,
                    _ => {}
                }
            }
            prepared.push(Prepared::Member {
                record: finding_record(finding),
                planned: member_plan(selection.rule.name.clone(), selection.profile),
                planned_for: PlannedFor::of(Some(&row)),
                group: None,
            });
        }

        let mut new_members: Vec<(&Finding, usize)> = Vec::new();
        for finding in joiners {
            let open = generations
                .iter()
                .rposition(|g| g.members.len() < cap)
                .filter(|&at| at + 1 == generations.len());
            let at = match open {
                Some(at) => at,
                None => {
                    let follows = generations
                        .last()
                        .map(|g| (self.name_of(g, finding), true))
                        .or_else(|| previous.clone());
                    generations.push(Generation {
                        stored: None,
                        name: None,
                        generation: next_generation,
                        members: Vec::new(),
                        joined: Vec::new(),
                        passing: Vec::new(),
                        escalated: false,
                        follows,
                    });
                    next_generation += 1;
                    generations.len() - 1
                }
            };
            generations[at].members.push(finding.clone());
            generations[at].joined.push(finding.subject.login.clone());
            new_members.push((finding, at));
        }
        for (finding, at) in new_members {
            let generation = &generations[at];
            prepared.push(Prepared::Member {
                record: finding_record(finding),
                planned: member_plan(selection.rule.name.clone(), selection.profile),
                planned_for: PlannedFor::of(None),
                group: Some(generation.group_ref(&generation.members[0])),
            });
        }

        let mut writes = Vec::new();
        for generation in generations.iter().filter(|g| g.changed()) {
            writes.push(self.plan_generation(generation, first, cap)?);
        }
        // Groups first: the members joining a new group need its id.
        writes.extend(prepared);
        Ok((writes, alone))
    }

    /// The change of one generation, as a write of its group row.
    fn plan_generation(
        &self,
        generation: &Generation,
        about: &Finding,
        cap: usize,
    ) -> Result<Prepared, IntakeError> {
        let pipeline = self.pipeline.current();
        let representative = generation.members.first().unwrap_or(about);
        let continues = generation
            .follows
            .as_ref()
            .filter(|(_, open)| *open)
            .map(|(name, _)| name.as_str());
        let group = Group {
            generation: generation.generation,
            members: &generation.members,
            joined: &generation.joined,
            passing: &generation.passing,
            about,
            continues,
        };
        let mut ops = Vec::new();
        let event = if generation.stored.is_none() {
            let note = generation.follows.as_ref().map(|(name, open)| {
                if *open {
                    format!(
                        "{} lists {cap} users, the most one ticket of this check lists: this ticket continues it for the users failing after them.",
                        name
                    )
                } else {
                    format!(
                        "{} is failing again after {name} was closed; this ticket follows {name}.",
                        about.title
                    )
                }
            });
            let change = GroupChange::Create { note };
            let plan = self.group_plan(&group, &change, &pipeline)?;
            ops.push((OpKind::CreateTicket, super::ticket_payload(&plan)));
            if let Some(tags) = super::tags_payload(&plan) {
                ops.push((OpKind::ApplyTags, tags));
            }
            let ticket = Some((plan.table.clone(), plan.correlation_id.clone()));
            return Ok(Prepared::Group {
                record: group_record(representative, generation.generation),
                planned: Planned {
                    rule: Some(plan.rule),
                    profile: Some(plan.profile),
                    ticket,
                    ops,
                },
                planned_for: PlannedFor::of(None),
                event: SourceEvent::Failing,
            });
        } else if generation.members.is_empty() {
            let plan = self.group_plan(&group, &GroupChange::Close, &pipeline)?;
            ops.push((OpKind::CloseTicket, super::ticket_payload(&plan)));
            SourceEvent::Resolved
        } else {
            let membership = !generation.joined.is_empty() || !generation.passing.is_empty();
            if membership {
                let plan = self.group_plan(&group, &GroupChange::Update, &pipeline)?;
                ops.push((OpKind::UpdateTicket, super::ticket_payload(&plan)));
            }
            if generation.escalated {
                let plan = self.group_plan(&group, &GroupChange::Escalate, &pipeline)?;
                ops.push((OpKind::EscalateTicket, super::ticket_payload(&plan)));
            }
            if membership {
                SourceEvent::Failing
            } else {
                SourceEvent::Escalated
            }
        };
        let stored = generation.stored.as_ref();
        let selection = pipeline.mappings.select(representative);
        Ok(Prepared::Group {
            record: group_record(representative, generation.generation),
            planned: Planned {
                rule: Some(selection.rule.name.clone()),
                profile: Some(selection.profile.name.clone()),
                ticket: None,
                ops,
            },
            planned_for: PlannedFor::of(stored),
            event,
        })
    }

    fn group_plan(
        &self,
        group: &Group<'_>,
        change: &GroupChange,
        pipeline: &crate::pipeline::Pipeline,
    ) -> Result<mapping::TicketPlan, IntakeError> {
        Ok(mapping::plan_group(
            group,
            change,
            &pipeline.mappings,
            &pipeline.templates,
        )?)
    }

    /// How a stored group's ticket is named in a note: its number once known.
    async fn ticket_name(&self, row: &FindingRow) -> Result<String, IntakeError> {
        let link = findings::link(&self.db, row.id).await?;
        Ok(match link {
            Some(link) => link.number.unwrap_or(link.correlation_id),
            None => row.finding_key.clone(),
        })
    }

    /// How a generation planned in this event, or stored, is named in its successor's note.
    fn name_of(&self, generation: &Generation, about: &Finding) -> String {
        match &generation.name {
            Some(name) => name.clone(),
            None => about.group_correlation_id(generation.generation),
        }
    }
}

/// The generation a group row is of: the last part of its key.
fn generation_of(row: &FindingRow) -> u64 {
    row.finding_key
        .rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// A member's own write: its status and audit trail, no ticket and no rows.
fn member_plan(rule: String, profile: &Profile) -> Planned {
    Planned {
        rule: Some(rule),
        profile: Some(profile.name.clone()),
        ticket: None,
        ops: Vec::new(),
    }
}

/// The row of a group generation: the check's columns, no subject, and a member's finding
/// as its payload (the check's title, description and actions).
fn group_record(representative: &Finding, generation: u64) -> findings::FindingRecord {
    let mut record = finding_record(representative);
    record.key = representative.group_key(generation).as_str().to_owned();
    record.subject = String::new();
    record.is_group = true;
    record
}

/// The findings of one event grouped by check (source, kind and check id), in order.
pub(super) fn by_check<'f>(findings: &[&'f Finding]) -> Vec<Vec<&'f Finding>> {
    let mut checks: BTreeMap<String, Vec<&'f Finding>> = BTreeMap::new();
    let mut order = Vec::new();
    for &finding in findings {
        let key = finding.check_key().as_str().to_owned();
        if !checks.contains_key(&key) {
            order.push(key.clone());
        }
        checks.entry(key).or_default().push(finding);
    }
    order
        .into_iter()
        .filter_map(|k| checks.remove(&k))
        .collect()
}
