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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    pub resets_in: Duration,
}

impl RateLimiter {
    pub const WINDOW: Duration = Duration::from_secs(60);

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
