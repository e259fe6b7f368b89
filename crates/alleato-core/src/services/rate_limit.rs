use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::ports::Counters;

/// Fixed-window rate limiting over the counters port, so every server instance sharing the
/// store shares the counts.
///
/// Any [`Counters`] will do; here one kept in memory, the smallest that keeps the port's
/// contract (atomic increments, a window that starts with its first increment):
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::{Arc, Mutex};
/// use std::time::{Duration, Instant};
///
/// use alleato_core::Result;
/// use alleato_core::ports::{Counter, Counters, check_key};
/// use alleato_core::services::RateLimiter;
///
/// #[derive(Default)]
/// struct InMemory(Mutex<HashMap<String, (u64, Instant)>>);
///
/// #[async_trait::async_trait]
/// impl Counters for InMemory {
///     async fn increment(&self, key: &str, window: Duration) -> Result<Counter> {
///         check_key(alleato_core::Surface::KeyValue, key)?;
///         let mut counters = self.0.lock().unwrap();
///         let now = Instant::now();
///         let (count, ends) = counters.entry(key.to_owned()).or_insert((0, now + window));
///         if *ends <= now {
///             (*count, *ends) = (0, now + window);
///         }
///         *count += 1;
///         Ok(Counter { count: *count, resets_in: *ends - now })
///     }
///
///     async fn ping(&self) -> Result<()> {
///         Ok(())
///     }
/// }
///
/// let limiter = RateLimiter::new(Arc::new(InMemory::default()));
/// futures::executor::block_on(async {
///     let first = limiter.hit("203.0.113.9", "auth", 2).await?;
///     assert!(first.allowed && first.remaining == 1);
///     assert!(limiter.hit("203.0.113.9", "auth", 2).await?.allowed);
///     let third = limiter.hit("203.0.113.9", "auth", 2).await?;
///     assert!(!third.allowed && third.remaining == 0);
///     assert!(third.resets_in <= RateLimiter::WINDOW);
///     // Another client, or another group, counts on its own.
///     assert!(limiter.hit("198.51.100.4", "auth", 2).await?.allowed);
///     Ok::<(), alleato_core::Error>(())
/// })?;
/// # Ok::<(), alleato_core::Error>(())
/// ```
#[derive(Clone)]
pub struct RateLimiter {
    counters: Arc<dyn Counters>,
}

/// The answer to one request against a limit: whether it may go on, and what the
/// `X-RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the request is within the limit.
    pub allowed: bool,
    /// The requests allowed per window.
    pub limit: u32,
    /// The requests left in this window after this one (0 once over).
    pub remaining: u32,
    /// Time until the window ends and the count starts again.
    pub resets_in: Duration,
}

impl RateLimiter {
    /// The window every limit counts over: one minute.
    pub const WINDOW: Duration = Duration::from_secs(60);

    /// A limiter over the counters port.
    pub fn new(counters: Arc<dyn Counters>) -> Self {
        Self { counters }
    }

    /// Counts one request of `client` against `group` (key `rate:{client}:{group}`).
    pub async fn hit(&self, client: &str, group: &str, limit: u32) -> Result<RateDecision> {
        let key = format!("rate:{client}:{group}");
        let counter = self.counters.increment(&key, Self::WINDOW).await?;
        let limit64 = u64::from(limit);
        Ok(RateDecision {
            allowed: counter.count <= limit64,
            limit,
            remaining: limit64.saturating_sub(counter.count) as u32,
            resets_in: counter.resets_in,
        })
    }
}
