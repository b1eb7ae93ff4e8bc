//! Shared test support: fresh databases on both engines.
#![allow(dead_code)]

pub mod app;
pub mod console;
pub mod harness;
pub mod receiver;
pub mod tools;

use std::time::Duration;

use sea_orm::DatabaseConnection;
use snowsync::config::DatabaseConfig;

/// The PostgreSQL server tests use; `.ci/run` sets it, this machine's server is the default.
pub fn postgres_url() -> String {
    std::env::var("SNOWSYNC_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database used by one test: a temporary SQLite file or a PostgreSQL schema of its own.
pub struct TestDb {
    pub config: DatabaseConfig,
    pub engine: Engine,
    _dir: Option<tempfile::TempDir>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl TestDb {
    pub fn new(engine: Engine) -> Self {
        match engine {
            Engine::Sqlite => Self::sqlite(),
            Engine::Postgres => Self::postgres(),
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("snowsync.db").display()
        );
        Self {
            config: config(url, None),
            engine: Engine::Sqlite,
            _dir: Some(dir),
        }
    }

    pub fn postgres() -> Self {
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        Self {
            config: config(postgres_url(), Some(schema)),
            engine: Engine::Postgres,
            _dir: None,
        }
    }

    /// Connects and applies the migrations.
    pub async fn open(&self) -> DatabaseConnection {
        snowsync::store::open(&self.config)
            .await
            .expect("open and migrate the test database")
    }
}

fn config(url: String, schema: Option<String>) -> DatabaseConfig {
    DatabaseConfig {
        url,
        schema,
        max_connections: 5,
        busy_timeout: Duration::from_secs(10),
    }
}

/// Defines `mod name { sqlite; postgres }`: one async test body run on each engine.
#[macro_export]
macro_rules! on_both_engines {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($db: $crate::support::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::support::TestDb::new($crate::support::Engine::Sqlite)).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run($crate::support::TestDb::new($crate::support::Engine::Postgres)).await
            }
        }
    };
}
