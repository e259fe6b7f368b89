use std::sync::Arc;
use std::time::{Duration, Instant};

use alleato_core::Result;
use alleato_core::ports::{ChangeFeed, Consistency, KeyValueStore, KvCapabilities};
use async_trait::async_trait;

use crate::read_through::ReadThrough;

/// A read-through cache in this process's memory in front of a key-value store whose reads are
/// slow or metered (Workers KV over its REST API: every read is an API request under the
/// account-wide limit).
///
/// - A value read or written here is served from memory for at most `max_age` (and never past
///   its own TTL); then it is read again from the store.
/// - Writes and deletes go to the store first, then replace or drop the cached value: this
///   instance reads its own writes at once, and forgets a deleted key (a logout) at once.
/// - Other instances see a write once their cached copy is `max_age` old and the store itself
///   shows it: the declared [`Consistency::Eventual`] bound grows by `max_age`.
/// - Missing keys are not cached: a key written elsewhere is found on the next read.
/// - At most `capacity` values are held; the least used go first.
/// - [Told by a change feed](CachedKv::told_by) (Redis pub/sub), every write is announced and
///   every instance forgets the key as the announcement arrives (milliseconds); while the feed
///   is down, reads go to the store. The declared consistency is then
///   [`Consistency::Announced`].
pub struct CachedKv {
    inner: Arc<dyn KeyValueStore>,
    cache: ReadThrough<String, Cached>,
    max_age: Duration,
}

/// A key's name on a change feed: the feed is shared with other caches ([`crate::CachedUsers`]).
const FEED_PREFIX: &str = "kv:";

#[derive(Clone)]
struct Cached {
    value: Arc<[u8]>,
    expires_at: Option<Instant>,
}

impl CachedKv {
    /// Serves reads of `inner` from memory for up to `max_age`, holding at most `capacity` entries.
    pub fn new(inner: Arc<dyn KeyValueStore>, max_age: Duration, capacity: u64) -> Self {
        Self { inner, cache: ReadThrough::new(max_age, capacity), max_age }
    }

    /// Announces every write here on `feed` and forgets what other instances announce; see the
    /// [type documentation](CachedKv).
    pub fn told_by(self, feed: Arc<dyn ChangeFeed>) -> Self {
        let cache = self.cache.told_by(
            feed,
            |key| format!("{FEED_PREFIX}{key}"),
            |name| name.strip_prefix(FEED_PREFIX).map(str::to_owned),
        );
        Self { cache, ..self }
    }

    /// How long a value may be served from memory.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    fn remember(&self, key: &str, value: &[u8], ttl: Option<Duration>) {
        let expires_at = ttl.map(|ttl| Instant::now() + self.inner.capabilities().ttl(ttl));
        self.cache.remember(key.to_owned(), Cached { value: value.into(), expires_at });
    }
}

impl std::fmt::Debug for CachedKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedKv").field("max_age", &self.max_age).field("entries", &self.cache.len()).finish()
    }
}

impl CachedKv {
    /// The live entry of `key`: from memory, else read from the store and kept here.
    async fn lookup(&self, key: &str) -> Result<Option<Cached>> {
        let key = key.to_owned();
        if let Some(cached) = self.cache.get(&key) {
            if cached.expires_at.is_none_or(|at| at > Instant::now()) {
                return Ok(Some(cached));
            }
            self.cache.forget(&key);
        }
        // Where the store does not say how long the value has left, `max_age` bounds it.
        let read = async {
            let found = self.inner.get_with_ttl(&key).await?;
            Ok(found.map(|(v, left)| Cached { value: v.into(), expires_at: left.map(|left| Instant::now() + left) }))
        };
        self.cache.load(key.clone(), read).await
    }
}

