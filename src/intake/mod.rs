//! Intake: a parsed finding or a source event in, one transaction out (finding change,
//! rendered outbox rows, audit row). Rendering happens here, at enqueue, so the stored
//! payload is exactly what will be sent.

mod group;

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::domain::{Finding, FindingStatus, SourceEvent};
use crate::mapping::{self, Mappings, PlanError, Table, Templates, TicketPlan};
use crate::operation::{NamedReference, OpKind, TicketPayload};
use crate::store::entity::finding::Model as FindingRow;
use crate::store::findings::{self, FindingRecord, Planned, PlannedFor, RecordError, Recorded};
use crate::store::group_commit::{GroupCommit, Job};
use crate::store::sync;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("no open finding {0}")]
    NotFound(String),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("the stored finding {id} cannot be read back: {source}")]
    Corrupt { id: i64, source: serde_json::Error },
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// Everything intake needs; cheap to clone.
#[derive(Clone)]
pub struct Intake {
    pub db: DatabaseConnection,
    /// The mappings and templates in force; a reload replaces them for the next event.
    pub pipeline: crate::pipeline::Live,
    /// Woken after every commit so idle outbox workers start at once.
    pub wake: Arc<Notify>,
    /// Writes of concurrent events share transactions (`store::group_commit`).
    writes: Arc<GroupCommit<EventWrite>>,
    /// Events changing one grouped ticket are planned one after another in this process
    /// (`group::CheckLocks`), so that they do not plan against the same version of it and
    /// send each other back to plan again.
    check_locks: Arc<group::CheckLocks>,
}

/// The most events one ingest transaction takes.
const EVENTS_PER_COMMIT: usize = 64;

impl Intake {
    pub fn new(db: DatabaseConnection, pipeline: crate::pipeline::Live, wake: Arc<Notify>) -> Self {
        Self {
            writes: Arc::new(GroupCommit::new(db.clone(), EVENTS_PER_COMMIT)),
            check_locks: Arc::default(),
            db,
            pipeline,
            wake,
        }
    }
}

/// The write of one source event, planned: every finding of it, all or none, in a
/// savepoint of a group transaction.
struct EventWrite {
    prepared: Vec<Prepared>,
    event: SourceEvent,
    actor: String,
}

impl Job for EventWrite {
    type Output = Vec<(String, Recorded)>;
    type Error = RecordError;

    /// Groups are written before their members (`prepare_check` orders them so), and
    /// members joining a group created here take its new id.
    async fn run(
        &self,
        txn: &sea_orm::DatabaseTransaction,
    ) -> Result<Vec<(String, Recorded)>, RecordError> {
        let mut recorded = Vec::with_capacity(self.prepared.len());
        let mut new_groups: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
        for item in &self.prepared {
            let (key, result) = match item {
                Prepared::Event {
                    record,
                    planned,
                    planned_for,
                } => (
                    &record.key,
                    findings::record_in(
                        txn,
                        record,
                        self.event,
                        &self.actor,
                        planned,
                        *planned_for,
                    )
                    .await?,
                ),
                Prepared::Reopen {
                    record,
                    previous,
                    planned,
                } => (
                    &record.key,
                    findings::reopen_in(txn, record, previous, &self.actor, planned).await?,
                ),
                Prepared::Group {
                    record,
                    planned,
                    planned_for,
                    event,
                } => {
                    let done = findings::record_in(
                        txn,
                        record,
                        *event,
                        &self.actor,
                        planned,
                        *planned_for,
                    )
                    .await?;
                    if done.created {
                        new_groups.insert(&record.key, done.finding_id);
                    }
                    (&record.key, done)
                }
                Prepared::Member {
                    record,
                    planned,
                    planned_for,
                    group,
                } => {
                    let mut record = record.clone();
                    record.group_id = match group {
                        Some(group::GroupRef::Stored(id)) => Some(*id),
                        Some(group::GroupRef::New(key)) => new_groups.get(key.as_str()).copied(),
                        None => None,
                    };
                    let done = findings::record_in(
                        txn,
                        &record,
                        self.event,
                        &self.actor,
                        planned,
                        *planned_for,
                    )
                    .await?;
                    (&record.key.clone(), done)
                }
            };
            recorded.push((key.clone(), result));
        }
        Ok(recorded)
    }

    fn commit_failed(err: &sea_orm::DbErr) -> RecordError {
        RecordError::Db(crate::store::copy_of(err))
    }
}

