//! Findings, their ticket links and audit trail: the transactional half of intake.
//!
//! `record` writes the finding change, its outbox rows and its audit row in one
//! transaction, so a 202 from the API means all of it is durable, or none of it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr, TransactionTrait,
};

use super::entity::{audit, finding, ticket_link};
use super::outbox;
use crate::domain::{FindingKind, FindingStatus, SourceEvent};
use crate::operation::OpKind;

/// The identity and summary columns of a finding, plus its full JSON.
#[derive(Debug, Clone)]
pub struct FindingRecord {
    pub key: String,
    pub source: String,
    pub kind: FindingKind,
    pub check_id: String,
    pub subject: String,
    pub title: String,
    pub severity: String,
    pub payload: serde_json::Value,
    pub seen_at: DateTime<Utc>,
    /// The group whose ticket lists the finding (`group_by = "check"`), set when it is
    /// created.
    pub group_id: Option<i64>,
    /// The row is a group: the ticket and outbox rows of its members are its own.
    pub is_group: bool,
}

/// What the planner decided for one event: the rule and profile, and the rows to enqueue.
#[derive(Debug, Clone, Default)]
pub struct Planned {
    pub rule: Option<String>,
    pub profile: Option<String>,
    /// The ServiceNow table and correlation id of the ticket, for a new finding's link.
    pub ticket: Option<(String, String)>,
    pub ops: Vec<(OpKind, serde_json::Value)>,
}

/// The stored finding a plan was made for: `None` for a new finding. `record` writes only
/// when the finding is still in this state, so a plan made outside the transaction is
/// never applied to a finding that moved on meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedFor {
    pub finding: Option<(i64, i64)>,
}

impl PlannedFor {
    /// The situation of `existing`: its id and occurrences.
    pub fn of(existing: Option<&finding::Model>) -> Self {
        Self {
            finding: existing.map(|f| (f.id, f.occurrences)),
        }
    }
}

/// What `record` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub finding_id: i64,
    pub created: bool,
    pub occurrences: i64,
    pub outbox_ids: Vec<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("no open finding has the key {0}")]
    NotFound(String),
    /// The finding changed between planning and writing: plan again.
    #[error("the finding {0} changed while its event was planned")]
    Moved(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Records `event`: creates, updates or closes the finding, enqueues the planned
/// operations and writes the audit row, all in one transaction that only writes (the
/// payloads were rendered before it began).
///
/// `planned_for` is the finding the plan was made for; when the stored finding is no
/// longer in that state (a concurrent event got there first), nothing is written and
/// `RecordError::Moved` asks the caller to plan again.
pub async fn record(
    db: &DatabaseConnection,
    record: &FindingRecord,
    event: SourceEvent,
    actor: &str,
    planned: &Planned,
    planned_for: PlannedFor,
) -> Result<Recorded, RecordError> {
    let txn = super::begin_write(db).await?;
    let recorded = record_in(&txn, record, event, actor, planned, planned_for).await?;
    txn.commit().await?;
    Ok(recorded)
}

/// `record` inside the caller's write transaction, so that several findings (the users of
/// one Oort event) commit together or not at all. On `Moved` the transaction must be
/// rolled back: on PostgreSQL a failed statement has aborted it.
pub async fn record_in(
    txn: &DatabaseTransaction,
    record: &FindingRecord,
    event: SourceEvent,
    actor: &str,
    planned: &Planned,
    planned_for: PlannedFor,
) -> Result<Recorded, RecordError> {
    match record_once(txn, record, event, actor, planned, planned_for).await {
        // Two racing first events: the loser's insert fails on the unique open key, and its
        // plan (a create) no longer fits the finding the winner stored.
        Err(RecordError::Db(err))
            if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) =>
        {
            Err(RecordError::Moved(record.key.clone()))
        }
        other => other,
    }
}

