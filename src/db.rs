//! Connecting to SQLite or PostgreSQL, migrating, and starting write transactions.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
    sqlx::{
        self, Connection as _,
        sqlite::{SqliteJournalMode, SqliteSynchronous},
    },
};

/// Most connections worth having to an embedded SQLite file: reads are CPU-bound and
/// there is only ever one writer, so more connections only dilute each one's page cache.
pub const SQLITE_MAX_POOL: u32 = 4;
/// Page cache per SQLite connection, in KiB (SQLite's default is 2 MiB).
const SQLITE_CACHE_KIB: u32 = 16 * 1024;

/// A pooled connection idle at least this long is pinged before it is handed out, so one
/// dropped by the server, a proxy or a firewall is replaced instead of failing a request.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// Opens a connection pool. SQLite runs in WAL mode with a busy timeout, so readers never
/// block the single writer and writers queue rather than fail.
pub async fn connect(url: &str, pool_size: u32) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, pool_size, None).await
}

/// Prepared statements a batch job's connection keeps (see [`connect_batch`]).
const BATCH_STATEMENT_CACHE: usize = 4;

/// A small pool for a long batch job (`import-legacy`). Its multi-row statements differ in
/// their number of rows, so nearly every one is new; a connection keeps each statement it
/// prepares (SQLite's for a 500-row INSERT take about a megabyte), so a small statement
/// cache keeps the job's memory flat.
pub async fn connect_batch(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, 2, Some(BATCH_STATEMENT_CACHE)).await
}

async fn connect_with(
    url: &str,
    pool_size: u32,
    statement_cache: Option<usize>,
) -> Result<DatabaseConnection, DbErr> {
    let pool_size = if crate::config::is_sqlite(url) {
        pool_size.min(SQLITE_MAX_POOL)
    } else {
        pool_size
    };
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(pool_size)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        // sqlx pings every connection it hands out by default: one more round trip per
        // statement. Only a connection idle this long is pinged first.
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                .create_if_missing(true)
                .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"))
                .pragma("mmap_size", "268435456")
                .row_buffer_size(1024)
        });
    if let Some(capacity) = statement_cache {
        options
            .map_sqlx_sqlite_opts(move |opts| opts.statement_cache_capacity(capacity))
            .map_sqlx_postgres_opts(move |opts| opts.statement_cache_capacity(capacity));
    }
    Database::connect(options).await
}

/// Applies every pending migration, then keys any user without matching keys for
/// duplicate detection (which needs Rust the migrations cannot call: see
/// `services::duplicates::backfill_missing`) and encrypts any sensitive value still in
/// plaintext (which needs the data keys: `services::encryption::seal_plaintext`). One
/// cheap query each when there is nothing to do.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await?;
    crate::services::duplicates::backfill_missing(db)
        .await
        .map_err(|e| DbErr::Custom(format!("keying users for duplicate detection: {e}")))?;
    crate::services::encryption::seal_plaintext(db)
        .await
        .map_err(|e| match e {
            crate::error::AppError::Internal(cause) => {
                DbErr::Custom(format!("encrypting the sensitive fields: {cause:#}"))
            }
            other => DbErr::Custom(format!("encrypting the sensitive fields: {other}")),
        })?;
    Ok(())
}

/// Begins a transaction that will write. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead of failing
/// to upgrade a read lock; PostgreSQL ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// How long an idle connection gets to answer a ping in [`evict_broken`].
const EVICT_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Closes every idle pooled connection that no longer answers, and returns how many it
/// closed.
///
/// Called after a connection-level error: when the database restarts (or an administrator
/// ends its sessions), every idle connection in the pool is dead, and each would otherwise
/// fail one more request before sqlx noticed. The pool opens fresh connections as needed.
pub async fn evict_broken(db: &DatabaseConnection) -> usize {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => evict_from(db.get_postgres_connection_pool()).await,
        DatabaseBackend::Sqlite => evict_from(db.get_sqlite_connection_pool()).await,
        _ => 0,
    }
}

async fn evict_from<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> usize {
    let mut answering = Vec::new();
    let mut evicted = 0;
    while let Some(mut conn) = pool.try_acquire() {
        match tokio::time::timeout(EVICT_PING_TIMEOUT, conn.ping()).await {
            Ok(Ok(())) => answering.push(conn),
            _ => {
                // Detached, the pool may open a replacement; the dead socket is dropped.
                drop(conn.detach());
                evicted += 1;
            }
        }
    }
    if evicted > 0 {
        tracing::warn!(
            evicted,
            "closed pooled database connections that no longer answer"
        );
    }
    evicted
}