/// A finding event planned and ready to write.
enum Prepared {
    Event {
        record: FindingRecord,
        planned: Planned,
        planned_for: PlannedFor,
    },
    /// A resolved finding failing again within `reopen_within`.
    Reopen {
        record: FindingRecord,
        previous: Box<FindingRow>,
        planned: Planned,
    },
    /// A change of a group generation's ticket (`group_by = "check"`): its own `event`.
    Group {
        record: FindingRecord,
        planned: Planned,
        planned_for: PlannedFor,
        event: SourceEvent,
    },
    /// A finding listed by a group's ticket: no rows of its own; one joining a group takes
    /// the group's id.
    Member {
        record: FindingRecord,
        planned: Planned,
        planned_for: PlannedFor,
        group: Option<group::GroupRef>,
    },
}

/// How often a plan is made again when concurrent events on the same finding keep moving
/// it between planning and writing; each round is a full plan-then-write.
const PLAN_ROUNDS: usize = 8;

impl Intake {
    /// Records a `failing` event: a new finding and its ticket, or a repeat.
    pub async fn failing(&self, finding: &Finding, actor: &str) -> Result<Recorded, IntakeError> {
        let mut recorded = self
            .failing_all(std::slice::from_ref(finding), actor)
            .await?;
        Ok(recorded.remove(0))
    }

    /// Records a `failing` event for every finding of one source event, in one transaction.
    pub async fn failing_all(
        &self,
        findings: &[Finding],
        actor: &str,
    ) -> Result<Vec<Recorded>, IntakeError> {
        let recorded = self
            .record_all(findings, SourceEvent::Failing, actor)
            .await?;
        for finding in findings {
            metrics::counter!("findings_ingested_total", "source" => finding.source.clone(), "via" => actor.to_owned())
                .increment(1);
        }
        Ok(recorded)
    }

    /// Records `resolved` or `escalated` for the open finding with this id.
    pub async fn event_for_id(
        &self,
        id: i64,
        event: SourceEvent,
        actor: &str,
    ) -> Result<Recorded, IntakeError> {
        let row = findings::get(&self.db, id)
            .await?
            .ok_or_else(|| IntakeError::NotFound(format!("with id {id}")))?;
        if row.status == FindingStatus::Resolved {
            return Err(IntakeError::NotFound(format!(
                "with id {id} (it is resolved)"
            )));
        }
        if row.is_group {
            return Err(IntakeError::NotFound(format!(
                "with id {id} (it is the group of check {}: events are for its members)",
                row.check_id
            )));
        }
        let finding = stored_finding(&row)?;
        self.record(&finding, event, actor).await
    }

    /// Records `resolved` or `escalated` for the open finding with this key.
    pub async fn event_for_key(
        &self,
        key: &str,
        event: SourceEvent,
        actor: &str,
    ) -> Result<Recorded, IntakeError> {
        let row = findings::open_by_key(&self.db, key, false)
            .await?
            .filter(|row| !row.is_group)
            .ok_or_else(|| IntakeError::NotFound(format!("with key {key}")))?;
        let finding = stored_finding(&row)?;
        self.record(&finding, event, actor).await
    }

    /// Records `event` for one finding; see [`Intake::record_all`].
    async fn record(
        &self,
        finding: &Finding,
        event: SourceEvent,
        actor: &str,
    ) -> Result<Recorded, IntakeError> {
        let mut recorded = self
            .record_all(std::slice::from_ref(finding), event, actor)
            .await?;
        Ok(recorded.remove(0))
    }

