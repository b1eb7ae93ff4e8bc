//! Groups of findings sharing one ticket (`group_by = "check"`): each generation of a
//! check's group is a finding row with `is_group`, and its members point at it with
//! `group_id`. Intake reads them to plan a membership change; the poller, to pass a
//! grouped ticket's closing on to every member.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::entity::finding;
use crate::domain::{FindingKind, FindingStatus};

/// Every generation of the group of one check, oldest first, open or resolved.
pub async fn of_check(
    db: &impl ConnectionTrait,
    source: &str,
    kind: FindingKind,
    check_id: &str,
) -> Result<Vec<finding::Model>, DbErr> {
    finding::Entity::find()
        .filter(finding::Column::IsGroup.eq(true))
        .filter(finding::Column::Source.eq(source))
        .filter(finding::Column::Kind.eq(kind))
        .filter(finding::Column::CheckId.eq(check_id))
        .order_by_asc(finding::Column::Id)
        .all(db)
        .await
}

/// The members of a group still failing (open or escalated), in the order they joined.
pub async fn open_members(
    db: &impl ConnectionTrait,
    group_id: i64,
) -> Result<Vec<finding::Model>, DbErr> {
    finding::Entity::find()
        .filter(finding::Column::GroupId.eq(group_id))
        .filter(finding::Column::Status.ne(FindingStatus::Resolved))
        .order_by_asc(finding::Column::Id)
        .all(db)
        .await
}
