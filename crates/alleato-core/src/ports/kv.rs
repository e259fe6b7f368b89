use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::{Error, Result, Surface};

/// How soon other server instances see a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// Every reader, on any instance, sees a write once it has returned.
    Strong,
    /// The writing instance sees its write at once; others may read the old value (or none)
    /// for up to `within` (Workers KV: 60 s, its cache time).
    Eventual {
        /// The longest another instance may read a stale value.
        within: Duration,
    },
    /// Every instance is told of a write as it returns ([`crate::ports::ChangeFeed`], Redis
    /// pub/sub: milliseconds) and until then may serve its cached copy; an instance that may
    /// have missed an announcement stops serving from memory within `within`.
    Announced {
        /// The longest an instance that missed an announcement may serve its cached copy.
        within: Duration,
    },
}

/// What a key-value store can promise, declared by each adapter. The conformance suite reads
/// it to time its cases, and services to know what they may rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvCapabilities {
    /// The shortest TTL the backend honours; shorter ones are raised to it (Workers KV: 60 s).
    pub min_ttl: Duration,
    /// How soon other instances see a write.
    pub consistency: Consistency,
}

impl Default for KvCapabilities {
    fn default() -> Self {
        Self { min_ttl: Duration::from_secs(1), consistency: Consistency::Strong }
    }
}

impl KvCapabilities {
    /// The TTL a store applies when asked for `requested`: at least [`KvCapabilities::min_ttl`],
    /// rounded up to whole seconds (the unit every backend's expiry takes).
    ///
    /// ```
    /// use std::time::Duration;
    /// use alleato_core::ports::{Consistency, KvCapabilities};
    ///
    /// // What Workers KV declares: no TTL under a minute, writes seen elsewhere within one.
    /// let workers_kv = KvCapabilities {
    ///     min_ttl: Duration::from_secs(60),
    ///     consistency: Consistency::Eventual { within: Duration::from_secs(60) },
    /// };
    /// assert_eq!(workers_kv.ttl(Duration::from_secs(5)), Duration::from_secs(60));
    /// assert_eq!(workers_kv.ttl(Duration::from_millis(90_200)), Duration::from_secs(91));
    /// assert_eq!(KvCapabilities::default().ttl(Duration::ZERO), Duration::from_secs(1));
    /// ```
    pub fn ttl(&self, requested: Duration) -> Duration {
        let ttl = requested.max(self.min_ttl);
        let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        Duration::from_secs(secs.max(1))
    }
}

/// Records with expiry: sessions and cache. Atomic counters are a port of their own
/// ([`crate::ports::Counters`]), since some key-value backends (Workers KV) have no atomic
/// operation.
///
/// # Contract
/// - Keys are checked by [`check_key`]: UTF-8, 1 to [`MAX_KEY_BYTES`] bytes; values are bytes.
/// - A TTL becomes [`KvCapabilities::ttl`]; a key past it reads as absent.
/// - `set` replaces the value and the TTL; `delete` of a missing key succeeds.
/// - The instance that wrote reads its own writes at once; other instances per
///   [`KvCapabilities::consistency`].
#[async_trait]
pub trait KeyValueStore: Send + Sync + 'static {
    /// The value under `key`; `None` if it is missing or has expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// The value and how long it has left, where the store can tell in the same round trip
    /// (`None` for no TTL or not known): a cache in front of the store keeps it no longer.
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<Duration>)>> {
        Ok(self.get(key).await?.map(|value| (value, None)))
    }
    /// Stores `value` under `key`, replacing any value and TTL; `None` keeps it until deleted.
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()>;
    /// Removes the key; a missing key is fine.
    async fn delete(&self, key: &str) -> Result<()>;
    /// A cheap round trip proving the store answers.
    async fn ping(&self) -> Result<()>;
    /// The keys that start with `prefix` and have not expired, in no particular order, read
    /// lazily: for moving sessions to another store (`alleato migrate copy --sessions`). On an
    /// eventually consistent store, writes newer than its bound may be missing. A store that
    /// cannot list its keys (the default) says so in the stream's one error.
    fn keys(&self, prefix: &str) -> BoxStream<'static, Result<String>> {
        let _ = prefix;
        let unsupported = Error::backend(Surface::KeyValue, "this key-value store cannot list its keys");
        futures::stream::once(async move { Err(unsupported) }).boxed()
    }
    /// What the store promises: its minimum TTL and its consistency. The default: 1 s and
    /// strong.
    fn capabilities(&self) -> KvCapabilities {
        KvCapabilities::default()
    }
}

/// The longest key any adapter accepts (Workers KV's limit).
pub const MAX_KEY_BYTES: usize = 512;

/// The key rule of [`KeyValueStore`] and [`crate::ports::Counters`]: 1 to [`MAX_KEY_BYTES`]
/// bytes, else `BadRequest` on `surface`.
pub fn check_key(surface: Surface, key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(Error::bad_request(surface, format!("keys must be 1 to {MAX_KEY_BYTES} bytes")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_raised_to_the_minimum_and_rounded_up_to_seconds() {
        let strict = KvCapabilities::default();
        assert_eq!(strict.ttl(Duration::from_millis(10)), Duration::from_secs(1));
        assert_eq!(strict.ttl(Duration::from_millis(1500)), Duration::from_secs(2));
        assert_eq!(strict.ttl(Duration::from_secs(90)), Duration::from_secs(90));
        let workers = KvCapabilities { min_ttl: Duration::from_secs(60), ..strict };
        assert_eq!(workers.ttl(Duration::from_secs(1)), Duration::from_secs(60));
        assert_eq!(workers.ttl(Duration::from_secs(61)), Duration::from_secs(61));
    }

    #[test]
    fn keys_are_checked_once_for_every_adapter() {
        assert!(check_key(Surface::KeyValue, "a").is_ok());
        assert!(check_key(Surface::KeyValue, &"k".repeat(MAX_KEY_BYTES)).is_ok());
        assert!(matches!(check_key(Surface::KeyValue, ""), Err(Error::BadRequest { .. })));
        assert!(matches!(check_key(Surface::KeyValue, &"k".repeat(MAX_KEY_BYTES + 1)), Err(Error::BadRequest { .. })));
    }
}