    /// Records `event` for every finding of one source event (the failing users of an Oort
    /// event) in one transaction: all of them or none, one answer. Each finding is planned
    /// against its state as stored now, rendering every payload with no transaction open;
    /// the transaction then only writes, and if any finding moved on in between, all are
    /// planned again. Findings with the same key count once; each position of `findings`
    /// gets the result of its key.
    pub async fn record_all(
        &self,
        findings: &[Finding],
        event: SourceEvent,
        actor: &str,
    ) -> Result<Vec<Recorded>, IntakeError> {
        let keys: Vec<String> = findings
            .iter()
            .map(|f| f.key().as_str().to_owned())
            .collect();
        let mut unique: Vec<&Finding> = Vec::new();
        for (i, finding) in findings.iter().enumerate() {
            if !keys[..i].contains(&keys[i]) {
                unique.push(finding);
            }
        }
        let grouped_checks: Vec<&Finding> = {
            let pipeline = self.pipeline.current();
            unique
                .iter()
                .copied()
                .filter(|f| mapping::profile_for(&pipeline.mappings, f).groups_by_check())
                .collect()
        };
        let _turn = self.check_locks.lock(&grouped_checks).await;
        let mut round = 0;
        let recorded = loop {
            round += 1;
            let mut prepared = Vec::with_capacity(unique.len());
            let pipeline = self.pipeline.current();
            let (grouped, mut alone): (Vec<&Finding>, Vec<&Finding>) = unique
                .iter()
                .partition(|f| mapping::profile_for(&pipeline.mappings, f).groups_by_check());
            for check in group::by_check(&grouped) {
                let (writes, own_ticket) = self.prepare_check(&check, event).await?;
                prepared.extend(writes);
                alone.extend(own_ticket);
            }
            for finding in alone {
                prepared.push(self.prepare(finding, event, actor).await?);
            }
            let write = EventWrite {
                prepared,
                event,
                actor: actor.to_owned(),
            };
            match self.writes.submit(write).await {
                Ok(recorded) => break recorded,
                // Its savepoint was rolled back; plan everything again.
                Err(RecordError::Moved(_)) if round < PLAN_ROUNDS => continue,
                Err(err) => return Err(record_error(err)),
            }
        };
        self.wake.notify_one();
        let by_key: std::collections::HashMap<String, Recorded> = recorded.into_iter().collect();
        Ok(keys.iter().map(|k| by_key[k].clone()).collect())
    }

    /// Reads the finding as stored now and plans `event` for it, with no transaction open.
    async fn prepare(
        &self,
        finding: &Finding,
        event: SourceEvent,
        actor: &str,
    ) -> Result<Prepared, IntakeError> {
        let record = finding_record(finding);
        let existing = findings::open_by_key(&self.db, &record.key, false).await?;
        if existing.is_none()
            && event == SourceEvent::Failing
            && let Some(reopen) = self.recurrence(finding, &record).await?
        {
            return Ok(reopen);
        }
        let planned_for = PlannedFor::of(existing.as_ref());
        let Some(found) = existing.as_ref() else {
            if event != SourceEvent::Failing {
                return Err(IntakeError::NotFound(format!("with key {}", record.key)));
            }
            let planned = self.plan(finding, event, 1, true).await?;
            return Ok(Prepared::Event {
                record,
                planned,
                planned_for,
            });
        };
        let occurrences = found.occurrences + i64::from(event == SourceEvent::Failing);
        if found.group_id.is_some() {
            // A member of a group whose profile no longer groups: its ticket is the group's,
            // which this finding alone does not change.
            return Ok(Prepared::Event {
                record,
                planned: Planned::default(),
                planned_for,
            });
        }
        match self.plan(finding, event, occurrences, false).await {
            Ok(planned) => Ok(Prepared::Event {
                record,
                planned,
                planned_for,
            }),
            Err(IntakeError::Plan(err)) => {
                self.audit_refusal(found, event, actor, &err).await?;
                Err(err.into())
            }
            Err(err) => Err(err),
        }
    }

    /// A finding failing again after it was resolved. Within the profile's `reopen_within`
    /// of the resolution, and with a ticket to reopen, the finding is to be reopened with its
    /// ticket; otherwise `None`, and a new finding is opened, whose ticket is of the next
    /// generation (see `plan`).
    async fn recurrence(
        &self,
        finding: &Finding,
        record: &FindingRecord,
    ) -> Result<Option<Prepared>, IntakeError> {
        let Some(previous) = sync::last_resolved(&self.db, &record.key).await? else {
            return Ok(None);
        };
        let pipeline = self.pipeline.current();
        let profile = mapping::profile_for(&pipeline.mappings, finding);
        let resolved_at = previous.resolved_at.unwrap_or(previous.updated_at);
        let within = profile.reopen_within.is_some_and(|window| {
            chrono::Duration::from_std(window).is_ok_and(|w| chrono::Utc::now() - resolved_at <= w)
        });
        let link = findings::link(&self.db, previous.id).await?;
        if !within || link.as_ref().and_then(|l| l.sys_id.as_ref()).is_none() {
            return Ok(None);
        }
        let occurrences = previous.occurrences + 1;
        let plan = mapping::plan_reopen(
            finding,
            u64::try_from(occurrences).unwrap_or(1),
            &pipeline.mappings,
            &pipeline.templates,
        )?;
        let planned = Planned {
            rule: Some(plan.rule.clone()),
            profile: Some(plan.profile.clone()),
            ticket: None,
            ops: vec![(OpKind::ReopenTicket, ticket_payload(&plan))],
        };
        Ok(Some(Prepared::Reopen {
            record: record.clone(),
            previous: Box::new(previous),
            planned,
        }))
    }

