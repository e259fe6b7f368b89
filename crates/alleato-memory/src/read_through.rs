use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alleato_core::Result;
use alleato_core::ports::{Change, ChangeFeed, ChangeListener};

/// The cache under [`crate::CachedKv`] and [`crate::CachedUsers`]: values held for at most
/// `max_age`, at most `capacity` of them, and the rule that keeps a write from being undone by
/// a read that raced it. Told by a [`ChangeFeed`], it also forgets what other instances change.
pub(crate) struct ReadThrough<K, V> {
    cache: moka::sync::Cache<K, V>,
    /// Bumped before and after every write here and at every change announced; a read that saw
    /// it change does not cache what it read, since it may be the value from before the write.
    writes: Arc<AtomicU64>,
    told: Option<Told<K>>,
}

/// The feed a cache listens to, and how its keys are named there.
struct Told<K> {
    feed: Arc<dyn ChangeFeed>,
    to_name: fn(&K) -> String,
}

/// Forgets what the feed says changed; `from_name` picks this cache's keys out of the feed's.
struct Forget<K, V> {
    cache: moka::sync::Cache<K, V>,
    writes: Arc<AtomicU64>,
    from_name: fn(&str) -> Option<K>,
}

impl<K, V> ChangeListener for Forget<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn changed(&self, change: Change<'_>) {
        self.writes.fetch_add(1, Ordering::AcqRel);
        match change {
            Change::Key(name) => {
                if let Some(key) = (self.from_name)(name) {
                    self.cache.invalidate(&key);
                }
            }
            Change::All => self.cache.invalidate_all(),
        }
    }
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
        Self { cache, writes: Arc::new(AtomicU64::new(0)), told: None }
    }

    /// Listens to `feed`: a key is named `to_name(key)` there, and `from_name` maps a name back
    /// (`None` for another cache's). While the feed is not live, nothing is served from memory.
    pub fn told_by(
        mut self,
        feed: Arc<dyn ChangeFeed>,
        to_name: fn(&K) -> String,
        from_name: fn(&str) -> Option<K>,
    ) -> Self {
        feed.listen(Arc::new(Forget { cache: self.cache.clone(), writes: self.writes.clone(), from_name }));
        self.told = Some(Told { feed, to_name });
        self
    }

    /// The feed this cache listens to, if any.
    pub fn feed(&self) -> Option<&Arc<dyn ChangeFeed>> {
        self.told.as_ref().map(|told| &told.feed)
    }

    /// Whether memory may answer: always, unless the feed this cache relies on is down.
    fn trusted(&self) -> bool {
        self.told.as_ref().is_none_or(|told| told.feed.is_live())
    }

    pub fn get(&self, key: &K) -> Option<V> {
        if !self.trusted() {
            return None;
        }
        self.cache.get(key)
    }

    pub fn forget(&self, key: &K) {
        self.cache.invalidate(key);
    }

    pub fn remember(&self, key: K, value: V) {
        if self.trusted() {
            self.cache.insert(key, value);
        }
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
            && self.trusted()
        {
            self.cache.insert(key, value.clone());
        }
        Ok(value)
    }

    /// Runs `write` with the key forgotten before and after, so neither an older cached value
    /// nor a read that raced the write outlives it; then announces the change to the feed, if
    /// any. A failed announcement is logged, not returned: the write itself is done, and an
    /// instance that misses it learns it from its own feed's failure (it stops serving from
    /// memory) or from `max_age`.
    pub async fn write<T>(&self, key: &K, write: impl Future<Output = Result<T>>) -> Result<T> {
        let written = self.write_here(key, write).await;
        if let Some(told) = &self.told {
            let name = (told.to_name)(key);
            if let Err(err) = told.feed.announce(&name).await {
                tracing::warn!(error = %err, key = %name, "could not announce a change to the other instances");
            }
        }
        written
    }

    /// [`ReadThrough::write`] for an entry no instance can hold yet (a new id: missing entries
    /// are never cached), so there is nothing to announce.
    pub async fn write_new<T>(&self, key: &K, write: impl Future<Output = Result<T>>) -> Result<T> {
        self.write_here(key, write).await
    }

    async fn write_here<T>(&self, key: &K, write: impl Future<Output = Result<T>>) -> Result<T> {
        self.writes.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate(key);
        let written = write.await;
        self.writes.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate(key);
        written
    }
}
