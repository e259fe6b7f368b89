//! In-process streams: the in-memory backend of the streams port (`--ephemeral`, tests).
//! Followers are woken through a `watch` channel per stream, so a chunk reaches them without
//! polling. Everything it holds is in memory, so it holds at most a set number of bytes: past
//! that, appends are refused (`unavailable:stream`) until streams expire or are deleted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alleato_core::ports::{StreamInfo, StreamSlice, StreamStore};
use alleato_core::sweep::SweepGate;
use alleato_core::time::Timestamp;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use tokio::sync::watch;

struct Stream {
    metadata: Vec<u8>,
    entries: Vec<Vec<u8>>,
    bytes: u64,
    done: bool,
    expires_at: Instant,
    created_at: Timestamp,
    updated_at: Timestamp,
    /// Bumped on every append and on finish; followers wait for a change.
    version: watch::Sender<u64>,
    /// Set by a stop request; the writer waits for it.
    stop: watch::Sender<bool>,
}

/// Streams held in this process's memory; expired ones are dropped when read, and all of them
/// from `create` at most once a minute. Nothing survives a restart (a generation in flight
/// dies with the process anyway) and nothing is shared between instances: several instances
/// use the Redis streams adapter.
pub struct MemoryStreams {
    streams: Mutex<HashMap<String, Stream>>,
    /// Bytes of entries held, and the most it may hold.
    held: std::sync::atomic::AtomicU64,
    max_bytes: u64,
    /// Expired streams are dropped from `create`, at most once a minute.
    sweep: SweepGate,
}

impl Default for MemoryStreams {
    fn default() -> Self {
        Self::with_max_bytes(Self::DEFAULT_MAX_BYTES)
    }
}

const S: Surface = Surface::Stream;

impl MemoryStreams {
    /// The default bound on the bytes of entries held: 256 MiB.
    pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

    /// An empty store holding at most [`Self::DEFAULT_MAX_BYTES`] of entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// Holds at most `max_bytes` of entries in all.
    pub fn with_max_bytes(max_bytes: u64) -> Self {
        Self {
            streams: Mutex::default(),
            held: std::sync::atomic::AtomicU64::new(0),
            max_bytes,
            sweep: SweepGate::new(Duration::from_secs(60)),
        }
    }

    /// Bytes of entries held now.
    pub fn held_bytes(&self) -> u64 {
        self.held.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn release(&self, bytes: u64) {
        self.held.fetch_sub(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Stream>, Instant) -> T) -> T {
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        f(&mut streams, now)
    }

    /// Drops expired streams; returns how many.
    pub fn purge_expired(&self) -> usize {
        self.with(|m, now| {
            let before = m.len();
            let mut freed = 0;
            m.retain(|_, s| {
                let keep = s.expires_at > now;
                if !keep {
                    freed += s.bytes;
                }
                keep
            });
            self.release(freed);
            before - m.len()
        })
    }

    fn live<'a>(&self, m: &'a mut HashMap<String, Stream>, id: &str, now: Instant) -> Option<&'a mut Stream> {
        if m.get(id).is_some_and(|s| s.expires_at <= now)
            && let Some(gone) = m.remove(id)
        {
            self.release(gone.bytes);
        }
        m.get_mut(id)
    }
}

#[async_trait]
impl StreamStore for MemoryStreams {
    async fn create(&self, id: &str, metadata: &[u8], ttl: Duration) -> Result<()> {
        if self.sweep.due() {
            self.purge_expired();
        }
        self.with(|m, now| {
            if self.live(m, id, now).is_some() {
                return Err(Error::conflict(S, "a stream with this id already exists"));
            }
            let at = alleato_core::time::now();
            m.insert(
                id.to_owned(),
                Stream {
                    metadata: metadata.to_vec(),
                    entries: Vec::new(),
                    bytes: 0,
                    done: false,
                    expires_at: now + ttl,
                    created_at: at,
                    updated_at: at,
                    version: watch::Sender::new(0),
                    stop: watch::Sender::new(false),
                },
            );
            Ok(())
        })
    }

    async fn info(&self, id: &str) -> Result<Option<StreamInfo>> {
        Ok(self.with(|m, now| {
            self.live(m, id, now).map(|s| StreamInfo {
                metadata: s.metadata.clone(),
                len: s.entries.len() as u64,
                bytes: s.bytes,
                done: s.done,
                stop_requested: *s.stop.borrow(),
                created_at: s.created_at,
                updated_at: s.updated_at,
            })
        }))
    }

