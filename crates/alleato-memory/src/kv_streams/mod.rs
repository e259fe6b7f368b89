//! Streams on Workers KV (`USE_CLOUDFLARE_STREAMS`), designed for its limits: eventual
//! consistency, one write per second per key, a 60 s minimum TTL, no atomic operation, and
//! every call an API request under the account-wide limit.
//!
//! # Design
//! - **The writing instance owns the stream.** It holds it in memory ([`MemoryStreams`]) and
//!   serves its own followers from there, live, at no API cost.
//! - **One KV value per stream** (`streams:{id}`): the stream's info and all its entries
//!   ([`record`]), rewritten by a background flusher at most once per `flush_every` (≥ 1 s)
//!   while the stream changes, and once more when it finishes. A generation of `n` seconds
//!   costs about `n + 1` writes. Segments under distinct keys were weighed and set aside:
//!   a finished stream must then be kept `keep` longer, which with immutable segments means
//!   rewriting every one of them (KV cannot extend a TTL), and a reader on another instance
//!   has to probe for the next segment, a request per probe, where here one read gives all.
//! - **Followers on other instances** read that value and poll it every `poll_every` while
//!   they wait (one request per poll, shared by every follower of the stream on the instance).
//!   They see an entry after at most `flush_every` + `poll_every` + Workers KV's own
//!   propagation (Cloudflare: up to 60 s between locations; none in the simulator).
//! - **Expiry** is the record's own (`expires_at_ms`, checked by every reader); the KV value is
//!   written with a TTL a minute past it (KV's minimum), so KV drops it later by itself.
//! - **Stop across instances**: the instance that is asked writes `streams:{id}:stop`; the owner
//!   reads that key every `stop_poll_every` while its writer waits for a stop. A delete asked
//!   of an instance that does not own the stream writes `deleted` there, so the owner drops it
//!   too instead of writing it back.
//! - **One writer at a time.** KV has no atomic operation to arbitrate two writers, so an
//!   append that reaches an instance which does not own the stream takes the stream over (its
//!   record is read and continued here). Two instances appending to one stream at the same time
//!   lose entries; the generic streams resource behind a load balancer needs sticky routing, or
//!   Redis streams.
//! - Clocks of the instances are assumed to agree (expiries are wall-clock milliseconds).

mod owner;
mod record;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alleato_core::ports::{Consistency, KeyValueStore, StreamCapabilities, StreamInfo, StreamSlice, StreamStore};
use alleato_core::time::{millis_after, unix_millis};
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;

use self::record::Record;
use crate::MemoryStreams;

/// How often [`KvStreams`] writes, polls and forgets.
#[derive(Debug, Clone, Copy)]
pub struct KvStreamsSettings {
    /// The least time between two writes of one stream's value (Workers KV: 1 write per
    /// second per key).
    pub flush_every: Duration,
    /// How often a follower on another instance reads the stream again while it waits.
    pub poll_every: Duration,
    /// How often the owner of a stream whose writer waits for a stop reads the stop key.
    pub stop_poll_every: Duration,
    /// How long a finished stream stays in the owner's memory after its last write (its own
    /// late followers are served from there).
    pub linger: Duration,
}

impl Default for KvStreamsSettings {
    fn default() -> Self {
        Self {
            flush_every: Duration::from_secs(1),
            poll_every: Duration::from_secs(1),
            stop_poll_every: Duration::from_secs(2),
            linger: Duration::from_secs(60),
        }
    }
}

/// The streams port over a key-value store with Workers KV's limits; see the module
/// documentation. Cheap to clone; the flusher stops when the last clone is dropped.
#[derive(Clone)]
pub struct KvStreams {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KvStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvStreams").field("settings", &self.inner.settings).finish_non_exhaustive()
    }
}

struct Inner {
    kv: Arc<dyn KeyValueStore>,
    local: MemoryStreams,
    owned: Mutex<HashMap<String, Owned>>,
    /// Recent reads of streams other instances own.
    remote: Mutex<HashMap<String, RemoteRead>>,
    /// Stops this instance wrote for streams other instances own.
    asked_to_stop: Mutex<HashSet<String>>,
    settings: KvStreamsSettings,
}

/// A stream as last read from the store (`None`: missing), and when.
type RemoteRead = (Option<Arc<Record>>, Instant);

/// A stream this instance writes.
#[derive(Debug)]
struct Owned {
    expires_at_ms: i64,
    dirty: bool,
    /// A write of its value is under way: no second one starts, so an older snapshot never
    /// lands after a newer one.
    writing: bool,
    last_write: Option<Instant>,
    finished: bool,
}

const S: Surface = Surface::Stream;
/// Workers KV's shortest TTL, also the margin by which a value outlives its record's expiry.
const KV_MIN_TTL: Duration = Duration::from_secs(60);
/// Values written at once by one flush.
const FLUSH_CONCURRENCY: usize = 16;
const DELETED: &[u8] = b"deleted";
const STOP: &[u8] = b"stop";