    /// Keeps, in the finding's audit trail, an event its mapping could not plan: the
    /// finding stays as it was, and the trail says why, with the structured error.
    async fn audit_refusal(
        &self,
        found: &FindingRow,
        event: SourceEvent,
        actor: &str,
        err: &PlanError,
    ) -> Result<(), sea_orm::DbErr> {
        let detail = serde_json::json!({ "plan_error": err }).to_string();
        findings::audit_row(
            &self.db,
            found.id,
            event.as_str(),
            Some(found.status.as_str()),
            found.status.as_str(),
            actor,
            Some(detail),
            chrono::Utc::now(),
        )
        .await
    }

    async fn plan(
        &self,
        finding: &Finding,
        event: SourceEvent,
        occurrences: i64,
        new: bool,
    ) -> Result<Planned, IntakeError> {
        let occurrences = u64::try_from(occurrences).unwrap_or(1);
        let pipeline = self.pipeline.current();
        let plan = mapping::plan(
            finding,
            event,
            occurrences,
            &pipeline.mappings,
            &pipeline.templates,
        )?;
        let mut plan = plan;
        if new {
            self.next_generation(finding, &mut plan).await?;
        }
        Ok(planned(plan, event, new))
    }

    /// Gives a new finding's ticket the generation after every finding its key had before,
    /// with its own correlation id, and a work note naming the ticket it follows.
    async fn next_generation(
        &self,
        finding: &Finding,
        plan: &mut TicketPlan,
    ) -> Result<(), IntakeError> {
        let key = finding.key();
        let before = sync::generations(&self.db, key.as_str()).await?;
        if before == 0 {
            return Ok(());
        }
        plan.correlation_id = key.correlation_id_of_generation(before + 1);
        plan.fields.insert(
            "correlation_id".to_owned(),
            serde_json::Value::String(plan.correlation_id.clone()),
        );
        let previous = match sync::last_resolved(&self.db, key.as_str()).await? {
            Some(f) => findings::link(&self.db, f.id).await?.and_then(|l| l.number),
            None => None,
        };
        if let Some(number) = previous {
            let note = format!(
                "Recurrence: this finding failed again after {number} was closed; this ticket follows {number}."
            );
            let text = match plan.fields.get("work_notes").and_then(|v| v.as_str()) {
                Some(existing) if !existing.is_empty() => format!("{note}\n\n{existing}"),
                _ => note,
            };
            plan.fields
                .insert("work_notes".to_owned(), serde_json::Value::String(text));
        }
        Ok(())
    }
}

fn record_error(err: RecordError) -> IntakeError {
    match err {
        RecordError::Moved(key) => IntakeError::Db(sea_orm::DbErr::Custom(format!(
            "the finding {key} kept changing while its event was planned; send it again"
        ))),
        RecordError::NotFound(key) => IntakeError::NotFound(format!("with key {key}")),
        RecordError::Db(e) => IntakeError::Db(e),
    }
}

fn stored_finding(row: &FindingRow) -> Result<Finding, IntakeError> {
    serde_json::from_value(row.payload.clone())
        .map_err(|source| IntakeError::Corrupt { id: row.id, source })
}

/// The columns a finding is stored and found by.
pub fn finding_record(finding: &Finding) -> FindingRecord {
    FindingRecord {
        key: finding.key().as_str().to_owned(),
        source: finding.source.clone(),
        kind: finding.kind,
        check_id: finding.check_id.clone(),
        subject: finding.subject.login.clone(),
        title: finding.title.clone(),
        severity: finding.severity.as_str().to_owned(),
        // Invariant: Finding is plain data (strings, numbers, maps); serialising cannot fail.
        payload: serde_json::to_value(finding).unwrap_or_default(),
        seen_at: finding.occurred_at,
        group_id: None,
        is_group: false,
    }
}

/// Whether `field` is a reference filled from the finding's subject, who may not be a
/// ServiceNow user: the caller field of any table.
fn subject_reference(field: &str) -> bool {
    Table::ALL.iter().any(|t| t.caller_field() == field)
}

