//! Outbox rows: enqueue in the caller's transaction, claim under a lease, and fenced acks.
//!
//! Claims are one short statement (`UPDATE … RETURNING`; on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`), never a transaction held across a ServiceNow call.
//! Every ack names the worker and the attempt it claimed, so a worker whose lease was
//! taken over changes nothing.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

use super::entity::outbox::{self, Column, Entity as Outbox, Model as OutboxRow};
use crate::domain::spelled;

pub use crate::operation::OpKind;

spelled! {
    /// Where an outbox row stands, as stored in `outbox.status`.
    #[derive(sea_orm::DeriveValueType)]
    #[sea_orm(value_type = "String")]
    pub enum RowStatus("outbox row status") {
        /// Owed, due at `next_attempt_at`.
        Pending = "pending",
        /// Claimed by `locked_by` until `locked_until`.
        InFlight = "in_flight",
        /// Delivered.
        Done = "done",
        /// Given up; waits for an operator's `outbox retry`.
        Dead = "dead",
    }
}

/// Appends an operation to the finding's queue, after every row it already has.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    finding_id: i64,
    op: OpKind,
    payload: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<OutboxRow, DbErr> {
    let seq = next_seq(db, finding_id).await?;
    enqueue_at(db, finding_id, seq, op, payload, now).await
}

/// The place in the finding's queue after every row it already has.
pub async fn next_seq(db: &impl ConnectionTrait, finding_id: i64) -> Result<i64, DbErr> {
    let last: Option<i64> = Outbox::find()
        .select_only()
        .column_as(Column::Seq.max(), "seq")
        .filter(Column::FindingId.eq(finding_id))
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten();
    Ok(last.unwrap_or(0) + 1)
}

/// Puts an operation at `seq` in the finding's queue: `next_seq`, or 1 for a finding
/// created in the same transaction, which cannot have rows yet. A `seq` already taken
/// fails on the unique (finding, seq) index, so a wrong one is never silently reordered.
pub async fn enqueue_at(
    db: &impl ConnectionTrait,
    finding_id: i64,
    seq: i64,
    op: OpKind,
    payload: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<OutboxRow, DbErr> {
    outbox::ActiveModel {
        finding_id: Set(finding_id),
        seq: Set(seq),
        op: Set(op),
        payload: Set(payload),
        status: Set(RowStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_by: Set(None),
        locked_until: Set(None),
        last_error: Set(None),
        maybe_applied: Set(false),
        outage_attempts: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// How a payload folds into the row waiting before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coalesce {
    /// The newer payload replaces the waiting one (a repeat's note says all the last says).
    Replace,
    /// The newer payload replaces the waiting one, its work note appended to the waiting
    /// row's: each note of a grouped ticket names other subjects.
    AppendWorkNotes,
}

/// Replaces the payload of the finding's last row when it is an unclaimed `op` row,
/// so that a burst of repeats costs one ServiceNow request. Returns whether it did.
pub async fn coalesce_into_last(
    db: &impl ConnectionTrait,
    finding_id: i64,
    op: OpKind,
    payload: serde_json::Value,
    how: Coalesce,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let last = Outbox::find()
        .filter(Column::FindingId.eq(finding_id))
        .order_by_desc(Column::Seq)
        .one(db)
        .await?;
    let Some(last) = last else { return Ok(false) };
    if last.op != op || last.status != RowStatus::Pending || last.attempts > 0 {
        return Ok(false);
    }
    let payload = match how {
        Coalesce::Replace => payload,
        Coalesce::AppendWorkNotes => with_notes_of(&last.payload, payload),
    };
    let updated = Outbox::update_many()
        .col_expr(Column::Payload, Expr::value(payload))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(last.id))
        .filter(Column::Status.eq(RowStatus::Pending))
        .filter(Column::Attempts.eq(0))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// `newer` with the work note of `waiting` before its own.
fn with_notes_of(waiting: &serde_json::Value, mut newer: serde_json::Value) -> serde_json::Value {
    let note = |p: &serde_json::Value| {
        p.pointer("/fields/work_notes")
            .and_then(serde_json::Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
    };
    let text = match (note(waiting), note(&newer)) {
        (Some(before), Some(after)) => format!("{before}\n\n{after}"),
        (Some(before), None) => before,
        (None, _) => return newer,
    };
    if let Some(fields) = newer.get_mut("fields").and_then(|f| f.as_object_mut()) {
        fields.insert("work_notes".to_owned(), serde_json::Value::String(text));
    }
    newer
}

/// The terms a row is claimed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimTerms {
    /// How long the claim holds before it must be renewed.
    pub lease: std::time::Duration,
    /// How long after a lease expired the row may be taken over: the old holder's writes
    /// have by then landed or been dropped, so a lookup by correlation id sees them.
    pub grace: std::time::Duration,
    /// Attempts a row gets; a takeover is an attempt, and a row whose lease expired on its
    /// last attempt is buried (`bury_exhausted`) instead of being taken over again.
    pub max_attempts: u32,
}

impl ClaimTerms {
    /// The terms of the outbox configuration.
    pub fn of(config: &crate::config::OutboxConfig) -> Self {
        Self {
            lease: config.lease,
            grace: config.takeover_grace(),
            max_attempts: config.retry.max_attempts,
        }
    }

    fn until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(60))
    }

    /// Leases that ended before this may be taken over at `now`.
    fn expired_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::from_std(self.grace).unwrap_or(chrono::Duration::seconds(3600))
    }
}

