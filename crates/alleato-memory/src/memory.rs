use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alleato_core::ports::{Counter, Counters, KeyValueStore, KvCapabilities, check_key, counter_window};
use alleato_core::{Result, Surface};
use async_trait::async_trait;

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    expires_at: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// An in-memory key-value store. Expired entries are dropped when next touched and swept when
/// the map grows past a threshold, so memory stays bounded by the live entries.
#[derive(Debug, Default)]
pub struct MemoryKv {
    entries: Mutex<HashMap<String, Entry>>,
}

const SWEEP_EVERY: usize = 10_000;

impl MemoryKv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>, Instant) -> T) -> T {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if entries.len() >= SWEEP_EVERY && entries.len().is_multiple_of(SWEEP_EVERY) {
            entries.retain(|_, e| e.live(now));
        }
        f(&mut entries, now)
    }
}

#[async_trait]
impl KeyValueStore for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        check_key(Surface::KeyValue, key)?;
        Ok(self.with(|m, now| match m.get(key) {
            Some(e) if e.live(now) => Some(e.value.clone()),
            Some(_) => {
                m.remove(key);
                None
            }
            None => None,
        }))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        check_key(Surface::KeyValue, key)?;
        self.with(|m, now| {
            let expires_at = ttl.map(|t| now + KvCapabilities::default().ttl(t));
            m.insert(key.to_owned(), Entry { value: value.to_vec(), expires_at });
        });
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(Surface::KeyValue, key)?;
        self.with(|m, _| m.remove(key));
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    fn keys(&self, prefix: &str) -> futures::stream::BoxStream<'static, Result<String>> {
        let keys: Vec<Result<String>> = self.with(|m, now| {
            m.iter().filter(|(k, e)| k.starts_with(prefix) && e.live(now)).map(|(k, _)| Ok(k.clone())).collect()
        });
        futures::StreamExt::boxed(futures::stream::iter(keys))
    }
}

#[async_trait]
impl Counters for MemoryKv {
    async fn increment(&self, key: &str, window: Duration) -> Result<Counter> {
        check_key(Surface::KeyValue, key)?;
        let window = counter_window(window);
        self.with(|m, now| {
            let entry = m.entry(key.to_owned()).or_insert(Entry { value: b"0".to_vec(), expires_at: None });
            if !entry.live(now) {
                *entry = Entry { value: b"0".to_vec(), expires_at: None };
            }
            let count = std::str::from_utf8(&entry.value).ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0) + 1;
            entry.value = count.to_string().into_bytes();
            let expires_at = *entry.expires_at.get_or_insert(now + window);
            Ok(Counter { count, resets_in: expires_at.saturating_duration_since(now) })
        })
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod conformance {
    mod kv {
        alleato_core::kv_conformance!(std::sync::Arc::new(super::super::MemoryKv::new()));
    }
    mod counters {
        alleato_core::counters_conformance!(std::sync::Arc::new(super::super::MemoryKv::new()));
    }
}
