//! A token bucket of API requests, shared by every adapter of one process.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most `per_window` requests per `window`, as a bucket that refills evenly and holds at
/// most a tenth of the window's requests (so a burst cannot spend the whole window at once).
/// A request that finds the bucket empty waits for its token, up to a bound; past it, it is
/// refused, and the caller answers 503 instead of letting Cloudflare block the account.
#[derive(Debug)]
pub struct Budget {
    per_second: f64,
    capacity: f64,
    max_wait: Duration,
    state: Mutex<(f64, Instant)>,
}

impl Budget {
    /// Cloudflare's account-wide limit on its REST API: 1,200 requests per 5 minutes.
    pub const CLOUDFLARE_API_PER_5_MINUTES: u32 = 1200;

    /// `per_window` requests per `window`, refilled evenly; a request waits at most `max_wait`
    /// for its turn before it is refused.
    pub fn new(per_window: u32, window: Duration, max_wait: Duration) -> Self {
        let per_second = f64::from(per_window.max(1)) / window.as_secs_f64().max(1.0);
        let capacity = (f64::from(per_window) / 10.0).max(1.0);
        Self { per_second, capacity, max_wait, state: Mutex::new((capacity, Instant::now())) }
    }

    /// Takes one request's token: at once, after a short wait, or `false` when the wait would
    /// exceed the bound.
    pub async fn take(&self) -> bool {
        let wait = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let (tokens, at) = *state;
            let now = Instant::now();
            let tokens = (tokens + now.duration_since(at).as_secs_f64() * self.per_second).min(self.capacity);
            let wait =
                if tokens >= 1.0 { Duration::ZERO } else { Duration::from_secs_f64((1.0 - tokens) / self.per_second) };
            if wait > self.max_wait {
                *state = (tokens, now);
                return false;
            }
            // The token is spent now, even if it arrives later: waiters queue in order.
            *state = (tokens - 1.0, now);
            wait
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_spends_the_bucket_then_waits_then_is_refused() {
        // 100 per 10 s: 10 a second, a bucket of 10.
        let budget = Budget::new(100, Duration::from_secs(10), Duration::from_millis(150));
        for _ in 0..10 {
            assert!(budget.take().await, "the bucket's tokens go at once");
        }
        // Three at once: the first waits its 100 ms for a token; the others would wait 200 and
        // 300 ms, past the 150 ms bound, and are refused at once.
        let started = Instant::now();
        let (first, second, third) = tokio::join!(budget.take(), budget.take(), budget.take());
        assert!(first, "the next one waits for its token");
        assert!(started.elapsed() >= Duration::from_millis(80), "{:?}", started.elapsed());
        assert!(!second && !third, "past the wait bound, requests are refused");
    }
}