async fn record_once(
    txn: &DatabaseTransaction,
    record: &FindingRecord,
    event: SourceEvent,
    actor: &str,
    planned: &Planned,
    planned_for: PlannedFor,
) -> Result<Recorded, RecordError> {
    let existing = open_by_key(txn, &record.key, true).await?;
    if PlannedFor::of(existing.as_ref()) != planned_for {
        return Err(RecordError::Moved(record.key.clone()));
    }
    let now = Utc::now();
    let (finding_id, created, occurrences, from, to) = match (existing, event) {
        (None, SourceEvent::Failing) => {
            let model = finding::ActiveModel {
                finding_key: Set(record.key.clone()),
                source: Set(record.source.clone()),
                kind: Set(record.kind),
                check_id: Set(record.check_id.clone()),
                subject: Set(record.subject.clone()),
                title: Set(record.title.clone()),
                severity: Set(record.severity.clone()),
                status: Set(FindingStatus::Open),
                resolved_by: Set(None),
                decision: Set(None),
                occurrences: Set(1),
                first_seen: Set(record.seen_at),
                last_seen: Set(record.seen_at),
                rule: Set(planned.rule.clone()),
                profile: Set(planned.profile.clone()),
                payload: Set(record.payload.clone()),
                created_at: Set(now),
                updated_at: Set(now),
                group_id: Set(record.group_id),
                is_group: Set(record.is_group),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            if let Some((table, correlation_id)) = &planned.ticket {
                ticket_link::ActiveModel {
                    finding_id: Set(model.id),
                    table_name: Set(table.clone()),
                    correlation_id: Set(correlation_id.clone()),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
            }
            (model.id, true, 1, None, FindingStatus::Open)
        }
        (None, _) => return Err(RecordError::NotFound(record.key.clone())),
        (Some(found), event) => {
            let occurrences = found.occurrences + i64::from(event == SourceEvent::Failing);
            let to = found.status.after(event);
            let mut active: finding::ActiveModel = found.clone().into();
            active.occurrences = Set(occurrences);
            active.status = Set(to);
            active.updated_at = Set(now);
            if event == SourceEvent::Failing {
                active.last_seen = Set(record.seen_at.max(found.last_seen));
                active.payload = Set(record.payload.clone());
            }
            if event == SourceEvent::Resolved {
                active.resolved_by = Set(Some("source".to_owned()));
            }
            active.update(txn).await?;
            (found.id, false, occurrences, Some(found.status), to)
        }
    };

    let mut outbox_ids = Vec::new();
    // A finding created just now has no rows: its queue starts at 1 without a read.
    let mut seq = created.then_some(1);
    for (op, payload) in &planned.ops {
        // Repeats of a still-failing finding fold into the update that is already waiting;
        // a group's membership changes keep every work note.
        let notes = if record.is_group {
            outbox::Coalesce::AppendWorkNotes
        } else {
            outbox::Coalesce::Replace
        };
        if *op == OpKind::UpdateTicket
            && !created
            && outbox::coalesce_into_last(txn, finding_id, *op, payload.clone(), notes, now).await?
        {
            continue;
        }
        let at = match seq {
            Some(at) => at,
            None => outbox::next_seq(txn, finding_id).await?,
        };
        outbox_ids.push(
            outbox::enqueue_at(txn, finding_id, at, *op, payload.clone(), now)
                .await?
                .id,
        );
        seq = Some(at + 1);
    }
    audit_row(
        txn,
        finding_id,
        event.as_str(),
        from.map(|s| s.as_str()),
        to.as_str(),
        actor,
        None,
        now,
    )
    .await?;
    Ok(Recorded {
        finding_id,
        created,
        occurrences,
        outbox_ids,
    })
}

/// The open (or escalated) finding with `key`; `lock` takes a row lock on PostgreSQL so
/// that concurrent events for one finding queue up behind each other.
pub async fn open_by_key(
    db: &impl ConnectionTrait,
    key: &str,
    lock: bool,
) -> Result<Option<finding::Model>, DbErr> {
    let mut query = finding::Entity::find()
        .filter(finding::Column::FindingKey.eq(key))
        .filter(finding::Column::Status.ne(FindingStatus::Resolved));
    if lock && db.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(db).await
}

/// Appends one row to the audit trail.
#[allow(clippy::too_many_arguments)]
pub async fn audit_row(
    db: &impl ConnectionTrait,
    finding_id: i64,
    event: &str,
    from: Option<&str>,
    to: &str,
    actor: &str,
    detail: Option<String>,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    audit::ActiveModel {
        finding_id: Set(finding_id),
        event: Set(event.to_owned()),
        from_status: Set(from.map(str::to_owned)),
        to_status: Set(to.to_owned()),
        actor: Set(actor.to_owned()),
        detail: Set(detail),
        at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
    .map(drop)
}

/// One finding by id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<finding::Model>, DbErr> {
    finding::Entity::find_by_id(id).one(db).await
}

/// Findings, newest first, optionally in one status.
pub async fn list(
    db: &impl ConnectionTrait,
    state: Option<FindingStatus>,
    limit: u64,
) -> Result<Vec<finding::Model>, DbErr> {
    let mut query = finding::Entity::find()
        .order_by_desc(finding::Column::Id)
        .limit(limit);
    if let Some(state) = state {
        query = query.filter(finding::Column::Status.eq(state));
    }
    query.all(db).await
}

/// The ticket link of a finding.
pub async fn link(
    db: &impl ConnectionTrait,
    finding_id: i64,
) -> Result<Option<ticket_link::Model>, DbErr> {
    ticket_link::Entity::find()
        .filter(ticket_link::Column::FindingId.eq(finding_id))
        .one(db)
        .await
}

/// The audit trail of a finding, oldest first.
pub async fn audit_trail(
    db: &impl ConnectionTrait,
    finding_id: i64,
) -> Result<Vec<audit::Model>, DbErr> {
    audit::Entity::find()
        .filter(audit::Column::FindingId.eq(finding_id))
        .order_by_asc(audit::Column::Id)
        .all(db)
        .await
}

/// Stores what ServiceNow said about the finding's ticket.
pub async fn save_ticket(
    db: &impl ConnectionTrait,
    finding_id: i64,
    ticket: &TicketSnapshot,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use ticket_link::Column;
    // One statement: only the fields the record carried change; the others keep their value.
    let mut update = ticket_link::Entity::update_many();
    let text = [
        (Column::SysId, &ticket.sys_id),
        (Column::Number, &ticket.number),
        (Column::State, &ticket.state),
        (Column::Approval, &ticket.approval),
        (Column::Priority, &ticket.priority),
        (Column::AssignmentGroup, &ticket.assignment_group),
        (Column::SysUpdatedOn, &ticket.sys_updated_on),
    ];
    for (column, value) in text {
        if let Some(value) = value {
            update = update.col_expr(column, Expr::value(value.clone()));
        }
    }
    if let Some(count) = ticket.sys_mod_count {
        update = update.col_expr(Column::SysModCount, Expr::value(count));
    }
    let updated = update
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::FindingId.eq(finding_id))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(DbErr::RecordNotFound(format!(
            "ticket link of finding {finding_id}"
        )));
    }
    Ok(())
}

