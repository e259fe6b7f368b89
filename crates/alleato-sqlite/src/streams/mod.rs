//! The embedded streams backend: every entry on disk, in its own SQLite file
//! (`streams.sqlite3`), so a restart can still replay a stream and memory holds only a small
//! header per live stream plus what is not yet written.
//!
//! Appends must stay cheap (a generation appends a chunk per word), so they are not written one
//! transaction each. An append updates the stream's header in memory, keeps the entry in the
//! stream's in-memory tail, wakes followers, and queues the write; a writer task commits the
//! queue in one transaction every few milliseconds ("group commit"), then drops the written
//! entries from the tails. Readers take entries up to the written mark from the file and the
//! rest from the tail, so a follower never waits for the disk. A crash loses at most the last
//! few milliseconds of appends.
//!
//! Memory is bounded: unwritten entries are at most [`SqliteStreams::MAX_PENDING_BYTES`]
//! (appends past that are refused with `unavailable:stream` until the writer catches up), and a
//! finished stream leaves memory once written. Expired streams are purged by the store itself, from
//! `create`, at most once a minute. This store belongs to one server process:
//! several instances share streams through Redis instead.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alleato_core::ports::{StreamInfo, StreamSlice, StreamStore};
use alleato_core::sweep::SweepGate;
use alleato_core::time;
use alleato_core::time::unix_millis;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{OptionalExtension, params};
use tokio::sync::{Notify, watch};

mod live;
mod writer;

use self::live::{Live, timestamp};

use self::writer::{Write, writer};
use crate::errors::db;
use crate::pool::Pool;

const S: Surface = Surface::Stream;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS "streams" (
    "id"        TEXT PRIMARY KEY NOT NULL,
    "metadata"  BLOB NOT NULL,
    "len"       INTEGER NOT NULL,
    "bytes"     INTEGER NOT NULL,
    "done"      INTEGER NOT NULL,
    "createdAt" TEXT NOT NULL,
    "updatedAt" TEXT NOT NULL,
    "expiresAt" INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS "streams_expiresAt_idx" ON "streams" ("expiresAt");
CREATE TABLE IF NOT EXISTS "stream_entries" (
    "streamId" TEXT NOT NULL REFERENCES "streams" ("id") ON DELETE CASCADE,
    "seq"      INTEGER NOT NULL,
    "data"     BLOB NOT NULL,
    PRIMARY KEY ("streamId", "seq")
) WITHOUT ROWID;
"#;

/// How long the writer waits after a wake-up to gather more appends into one transaction.
const GATHER: Duration = Duration::from_millis(2);

fn deadline(ttl: Duration) -> i64 {
    unix_millis().saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64)
}

#[derive(Default)]
pub(super) struct State {
    live: HashMap<Arc<str>, Live>,
    queue: Vec<Write>,
    /// Bytes of entries appended and not yet written (queued, or in the batch being written).
    pending_bytes: u64,
}

pub(super) struct Inner {
    pool: Pool,
    state: Mutex<State>,
    /// The writer has taken a batch and not yet applied it.
    busy: std::sync::atomic::AtomicBool,
    wake_writer: Notify,
    /// Signalled after each written batch (for [`SqliteStreams::flush`]).
    written: Notify,
    /// Expired streams are purged from `create`, at most once a minute.
    sweep: SweepGate,
}

/// Streams on a SQLite file, written in groups; see the module docs.
#[derive(Clone)]
pub struct SqliteStreams {
    inner: Arc<Inner>,
}

impl SqliteStreams {
    /// The most bytes of entries waiting to be written before appends are refused.
    pub const MAX_PENDING_BYTES: u64 = 64 * 1024 * 1024;

    /// Opens (creating if needed) the store at `path` and starts its writer on the current
    /// tokio runtime.
    pub async fn open(path: &Path) -> Result<Self> {
        Self::init(Pool::open(path, S)?).await
    }

    /// A private in-memory store, for tests.
    pub async fn memory() -> Result<Self> {
        Self::init(Pool::memory(S)?).await
    }

