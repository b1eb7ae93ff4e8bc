//! The store's side of reverse sync: ticket links found by ServiceNow's identity, the
//! poller's watermarks, and the named leases that elect one poller among instances.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QuerySelect, Set,
};

use super::entity::{finding, lease, poll_cursor, ticket_link};
use super::findings::TicketSnapshot;
use crate::domain::FindingStatus;

/// The link of a ticket: by `(table, sys_id)`, else by its exact correlation id while the
/// create's answer is not yet recorded. `lock` takes a row lock on PostgreSQL, so two
/// appliers of one change queue up and the second sees the first's result.
pub async fn link_of_ticket(
    db: &impl ConnectionTrait,
    table: &str,
    sys_id: &str,
    correlation_id: Option<&str>,
    lock: bool,
) -> Result<Option<ticket_link::Model>, DbErr> {
    let locked = |q: sea_orm::Select<ticket_link::Entity>| {
        if lock && db.get_database_backend() == DbBackend::Postgres {
            q.lock_exclusive()
        } else {
            q
        }
    };
    let by_sys_id = locked(
        ticket_link::Entity::find()
            .filter(ticket_link::Column::TableName.eq(table))
            .filter(ticket_link::Column::SysId.eq(sys_id)),
    )
    .one(db)
    .await?;
    if by_sys_id.is_some() {
        return Ok(by_sys_id);
    }
    let Some(correlation_id) = correlation_id else {
        return Ok(None);
    };
    locked(
        ticket_link::Entity::find()
            .filter(ticket_link::Column::TableName.eq(table))
            .filter(ticket_link::Column::CorrelationId.eq(correlation_id))
            .filter(ticket_link::Column::SysId.is_null()),
    )
    .one(db)
    .await
}

/// Records what the poller read of a ticket.
pub async fn record_snapshot(
    db: &impl ConnectionTrait,
    link: &ticket_link::Model,
    seen: &TicketSnapshot,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut active: ticket_link::ActiveModel = link.clone().into();
    active.sys_id = Set(seen.sys_id.clone().or_else(|| link.sys_id.clone()));
    active.number = Set(seen.number.clone().or_else(|| link.number.clone()));
    active.state = Set(seen.state.clone());
    if seen.approval.is_some() {
        active.approval = Set(seen.approval.clone());
    }
    active.priority = Set(seen.priority.clone());
    active.assignment_group = Set(seen.assignment_group.clone());
    active.sys_mod_count = Set(seen.sys_mod_count);
    active.sys_updated_on = Set(seen.sys_updated_on.clone());
    active.updated_at = Set(now);
    active.update(db).await.map(drop)
}

/// Moves a finding to `to` because of its ticket; `resolved_by` and `decision` when given.
pub async fn set_finding_from_ticket(
    db: &impl ConnectionTrait,
    found: &finding::Model,
    to: FindingStatus,
    decision: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut active: finding::ActiveModel = found.clone().into();
    active.status = Set(to);
    match to {
        FindingStatus::Resolved if found.status != FindingStatus::Resolved => {
            active.resolved_by = Set(Some("ticket".to_owned()));
            active.resolved_at = Set(Some(now));
        }
        FindingStatus::Open | FindingStatus::Escalated => {
            active.resolved_by = Set(None);
            active.resolved_at = Set(None);
        }
        FindingStatus::Resolved => {}
    }
    if let Some(decision) = decision {
        active.decision = Set(Some(decision.to_owned()));
    }
    active.updated_at = Set(now);
    active.update(db).await.map(drop)
}

/// The watermark of `table`: the `sys_updated_on` up to which every change was applied.
pub async fn watermark(
    db: &impl ConnectionTrait,
    table: &str,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let row = poll_cursor::Entity::find_by_id(table.to_owned())
        .one(db)
        .await?;
    Ok(row.and_then(|r| {
        DateTime::parse_from_rfc3339(&r.watermark)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }))
}

/// Sets the watermark of `table` to `at` (never backwards).
pub async fn advance_watermark(
    db: &impl ConnectionTrait,
    table: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if watermark(db, table).await?.is_some_and(|w| w >= at) {
        return Ok(());
    }
    poll_cursor::Entity::insert(poll_cursor::ActiveModel {
        table_name: Set(table.to_owned()),
        watermark: Set(at.to_rfc3339()),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(poll_cursor::Column::TableName)
            .update_columns([
                poll_cursor::Column::Watermark,
                poll_cursor::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(db)
    .await
    .map(drop)
}

/// Takes or renews the lease `name` for `holder` until `now + ttl`. Returns the fencing
/// token while `holder` holds it: the same token on a renewal, the next one on a takeover
/// of an expired lease, `None` while another holder's lease runs.
pub async fn hold_lease(
    db: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    ttl: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<Option<i64>, DbErr> {
    let until = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60));
    let Some(current) = lease::Entity::find_by_id(name.to_owned()).one(db).await? else {
        let inserted = lease::Entity::insert(lease::ActiveModel {
            name: Set(name.to_owned()),
            holder: Set(holder.to_owned()),
            token: Set(1),
            expires_at: Set(until),
        })
        .on_conflict(
            OnConflict::column(lease::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        return Ok((inserted == 1).then_some(1));
    };
    let (token, condition) = if current.holder == holder && current.expires_at >= now {
        (current.token, lease::Column::Holder.eq(holder))
    } else if current.expires_at < now {
        (current.token + 1, lease::Column::ExpiresAt.lt(now))
    } else {
        return Ok(None);
    };
    // Compare-and-set on the token read: of two instances taking an expired lease over,
    // one changes the row and the other finds the token moved.
    let updated = lease::Entity::update_many()
        .col_expr(lease::Column::Holder, Expr::value(holder))
        .col_expr(lease::Column::Token, Expr::value(token))
        .col_expr(lease::Column::ExpiresAt, Expr::value(until))
        .filter(lease::Column::Name.eq(name))
        .filter(lease::Column::Token.eq(current.token))
        .filter(condition)
        .exec(db)
        .await?;
    Ok((updated.rows_affected == 1).then_some(token))
}

/// Whether `holder` still holds `name` with `token` at `now`. Inside a write transaction
/// it also keeps a takeover out until the transaction ends: on PostgreSQL the no-op update
/// locks the lease row, on SQLite the transaction holds the write lock.
pub async fn fence(
    db: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    token: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let touched = lease::Entity::update_many()
        .col_expr(lease::Column::Token, Expr::col(lease::Column::Token))
        .filter(lease::Column::Name.eq(name))
        .filter(lease::Column::Holder.eq(holder))
        .filter(lease::Column::Token.eq(token))
        .filter(lease::Column::ExpiresAt.gte(now))
        .exec(db)
        .await?;
    Ok(touched.rows_affected == 1)
}

/// The latest resolved finding with `key`, for recurrences.
pub async fn last_resolved(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<finding::Model>, DbErr> {
    use sea_orm::QueryOrder;
    finding::Entity::find()
        .filter(finding::Column::FindingKey.eq(key))
        .filter(finding::Column::Status.eq(FindingStatus::Resolved))
        .order_by_desc(finding::Column::Id)
        .one(db)
        .await
}

/// How many findings ever had `key`: the generation of the next ticket is one more.
pub async fn generations(db: &impl ConnectionTrait, key: &str) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    finding::Entity::find()
        .filter(finding::Column::FindingKey.eq(key))
        .count(db)
        .await
}
