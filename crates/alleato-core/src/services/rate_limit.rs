use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::ports::Counters;

/// Fixed-window rate limiting over the counters port, so every server instance sharing the
/// store shares the counts.
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