fn record_key(id: &str) -> String {
    format!("streams:{id}")
}

fn stop_key(id: &str) -> String {
    format!("streams:{id}:stop")
}

impl KvStreams {
    /// Streams over `kv`; starts the flusher on the current Tokio runtime.
    pub fn new(kv: Arc<dyn KeyValueStore>, settings: KvStreamsSettings) -> Self {
        let inner = Arc::new(Inner {
            kv,
            local: MemoryStreams::new(),
            owned: Mutex::default(),
            remote: Mutex::default(),
            asked_to_stop: Mutex::default(),
            settings,
        });
        tokio::spawn(owner::flusher(Arc::downgrade(&inner)));
        Self { inner }
    }
}

impl Inner {
    fn owned<T>(&self, f: impl FnOnce(&mut HashMap<String, Owned>) -> T) -> T {
        f(&mut self.owned.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn is_owned(&self, id: &str) -> bool {
        self.owned(|o| o.contains_key(id))
    }

    fn touch(&self, id: &str, expires_at_ms: Option<i64>, finished: bool) {
        self.owned(|o| {
            if let Some(owned) = o.get_mut(id) {
                owned.dirty = true;
                owned.finished |= finished;
                if let Some(at) = expires_at_ms {
                    owned.expires_at_ms = at;
                }
            }
        });
    }

    /// The stream as Workers KV holds it: read again when the last read is older than
    /// `max_age` (`Duration::ZERO`: always). `None` when missing or expired.
    async fn remote(&self, id: &str, max_age: Duration) -> Result<Option<Arc<Record>>> {
        if !max_age.is_zero() {
            let cached = self.remote.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned();
            if let Some((record, at)) = cached
                && at.elapsed() < max_age
            {
                return Ok(record.filter(|r| r.live(unix_millis())));
            }
        }
        let record = match self.kv.get(&record_key(id)).await? {
            None => None,
            Some(bytes) => Some(Arc::new(Record::decode(&bytes).map_err(|e| Error::backend(S, e))?)),
        };
        let mut remote = self.remote.lock().unwrap_or_else(|p| p.into_inner());
        if remote.len() > 10_000 {
            let stale = self.settings.poll_every * 10;
            remote.retain(|_, (_, at)| at.elapsed() < stale);
        }
        remote.insert(id.to_owned(), (record.clone(), Instant::now()));
        Ok(record.filter(|r| r.live(unix_millis())))
    }

    /// Makes a stream another instance wrote this instance's own, to continue it here.
    async fn adopt(&self, id: &str) -> Result<bool> {
        let Some(record) = self.remote(id, Duration::ZERO).await? else { return Ok(false) };
        let now = unix_millis();
        let left = Duration::from_millis(u64::try_from(record.header.expires_at_ms - now).unwrap_or(1).max(1));
        // Another task may have adopted it meanwhile: then it is already here.
        if self.local.create(id, &record.header.metadata, left).await.is_ok() {
            for entry in &record.entries {
                self.local.append(id, entry, left).await?;
            }
            if record.header.done {
                self.local.finish(id, left).await?;
            }
            self.owned(|o| {
                o.entry(id.to_owned()).or_insert(Owned {
                    expires_at_ms: record.header.expires_at_ms,
                    dirty: false,
                    writing: false,
                    last_write: None,
                    finished: record.header.done,
                });
            });
        }
        Ok(true)
    }
}

#[async_trait]
impl StreamStore for KvStreams {
    async fn create(&self, id: &str, metadata: &[u8], ttl: Duration) -> Result<()> {
        let inner = &self.inner;
        // Only this instance's streams are checked: asking Workers KV would cost a read per
        // generation and still miss a stream created elsewhere less than a flush (and up to a
        // minute of propagation) ago. The port's contract declares this.
        if inner.is_owned(id) && inner.local.info(id).await?.is_some() {
            return Err(Error::conflict(S, "a stream with this id already exists"));
        }
        inner.local.create(id, metadata, ttl).await?;
        inner.owned(|o| {
            o.insert(
                id.to_owned(),
                Owned {
                    expires_at_ms: millis_after(unix_millis(), ttl),
                    dirty: true,
                    writing: false,
                    last_write: None,
                    finished: false,
                },
            )
        });
        Ok(())
    }

    async fn info(&self, id: &str) -> Result<Option<StreamInfo>> {
        let inner = &self.inner;
        if inner.is_owned(id) {
            return inner.local.info(id).await;
        }
        let asked = inner.asked_to_stop.lock().unwrap_or_else(|p| p.into_inner()).contains(id);
        Ok(inner.remote(id, inner.settings.poll_every).await?.map(|r| {
            let mut info = r.info();
            info.stop_requested |= asked;
            info
        }))
    }

    async fn append(&self, id: &str, entry: &[u8], ttl: Duration) -> Result<u64> {
        let inner = &self.inner;
        if !inner.is_owned(id) && !inner.adopt(id).await? {
            return Err(Error::not_found(S));
        }
        let seq = inner.local.append(id, entry, ttl).await?;
        inner.touch(id, Some(millis_after(unix_millis(), ttl)), false);
        Ok(seq)
    }

    async fn read(&self, id: &str, after: u64, max: usize) -> Result<Option<StreamSlice>> {
        let inner = &self.inner;
        if inner.is_owned(id) {
            return inner.local.read(id, after, max).await;
        }
        Ok(inner.remote(id, inner.settings.poll_every).await?.map(|r| r.slice(after, max)))
    }

    async fn finish(&self, id: &str, keep: Duration) -> Result<()> {
        let inner = &self.inner;
        if !inner.is_owned(id) && !inner.adopt(id).await? {
            return Err(Error::not_found(S));
        }
        let already = inner.local.info(id).await?.is_some_and(|i| i.done);
        inner.local.finish(id, keep).await?;
        // Finishing twice keeps the first finish's expiry, as the local store does.
        inner.touch(id, (!already).then(|| millis_after(unix_millis(), keep)), true);
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<()> {
        let inner = &self.inner;
        if inner.owned(|o| o.remove(id)).is_some() {
            inner.local.delete(id).await?;
        } else if inner.remote(id, Duration::ZERO).await?.is_some_and(|r| !r.header.done) {
            // A writer elsewhere would write it back: tell it the stream is gone.
            inner.kv.set(&stop_key(id), DELETED, Some(KV_MIN_TTL)).await?;
        }
        inner.remote.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        inner.kv.delete(&record_key(id)).await
    }

    async fn wait(&self, id: &str, after: u64, timeout: Duration) -> Result<()> {
        let inner = &self.inner;
        if inner.is_owned(id) {
            return inner.local.wait(id, after, timeout).await;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let Some(record) = inner.remote(id, inner.settings.poll_every).await? else { return Ok(()) };
            if record.header.done || record.entries.len() as u64 > after {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            tokio::time::sleep(left.min(inner.settings.poll_every)).await;
            if inner.is_owned(id) {
                // Taken over here meanwhile: memory answers from now on.
                return inner.local.wait(id, after, deadline.saturating_duration_since(Instant::now())).await;
            }
        }
    }

    async fn request_stop(&self, id: &str) -> Result<()> {
        let inner = &self.inner;
        if inner.is_owned(id) {
            inner.local.request_stop(id).await?;
            inner.touch(id, None, false);
            return Ok(());
        }
        let record = inner.remote(id, Duration::ZERO).await?.ok_or_else(|| Error::not_found(S))?;
        if record.header.done || record.header.stop_requested {
            return Ok(());
        }
        if inner.asked_to_stop.lock().unwrap_or_else(|p| p.into_inner()).contains(id) {
            return Ok(());
        }
        let left = Duration::from_millis(u64::try_from(record.header.expires_at_ms - unix_millis()).unwrap_or(0));
        inner.kv.set(&stop_key(id), STOP, Some(left + KV_MIN_TTL)).await?;
        let mut asked = inner.asked_to_stop.lock().unwrap_or_else(|p| p.into_inner());
        if asked.len() > 10_000 {
            asked.clear();
        }
        asked.insert(id.to_owned());
        Ok(())
    }

    async fn wait_for_stop(&self, id: &str) {
        let inner = &self.inner;
        if inner.is_owned(id) {
            tokio::select! {
                () = inner.local.wait_for_stop(id) => {}
                () = inner.poll_stop(id) => {}
            }
            return;
        }
        // A writer on an instance that does not own the stream (it was taken over, or is
        // gone): the stream's value says when it stops.
        loop {
            match inner.remote(id, inner.settings.poll_every).await {
                Ok(None) => return,
                Ok(Some(record)) if record.header.stop_requested || record.header.done => return,
                Ok(Some(_)) => {}
                Err(err) => {
                    tracing::debug!(stream = id, error = %err, "could not read a stream while waiting for a stop")
                }
            }
            if matches!(inner.kv.get(&stop_key(id)).await, Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(inner.settings.stop_poll_every).await;
        }
    }

    async fn ping(&self) -> Result<()> {
        self.inner.kv.ping().await
    }

    /// A new stream reaches Workers KV at the owner's first flush (within `flush_every`), a
    /// reader elsewhere may hold an older miss for `poll_every`, and KV itself may take its
    /// propagation time (up to 60 s on Cloudflare; none in the simulator or the stand-in).
    fn capabilities(&self) -> StreamCapabilities {
        let settings = &self.inner.settings;
        let propagation = match self.inner.kv.capabilities().consistency {
            Consistency::Strong => Duration::ZERO,
            Consistency::Eventual { within } | Consistency::Announced { within } => within,
        };
        StreamCapabilities {
            visible_elsewhere_within: settings.flush_every + settings.poll_every + propagation,
            // One value per stream, written whole by its owner: two writers overwrite each other.
            single_writer: true,
            // The owner reads the stop key every `stop_poll_every`; KV may take its propagation.
            stop_elsewhere_within: settings.stop_poll_every + propagation,
        }
    }
}

#[cfg(test)]
mod tests;
