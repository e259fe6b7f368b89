//! In-process streams: the embedded and in-memory backend of the streams port. Followers are
//! woken through a `watch` channel per stream, so a chunk reaches them without polling.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alleato_core::ports::{StreamInfo, StreamSlice, StreamStore};
use alleato_core::time::Timestamp;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use tokio::sync::watch;

struct Stream {
    metadata: Vec<u8>,
    entries: Vec<Vec<u8>>,
    done: bool,
    expires_at: Instant,
    created_at: Timestamp,
    updated_at: Timestamp,
    /// Bumped on every append and on finish; followers wait for a change.
    version: watch::Sender<u64>,
}

/// Streams held in this process's memory. Nothing survives a restart (a generation in flight
/// dies with the process anyway) and nothing is shared between instances: several instances
/// use the Redis streams adapter.
#[derive(Default)]
pub struct MemoryStreams {
    streams: Mutex<HashMap<String, Stream>>,
}

const S: Surface = Surface::Stream;

impl MemoryStreams {
    pub fn new() -> Self {
        Self::default()
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
            m.retain(|_, s| s.expires_at > now);
            before - m.len()
        })
    }
}

fn live<'a>(m: &'a mut HashMap<String, Stream>, id: &str, now: Instant) -> Option<&'a mut Stream> {
    if m.get(id).is_some_and(|s| s.expires_at <= now) {
        m.remove(id);
    }
    m.get_mut(id)
}

#[async_trait]
impl StreamStore for MemoryStreams {
    async fn create(&self, id: &str, metadata: &[u8], ttl: Duration) -> Result<()> {
        self.with(|m, now| {
            if live(m, id, now).is_some() {
                return Err(Error::conflict(S, "a stream with this id already exists"));
            }
            let at = alleato_core::time::now();
            m.insert(
                id.to_owned(),
                Stream {
                    metadata: metadata.to_vec(),
                    entries: Vec::new(),
                    done: false,
                    expires_at: now + ttl,
                    created_at: at,
                    updated_at: at,
                    version: watch::Sender::new(0),
                },
            );
            Ok(())
        })
    }

    async fn info(&self, id: &str) -> Result<Option<StreamInfo>> {
        Ok(self.with(|m, now| {
            live(m, id, now).map(|s| StreamInfo {
                metadata: s.metadata.clone(),
                len: s.entries.len() as u64,
                done: s.done,
                created_at: s.created_at,
                updated_at: s.updated_at,
            })
        }))
    }

    async fn append(&self, id: &str, entry: &[u8], ttl: Duration) -> Result<u64> {
        self.with(|m, now| {
            let s = live(m, id, now).ok_or_else(|| Error::not_found(S))?;
            if s.done {
                return Err(Error::conflict(S, "the stream is finished"));
            }
            s.entries.push(entry.to_vec());
            s.expires_at = now + ttl;
            s.updated_at = alleato_core::time::now();
            let seq = s.entries.len() as u64;
            s.version.send_replace(seq);
            Ok(seq)
        })
    }

    async fn read(&self, id: &str, after: u64, max: usize) -> Result<Option<StreamSlice>> {
        Ok(self.with(|m, now| {
            live(m, id, now).map(|s| {
                let start = (after as usize).min(s.entries.len());
                let entries = s.entries[start..]
                    .iter()
                    .take(max)
                    .enumerate()
                    .map(|(i, e)| ((start + i + 1) as u64, e.clone()))
                    .collect();
                StreamSlice { entries, done: s.done }
            })
        }))
    }

    async fn finish(&self, id: &str) -> Result<()> {
        self.with(|m, now| {
            let s = live(m, id, now).ok_or_else(|| Error::not_found(S))?;
            s.done = true;
            s.version.send_modify(|v| *v += 1);
            Ok(())
        })
    }

    async fn delete(&self, id: &str) -> Result<()> {
        // Dropping the sender wakes every follower, which then finds the stream gone.
        self.with(|m, _| m.remove(id));
        Ok(())
    }

    async fn wait(&self, id: &str, after: u64, timeout: Duration) -> Result<()> {
        let receiver = self.with(|m, now| {
            live(m, id, now).and_then(|s| {
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

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod conformance {
    alleato_core::streams_conformance!(std::sync::Arc::new(super::MemoryStreams::new()));
}