/// Claims up to `limit` due rows for `worker` until `now + lease`.
///
/// A row is due when it is pending and its time has come, or in flight with a lease that
/// expired more than `grace` ago (its worker died or stalled) and attempts left. A row waits
/// while an earlier row of its finding is pending, in flight, or dead with an operation that
/// blocks its successors. Every claim, a takeover included, counts as an attempt.
pub async fn claim(
    db: &impl ConnectionTrait,
    worker: &str,
    limit: u64,
    terms: &ClaimTerms,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxRow>, DbErr> {
    let backend = db.get_database_backend();
    let lock = match backend {
        DbBackend::Postgres => "FOR UPDATE SKIP LOCKED",
        // SQLite serialises writers; the single UPDATE … RETURNING is atomic there.
        _ => "",
    };
    let sql = format!(
        "UPDATE outbox SET status = '{in_flight}', locked_by = $1, locked_until = $2, \
           attempts = attempts + 1, updated_at = $3, \
           maybe_applied = CASE WHEN status = '{in_flight}' THEN TRUE ELSE maybe_applied END \
         WHERE id IN ({due} {lock}) \
         RETURNING *",
        in_flight = RowStatus::InFlight,
        due = due_rows_sql("$3", "$5", "$6", "$4"),
    );
    let stmt = Statement::from_sql_and_values(
        backend,
        sql,
        [
            worker.into(),
            terms.until(now).into(),
            now.into(),
            (limit as i64).into(),
            terms.expired_before(now).into(),
            i32::try_from(terms.max_attempts).unwrap_or(i32::MAX).into(),
        ],
    );
    let mut rows = Outbox::find().from_raw_sql(stmt).all(db).await?;
    // RETURNING gives no order; per-finding order is already guaranteed by the claim.
    rows.sort_by_key(|r| (r.next_attempt_at, r.id));
    Ok(rows)
}

/// The rows a claim may take, in claim order: `now`, `expired_before`, `max_attempts` and
/// `limit` are the placeholders of those values. The first condition is the predicate of the
/// partial index `ix_outbox_owed`, so the claim reads only owed rows, however many delivered
/// rows the table holds and whatever the planner's statistics say.
fn due_rows_sql(now: &str, expired_before: &str, max_attempts: &str, limit: &str) -> String {
    format!(
        "SELECT o.id FROM outbox o \
         WHERE o.status IN ('{pending}', '{in_flight}') \
           AND ((o.status = '{pending}' AND o.next_attempt_at <= {now}) \
                OR (o.status = '{in_flight}' AND o.locked_until < {expired_before} \
                    AND o.attempts - o.outage_attempts < {max_attempts})) \
           AND NOT EXISTS ( \
             SELECT 1 FROM outbox p \
             WHERE p.finding_id = o.finding_id AND p.seq < o.seq \
               AND (p.status IN ('{pending}', '{in_flight}') \
                    OR (p.status = '{dead}' AND p.op IN ({blocking}))) ) \
         ORDER BY o.next_attempt_at, o.id \
         LIMIT {limit}",
        pending = RowStatus::Pending,
        in_flight = RowStatus::InFlight,
        dead = RowStatus::Dead,
        blocking = blocking_dead_ops(),
    )
}

/// The engine's plan for finding the rows a claim takes (`EXPLAIN` on PostgreSQL,
/// `EXPLAIN QUERY PLAN` on SQLite), one line per step: to check the claim reads an index.
pub async fn claim_plan(
    db: &impl ConnectionTrait,
    terms: &ClaimTerms,
    now: DateTime<Utc>,
) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let (explain, column) = match backend {
        DbBackend::Postgres => ("EXPLAIN", 0),
        _ => ("EXPLAIN QUERY PLAN", 3),
    };
    let sql = format!("{explain} {}", due_rows_sql("$1", "$2", "$3", "1"));
    let stmt = Statement::from_sql_and_values(
        backend,
        sql,
        [
            now.into(),
            terms.expired_before(now).into(),
            i32::try_from(terms.max_attempts).unwrap_or(i32::MAX).into(),
        ],
    );
    db.query_all_raw(stmt)
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<String>(column))
        .collect::<Result<_, _>>()
        .map_err(|e| DbErr::Custom(format!("reading the plan: {e}")))
}

