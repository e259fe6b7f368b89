//! SQLite adapters for Alleato, over rusqlite:
//!
//! - [`SqliteDatabase`]: every database port (users, chats, documents, file metadata, admin) on
//!   one SQLite file in WAL mode with foreign keys on, or privately in memory. The SQL and the
//!   migrations (`migrations/sqlite/`) are in the SQLite dialect that Cloudflare D1 also accepts.
//! - [`SqliteKv`]: the embedded, persistent key-value store.
//! - [`SqliteStreams`]: the embedded streams store, on disk, written in groups.
#![forbid(unsafe_code)]

mod chats;
mod documents;
mod errors;
mod files;
mod kv;
pub mod migrations;
mod pool;
mod rows;
mod streams;
mod users;

use std::path::Path;

use alleato_core::{Result, Surface};

pub use kv::SqliteKv;
pub use pool::Pool;
pub use streams::SqliteStreams;

/// Every database port on one SQLite database.
#[derive(Clone)]
pub struct SqliteDatabase {
    pool: Pool,
}

impl SqliteDatabase {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        Self::init(Pool::open(path, Surface::Database)?).await
    }

    /// A private in-memory database with the full schema: for tests and `--ephemeral` runs.
    pub async fn memory() -> Result<Self> {
        Self::init(Pool::memory(Surface::Database)?).await
    }

    async fn init(pool: Pool) -> Result<Self> {
        let applied = migrations::migrate(&pool).await?;
        for name in applied {
            tracing::info!(migration = name, "applied database migration");
        }
        Ok(Self { pool })
    }
}