/// Stores several findings' tickets in one transaction (one take of SQLite's write lock):
/// all of them, or none.
pub async fn save_tickets(
    db: &DatabaseConnection,
    tickets: &[(i64, TicketSnapshot)],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    for (finding_id, ticket) in tickets {
        save_ticket(&txn, *finding_id, ticket, now).await?;
    }
    txn.commit().await
}

/// The sys_ids of the tickets of `finding_ids`, for those that have one, in one query.
pub async fn ticket_sys_ids(
    db: &impl ConnectionTrait,
    finding_ids: &[i64],
) -> Result<std::collections::HashMap<i64, String>, DbErr> {
    if finding_ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(i64, Option<String>)> = ticket_link::Entity::find()
        .select_only()
        .column(ticket_link::Column::FindingId)
        .column(ticket_link::Column::SysId)
        .filter(ticket_link::Column::FindingId.is_in(finding_ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, sys_id)| Some((id, sys_id?)))
        .collect())
}

/// The ticket fields snowsync keeps: what it last saw of the record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketSnapshot {
    pub sys_id: Option<String>,
    pub number: Option<String>,
    pub state: Option<String>,
    /// `sc_request` only: `requested`, `approved`, `rejected`, `not requested`.
    pub approval: Option<String>,
    pub priority: Option<String>,
    /// The sys_id of the assignment group.
    pub assignment_group: Option<String>,
    pub sys_mod_count: Option<i64>,
    pub sys_updated_on: Option<String>,
}

/// Reopens `previous`, a resolved finding failing again within its profile's
/// `reopen_within`: open again, one more occurrence, the planned rows (the reopen of its
/// ticket) enqueued, all in one transaction. `Moved` when it is no longer the key's last
/// resolved finding with nothing open, so the caller plans again.
pub async fn reopen(
    db: &DatabaseConnection,
    record: &FindingRecord,
    previous: &finding::Model,
    actor: &str,
    planned: &Planned,
) -> Result<Recorded, RecordError> {
    let txn = super::begin_write(db).await?;
    let recorded = reopen_in(&txn, record, previous, actor, planned).await?;
    txn.commit().await?;
    Ok(recorded)
}

/// `reopen` inside the caller's write transaction.
pub async fn reopen_in(
    txn: &DatabaseTransaction,
    record: &FindingRecord,
    previous: &finding::Model,
    actor: &str,
    planned: &Planned,
) -> Result<Recorded, RecordError> {
    if open_by_key(txn, &record.key, true).await?.is_some() {
        return Err(RecordError::Moved(record.key.clone()));
    }
    let Some(current) = get(txn, previous.id).await? else {
        return Err(RecordError::Moved(record.key.clone()));
    };
    if current.status != FindingStatus::Resolved || current.occurrences != previous.occurrences {
        return Err(RecordError::Moved(record.key.clone()));
    }
    let now = Utc::now();
    let occurrences = current.occurrences + 1;
    let mut active: finding::ActiveModel = current.clone().into();
    active.status = Set(FindingStatus::Open);
    active.occurrences = Set(occurrences);
    active.resolved_by = Set(None);
    active.resolved_at = Set(None);
    active.last_seen = Set(record.seen_at.max(current.last_seen));
    active.payload = Set(record.payload.clone());
    active.updated_at = Set(now);
    let result = active.update(txn).await;
    match result {
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(RecordError::Moved(record.key.clone()));
        }
        other => other?,
    };
    let mut outbox_ids = Vec::new();
    for (op, payload) in &planned.ops {
        outbox_ids.push(
            outbox::enqueue(txn, current.id, *op, payload.clone(), now)
                .await?
                .id,
        );
    }
    audit_row(
        txn,
        current.id,
        SourceEvent::Failing.as_str(),
        Some(FindingStatus::Resolved.as_str()),
        FindingStatus::Open.as_str(),
        actor,
        Some("failing again within reopen_within: its ticket is reopened".to_owned()),
        now,
    )
    .await?;
    Ok(Recorded {
        finding_id: current.id,
        created: false,
        occurrences,
        outbox_ids,
    })
}
