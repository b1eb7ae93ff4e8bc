//! The claim's index: only the rows still owed, so a claim costs the same however many
//! delivered rows the outbox keeps, whatever the planner's statistics say.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000001_outbox_owed_index"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Partial, in the claim's own order: with statistics taken while most rows were
        // pending, PostgreSQL otherwise scans every delivered row (measured: 171 ms for
        // 50,000 done rows against 0.1 ms with this index). The claim's condition repeats
        // the predicate (`status IN ('pending', 'in_flight')`) so the planner can use it.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS ix_outbox_owed ON outbox (next_attempt_at, id) \
                 WHERE status IN ('pending', 'in_flight')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS ix_outbox_owed")
            .await?;
        Ok(())
    }
}
