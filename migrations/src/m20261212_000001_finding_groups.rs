//! Tickets grouped by check (`group_by = "check"`): a group is a finding row of its own
//! (`is_group`), which owns the ticket link and the outbox rows; its members are ordinary
//! findings that point at it through `group_id` and have no ticket or rows of their own.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261212_000001_finding_groups"
    }
}

#[derive(DeriveIden)]
enum Findings {
    Table,
    GroupId,
    IsGroup,
    Source,
    Kind,
    CheckId,
    Status,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Findings::Table)
                    .add_column(big_integer_null(Findings::GroupId))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Findings::Table)
                    .add_column(boolean(Findings::IsGroup).default(false))
                    .to_owned(),
            )
            .await?;
        // The open members of a group, read at every membership change and when its ticket
        // closes.
        manager
            .create_index(
                Index::create()
                    .name("ix_findings_group_member")
                    .table(Findings::Table)
                    .col(Findings::GroupId)
                    .col(Findings::Status)
                    .to_owned(),
            )
            .await?;
        // The groups (generations) of one check.
        manager
            .create_index(
                Index::create()
                    .name("ix_findings_group_of_check")
                    .table(Findings::Table)
                    .col(Findings::Source)
                    .col(Findings::Kind)
                    .col(Findings::CheckId)
                    .col(Findings::IsGroup)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_findings_group_of_check", "ix_findings_group_member"] {
            manager
                .drop_index(Index::drop().name(name).table(Findings::Table).to_owned())
                .await?;
        }
        for column in [Findings::IsGroup, Findings::GroupId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Findings::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