/// The stored payload of a ticket operation: fields, and references to resolve by name.
fn ticket_payload(plan: &TicketPlan) -> serde_json::Value {
    let references = plan
        .references
        .iter()
        .filter_map(|(field, (kind, name))| {
            let optional = subject_reference(field);
            // A subject's login may hold what no lookup can carry (a `^`); the ticket goes
            // out without the reference rather than never.
            if optional && let Some(why) = kind.unlookable(name) {
                tracing::info!(field, reason = %why, "optional reference cannot be looked up; left empty");
                return None;
            }
            Some((
                field.clone(),
                NamedReference {
                    kind: *kind,
                    name: name.clone(),
                    optional,
                },
            ))
        })
        .collect();
    let payload = TicketPayload {
        table: plan.table.clone(),
        correlation_id: plan.correlation_id.clone(),
        fields: plan.fields.clone(),
        references,
        tags: Vec::new(),
        custom_fields: plan.custom_fields.clone(),
        enrichment: plan.enrichment.clone(),
    };
    // Invariant: TicketPayload is plain data; serialising cannot fail.
    serde_json::to_value(payload).unwrap_or_default()
}

/// The stored payload of an `apply_tags` row, or `None` when the plan has no tags.
fn tags_payload(plan: &TicketPlan) -> Option<serde_json::Value> {
    (!plan.tags.is_empty()).then(|| {
        let payload = TicketPayload {
            table: plan.table.clone(),
            tags: plan.tags.clone(),
            ..Default::default()
        };
        serde_json::to_value(payload).unwrap_or_default()
    })
}

/// Turns a ticket plan into the outbox rows for `event`.
fn planned(plan: TicketPlan, event: SourceEvent, new: bool) -> Planned {
    let mut ops = Vec::new();
    match (event, new) {
        (SourceEvent::Failing, true) => {
            ops.push((OpKind::CreateTicket, ticket_payload(&plan)));
            if let Some(tags) = tags_payload(&plan) {
                ops.push((OpKind::ApplyTags, tags));
            }
        }
        (SourceEvent::Failing, false) => ops.push((OpKind::UpdateTicket, ticket_payload(&plan))),
        (SourceEvent::Resolved, _) => ops.push((OpKind::CloseTicket, ticket_payload(&plan))),
        (SourceEvent::Escalated, _) => ops.push((OpKind::EscalateTicket, ticket_payload(&plan))),
    }
    Planned {
        rule: Some(plan.rule.clone()),
        profile: Some(plan.profile.clone()),
        ticket: Some((plan.table, plan.correlation_id)),
        ops,
    }
}

/// Renders the payload of a stored row again from its finding and the mappings as they
/// are now, so that `outbox retry` after a mapping fix sends the fixed payload.
/// `None`: the operation is not rendered from the mappings (notifications, reopens).
///
/// The ticket keeps the correlation id in `stored` (the row's payload as it is): a
/// recurrence's ticket has an id of its own generation, which the mappings cannot know.
pub fn replan(
    finding_row: &FindingRow,
    op: OpKind,
    stored: &serde_json::Value,
    mappings: &Mappings,
    templates: &Templates,
) -> Result<Option<serde_json::Value>, IntakeError> {
    if finding_row.is_group {
        // A grouped ticket's text lists the members as they were when it was planned.
        return Ok(None);
    }
    let finding = stored_finding(finding_row)?;
    let occurrences = u64::try_from(finding_row.occurrences).unwrap_or(1);
    let (event, occurrences) = match op {
        OpKind::CreateTicket | OpKind::ApplyTags => (SourceEvent::Failing, 1),
        OpKind::UpdateTicket => (SourceEvent::Failing, occurrences.max(2)),
        OpKind::CloseTicket => (SourceEvent::Resolved, occurrences),
        OpKind::EscalateTicket => (SourceEvent::Escalated, occurrences),
        OpKind::ReopenTicket | OpKind::NotifySource => return Ok(None),
    };
    let mut plan = mapping::plan(&finding, event, occurrences, mappings, templates)?;
    if let Some(kept) = stored
        .get("correlation_id")
        .and_then(|v| v.as_str())
        .filter(|id| !id.is_empty())
    {
        plan.correlation_id = kept.to_owned();
        if plan.fields.contains_key("correlation_id") {
            plan.fields.insert(
                "correlation_id".to_owned(),
                serde_json::Value::String(kept.to_owned()),
            );
        }
    }
    Ok(match op {
        OpKind::ApplyTags => tags_payload(&plan),
        _ => Some(ticket_payload(&plan)),
    })
}