// A decorator lists every method of its port, defaulted ones too: a default would bypass the
// cache or lose the store's own version (object_store's advice to wrapper authors).
#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl KeyValueStore for CachedKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.lookup(key).await?.map(|c| c.value.to_vec()))
    }

    /// The value with the time its own TTL has left (not how long memory keeps it), for a
    /// cache in front of this one.
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<Duration>)>> {
        let left = |at: Instant| at.saturating_duration_since(Instant::now());
        Ok(self.lookup(key).await?.map(|c| (c.value.to_vec(), c.expires_at.map(left))))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        self.cache.write(&key.to_owned(), self.inner.set(key, value, ttl)).await?;
        self.remember(key, value, ttl);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.cache.write(&key.to_owned(), self.inner.delete(key)).await
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    /// The store's own listing: memory holds only what was read here.
    fn keys(&self, prefix: &str) -> futures::stream::BoxStream<'static, Result<String>> {
        self.inner.keys(prefix)
    }

    fn capabilities(&self) -> KvCapabilities {
        let inner = self.inner.capabilities();
        // How soon a missed announcement stops this cache serving from memory.
        let told_within = self.cache.feed().map(|feed| feed.detects_loss_within().min(self.max_age));
        let consistency = match (inner.consistency, told_within) {
            (Consistency::Strong, Some(within)) => Consistency::Announced { within },
            (Consistency::Strong, None) => Consistency::Eventual { within: self.max_age },
            (Consistency::Announced { within }, None) | (Consistency::Eventual { within }, _) => {
                Consistency::Eventual { within: within + self.max_age }
            }
            (Consistency::Announced { within }, Some(told)) => Consistency::Announced { within: within.max(told) },
        };
        KvCapabilities { consistency, ..inner }
    }
}

#[cfg(test)]
mod tests {
    use alleato_core::ports::{Change, ChangeListener};

    use super::*;
    use crate::MemoryKv;

    /// A second instance's view: its own cache over the same store.
    fn two_instances(max_age: Duration) -> (CachedKv, CachedKv) {
        let store: Arc<dyn KeyValueStore> = Arc::new(MemoryKv::new());
        (CachedKv::new(store.clone(), max_age, 100), CachedKv::new(store, max_age, 100))
    }

    #[tokio::test]
    async fn a_delete_is_seen_here_at_once_and_elsewhere_within_max_age() {
        let (here, there) = two_instances(Duration::from_millis(300));
        here.set("session", b"s", None).await.unwrap();
        assert_eq!(there.get("session").await.unwrap().as_deref(), Some(&b"s"[..]), "cached there now");
        here.delete("session").await.unwrap();
        assert_eq!(here.get("session").await.unwrap(), None, "the instance that deleted forgets at once");
        assert!(there.get("session").await.unwrap().is_some(), "the other serves its copy for a while");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(there.get("session").await.unwrap(), None, "and forgets it within max_age");
    }

    #[tokio::test]
    async fn get_with_ttl_answers_the_values_own_ttl_from_memory_or_the_store() {
        let (here, there) = two_instances(Duration::from_secs(60));
        here.set("session", b"s", Some(Duration::from_secs(30))).await.unwrap();
        let (value, left) = here.get_with_ttl("session").await.unwrap().expect("kept here");
        assert_eq!(value, b"s");
        let left = left.expect("a value written here knows its TTL");
        assert!(left > Duration::from_secs(25) && left <= Duration::from_secs(30), "{left:?}");
        // Elsewhere, read through to the store: what the store says it has left, if it says.
        let (value, _) = there.get_with_ttl("session").await.unwrap().expect("read from the store");
        assert_eq!(value, b"s");
        here.set("forever", b"f", None).await.unwrap();
        assert_eq!(here.get_with_ttl("forever").await.unwrap(), Some((b"f".to_vec(), None)));
        assert_eq!(here.get_with_ttl("missing").await.unwrap(), None);
    }

