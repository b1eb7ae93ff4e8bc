//! The durable store: connection set-up and migrations for SQLite and PostgreSQL.
//!
//! Repository functions take `&impl ConnectionTrait` so that callers choose the transaction.
//! This module never talks to ServiceNow.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

use crate::config::DatabaseConfig;

/// Which engine a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn of(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL must start with sqlite:, postgres:// or postgresql://")]
    UnsupportedUrl,
    #[error("cannot create the directory for the SQLite file {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "no database at {path}: nothing has been recorded with this configuration yet (check --config or database.url; `snowsync migrate` or `snowsync serve` creates it)"
    )]
    Missing { path: String },
    #[error(
        "the database {url} is not migrated ({pending} migration(s) not applied): run `snowsync migrate`"
    )]
    NotMigrated { url: String, pending: usize },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// How much of a SQLite file is memory-mapped.
const MMAP_BYTES: u64 = 256 * 1024 * 1024;

/// Opens a pool on `config.url`. SQLite gets WAL, a busy timeout and foreign keys on;
/// PostgreSQL gets the busy timeout as its `lock_timeout`.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, StoreError> {
    connect_with(config, true).await
}

/// Opens a database that must already exist with its schema up to date, creating and
/// migrating nothing: what read-only commands and repairs use, so the wrong folder or URL
/// is an error naming the path rather than a new empty database.
pub async fn open_existing(config: &DatabaseConfig) -> Result<DatabaseConnection, StoreError> {
    if let Some(path) = sqlite_path(&config.url)
        && !std::path::Path::new(path).exists()
    {
        return Err(StoreError::Missing {
            path: crate::config::paths::absolute(
                std::path::Path::new("."),
                std::path::Path::new(path),
            )
            .display()
            .to_string(),
        });
    }
    let db = connect_with(config, false).await?;
    let pending = Migrator::get_pending_migrations_read_only(&db).await?.len();
    if pending > 0 {
        return Err(StoreError::NotMigrated {
            url: crate::redact::url(&config.url),
            pending,
        });
    }
    Ok(db)
}

/// The file of a SQLite URL; `None` for an in-memory database or another engine.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then_some(path)
}

async fn connect_with(
    config: &DatabaseConfig,
    create: bool,
) -> Result<DatabaseConnection, StoreError> {
    let engine = Engine::of(&config.url).ok_or(StoreError::UnsupportedUrl)?;
    if engine == Engine::Sqlite && create {
        ensure_sqlite_dir(&config.url)?;
    }
    let mut options = ConnectOptions::new(config.url.clone());
    options
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    if let (Engine::Postgres, Some(schema)) = (engine, &config.schema) {
        if create {
            create_schema(&config.url, schema).await?;
        }
        options.set_schema_search_path(schema.clone());
    }
    if engine == Engine::Postgres {
        // The busy timeout's PostgreSQL half: a statement waits this long for a lock, then
        // fails as "unavailable" (a 503 at the API) instead of holding a request forever.
        let millis = config.busy_timeout.as_millis().max(1);
        options.map_sqlx_postgres_opts(move |o| o.options([("lock_timeout", millis)]));
    }
    if engine == Engine::Sqlite {
        let busy = config.busy_timeout;
        options.map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(busy)
                .foreign_keys(true)
                // Another connection's commit empties this one's page cache (WAL); mapped
                // pages are re-read from the OS page cache without a copy per page.
                .pragma("mmap_size", MMAP_BYTES.to_string())
        });
    }
    Ok(Database::connect(options).await?)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// Opens the database and brings its schema up to date.
pub async fn open(config: &DatabaseConfig) -> Result<DatabaseConnection, StoreError> {
    let db = connect(config).await?;
    migrate(&db).await?;
    Ok(db)
}

async fn create_schema(url: &str, schema: &str) -> Result<(), StoreError> {
    use sea_orm::ConnectionTrait;
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await?;
    // Invariant: `schema` was validated by the config as [A-Za-z0-9_]+, so quoting is enough.
    db.execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .await?;
    db.close().await?;
    Ok(())
}

fn ensure_sqlite_dir(url: &str) -> Result<(), StoreError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(())
}

pub mod credentials;
pub mod entity;
pub mod findings;
pub mod group_commit;
pub mod groups;
pub mod outbox;
pub mod queries;
pub mod sync;

/// Begins a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`IMMEDIATE`): a deferred transaction that reads first cannot upgrade after another
/// writer commits (SQLITE_BUSY_SNAPSHOT), and the busy timeout does not help there.
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// A stand-in for `err` (`DbErr` is not `Clone`) that keeps what callers decide on: an
/// unavailable database stays unavailable (`is_unavailable`), anything else keeps its text.
pub fn copy_of(err: &DbErr) -> DbErr {
    if is_unavailable(err) {
        DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout)
    } else {
        DbErr::Custom(err.to_string())
    }
}

/// Whether `err` says the database cannot take the request now rather than that the request
/// is wrong: the pool exhausted or closed, the connection lost, SQLite's write lock still
/// held when the busy timeout ran out, PostgreSQL's `lock_timeout` reached or the server
/// shutting down. The API answers these with 503 and `Retry-After`, never 500.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    let runtime = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else {
        return false;
    };
    use sea_orm::sqlx::Error;
    match sqlx.as_ref() {
        Error::PoolTimedOut | Error::PoolClosed | Error::Io(_) | Error::WorkerCrashed => true,
        Error::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// SQLite's (extended) result codes for a busy or locked database, and PostgreSQL's
/// SQLSTATEs for a lock not granted in time, a lost connection or a server going away.
fn unavailable_code(code: &str) -> bool {
    if let Ok(sqlite) = code.parse::<u32>() {
        // The primary code is the low byte: SQLITE_BUSY (5), SQLITE_LOCKED (6).
        return matches!(sqlite & 0xff, 5 | 6);
    }
    code.starts_with("08") || matches!(code, "55P03" | "57P01" | "57P02" | "57P03" | "53300")
}

/// Whether the database answers and its schema is the one this build migrates to: what
/// "ready to accept and store" means for `/readyz`.
pub async fn ready(db: &DatabaseConnection) -> Result<(), String> {
    db.ping().await.map_err(|e| e.to_string())?;
    let pending = Migrator::get_pending_migrations_read_only(db)
        .await
        .map_err(|e| e.to_string())?;
    if pending.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} migration(s) not applied: {}",
            pending.len(),
            pending
                .iter()
                .map(|m| m.name().to_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}
