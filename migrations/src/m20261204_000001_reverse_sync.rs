//! Reverse sync: the ticket values the poller decides on, and when a finding was resolved.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000001_reverse_sync"
    }
}

#[derive(DeriveIden)]
enum Findings {
    Table,
    ResolvedAt,
}

#[derive(DeriveIden)]
enum TicketLinks {
    Table,
    Approval,
    Priority,
    AssignmentGroup,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Findings::Table)
                    .add_column(timestamp_with_time_zone_null(Findings::ResolvedAt))
                    .to_owned(),
            )
            .await?;
        for column in [
            TicketLinks::Approval,
            TicketLinks::Priority,
            TicketLinks::AssignmentGroup,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(TicketLinks::Table)
                        .add_column(string_null(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Findings::Table)
                    .drop_column(Findings::ResolvedAt)
                    .to_owned(),
            )
            .await?;
        for column in [
            TicketLinks::Approval,
            TicketLinks::Priority,
            TicketLinks::AssignmentGroup,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(TicketLinks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
