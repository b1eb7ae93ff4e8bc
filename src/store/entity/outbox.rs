//! The `outbox` table: one row per ServiceNow operation still owed or already done.

use sea_orm::entity::prelude::*;

use crate::operation::OpKind;
use crate::store::outbox::RowStatus;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub finding_id: i64,
    pub seq: i64,
    pub op: OpKind,
    pub payload: Json,
    pub status: RowStatus,
    /// Every claim, a takeover included.
    pub attempts: i32,
    pub next_attempt_at: ChronoDateTimeUtc,
    pub locked_by: Option<String>,
    pub locked_until: Option<ChronoDateTimeUtc>,
    pub last_error: Option<String>,
    pub maybe_applied: bool,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    /// The attempts that met a ServiceNow outage: they do not count against the limit.
    pub outage_attempts: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
