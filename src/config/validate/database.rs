//! The `[database]` section: a SQLite or PostgreSQL URL, the schema name, the pool.

use std::time::Duration;

use super::count;

/// The largest pool; PostgreSQL's default `max_connections` is 100 for the whole server.
const MAX_CONNECTIONS: u32 = 1_000;
use crate::config::raw::Database;
use crate::config::{ConfigError, DatabaseConfig};

pub(super) fn database(origin: &str, db: Database) -> Result<DatabaseConfig, ConfigError> {
    let url = db
        .url
        .unwrap_or_else(|| "sqlite://data/snowsync.db?mode=rwc".to_owned());
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        return Err(ConfigError::new(
            origin,
            "database.url",
            "must start with sqlite:, postgres:// or postgresql://",
        ));
    }
    if let Some(schema) = &db.schema
        && !is_schema_name(schema)
    {
        return Err(ConfigError::new(
            origin,
            "database.schema",
            "must be letters, digits and `_`, not starting with a digit",
        ));
    }
    Ok(DatabaseConfig {
        url,
        schema: db.schema,
        max_connections: count(
            origin,
            "database.max_connections",
            db.max_connections.unwrap_or(10),
            MAX_CONNECTIONS,
        )?,
        busy_timeout: db.busy_timeout.unwrap_or(Duration::from_secs(5)),
    })
}

/// Letters, digits and `_`, not empty and not starting with a digit: safe to splice into SQL.
fn is_schema_name(schema: &str) -> bool {
    !schema.is_empty()
        && schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit())
}