    async fn append(&self, id: &str, entry: &[u8], ttl: Duration) -> Result<u64> {
        self.with(|m, now| {
            let s = self.live(m, id, now).ok_or_else(|| Error::not_found(S))?;
            if s.done {
                return Err(Error::conflict(S, "the stream is finished"));
            }
            let size = entry.len() as u64;
            let held = self.held.fetch_add(size, std::sync::atomic::Ordering::Relaxed);
            if held + size > self.max_bytes {
                self.release(size);
                return Err(Error::unavailable(
                    S,
                    format!("in-memory streams hold their limit of {} bytes", self.max_bytes),
                ));
            }
            s.bytes += size;
            s.entries.push(entry.to_vec());
            s.expires_at = now + ttl;
            s.updated_at = alleato_core::time::now();
            let seq = s.entries.len() as u64;
            s.version.send_replace(seq);
            Ok(seq)
        })
    }

    async fn read(&self, id: &str, after: u64, max: usize) -> Result<Option<StreamSlice>> {
        Ok(self.with(|m, now| self.live(m, id, now).map(|s| StreamSlice::of(&s.entries, after, max, s.done))))
    }

    async fn finish(&self, id: &str, keep: Duration) -> Result<()> {
        self.with(|m, now| {
            let s = self.live(m, id, now).ok_or_else(|| Error::not_found(S))?;
            if !s.done {
                s.expires_at = now + keep;
            }
            s.done = true;
            s.version.send_modify(|v| *v += 1);
            Ok(())
        })
    }

    async fn delete(&self, id: &str) -> Result<()> {
        // Dropping the sender wakes every follower, which then finds the stream gone.
        if let Some(gone) = self.with(|m, _| m.remove(id)) {
            self.release(gone.bytes);
        }
        Ok(())
    }

    async fn wait(&self, id: &str, after: u64, timeout: Duration) -> Result<()> {
        let receiver = self.with(|m, now| {
            self.live(m, id, now).and_then(|s| {
                let ready = s.done || s.entries.len() as u64 > after;
                (!ready).then(|| s.version.subscribe())
            })
        });
        if let Some(mut receiver) = receiver {
            // Either a change or a closed channel (deleted) ends the wait.
            let _ = tokio::time::timeout(timeout, receiver.changed()).await;
        }
        Ok(())
    }

    async fn request_stop(&self, id: &str) -> Result<()> {
        self.with(|m, now| {
            let s = self.live(m, id, now).ok_or_else(|| Error::not_found(S))?;
            s.stop.send_replace(true);
            Ok(())
        })
    }

    async fn wait_for_stop(&self, id: &str) {
        let Some(mut stop) = self.with(|m, now| self.live(m, id, now).map(|s| s.stop.subscribe())) else { return };
        // A closed channel (the stream deleted) ends the wait too.
        let _ = stop.wait_for(|stop| *stop).await;
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_is_bounded_and_given_back() {
        let store = MemoryStreams::with_max_bytes(1000);
        let ttl = Duration::from_secs(60);
        store.create("a", b"", ttl).await.unwrap();
        store.create("b", b"", ttl).await.unwrap();
        store.append("a", &[0; 600], ttl).await.unwrap();
        let err = store.append("b", &[0; 600], ttl).await.unwrap_err();
        assert_eq!(err.code(), "unavailable:stream");
        store.append("b", &[0; 400], ttl).await.expect("what fits is taken");
        assert_eq!(store.held_bytes(), 1000);
        store.delete("a").await.unwrap();
        assert_eq!(store.held_bytes(), 400);
        store.append("b", &[0; 600], ttl).await.expect("room again");
        store.finish("b", Duration::ZERO).await.unwrap();
        store.purge_expired();
        assert_eq!(store.held_bytes(), 0, "expired streams give their bytes back");
    }
}

#[cfg(test)]
mod conformance {
    alleato_core::streams_conformance!(std::sync::Arc::new(super::MemoryStreams::new()));
}

/// One process's store: "another instance" is another handle on it.
#[cfg(test)]
mod shared_conformance {
    alleato_core::streams_shared_conformance!({
        let store = std::sync::Arc::new(super::MemoryStreams::new());
        alleato_core::testkit::streams_shared::Shared::new(store.clone(), store)
    });
}
