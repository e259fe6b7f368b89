use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alleato_core::Result;

/// The cache under [`crate::CachedKv`] and [`crate::CachedUsers`]: values held for at most
/// `max_age`, at most `capacity` of them, and the rule that keeps a write here from being
/// undone by a read that raced it.
pub(crate) struct ReadThrough<K, V> {
    cache: moka::sync::Cache<K, V>,
    /// Bumped before and after every write; a read that saw it change does not cache what it
    /// read, since it may be the value from before the write.
    writes: AtomicU64,
}

impl<K, V> ReadThrough<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(max_age: Duration, capacity: u64) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(capacity)
            .time_to_live(max_age.max(Duration::from_millis(1)))
            .build();
        Self { cache, writes: AtomicU64::new(0) }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.cache.get(key)
    }

    pub fn forget(&self, key: &K) {
        self.cache.invalidate(key);
    }

    pub fn remember(&self, key: K, value: V) {
        self.cache.insert(key, value);
    }

    pub fn len(&self) -> u64 {
        self.cache.entry_count()
    }

    /// What `read` finds, cached when there is something and no write raced the read.
    pub async fn load(&self, key: K, read: impl Future<Output = Result<Option<V>>>) -> Result<Option<V>> {
        let before = self.writes.load(Ordering::Acquire);
        let value = read.await?;
        if let Some(value) = &value
            && self.writes.load(Ordering::Acquire) == before
        {
            self.cache.insert(key, value.clone());
        }
        Ok(value)
    }

    /// Runs `write` with the key forgotten before and after, so neither an older cached value
    /// nor a read that raced the write outlives it.
    pub async fn write<T>(&self, key: &K, write: impl Future<Output = Result<T>>) -> Result<T> {
        self.writes.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate(key);
        let written = write.await;
        self.writes.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate(key);
        written
    }
}