    async fn init(pool: Pool) -> Result<Self> {
        pool.write(|tx| tx.execute_batch(SCHEMA).map_err(db(S))).await?;
        let inner = Arc::new(Inner {
            pool,
            state: Mutex::new(State::default()),
            busy: std::sync::atomic::AtomicBool::new(false),
            wake_writer: Notify::new(),
            written: Notify::new(),
            sweep: SweepGate::new(Duration::from_secs(60)),
        });
        tokio::spawn(writer(Arc::downgrade(&inner)));
        // Expired streams read as absent; the server's sweeper removes them (at start too).
        Ok(Self { inner })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn queue(&self, state: &mut State, write: Write) {
        if let Write::Append { data, .. } = &write {
            state.pending_bytes += data.len() as u64;
        }
        state.queue.push(write);
        self.inner.wake_writer.notify_one();
    }

    /// Waits until everything appended so far is on disk.
    pub async fn flush(&self) {
        loop {
            let notified = self.inner.written.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let idle = self.state().queue.is_empty() && !self.inner.busy.load(std::sync::atomic::Ordering::Acquire);
            if idle {
                return;
            }
            self.inner.wake_writer.notify_one();
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
    }

    /// Deletes expired streams from the file and from memory; returns how many left the file.
    pub async fn purge_expired(&self) -> Result<usize> {
        let now = unix_millis();
        self.state().live.retain(|_, l| !(l.expires_at <= now && l.written == l.len));
        self.inner
            .pool
            .write(move |tx| tx.execute(r#"DELETE FROM "streams" WHERE "expiresAt" <= ?1"#, [now]).map_err(db(S)))
            .await
    }

    /// Ids of the streams on disk that are not finished: after a crash, the generations that
    /// were running (with the generic streams, which are never finished).
    pub async fn unfinished(&self) -> Result<Vec<String>> {
        let now = unix_millis();
        self.inner
            .pool
            .read_blocking(move |c| {
                let mut statement =
                    c.prepare(r#"SELECT "id" FROM "streams" WHERE "done" = 0 AND "expiresAt" > ?1"#).map_err(db(S))?;
                let ids = statement.query_map([now], |r| r.get::<_, String>(0)).map_err(db(S))?;
                ids.collect::<rusqlite::Result<Vec<_>>>().map_err(db(S))
            })
            .await
    }

    /// The header of a stream that is on disk only, as a new live entry.
    async fn load(&self, id: &str) -> Result<Option<Live>> {
        let id = id.to_owned();
        let now = unix_millis();
        self.inner
            .pool
            .read(move |c| {
                c.prepare_cached(
                    r#"SELECT "metadata", "len", "bytes", "done", "createdAt", "updatedAt", "expiresAt"
                       FROM "streams" WHERE "id" = ?1 AND "expiresAt" > ?2"#,
                )
                .and_then(|mut s| {
                    s.query_row(params![id, now], |r| {
                        let len = r.get::<_, i64>(1)? as u64;
                        Ok(Live {
                            metadata: r.get::<_, Vec<u8>>(0)?.into(),
                            len,
                            bytes: r.get::<_, i64>(2)? as u64,
                            done: r.get::<_, i64>(3)? != 0,
                            created_at: timestamp(r, 4)?,
                            updated_at: timestamp(r, 5)?,
                            expires_at: r.get(6)?,
                            written: len,
                            tail: VecDeque::new(),
                            deleted: false,
                            version: watch::Sender::new(len),
                            stop: watch::Sender::new(false),
                        })
                    })
                    .optional()
                })
                .map_err(db(S))
            })
            .await
    }

    /// Makes sure the stream, if it exists, has a live entry; returns whether it exists.
    async fn ensure_live(&self, id: &str) -> Result<bool> {
        {
            let state = self.state();
            if let Some(live) = state.live.get(id) {
                return Ok(!live.gone(unix_millis()));
            }
        }
        let Some(loaded) = self.load(id).await? else { return Ok(false) };
        let mut state = self.state();
        // Another caller may have loaded it meanwhile: keep theirs.
        let live = state.live.entry(Arc::from(id)).or_insert(loaded);
        Ok(!live.gone(unix_millis()))
    }

    async fn read_disk(&self, id: &str, after: u64, upto: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        if upto <= after {
            return Ok(Vec::new());
        }
        let id = id.to_owned();
        self.inner
            .pool
            .read(move |c| {
                let mut statement = c
                    .prepare_cached(
                        r#"SELECT "seq", "data" FROM "stream_entries"
                           WHERE "streamId" = ?1 AND "seq" > ?2 AND "seq" <= ?3 ORDER BY "seq""#,
                    )
                    .map_err(db(S))?;
                let rows = statement
                    .query_map(params![id, after as i64, upto as i64], |r| {
                        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
                    })
                    .map_err(db(S))?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db(S))
            })
            .await
    }
}

#[async_trait]
impl StreamStore for SqliteStreams {
    async fn create(&self, id: &str, metadata: &[u8], ttl: Duration) -> Result<()> {
        if self.ensure_live(id).await? {
            return Err(Error::conflict(S, "a stream with this id already exists"));
        }
        let mut state = self.state();
        let now = unix_millis();
        if state.live.get(id).is_some_and(|l| !l.gone(now)) {
            return Err(Error::conflict(S, "a stream with this id already exists"));
        }
        let at = time::now();
        let (id, metadata): (Arc<str>, Arc<[u8]>) = (Arc::from(id), Arc::from(metadata));
        let expires_at = deadline(ttl);
        state.live.insert(id.clone(), Live::new(metadata.clone(), at, expires_at));
        self.queue(&mut state, Write::Create { id, metadata, at, expires_at });
        drop(state);
        if self.inner.sweep.due() {
            let store = self.clone();
            tokio::spawn(async move {
                if let Err(err) = store.purge_expired().await {
                    tracing::warn!(error = %err, "could not purge expired streams");
                }
            });
        }
        Ok(())
    }

    async fn info(&self, id: &str) -> Result<Option<StreamInfo>> {
        {
            let state = self.state();
            if let Some(live) = state.live.get(id) {
                return Ok((!live.gone(unix_millis())).then(|| live.info()));
            }
        }
        Ok(self.load(id).await?.map(|live| live.info()))
    }

    async fn append(&self, id: &str, entry: &[u8], ttl: Duration) -> Result<u64> {
        if !self.ensure_live(id).await? {
            return Err(Error::not_found(S));
        }
        let mut state = self.state();
        if state.pending_bytes + entry.len() as u64 > Self::MAX_PENDING_BYTES {
            return Err(Error::unavailable(S, "the streams file is behind on writes"));
        }
        let now = unix_millis();
        let (key, live) = match state.live.get_key_value(id) {
            Some((key, live)) if !live.gone(now) => (key.clone(), live),
            _ => return Err(Error::not_found(S)),
        };
        if live.done {
            return Err(Error::conflict(S, "the stream is finished"));
        }
        let data = Bytes::copy_from_slice(entry);
        let at = time::now();
        let expires_at = deadline(ttl);
        let live = state.live.get_mut(&key).expect("looked up above");
        live.len += 1;
        live.bytes += data.len() as u64;
        live.updated_at = at;
        live.expires_at = expires_at;
        live.tail.push_back(data.clone());
        let seq = live.len;
        live.version.send_replace(seq);
        self.queue(&mut state, Write::Append { id: key, seq, data, at, expires_at });
        Ok(seq)
    }

    async fn read(&self, id: &str, after: u64, max: usize) -> Result<Option<StreamSlice>> {
        let max = max.max(1) as u64;
        // From memory: the header, and the unwritten tail as of now.
        let snapshot = {
            let state = self.state();
            state.live.get(id).map(|live| {
                if live.gone(unix_millis()) {
                    return None;
                }
                let upto = live.len.min(after.saturating_add(max));
                let tail: Vec<(u64, Vec<u8>)> = (live.written + 1..=upto)
                    .filter(|seq| *seq > after)
                    .filter_map(|seq| {
                        let index = (seq - live.written - 1) as usize;
                        live.tail.get(index).map(|data| (seq, data.to_vec()))
                    })
                    .collect();
                Some((live.written, upto, live.done, tail))
            })
        };
        let (written, upto, done, tail) = match snapshot {
            Some(Some(snapshot)) => snapshot,
            Some(None) => return Ok(None),
            None => match self.load(id).await? {
                Some(live) => (live.len, live.len.min(after.saturating_add(max)), live.done, Vec::new()),
                None => return Ok(None),
            },
        };
        // Everything up to `written` was on disk when the snapshot was taken.
        let mut entries = self.read_disk(id, after, written.min(upto)).await?;
        entries.extend(tail);
        Ok(Some(StreamSlice { entries, done }))
    }

    async fn finish(&self, id: &str, keep: Duration) -> Result<()> {
        if !self.ensure_live(id).await? {
            return Err(Error::not_found(S));
        }
        let mut state = self.state();
        let now = unix_millis();
        let key = match state.live.get_key_value(id) {
            Some((key, live)) if !live.gone(now) => key.clone(),
            _ => return Err(Error::not_found(S)),
        };
        let live = state.live.get_mut(&key).expect("looked up above");
        if live.done {
            return Ok(());
        }
        live.done = true;
        live.expires_at = deadline(keep);
        let expires_at = live.expires_at;
        live.version.send_modify(|v| *v += 1);
        self.queue(&mut state, Write::Finish { id: key, expires_at });
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<()> {
        let mut state = self.state();
        let key: Arc<str> = Arc::from(id);
        match state.live.get_mut(id) {
            Some(live) => {
                live.deleted = true;
                // Followers wake and find it gone.
                live.version.send_modify(|v| *v += 1);
            }
            None => {
                // On disk only: a tombstone until the delete is written.
                let gone = Live { deleted: true, done: true, ..Live::new(Arc::from(&[][..]), time::now(), 0) };
                state.live.insert(key.clone(), gone);
            }
        }
        self.queue(&mut state, Write::Delete { id: key });
        Ok(())
    }

    async fn wait(&self, id: &str, after: u64, timeout: Duration) -> Result<()> {
        if !self.ensure_live(id).await? {
            return Ok(());
        }
        let receiver = {
            let state = self.state();
            state.live.get(id).and_then(|live| {
                let ready = live.gone(unix_millis()) || live.done || live.len > after;
                (!ready).then(|| live.version.subscribe())
            })
        };
        if let Some(mut receiver) = receiver {
            // A change, or the entry leaving memory (finished and written), ends the wait.
            let _ = tokio::time::timeout(timeout, receiver.changed()).await;
        }
        Ok(())
    }

    async fn request_stop(&self, id: &str) -> Result<()> {
        if !self.ensure_live(id).await? {
            return Err(Error::not_found(S));
        }
        let state = self.state();
        match state.live.get(id) {
            Some(live) if !live.gone(unix_millis()) => {
                live.stop.send_replace(true);
                Ok(())
            }
            _ => Err(Error::not_found(S)),
        }
    }

    async fn wait_for_stop(&self, id: &str) {
        loop {
            match self.ensure_live(id).await {
                Ok(true) => break,
                Ok(false) => return,
                Err(err) => {
                    tracing::warn!(stream = id, error = %err, "could not load a stream to wait for its stop; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        let receiver = self.state().live.get(id).map(|live| live.stop.subscribe());
        if let Some(mut stop) = receiver {
            // A closed channel (the entry left memory: finished, or deleted) ends it too.
            let _ = stop.wait_for(|stop| *stop).await;
        }
    }

    async fn ping(&self) -> Result<()> {
        self.inner.pool.read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map(drop).map_err(db(S))).await
    }
}

#[cfg(test)]
mod conformance {
    alleato_core::streams_conformance!(std::sync::Arc::new(super::SqliteStreams::memory().await.unwrap()));
}

/// One process's store: "another instance" is another handle on it.
#[cfg(test)]
mod shared_conformance {
    alleato_core::streams_shared_conformance!({
        let store = std::sync::Arc::new(super::SqliteStreams::memory().await.unwrap());
        alleato_core::testkit::streams_shared::Shared::new(store.clone(), store)
    });
}

#[cfg(test)]
mod tests;
