use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use alleato_core::Result;
use alleato_core::ports::{Counter, CounterAdd, Counters, check_adds, check_key, counter_window};
use async_trait::async_trait;

/// Counters counted in this process's memory and settled with a shared store in batches, for a
/// store where each call is metered (D1 over Cloudflare's REST API, under the account-wide
/// limit): the rate limiter then costs at most one request per `settle_every` per instance,
/// however many requests it counts, instead of one per request.
///
/// - On one instance the contract holds as it is: increments are atomic and each sees a
///   distinct count; windows start and reset as the port says.
/// - Across instances, a count includes what the others added up to their last settling: a
///   client spread over several instances can pass a limit by what it sends to the other
///   instances within `settle_every`. Every addition reaches the store (retried at the next
///   settling after a failure); what is not yet settled when the process stops is lost.
pub struct PreCountedCounters {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Counters>,
    slots: Mutex<HashMap<String, Slot>>,
}

#[derive(Debug)]
struct Slot {
    /// Which local window this is: a settling answered for an earlier one is dropped.
    epoch: u64,
    window: Duration,
    ends: Instant,
    /// The store's count at the last settling (every instance's additions).
    settled: u64,
    /// Added here and being settled now.
    in_flight: u64,
    /// Added here since.
    pending: u64,
}

impl Slot {
    fn count(&self) -> u64 {
        self.settled + self.in_flight + self.pending
    }
}

impl PreCountedCounters {
    /// Counts over `store`, settling every `settle_every` on the current Tokio runtime until
    /// dropped.
    pub fn new(store: Arc<dyn Counters>, settle_every: Duration) -> Self {
        let inner = Arc::new(Inner { store, slots: Mutex::default() });
        tokio::spawn(settler(Arc::downgrade(&inner), settle_every.max(Duration::from_millis(10))));
        Self { inner }
    }

    /// Settles every pending addition with the store now.
    pub async fn settle(&self) -> Result<()> {
        self.inner.settle().await
    }
}

impl std::fmt::Debug for PreCountedCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreCountedCounters").finish_non_exhaustive()
    }
}

impl Inner {
    fn slots<T>(&self, f: impl FnOnce(&mut HashMap<String, Slot>) -> T) -> T {
        f(&mut self.slots.lock().unwrap_or_else(|p| p.into_inner()))
    }

    async fn settle(&self) -> Result<()> {
        let now = Instant::now();
        let (adds, epochs): (Vec<CounterAdd>, Vec<u64>) = self.slots(|slots| {
            // Ended windows with nothing left to settle are forgotten.
            slots.retain(|_, s| s.ends > now || s.pending > 0 || s.in_flight > 0);
            slots
                .iter_mut()
                .filter(|(_, s)| s.pending > 0 && s.in_flight == 0)
                .map(|(key, s)| {
                    s.in_flight = std::mem::take(&mut s.pending);
                    (CounterAdd { key: key.clone(), window: s.window, n: s.in_flight }, s.epoch)
                })
                .unzip()
        });
        if adds.is_empty() {
            return Ok(());
        }
        let settled = self.store.add_many(&adds).await;
        let at = Instant::now();
        self.slots(|slots| {
            for (i, add) in adds.iter().enumerate() {
                let Some(slot) = slots.get_mut(&add.key).filter(|s| s.epoch == epochs[i]) else { continue };
                match &settled {
                    Ok(after) => {
                        // The store's window is the one every instance shares.
                        slot.settled = after[i].count;
                        slot.ends = at + after[i].resets_in;
                    }
                    // Tried again at the next settling.
                    Err(_) => slot.pending += add.n,
                }
                slot.in_flight = 0;
            }
        });
        settled.map(drop)
    }
}

async fn settler(inner: Weak<Inner>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        if let Err(err) = inner.settle().await {
            tracing::warn!(error = %err, "could not settle the counters with their store; will retry");
        }
    }
}

