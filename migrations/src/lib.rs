//! Schema migrations for the snowsync store, identical on SQLite and PostgreSQL.
//!
//! The invariants the database itself enforces live here, next to the tables:
//! one open finding per key, one ticket link per finding, outbox rows ordered per finding.
pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261204_000001_reverse_sync;
mod m20261205_000001_outbox_owed_index;
mod m20261205_000002_outbox_outage_attempts;
mod m20261210_000001_oauth_refresh_tokens;
mod m20261212_000001_finding_groups;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261204_000001_reverse_sync::Migration),
            Box::new(m20261205_000001_outbox_owed_index::Migration),
            Box::new(m20261205_000002_outbox_outage_attempts::Migration),
            Box::new(m20261210_000001_oauth_refresh_tokens::Migration),
            Box::new(m20261212_000001_finding_groups::Migration),
        ]
    }
}
