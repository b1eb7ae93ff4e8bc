//! Outages do not use up a row's attempts: `outbox.outage_attempts` counts the attempts that
//! met a ServiceNow outage, and the limit applies to `attempts - outage_attempts`.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000002_outbox_outage_attempts"
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    OutageAttempts,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(integer(Outbox::OutageAttempts).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .drop_column(Outbox::OutageAttempts)
                    .to_owned(),
            )
            .await
    }
}
