use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::ports::check_key;

/// The state of a fixed-window counter after an increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// The count in the current window, this increment included.
    pub count: u64,
    /// Time until the window ends and the count starts again from zero.
    pub resets_in: Duration,
}

/// `n` to add to the counter `key`, whose window (if it starts now) is `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterAdd {
    /// The counter's key ([`crate::ports::check_key`]).
    pub key: String,
    /// The window's length, should this addition start one.
    pub window: Duration,
    /// How much to add: at least 1.
    pub n: u64,
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
/// - `add_many` counts as `n` (at least 1) increments of each key, atomically per key, and
///   answers each key's state after its addition, in order: for a caller that counts locally
///   and settles with the store in batches (one round trip where the backend allows).
#[async_trait]
pub trait Counters: Send + Sync + 'static {
    /// Adds one to the counter `key`, starting a window of `window` if none is running, and
    /// answers the count and when it resets.
    async fn increment(&self, key: &str, window: Duration) -> Result<Counter>;
    /// Adds each `n` to its key, as that many increments would, and answers each key's state
    /// after its addition, in order; `BadRequest` for a bad key or an `n` of 0. The default
    /// makes one increment at a time.
    async fn add_many(&self, adds: &[CounterAdd]) -> Result<Vec<Counter>> {
        let mut after = Vec::with_capacity(adds.len());
        check_adds(adds)?;
        for add in adds {
            let mut last = self.increment(&add.key, add.window).await?;
            for _ in 1..add.n {
                last = self.increment(&add.key, add.window).await?;
            }
            after.push(last);
        }
        Ok(after)
    }
    /// A cheap round trip proving the store answers.
    async fn ping(&self) -> Result<()>;
}

/// The rules of [`Counters::add_many`]'s input: every key checked, every `n` at least 1.
pub fn check_adds(adds: &[CounterAdd]) -> Result<()> {
    for add in adds {
        check_key(crate::Surface::KeyValue, &add.key)?;
        if add.n == 0 {
            return Err(crate::Error::bad_request(crate::Surface::KeyValue, "a counter addition adds at least 1"));
        }
    }
    Ok(())
}

/// A counter window as every adapter applies it: at least one second, in whole seconds.
pub fn counter_window(requested: Duration) -> Duration {
    crate::ports::KvCapabilities::default().ttl(requested)
}
