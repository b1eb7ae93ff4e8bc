//! The `ticket_links` table: the one ServiceNow record of a finding.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_links")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub finding_id: i64,
    pub table_name: String,
    pub correlation_id: String,
    pub sys_id: Option<String>,
    pub number: Option<String>,
    pub state: Option<String>,
    pub approval: Option<String>,
    pub priority: Option<String>,
    pub assignment_group: Option<String>,
    pub sys_mod_count: Option<i64>,
    pub sys_updated_on: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