    #[tokio::test]
    async fn missing_keys_are_not_cached() {
        let (here, there) = two_instances(Duration::from_secs(60));
        assert_eq!(there.get("k").await.unwrap(), None);
        here.set("k", b"v", None).await.unwrap();
        assert_eq!(there.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    }

    /// A change feed within this process: what Redis pub/sub does across processes.
    #[derive(Default)]
    struct LocalFeed {
        down: std::sync::atomic::AtomicBool,
        listeners: std::sync::Mutex<Vec<Arc<dyn ChangeListener>>>,
    }

    impl LocalFeed {
        fn tell(&self, change: Change<'_>) {
            for listener in self.listeners.lock().unwrap().iter() {
                listener.changed(change);
            }
        }
    }

    #[async_trait]
    impl ChangeFeed for LocalFeed {
        async fn announce(&self, key: &str) -> Result<()> {
            if !self.is_live() {
                return Err(alleato_core::Error::unavailable(alleato_core::Surface::KeyValue, "feed down"));
            }
            self.tell(Change::Key(key));
            Ok(())
        }
        fn listen(&self, listener: Arc<dyn ChangeListener>) {
            self.listeners.lock().unwrap().push(listener);
        }
        fn is_live(&self) -> bool {
            !self.down.load(std::sync::atomic::Ordering::Acquire)
        }
        fn detects_loss_within(&self) -> Duration {
            Duration::from_secs(3)
        }
    }

    #[tokio::test]
    async fn told_by_a_feed_other_instances_forget_a_change_at_once() {
        let store: Arc<dyn KeyValueStore> = Arc::new(MemoryKv::new());
        let feed = Arc::new(LocalFeed::default());
        let instance = || CachedKv::new(store.clone(), Duration::from_secs(60), 100).told_by(feed.clone());
        let (here, there) = (instance(), instance());
        here.set("session", b"s", None).await.unwrap();
        assert_eq!(there.get("session").await.unwrap().as_deref(), Some(&b"s"[..]), "cached there now");
        here.delete("session").await.unwrap();
        assert_eq!(there.get("session").await.unwrap(), None, "forgotten there as the delete was announced");
        here.set("session", b"renewed", None).await.unwrap();
        assert_eq!(there.get("session").await.unwrap().as_deref(), Some(&b"renewed"[..]));
        assert_eq!(
            here.capabilities().consistency,
            Consistency::Announced { within: Duration::from_secs(3) },
            "a missed announcement is noticed within the feed's bound, under max_age"
        );
    }

    #[tokio::test]
    async fn while_the_feed_is_down_reads_go_to_the_store() {
        let store: Arc<dyn KeyValueStore> = Arc::new(MemoryKv::new());
        let feed = Arc::new(LocalFeed::default());
        let there = CachedKv::new(store.clone(), Duration::from_secs(60), 100).told_by(feed.clone());
        store.set("session", b"old", None).await.unwrap();
        assert_eq!(there.get("session").await.unwrap().as_deref(), Some(&b"old"[..]));
        // A change whose announcement is lost: the feed is down, as a broken subscription is.
        feed.down.store(true, std::sync::atomic::Ordering::Release);
        feed.tell(Change::All);
        store.set("session", b"new", None).await.unwrap();
        assert_eq!(there.get("session").await.unwrap().as_deref(), Some(&b"new"[..]), "read from the store");
        store.delete("session").await.unwrap();
        assert_eq!(there.get("session").await.unwrap(), None, "nothing kept from memory while down");
        // Back up: the feed tells everyone to forget what they read meanwhile.
        store.set("session", b"again", None).await.unwrap();
        feed.down.store(false, std::sync::atomic::Ordering::Release);
        feed.tell(Change::All);
        assert_eq!(there.get("session").await.unwrap().as_deref(), Some(&b"again"[..]));
    }

    #[tokio::test]
    async fn the_declared_bound_grows_by_max_age() {
        let (here, _) = two_instances(Duration::from_secs(20));
        assert_eq!(here.capabilities().consistency, Consistency::Eventual { within: Duration::from_secs(20) });
    }
}

#[cfg(test)]
mod conformance {
    alleato_core::kv_conformance!(std::sync::Arc::new(super::CachedKv::new(
        std::sync::Arc::new(crate::MemoryKv::new()),
        std::time::Duration::from_secs(30),
        1000
    )));
}