impl PreCountedCounters {
    /// Adds `n` to `key` here, to be settled with the store later.
    fn add(&self, key: &str, window: Duration, n: u64) -> Counter {
        let now = Instant::now();
        let fresh =
            |epoch| Slot { epoch, window, ends: now + counter_window(window), settled: 0, in_flight: 0, pending: 0 };
        self.inner.slots(|slots| {
            let slot = slots.entry(key.to_owned()).or_insert_with(|| fresh(0));
            if slot.ends <= now {
                // A new window here; the store starts its own at the next settling. What was in
                // flight for the old one still reaches the store, but no longer counts here.
                *slot = fresh(slot.epoch + 1);
            }
            slot.pending += n;
            Counter { count: slot.count(), resets_in: slot.ends - now }
        })
    }
}

// A decorator lists every method of its port, defaulted ones too (a default would bypass
// what the decorator adds).
#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl Counters for PreCountedCounters {
    async fn increment(&self, key: &str, window: Duration) -> Result<Counter> {
        check_key(alleato_core::Surface::KeyValue, key)?;
        Ok(self.add(key, window, 1))
    }

    /// Counted here like increments, each addition at once; settled with the rest.
    async fn add_many(&self, adds: &[CounterAdd]) -> Result<Vec<Counter>> {
        check_adds(adds)?;
        Ok(adds.iter().map(|add| self.add(&add.key, add.window, add.n)).collect())
    }

    async fn ping(&self) -> Result<()> {
        self.inner.store.ping().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryKv;

    #[tokio::test]
    async fn instances_see_each_others_counts_after_settling() {
        let store: Arc<dyn Counters> = Arc::new(MemoryKv::new());
        let every = Duration::from_millis(100);
        let (a, b) = (PreCountedCounters::new(store.clone(), every), PreCountedCounters::new(store.clone(), every));
        let window = Duration::from_secs(60);
        for _ in 0..3 {
            a.increment("k", window).await.unwrap();
        }
        assert_eq!(b.increment("k", window).await.unwrap().count, 1, "not settled yet: b counts alone");
        a.settle().await.unwrap();
        b.settle().await.unwrap();
        assert_eq!(b.increment("k", window).await.unwrap().count, 5, "b now counts a's three");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(store.increment("k", window).await.unwrap().count, 6, "every addition reached the store");
    }

    #[tokio::test]
    async fn add_many_counts_here_like_increments_and_refuses_a_bad_addition() {
        let store: Arc<dyn Counters> = Arc::new(MemoryKv::new());
        let counters = PreCountedCounters::new(store.clone(), Duration::from_secs(60));
        let window = Duration::from_secs(60);
        let add = |key: &str, n| CounterAdd { key: key.into(), window, n };
        let after = counters.add_many(&[add("a", 3), add("b", 1)]).await.unwrap();
        assert_eq!(after.iter().map(|c| c.count).collect::<Vec<_>>(), [3, 1]);
        assert_eq!(counters.increment("a", window).await.unwrap().count, 4);
        assert!(counters.add_many(&[add("a", 0)]).await.is_err(), "an addition of 0 is refused");
        counters.settle().await.unwrap();
        assert_eq!(store.increment("a", window).await.unwrap().count, 5, "every addition reached the store");
    }

    #[tokio::test]
    async fn one_settling_is_one_call_however_many_increments() {
        struct Calls(MemoryKv, std::sync::atomic::AtomicUsize);
        #[async_trait]
        impl Counters for Calls {
            async fn increment(&self, key: &str, window: Duration) -> Result<Counter> {
                self.0.increment(key, window).await
            }
            async fn add_many(&self, adds: &[CounterAdd]) -> Result<Vec<Counter>> {
                self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                self.0.add_many(adds).await
            }
            async fn ping(&self) -> Result<()> {
                Ok(())
            }
        }
        let store = Arc::new(Calls(MemoryKv::new(), Default::default()));
        let counters = PreCountedCounters::new(store.clone(), Duration::from_secs(3600));
        for i in 0..500 {
            counters.increment(&format!("client-{}", i % 7), Duration::from_secs(60)).await.unwrap();
        }
        counters.settle().await.unwrap();
        assert_eq!(store.1.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(store.0.increment("client-0", Duration::from_secs(60)).await.unwrap().count, 73);
    }
}

#[cfg(test)]
mod conformance {
    alleato_core::counters_conformance!(std::sync::Arc::new(super::PreCountedCounters::new(
        std::sync::Arc::new(crate::MemoryKv::new()),
        std::time::Duration::from_millis(50)
    )));
}
