//! PostgreSQL adapter for Alleato over sqlx: every database port (users, chats, documents, file
//! metadata, admin) on one connection pool. The schema is `migrations/postgres/`, paired one to
//! one with `migrations/sqlite/`; pending migrations are applied at connect.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod chats;
mod counters;
mod documents;
mod errors;
mod files;
pub mod migrations;
mod tls;
mod transfer;
mod users;

use std::time::Duration;

pub use alleato_core::migrations::MigrationPolicy;
use alleato_core::{Error, Result, Surface};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgPool};

pub use errors::map_sqlx;

/// A pooled connection idle this long is pinged before use (see `connect`).
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PostgresSettings {
    /// `postgres://user:password@host:port/database`.
    pub url: String,
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// Longest wait for a free connection; past it the request fails as `Unavailable`.
    pub acquire_timeout: Duration,
    /// A statement running longer is cancelled by the server.
    pub statement_timeout: Duration,
    /// Use this schema instead of `public` (tests give each case its own).
    pub schema: Option<String>,
    /// What connecting does about pending migrations (applies them, by default).
    pub migrations: MigrationPolicy,
}

impl PostgresSettings {
    /// Settings for `url`, with the pool's defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(15),
            schema: None,
            migrations: MigrationPolicy::Apply,
        }
    }
}

/// Every database port on PostgreSQL.
#[derive(Clone, Debug)]
pub struct PostgresDatabase {
    pool: PgPool,
    /// Ended counter windows are deleted from `increment`, at most once a minute.
    sweep: std::sync::Arc<alleato_core::sweep::SweepGate>,
}

impl PostgresDatabase {
    /// Connects, creates the schema if one is named, and applies pending migrations (or does
    /// what `settings.migrations` says about them).
    pub async fn connect(settings: &PostgresSettings) -> Result<Self> {
        let options: PgConnectOptions = settings
            .url
            .parse()
            .map_err(|e| Error::backend(Surface::Database, format!("invalid DATABASE_URL: {e}")))?;
        let options = tls::plain_on_loopback(options, &settings.url);
        let timeout_ms = settings.statement_timeout.as_millis();
        let options = options.options([("statement_timeout", timeout_ms.to_string())]);
        let schema = settings.schema.clone();
        if let Some(schema) = &schema
            && !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(Error::backend(Surface::Database, "schema names are letters, digits and _"));
        }
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .after_connect(move |conn, _meta| {
                let schema = schema.clone();
                Box::pin(async move {
                    if let Some(schema) = schema {
                        conn.execute(sqlx::AssertSqlSafe(format!("SET search_path TO \"{schema}\""))).await?;
                    }
                    Ok(())
                })
            })
            // Opened in the background at start and kept, so the first requests do not each wait
            // for a new connection (a TLS handshake, where the server offers TLS, costs tens of
            // ms). sqlx opens them at once only when connections neither idle out nor age out;
            // a dead one is still found by the ping below and replaced. Lazy: the
            // first statement below is what proves the server answers.
            .min_connections((settings.max_connections / 2).clamp(1, 4))
            .idle_timeout(None)
            .max_lifetime(None)
            // sqlx pings every connection it hands out, by default: a round trip before each
            // statement, which doubled the cost of a read route. A connection busy a moment ago
            // is alive; one idle for a while (PostgreSQL may have restarted since) is pinged, and
            // replaced if it does not answer.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IDLE_AFTER {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options);
        if let Some(schema) = &settings.schema {
            // Through the pool, not a connection of its own: a connection costs a TLS handshake
            // where the server offers TLS, which is most of the start-up time. The search path
            // set above takes effect once the schema exists. The name was checked above.
            let create = sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""));
            pool.execute(create).await.map_err(map_sqlx)?;
        }
        let db = Self {
            pool,
            sweep: std::sync::Arc::new(alleato_core::sweep::SweepGate::new(std::time::Duration::from_secs(60))),
        };
        for name in migrations::migrate_under(&db.pool, settings.migrations).await? {
            tracing::info!(migration = name, "applied database migration");
        }
        Ok(db)
    }

    /// The connection pool, for a program that needs a query of its own.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