/// Buries the rows whose lease expired (more than `grace` ago) on their last attempt: their
/// worker died or stalled `max_attempts` times, and taking them over again would only add
/// attempts past the limit. Returns the rows buried.
pub async fn bury_exhausted(
    db: &impl ConnectionTrait,
    terms: &ClaimTerms,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxRow>, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "UPDATE outbox SET status = '{dead}', locked_by = NULL, locked_until = NULL, \
           updated_at = $1, \
           last_error = 'gave up after ' || CAST(attempts - outage_attempts AS TEXT) || ' attempts: the lease of the last one expired before its worker settled it' \
         WHERE status = '{in_flight}' AND locked_until < $2 AND attempts - outage_attempts >= $3 \
         RETURNING *",
        in_flight = RowStatus::InFlight,
        dead = RowStatus::Dead,
    );
    let stmt = Statement::from_sql_and_values(
        backend,
        sql,
        [
            now.into(),
            terms.expired_before(now).into(),
            i32::try_from(terms.max_attempts).unwrap_or(i32::MAX).into(),
        ],
    );
    Outbox::find().from_raw_sql(stmt).all(db).await
}

/// Extends the claim of `row` by `worker` to `until`, fenced like an ack. `false`: the row
/// is no longer this claim's (taken over, or settled), and nothing was changed.
pub async fn renew(
    db: &impl ConnectionTrait,
    row: &OutboxRow,
    worker: &str,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let updated = Outbox::update_many()
        .col_expr(Column::LockedUntil, Expr::value(until))
        .filter(fenced(row, worker))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Extends the claims of `rows` by `worker` to `until` in one statement, fenced like acks.
/// Returns how many are still this worker's: fewer than `rows.len()` means some were taken
/// over or settled, and those were not changed.
pub async fn renew_all(
    db: &impl ConnectionTrait,
    rows: &[OutboxRow],
    worker: &str,
    until: DateTime<Utc>,
) -> Result<u64, DbErr> {
    if rows.is_empty() {
        return Ok(0);
    }
    let updated = Outbox::update_many()
        .col_expr(Column::LockedUntil, Expr::value(until))
        .filter(fenced_all(rows.iter(), worker))
        .exec(db)
        .await?;
    Ok(updated.rows_affected)
}

/// Marks every claimed row of `rows` done in one statement. Returns how many were still
/// this worker's claims; the others were taken over and are left as they are.
pub async fn complete_all(
    db: &impl ConnectionTrait,
    rows: &[&OutboxRow],
    worker: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    if rows.is_empty() {
        return Ok(0);
    }
    let updated = Outbox::update_many()
        .col_expr(Column::Status, Expr::value(RowStatus::Done))
        .col_expr(Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .filter(fenced_all(rows.iter().copied(), worker))
        .exec(db)
        .await?;
    Ok(updated.rows_affected)
}

/// Fences an ack of several claims: each row at the attempt it was claimed, all by `worker`
/// and still in flight.
fn fenced_all<'a>(rows: impl Iterator<Item = &'a OutboxRow>, worker: &str) -> Condition {
    let claims = rows.fold(Condition::any(), |any, row| {
        any.add(Column::Id.eq(row.id).and(Column::Attempts.eq(row.attempts)))
    });
    Condition::all()
        .add(Column::LockedBy.eq(worker))
        .add(Column::Status.eq(RowStatus::InFlight))
        .add(claims)
}

/// Fences an ack to the claim it answers: same worker, same attempt, still in flight.
fn fenced(row: &OutboxRow, worker: &str) -> Expr {
    Column::Id
        .eq(row.id)
        .and(Column::LockedBy.eq(worker))
        .and(Column::Attempts.eq(row.attempts))
        .and(Column::Status.eq(RowStatus::InFlight))
}

/// The ack of a claim: `status`, the lock dropped, fenced to the claim it answers.
/// `apply` adds the columns particular to the outcome.
async fn settle(
    db: &impl ConnectionTrait,
    row: &OutboxRow,
    worker: &str,
    status: RowStatus,
    now: DateTime<Utc>,
    apply: impl FnOnce(sea_orm::UpdateMany<Outbox>) -> sea_orm::UpdateMany<Outbox>,
) -> Result<bool, DbErr> {
    let update = Outbox::update_many()
        .col_expr(Column::Status, Expr::value(status))
        .col_expr(Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(fenced(row, worker));
    Ok(apply(update).exec(db).await?.rows_affected == 1)
}

/// Marks the claimed row done. `false`: the lease was lost and nothing was changed.
pub async fn complete(
    db: &impl ConnectionTrait,
    row: &OutboxRow,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    settle(db, row, worker, RowStatus::Done, now, |u| {
        u.col_expr(Column::LastError, Expr::value(Option::<String>::None))
    })
    .await
}

/// Puts the claimed row back for another attempt at `next_attempt_at`.
pub async fn reschedule(
    db: &impl ConnectionTrait,
    row: &OutboxRow,
    worker: &str,
    next_attempt_at: DateTime<Utc>,
    error: &str,
    maybe_applied: bool,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    settle(db, row, worker, RowStatus::Pending, now, |u| {
        u.col_expr(Column::NextAttemptAt, Expr::value(next_attempt_at))
            .col_expr(Column::LastError, Expr::value(error))
            .col_expr(
                Column::MaybeApplied,
                Expr::value(row.maybe_applied || maybe_applied),
            )
    })
    .await
}

/// Puts the claimed row back after a ServiceNow outage, at `next_attempt_at`: like
/// `reschedule`, and the attempt is counted as an outage, so it does not use up the row's
/// attempts.
pub async fn postpone(
    db: &impl ConnectionTrait,
    row: &OutboxRow,
    worker: &str,
    next_attempt_at: DateTime<Utc>,
    error: &str,
    maybe_applied: bool,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    settle(db, row, worker, RowStatus::Pending, now, |u| {
        u.col_expr(Column::NextAttemptAt, Expr::value(next_attempt_at))
            .col_expr(Column::LastError, Expr::value(error))
            .col_expr(
                Column::MaybeApplied,
                Expr::value(row.maybe_applied || maybe_applied),
            )
            .col_expr(
                Column::OutageAttempts,
                Expr::col(Column::OutageAttempts).add(1),
            )
    })
    .await
}

/// The attempts of `row` that count against `max_attempts`: every claim but those that met
/// an outage.
pub fn spent(row: &OutboxRow) -> u32 {
    u32::try_from(row.attempts - row.outage_attempts).unwrap_or(0)
}

/// Gives the claimed row up: `dead`, with the reason, until an operator revives it.
pub async fn bury(
    db: &impl ConnectionTrait,
    row: &OutboxRow,
    worker: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    settle(db, row, worker, RowStatus::Dead, now, |u| {
        u.col_expr(Column::LastError, Expr::value(reason))
    })
    .await
}

/// Revives a dead row (`outbox retry`): pending now, attempts reset, with `payload` when
/// one is given (rendered again from fixed mappings). `false` if the row is not dead.
pub async fn revive(
    db: &impl ConnectionTrait,
    id: i64,
    payload: Option<serde_json::Value>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let mut update = Outbox::update_many();
    if let Some(payload) = payload {
        update = update.col_expr(Column::Payload, Expr::value(payload));
    }
    let result = update
        .col_expr(Column::Status, Expr::value(RowStatus::Pending))
        .col_expr(Column::Attempts, Expr::value(0))
        .col_expr(Column::OutageAttempts, Expr::value(0))
        .col_expr(Column::NextAttemptAt, Expr::value(now))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(RowStatus::Dead))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes done rows last changed before `before`; returns how many.
pub async fn purge_done(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let result = Outbox::delete_many()
        .filter(Column::Status.eq(RowStatus::Done))
        .filter(Column::UpdatedAt.lt(before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Rows in a state (or all), newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    state: Option<RowStatus>,
    limit: u64,
) -> Result<Vec<OutboxRow>, DbErr> {
    let mut query = Outbox::find().order_by_desc(Column::Id).limit(limit);
    if let Some(state) = state {
        query = query.filter(Column::Status.eq(state));
    }
    query.all(db).await
}

/// The ids of dead rows, of one finding and one operation when given, in delivery order.
pub async fn dead_ids(
    db: &impl ConnectionTrait,
    finding_id: Option<i64>,
    op: Option<OpKind>,
) -> Result<Vec<i64>, DbErr> {
    let mut query = Outbox::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Status.eq(RowStatus::Dead))
        .order_by_asc(Column::FindingId)
        .order_by_asc(Column::Seq);
    if let Some(finding_id) = finding_id {
        query = query.filter(Column::FindingId.eq(finding_id));
    }
    if let Some(op) = op {
        query = query.filter(Column::Op.eq(op));
    }
    query.into_tuple::<i64>().all(db).await
}

/// One row by id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<OutboxRow>, DbErr> {
    Outbox::find_by_id(id).one(db).await
}

/// Rows of one finding in delivery order.
pub async fn of_finding(
    db: &impl ConnectionTrait,
    finding_id: i64,
) -> Result<Vec<OutboxRow>, DbErr> {
    Outbox::find()
        .filter(Column::FindingId.eq(finding_id))
        .order_by_asc(Column::Seq)
        .all(db)
        .await
}

/// Row counts per status, and the age of the oldest pending row, for `/metrics`.
pub async fn counts(db: &impl ConnectionTrait) -> Result<Vec<(RowStatus, i64)>, DbErr> {
    Outbox::find()
        .select_only()
        .column(Column::Status)
        .column_as(Column::Id.count(), "n")
        .group_by(Column::Status)
        .into_tuple::<(RowStatus, i64)>()
        .all(db)
        .await
}

/// Rows still owed that can make progress: pending or in flight, and not held back by a
/// dead row of their finding. Zero means the outbox is drained or stuck on dead rows.
pub async fn owed(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT COUNT(*) FROM outbox o WHERE o.status IN ('{pending}', '{in_flight}') \
           AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.finding_id = o.finding_id \
             AND p.seq < o.seq AND p.status = '{dead}' AND p.op IN ({blocking}))",
        pending = RowStatus::Pending,
        in_flight = RowStatus::InFlight,
        dead = RowStatus::Dead,
        blocking = blocking_dead_ops(),
    );
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?;
    Ok(row
        .map(|r| r.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0))
}

