//! Read-only queries for the HTTP API and the console: pages of findings with their ticket
//! links, one finding with everything stored about it, pages of outbox rows, and the
//! counts, errors, watermarks and lease of the overview. Nothing here writes or opens a transaction.
//!
//! A page costs two statements whatever its size: the findings, then their links in one
//! batch; never one statement per finding.

use std::collections::HashMap;

use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::entity::{audit, finding, lease, outbox, poll_cursor, ticket_link};
use super::findings;
use super::outbox::RowStatus;
use crate::domain::FindingStatus;
use crate::operation::OpKind;

/// Which findings a page holds; every filter set narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingFilter {
    pub status: Option<FindingStatus>,
    pub source: Option<String>,
    pub check_id: Option<String>,
    /// The `number` of the linked ticket, e.g. `INC0010001`.
    pub ticket: Option<String>,
}

/// One finding and its ticket link, when it has one.
#[derive(Debug, Clone)]
pub struct FindingRow {
    pub finding: finding::Model,
    pub ticket: Option<ticket_link::Model>,
}

/// One page of findings, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    pub rows: Vec<FindingRow>,
    /// Whether findings older than the last row match the filter too.
    pub more: bool,
}

/// The findings matching `filter` with an id below `before` (all of them without it),
/// newest first, at most `limit`: keyset pagination on the id, which only grows.
pub async fn findings_page(
    db: &impl ConnectionTrait,
    filter: &FindingFilter,
    before: Option<i64>,
    limit: u64,
) -> Result<Page, DbErr> {
    let mut condition = Condition::all();
    if let Some(status) = filter.status {
        condition = condition.add(finding::Column::Status.eq(status));
    }
    if let Some(source) = &filter.source {
        condition = condition.add(finding::Column::Source.eq(source.as_str()));
    }
    if let Some(check_id) = &filter.check_id {
        condition = condition.add(finding::Column::CheckId.eq(check_id.as_str()));
    }
    if let Some(number) = &filter.ticket {
        condition = condition.add(
            finding::Column::Id.in_subquery(
                Query::select()
                    .column(ticket_link::Column::FindingId)
                    .from(ticket_link::Entity)
                    .and_where(ticket_link::Column::Number.eq(number.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(before) = before {
        condition = condition.add(finding::Column::Id.lt(before));
    }
    // One row more than asked tells whether another page follows.
    let mut found = finding::Entity::find()
        .filter(condition)
        .order_by_desc(finding::Column::Id)
        .limit(limit.saturating_add(1))
        .all(db)
        .await?;
    let more = found.len() as u64 > limit;
    found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    // A member of a group shows its group's ticket.
    let ids: Vec<i64> = found
        .iter()
        .flat_map(|f| std::iter::once(f.id).chain(f.group_id))
        .collect();
    let links = links_of(db, ids).await?;
    let rows = found
        .into_iter()
        .map(|finding| FindingRow {
            ticket: ticket_of(&links, &finding),
            finding,
        })
        .collect();
    Ok(Page { rows, more })
}

/// The ticket of `finding`: its own, or its group's.
fn ticket_of(
    links: &HashMap<i64, ticket_link::Model>,
    finding: &finding::Model,
) -> Option<ticket_link::Model> {
    links
        .get(&finding.id)
        .or_else(|| finding.group_id.and_then(|g| links.get(&g)))
        .cloned()
}

/// The ticket links of `ids`, in one statement, by finding id.
async fn links_of(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, ticket_link::Model>, DbErr> {
    let ids: Vec<i64> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(ticket_link::Entity::find()
        .filter(ticket_link::Column::FindingId.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|link| (link.finding_id, link))
        .collect())
}

/// Everything stored about one finding.
#[derive(Debug, Clone)]
pub struct FindingDetail {
    pub finding: finding::Model,
    pub ticket: Option<ticket_link::Model>,
    /// Its outbox rows in `seq` order.
    pub outbox: Vec<outbox::Model>,
    /// Its audit trail, oldest first.
    pub audit: Vec<audit::Model>,
}

/// The finding `id` with its link, outbox rows and audit trail; `None` when there is none.
pub async fn finding_detail(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<FindingDetail>, DbErr> {
    let Some(finding) = findings::get(db, id).await? else {
        return Ok(None);
    };
    let ticket = match (findings::link(db, id).await?, finding.group_id) {
        (None, Some(group)) => findings::link(db, group).await?,
        (own, _) => own,
    };
    Ok(Some(FindingDetail {
        ticket,
        outbox: super::outbox::of_finding(db, id).await?,
        audit: findings::audit_trail(db, id).await?,
        finding,
    }))
}

/// How many findings stand in each status; statuses without findings are left out.
pub async fn finding_counts(db: &impl ConnectionTrait) -> Result<Vec<(FindingStatus, i64)>, DbErr> {
    finding::Entity::find()
        .select_only()
        .column(finding::Column::Status)
        .column_as(finding::Column::Id.count(), "n")
        .group_by(finding::Column::Status)
        .into_tuple::<(FindingStatus, i64)>()
        .all(db)
        .await
}

/// Which outbox rows a page holds; every filter set narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxFilter {
    pub status: Option<RowStatus>,
    pub finding_id: Option<i64>,
    pub op: Option<OpKind>,
}

/// One page of outbox rows, newest first.
#[derive(Debug, Clone)]
pub struct OutboxPage {
    pub rows: Vec<outbox::Model>,
    /// Whether rows older than the last one match the filter too.
    pub more: bool,
}

/// The outbox rows matching `filter` with an id below `before`, newest first, at most
/// `limit`: keyset pagination on the id, as for findings.
pub async fn outbox_page(
    db: &impl ConnectionTrait,
    filter: &OutboxFilter,
    before: Option<i64>,
    limit: u64,
) -> Result<OutboxPage, DbErr> {
    let mut condition = Condition::all();
    if let Some(status) = filter.status {
        condition = condition.add(outbox::Column::Status.eq(status));
    }
    if let Some(finding_id) = filter.finding_id {
        condition = condition.add(outbox::Column::FindingId.eq(finding_id));
    }
    if let Some(op) = filter.op {
        condition = condition.add(outbox::Column::Op.eq(op));
    }
    if let Some(before) = before {
        condition = condition.add(outbox::Column::Id.lt(before));
    }
    let mut rows = outbox::Entity::find()
        .filter(condition)
        .order_by_desc(outbox::Column::Id)
        .limit(limit.saturating_add(1))
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(OutboxPage { rows, more })
}

/// The rows still owed or dead that carry an error, most recently changed first: what
/// went wrong last.
pub async fn recent_errors(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<outbox::Model>, DbErr> {
    outbox::Entity::find()
        .filter(outbox::Column::LastError.is_not_null())
        .filter(outbox::Column::Status.is_in([
            RowStatus::Pending,
            RowStatus::InFlight,
            RowStatus::Dead,
        ]))
        .order_by_desc(outbox::Column::UpdatedAt)
        .limit(limit)
        .all(db)
        .await
}

/// The poller's watermarks, one per polled table.
pub async fn watermarks(db: &impl ConnectionTrait) -> Result<Vec<poll_cursor::Model>, DbErr> {
    poll_cursor::Entity::find()
        .order_by_asc(poll_cursor::Column::TableName)
        .all(db)
        .await
}

/// The named lease (`poller`), when one was ever taken.
pub async fn lease(db: &impl ConnectionTrait, name: &str) -> Result<Option<lease::Model>, DbErr> {
    lease::Entity::find_by_id(name.to_owned()).one(db).await
}
