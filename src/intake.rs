//! Intake: a parsed finding or a source event in, one transaction out (finding change,
//! rendered outbox rows, audit row). Rendering happens here, at enqueue, so the stored
//! payload is exactly what will be sent.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::domain::{Finding, FindingStatus, SourceEvent};
use crate::mapping::{self, Mappings, PlanError, Templates, TicketPlan};
use crate::operation::{NamedReference, OpKind, TicketPayload};
use crate::store::entity::finding::Model as FindingRow;
use crate::store::findings::{self, FindingRecord, Planned, PlannedFor, RecordError, Recorded};

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
    pub mappings: Arc<Mappings>,
    pub templates: Arc<Templates>,
    /// Woken after every commit so idle outbox workers start at once.
    pub wake: Arc<Notify>,
}

/// How often a plan is made again when concurrent events on the same finding keep moving
/// it between planning and writing; each round is a full plan-then-write.
const PLAN_ROUNDS: usize = 8;

impl Intake {
    /// Records a `failing` event: a new finding and its ticket, or a repeat.
    pub async fn failing(&self, finding: &Finding, actor: &str) -> Result<Recorded, IntakeError> {
        let recorded = self.record(finding, SourceEvent::Failing, actor).await?;
        metrics::counter!("findings_ingested_total", "source" => finding.source.clone(), "via" => actor.to_owned())
            .increment(1);
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
            .ok_or_else(|| IntakeError::NotFound(format!("with key {key}")))?;
        let finding = stored_finding(&row)?;
        self.record(&finding, event, actor).await
    }

    /// Plans the event against the finding as stored now, rendering every payload with no
    /// transaction open, then writes in one transaction that only writes; if the finding
    /// moved on in between, plans again.
    async fn record(
        &self,
        finding: &Finding,
        event: SourceEvent,
        actor: &str,
    ) -> Result<Recorded, IntakeError> {
        let record = finding_record(finding);
        let mut round = 0;
        loop {
            round += 1;
            let existing = findings::open_by_key(&self.db, &record.key, false).await?;
            let planned_for = PlannedFor::of(existing.as_ref());
            let planned = match (&existing, event) {
                (None, SourceEvent::Resolved | SourceEvent::Escalated) => {
                    return Err(IntakeError::NotFound(format!("with key {}", record.key)));
                }
                (existing, event) => {
                    let occurrences = existing.as_ref().map_or(1, |f| {
                        f.occurrences + i64::from(event == SourceEvent::Failing)
                    });
                    match self.plan(finding, event, occurrences, existing.is_none()) {
                        Ok(planned) => planned,
                        Err(err) => {
                            if let Some(found) = existing {
                                self.audit_refusal(found, event, actor, &err).await?;
                            }
                            return Err(err.into());
                        }
                    }
                }
            };
            match findings::record(&self.db, &record, event, actor, &planned, planned_for).await {
                Ok(recorded) => {
                    self.wake.notify_one();
                    return Ok(recorded);
                }
                Err(RecordError::Moved(_)) if round < PLAN_ROUNDS => continue,
                Err(RecordError::Moved(key)) => {
                    return Err(IntakeError::Db(sea_orm::DbErr::Custom(format!(
                        "the finding {key} kept changing while its event was planned; send it again"
                    ))));
                }
                Err(RecordError::NotFound(key)) => {
                    return Err(IntakeError::NotFound(format!("with key {key}")));
                }
                Err(RecordError::Db(e)) => return Err(IntakeError::Db(e)),
            }
        }
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

    fn plan(
        &self,
        finding: &Finding,
        event: SourceEvent,
        occurrences: i64,
        new: bool,
    ) -> Result<Planned, PlanError> {
        let occurrences = u64::try_from(occurrences).unwrap_or(1);
        let plan = mapping::plan(finding, event, occurrences, &self.mappings, &self.templates)?;
        // One ticket for several findings (`group_by = "check"`) needs a ticket link shared
        // by findings, which the store does not have yet: refuse it rather than open a
        // second ticket under the same correlation id.
        if plan.correlation_id != finding.key().correlation_id() {
            let profile = mapping::profile_for(&self.mappings, finding);
            return Err(PlanError::unsupported(
                profile,
                "group_by",
                "groups findings into one ticket (group_by = \"check\"), which delivery does not support yet; use group_by = \"subject\"",
            ));
        }
        Ok(planned(plan, event, new))
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
    }
}

/// Reference fields filled from the finding's subject, who may not be a ServiceNow user.
const SUBJECT_REFERENCES: [&str; 2] = ["caller_id", "requested_for"];

/// The stored payload of a ticket operation: fields, and references to resolve by name.
fn ticket_payload(plan: &TicketPlan) -> serde_json::Value {
    let references = plan
        .references
        .iter()
        .map(|(field, (kind, name))| {
            let optional = SUBJECT_REFERENCES.contains(&field.as_str());
            (
                field.clone(),
                NamedReference {
                    kind: *kind,
                    name: name.clone(),
                    optional,
                },
            )
        })
        .collect();
    let payload = TicketPayload {
        table: plan.table.clone(),
        correlation_id: plan.correlation_id.clone(),
        fields: plan.fields.clone(),
        references,
        tags: Vec::new(),
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
pub fn replan(
    finding_row: &FindingRow,
    op: OpKind,
    mappings: &Mappings,
    templates: &Templates,
) -> Result<Option<serde_json::Value>, IntakeError> {
    let finding = stored_finding(finding_row)?;
    let occurrences = u64::try_from(finding_row.occurrences).unwrap_or(1);
    let (event, occurrences) = match op {
        OpKind::CreateTicket | OpKind::ApplyTags => (SourceEvent::Failing, 1),
        OpKind::UpdateTicket => (SourceEvent::Failing, occurrences.max(2)),
        OpKind::CloseTicket => (SourceEvent::Resolved, occurrences),
        OpKind::EscalateTicket => (SourceEvent::Escalated, occurrences),
        OpKind::ReopenTicket | OpKind::NotifySource => return Ok(None),
    };
    let plan = mapping::plan(&finding, event, occurrences, mappings, templates)?;
    Ok(match op {
        OpKind::ApplyTags => tags_payload(&plan),
        _ => Some(ticket_payload(&plan)),
    })
}
