//! One way to open a database: SQLite for the embedded run, PostgreSQL in production. The
//! code above this line does not care which; the differences (WAL, pool size) live here.

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use secrecy::ExposeSecret;

use crate::config::DatabaseSettings;

pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let url = settings.database_url();
    let is_sqlite = url.starts_with("sqlite:");
    if is_sqlite {
        ensure_sqlite_directory(url);
    }
    let mut options = ConnectOptions::new(url.to_owned());
    // SQLite has one writer; with several pooled connections a transaction that read first
    // and writes second fails with SQLITE_BUSY whenever another commit got in between, and
    // under load they starve each other. One connection serialises access instead: SQLite is
    // the embedded single-process mode, PostgreSQL is where concurrency lives.
    let max_connections = if is_sqlite {
        1
    } else {
        settings.max_connections
    };
    options
        .max_connections(max_connections)
        .connect_timeout(Duration::from_secs(settings.connect_timeout_seconds))
        .acquire_timeout(Duration::from_secs(settings.connect_timeout_seconds))
        .sqlx_logging(false)
        // WAL lets readers proceed while a writer holds the lock; sqlx already enables
        // foreign keys and a 5 s busy timeout on every SQLite connection.
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
        });
    Database::connect(options).await
}

/// Runs pending migrations of `M`.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> Result<(), DbErr> {
    M::up(db, None).await
}

fn ensure_sqlite_directory(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return;
    }
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
        && let Err(error) = std::fs::create_dir_all(parent)
    {
        tracing::warn!(%error, dir = %parent.display(), "could not create the SQLite directory");
    }
}

impl DatabaseSettings {
    pub fn database_url(&self) -> &str {
        self.url.expose_secret()
    }
}
