//! The embedded, persistent key-value store: one SQLite file (`kv.sqlite3` in the data
//! directory), separate from the database so it works beside any database backend.
//!
//! Every entry is also mirrored in memory, so reads (a session check on every request) never
//! touch the file; mutations go to the file first, then to the mirror, one at a time. This is
//! sound because the embedded store belongs to one server process: several instances share
//! state through Redis or Workers KV instead.
//!
//! Expiry is checked on every read, so an expired key is never returned; [`SqliteKv::purge_expired`]
//! reclaims the space, run by the store itself from its writes at most once a minute.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alleato_core::ports::{Counter, Counters, KeyValueStore, KvCapabilities, check_key, counter_window};
use alleato_core::sweep::SweepGate;
use alleato_core::time::{millis_after, unix_millis};
use alleato_core::{Result, Surface};
use async_trait::async_trait;
use rusqlite::params;
use rusqlite::types::ValueRef;

use crate::errors::db;
use crate::pool::Pool;

const S: Surface = Surface::KeyValue;

/// How often expired entries are purged, at most.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

const SCHEMA: &str = r#"CREATE TABLE IF NOT EXISTS "kv" (
    "key" TEXT PRIMARY KEY NOT NULL,
    "value" BLOB NOT NULL,
    "expiresAt" INTEGER
) WITHOUT ROWID"#;

/// A value and when it expires (Unix milliseconds).
type Entry = (Vec<u8>, Option<i64>);

#[derive(Clone)]
/// The embedded key-value store of the module's documentation: a SQLite file mirrored in
/// memory, for one server process. Cheap to clone.
pub struct SqliteKv {
    pool: Pool,
    mirror: Arc<Mutex<HashMap<String, Entry>>>,
    /// Serialises mutations so the file and the mirror apply them in the same order.
    writes: Arc<tokio::sync::Mutex<()>>,
    sweep: Arc<SweepGate>,
    capabilities: KvCapabilities,
}

/// Counters are stored as integers; everything else as blobs.
fn value_bytes(value: ValueRef<'_>) -> Vec<u8> {
    match value {
        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
        ValueRef::Integer(i) => i.to_string().into_bytes(),
        ValueRef::Real(f) => f.to_string().into_bytes(),
        ValueRef::Null => Vec::new(),
    }
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
        let live = pool
            .read_blocking(|c| {
                let mut stmt = c
                    .prepare(
                        r#"SELECT "key", "value", "expiresAt" FROM "kv" WHERE "expiresAt" IS NULL OR "expiresAt" > ?1"#,
                    )
                    .map_err(db(S))?;
                stmt.query_map([unix_millis()], |r| {
                    Ok((r.get::<_, String>(0)?, (value_bytes(r.get_ref(1)?), r.get(2)?)))
                })
                .and_then(Iterator::collect::<rusqlite::Result<HashMap<_, _>>>)
                .map_err(db(S))
            })
            .await?;
        Ok(Self {
            pool,
            mirror: Arc::new(Mutex::new(live)),
            writes: Arc::default(),
            sweep: Arc::new(SweepGate::new(SWEEP_EVERY)),
            capabilities: KvCapabilities::default(),
        })
    }

    fn mirror(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.mirror.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The same store declaring other capabilities, and honouring them: Workers KV's local
    /// stand-in raises every TTL to KV's 60 s minimum, so it fails (expires) as KV would.
    pub fn with_capabilities(mut self, capabilities: KvCapabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Purges expired entries in the background when a sweep is due.
    fn sweep_if_due(&self) {
        if self.sweep.due() {
            let store = self.clone();
            tokio::spawn(async move {
                if let Err(err) = store.purge_expired().await {
                    tracing::warn!(error = %err, "could not purge expired key-value entries");
                }
            });
        }
    }

    /// Deletes expired entries; returns how many.
    pub async fn purge_expired(&self) -> Result<u64> {
        let _serial = self.writes.lock().await;
        let now = unix_millis();
        self.mirror().retain(|_, (_, expires)| expires.is_none_or(|at| at > now));
        self.pool
            .write(|tx| {
                tx.execute(r#"DELETE FROM "kv" WHERE "expiresAt" IS NOT NULL AND "expiresAt" <= ?1"#, [unix_millis()])
                    .map(|n| n as u64)
                    .map_err(db(S))
            })
            .await
    }
}

#[async_trait]
impl KeyValueStore for SqliteKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        check_key(S, key)?;
        let now = unix_millis();
        Ok(self.mirror().get(key).filter(|(_, expires)| expires.is_none_or(|at| at > now)).map(|(v, _)| v.clone()))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        check_key(S, key)?;
        let serial = self.writes.lock().await;
        let expires = ttl.map(|t| millis_after(unix_millis(), self.capabilities.ttl(t)));
        let (k, v) = (key.to_owned(), value.to_vec());
        self.pool
            .write(move |tx| {
                let (key, value) = (k, v);
                tx.prepare_cached(
                    r#"INSERT INTO "kv" ("key", "value", "expiresAt") VALUES (?1, ?2, ?3)
                       ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value", "expiresAt" = excluded."expiresAt""#,
                )
                .and_then(|mut s| s.execute(params![key, value, expires]))
                .map(drop)
                .map_err(db(S))
            })
            .await?;
        self.mirror().insert(key.to_owned(), (value.to_vec(), expires));
        drop(serial);
        self.sweep_if_due();
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(S, key)?;
        let _serial = self.writes.lock().await;
        let k = key.to_owned();
        self.pool
            .write(move |tx| tx.execute(r#"DELETE FROM "kv" WHERE "key" = ?1"#, [k]).map(drop).map_err(db(S)))
            .await?;
        self.mirror().remove(key);
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        self.pool.read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map(drop).map_err(db(S))).await
    }

    /// From the mirror, which holds every live entry of the file.
    fn keys(&self, prefix: &str) -> futures::stream::BoxStream<'static, Result<String>> {
        let now = unix_millis();
        let keys: Vec<Result<String>> = self
            .mirror()
            .iter()
            .filter(|(k, (_, expires))| k.starts_with(prefix) && expires.is_none_or(|at| at > now))
            .map(|(k, _)| Ok(k.clone()))
            .collect();
        futures::StreamExt::boxed(futures::stream::iter(keys))
    }

    fn capabilities(&self) -> KvCapabilities {
        self.capabilities
    }
}

#[async_trait]
impl Counters for SqliteKv {
    async fn increment(&self, key: &str, window: Duration) -> Result<Counter> {
        check_key(S, key)?;
        let serial = self.writes.lock().await;
        let k = key.to_owned();
        let (count, expires) = self
            .pool
            .write(move |tx| {
                let key = k;
                let now = unix_millis();
                let fresh_expiry = millis_after(now, counter_window(window));
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
                Ok((count.max(0), expires))
            })
            .await?;
        self.mirror().insert(key.to_owned(), (count.to_string().into_bytes(), Some(expires)));
        drop(serial);
        self.sweep_if_due();
        let now = unix_millis();
        Ok(Counter { count: count as u64, resets_in: Duration::from_millis(expires.saturating_sub(now).max(0) as u64) })
    }

    async fn ping(&self) -> Result<()> {
        self.pool.read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map(drop).map_err(db(S))).await
    }
}
