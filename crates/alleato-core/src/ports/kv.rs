use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;

/// The state of a fixed-window counter after an increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// The count in the current window, this increment included.
    pub count: u64,
    /// Time until the window ends and the count starts again from zero.
    pub resets_in: Duration,
}

/// A key-value store with expiry: sessions, rate-limit counters, cache.
///
/// # Contract
/// - Keys are UTF-8, at most 512 bytes (Workers KV's limit); values are bytes.
/// - A key past its TTL reads as absent. A TTL is at least one second; adapters whose backend
///   has a larger minimum (Workers KV: 60 s) round up and say so in their docs.
/// - `set` replaces the value and the TTL; `delete` of a missing key succeeds.
/// - `increment` is atomic: concurrent increments from any number of server instances each see
///   a distinct count. The first increment of a window sets its expiry to `window`; later ones
///   keep it.
#[async_trait]
pub trait KeyValueStore: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()>;
    async fn delete(&self, key: &str) -> Result<()>;
    async fn increment(&self, key: &str, window: Duration) -> Result<Counter>;
    /// A cheap round trip proving the store answers.
    async fn ping(&self) -> Result<()>;
    /// Whether other server processes see the same entries (Redis, Workers KV), so signals
    /// between instances can travel through it. The embedded and in-memory stores belong to
    /// one process.
    fn is_shared(&self) -> bool {
        false
    }
}

/// The longest key any adapter accepts.
pub const MAX_KEY_BYTES: usize = 512;
