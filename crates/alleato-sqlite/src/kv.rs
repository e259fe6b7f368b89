//! The embedded, persistent key-value store: one SQLite file (`kv.sqlite3` in the data
//! directory), separate from the database so it works beside any database backend.
//!
//! Expiry is checked on every read, so an expired key is never returned; [`SqliteKv::purge_expired`]
//! reclaims the space (the server runs it every minute).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alleato_core::ports::{Counter, KeyValueStore, MAX_KEY_BYTES};
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{OptionalExtension, params};

use crate::errors::db;
use crate::pool::Pool;

const S: Surface = Surface::KeyValue;

const SCHEMA: &str = r#"CREATE TABLE IF NOT EXISTS "kv" (
    "key" TEXT PRIMARY KEY NOT NULL,
    "value" BLOB NOT NULL,
    "expiresAt" INTEGER
) WITHOUT ROWID"#;

#[derive(Clone)]
pub struct SqliteKv {
    pool: Pool,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

fn ttl_ms(ttl: Duration) -> i64 {
    // The contract's minimum TTL is one second.
    ttl.max(Duration::from_secs(1)).as_millis().min(i64::MAX as u128) as i64
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(Error::bad_request(S, format!("keys must be 1 to {MAX_KEY_BYTES} bytes")));
    }
    Ok(())
}

impl SqliteKv {
    /// Opens (creating if needed) the store at `path`.
    pub async fn open(path: &Path) -> Result<Self> {
        Self::init(Pool::open(path, S)?).await
    }

    /// A private in-memory store, for tests.
    pub async fn memory() -> Result<Self> {
        Self::init(Pool::memory(S)?).await
    }

    async fn init(pool: Pool) -> Result<Self> {
        pool.write(|tx| tx.execute_batch(SCHEMA).map_err(db(S))).await?;
        Ok(Self { pool })
    }

    /// Deletes expired entries; returns how many.
    pub async fn purge_expired(&self) -> Result<u64> {
        self.pool
            .write(|tx| {
                tx.execute(r#"DELETE FROM "kv" WHERE "expiresAt" IS NOT NULL AND "expiresAt" <= ?1"#, [now_ms()])
                    .map(|n| n as u64)
                    .map_err(db(S))
            })
            .await
    }
}

#[async_trait]
impl KeyValueStore for SqliteKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        let key = key.to_owned();
        self.pool
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        r#"SELECT "value" FROM "kv" WHERE "key" = ?1 AND ("expiresAt" IS NULL OR "expiresAt" > ?2)"#,
                    )
                    .map_err(db(S))?;
                stmt.query_row(params![key, now_ms()], |r| {
                    // Counters are stored as integers; everything else as blobs.
                    Ok(match r.get_ref(0)? {
                        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
                        ValueRef::Integer(i) => i.to_string().into_bytes(),
                        ValueRef::Real(f) => f.to_string().into_bytes(),
                        ValueRef::Null => Vec::new(),
                    })
                })
                .optional()
                .map_err(db(S))
            })
            .await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        check_key(key)?;
        let (key, value) = (key.to_owned(), value.to_vec());
        self.pool
            .write(move |tx| {
                let expires = ttl.map(|t| now_ms().saturating_add(ttl_ms(t)));
                tx.prepare_cached(
                    r#"INSERT INTO "kv" ("key", "value", "expiresAt") VALUES (?1, ?2, ?3)
                       ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value", "expiresAt" = excluded."expiresAt""#,
                )
                .and_then(|mut s| s.execute(params![key, value, expires]))
                .map(drop)
                .map_err(db(S))
            })
            .await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        let key = key.to_owned();
        self.pool
            .write(move |tx| tx.execute(r#"DELETE FROM "kv" WHERE "key" = ?1"#, [key]).map(drop).map_err(db(S)))
            .await
    }

    async fn increment(&self, key: &str, window: Duration) -> Result<Counter> {
        check_key(key)?;
        let key = key.to_owned();
        self.pool
            .write(move |tx| {
                let now = now_ms();
                let fresh_expiry = now.saturating_add(ttl_ms(window));
                // One statement: start a new window if the key is absent or expired, else count on.
                let (count, expires): (i64, i64) = tx
                    .prepare_cached(
                        r#"INSERT INTO "kv" ("key", "value", "expiresAt") VALUES (?1, 1, ?3)
                           ON CONFLICT ("key") DO UPDATE SET
                             "value" = CASE WHEN "expiresAt" IS NOT NULL AND "expiresAt" <= ?2 THEN 1
                                            ELSE CAST("value" AS INTEGER) + 1 END,
                             "expiresAt" = CASE WHEN "expiresAt" IS NULL OR "expiresAt" <= ?2 THEN ?3
                                                ELSE "expiresAt" END
                           RETURNING CAST("value" AS INTEGER), "expiresAt""#,
                    )
                    .and_then(|mut s| s.query_row(params![key, now, fresh_expiry], |r| Ok((r.get(0)?, r.get(1)?))))
                    .map_err(db(S))?;
                Ok(Counter {
                    count: count.max(0) as u64,
                    resets_in: Duration::from_millis(expires.saturating_sub(now).max(0) as u64),
                })
            })
            .await
    }

    async fn ping(&self) -> Result<()> {
        self.pool.read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map(drop).map_err(db(S))).await
    }
}