fn blocking_dead_ops() -> String {
    OpKind::ALL
        .iter()
        .filter(|k| k.blocks_successors_when_dead())
        .map(|k| format!("'{}'", k.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// When the oldest row still owed to ServiceNow was enqueued.
pub async fn oldest_pending(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(Outbox::find()
        .filter(Column::Status.is_in([RowStatus::Pending, RowStatus::InFlight]))
        .order_by_asc(Column::CreatedAt)
        .one(db)
        .await?
        .map(|r| r.created_at))
}

/// Settles the finding's pending ticket writes as done without sending them, with `reason`:
/// the help desk closed the ticket, and an update, escalation or close of ours would only
/// reopen or touch a ticket that is finished. Tags and notifications still go out. Returns
/// how many rows were settled.
pub async fn skip_pending_writes(
    db: &impl ConnectionTrait,
    finding_id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let result = Outbox::update_many()
        .col_expr(Column::Status, Expr::value(RowStatus::Done))
        .col_expr(Column::LastError, Expr::value(reason))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::FindingId.eq(finding_id))
        .filter(Column::Status.eq(RowStatus::Pending))
        .filter(Column::Op.is_in([
            OpKind::UpdateTicket,
            OpKind::CloseTicket,
            OpKind::EscalateTicket,
        ]))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
