//! The `findings` table.

use sea_orm::entity::prelude::*;

use crate::domain::{FindingKind, FindingStatus};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "findings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub finding_key: String,
    pub source: String,
    pub kind: FindingKind,
    pub check_id: String,
    pub subject: String,
    pub title: String,
    pub severity: String,
    pub status: FindingStatus,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<ChronoDateTimeUtc>,
    pub decision: Option<String>,
    pub occurrences: i64,
    pub first_seen: ChronoDateTimeUtc,
    pub last_seen: ChronoDateTimeUtc,
    pub rule: Option<String>,
    pub profile: Option<String>,
    pub payload: Json,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    /// The group (`group_by = "check"`) whose ticket lists this finding.
    pub group_id: Option<i64>,
    /// This row is a group: it owns the ticket and the outbox rows of its members.
    pub is_group: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
