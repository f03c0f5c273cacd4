//! One way to open a database: SQLite for the embedded run, PostgreSQL in production. The
//! code above this line does not care which; the differences (WAL, pool size) live here.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseConnectionType, DbErr,
};
use sea_orm_migration::MigratorTrait;
use secrecy::ExposeSecret;

use crate::config::DatabaseSettings;

/// A service's two pools: requests never wait behind background work for a connection.
#[derive(Debug, Clone)]
pub struct Pools {
    /// For requests (accepting an order above all): `max_connections - background_connections`.
    pub requests: DatabaseConnection,
    /// For consumers, the relay and due work: `background_connections`, whose callers may
    /// wait for a connection longer, since nobody is holding a socket open for them.
    pub background: DatabaseConnection,
}

/// How long background work waits for one of its connections before it counts as a failure.
const BACKGROUND_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the service's pools. On SQLite (one writer, one connection) both are the same pool.
pub async fn connect_pools(settings: &DatabaseSettings) -> Result<Pools, DbErr> {
    if settings.database_url().starts_with("sqlite:") {
        let shared = connect(settings).await?;
        return Ok(Pools {
            requests: shared.clone(),
            background: shared,
        });
    }
    let background = settings.background_connections.max(1);
    let requests = open(
        settings,
        settings.max_connections.saturating_sub(background).max(1),
        Duration::from_secs(settings.connect_timeout_seconds),
    )
    .await?;
    let background = open(
        settings,
        background,
        BACKGROUND_ACQUIRE_TIMEOUT.max(Duration::from_secs(settings.connect_timeout_seconds)),
    )
    .await?;
    Ok(Pools {
        requests,
        background,
    })
}

/// One pool of `max_connections` (tools, migrations, tests).
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    open(
        settings,
        settings.max_connections,
        Duration::from_secs(settings.connect_timeout_seconds),
    )
    .await
}

async fn open(
    settings: &DatabaseSettings,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
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
    let max_connections = if is_sqlite { 1 } else { max_connections };
    options
        .max_connections(max_connections)
        .connect_timeout(Duration::from_secs(settings.connect_timeout_seconds))
        .acquire_timeout(acquire_timeout)
        .sqlx_logging(false)
        // WAL lets readers proceed while a writer holds the lock; sqlx already enables
        // foreign keys and a 5 s busy timeout on every SQLite connection.
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
        });
    Database::connect(options).await
}

/// Any constant works as long as every instance of every service agrees on it: each
/// service has its own database, so one key never makes two services wait for each other.
const MIGRATION_LOCK_KEY: i64 = 0x7265_636f_6d6d_6572; // "recommer"

/// Runs pending migrations of `M`. On PostgreSQL several instances may start at once (a
/// rolling update, `replicas: 2`): a session advisory lock makes them take turns, so the
/// second finds the schema current instead of racing the first on `CREATE TABLE`.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> Result<(), DbErr> {
    let Some(pool) = postgres_pool(db) else {
        return M::up(db, None).await;
    };
    let mut holder = pool.acquire().await.map_err(sqlx_error)?;
    sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut *holder)
        .await
        .map_err(sqlx_error)?;
    let result = M::up(db, None).await;
    let unlocked = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut *holder)
        .await;
    if let Err(error) = unlocked {
        // Closing the session releases the lock anyway; make sure it is not pooled.
        tracing::warn!(%error, "releasing the migration lock failed");
        holder.detach();
    }
    result
}

fn postgres_pool(db: &DatabaseConnection) -> Option<&sea_orm::sqlx::PgPool> {
    match &db.inner {
        DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
            Some(db.get_postgres_connection_pool())
        }
        _ => None,
    }
}

fn sqlx_error(error: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Custom(format!("migration lock: {error}"))
}

/// The URL of database `name` on the server of `server_url`, created if it does not exist.
/// The dev run uses it to give each service its own database on one PostgreSQL.
pub async fn ensure_postgres_database(server_url: &str, name: &str) -> Result<String, DbErr> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(DbErr::Custom(format!(
            "`{name}` is not a plain database name"
        )));
    }
    let (base, _) = server_url
        .split('?')
        .next()
        .and_then(|url| url.rsplit_once('/'))
        .filter(|(base, _)| base.contains("://"))
        .ok_or_else(|| DbErr::Custom("a PostgreSQL URL needs a database path".to_owned()))?;
    let server = Database::connect(server_url).await?;
    let exists = server
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT 1 FROM pg_database WHERE datname = $1",
            [name.into()],
        ))
        .await?
        .is_some();
    if !exists {
        server
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
    }
    server.close().await?;
    Ok(format!("{base}/{name}"))
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

/// Rows written together or not at all, in as few round trips as the database allows: on
/// PostgreSQL one statement (each insert but the last a data-modifying `WITH` part), which
/// commits by itself; elsewhere one transaction. For the hot paths, where a transaction's
/// `BEGIN`, each insert and `COMMIT` would each cost a round trip.
///
/// If any insert fails (a unique key already taken), none of them is written.
#[derive(Debug, Default)]
pub struct Writes(Vec<sea_orm::sea_query::InsertStatement>);

impl Writes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(mut self, insert: sea_orm::sea_query::InsertStatement) -> Self {
        self.0.push(insert);
        self
    }

    /// Writes every row, or none.
    pub async fn apply(mut self, db: &DatabaseConnection) -> Result<(), DbErr> {
        use sea_orm::TransactionTrait;
        use sea_orm::sea_query::{Alias, CommonTableExpression, WithClause};

        let backend = db.get_database_backend();
        let Some(last) = self.0.pop() else {
            return Ok(());
        };
        if backend != sea_orm::DbBackend::Postgres {
            let txn = db.begin().await?;
            for insert in self.0.iter().chain([&last]) {
                txn.execute_raw(backend.build(insert)).await?;
            }
            return txn.commit().await;
        }
        if self.0.is_empty() {
            return db.execute_raw(backend.build(&last)).await.map(drop);
        }
        let mut with = WithClause::new();
        for (index, insert) in self.0.into_iter().enumerate() {
            with.cte(
                CommonTableExpression::new()
                    .query(insert)
                    .table_name(Alias::new(format!("write_{index}")))
                    .to_owned(),
            );
        }
        db.execute_raw(backend.build(&with.query(last)))
            .await
            .map(drop)
    }
}
