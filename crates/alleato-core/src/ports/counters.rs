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

/// Atomic fixed-window counters: the rate limiter's windows, the daily count of streams a user
/// creates.
///
/// # Contract
/// - Keys follow [`crate::ports::check_key`].
/// - `increment` is atomic: concurrent increments from any number of server instances sharing
///   the backend each see a distinct count.
/// - The first increment of a window sets its end to `window` from then (at least one second,
///   rounded up to whole seconds); later ones keep it. After the end, counting starts at one.
#[async_trait]
pub trait Counters: Send + Sync + 'static {
    async fn increment(&self, key: &str, window: Duration) -> Result<Counter>;
    /// A cheap round trip proving the store answers.
    async fn ping(&self) -> Result<()>;
}

/// A counter window as every adapter applies it: at least one second, in whole seconds.
pub fn counter_window(requested: Duration) -> Duration {
    crate::ports::KvCapabilities::default().ttl(requested)
}
