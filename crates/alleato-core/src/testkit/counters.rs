//! The counters contract (see [`Counters`]).

use std::sync::Arc;
use std::time::Duration;

use crate::Error;
use crate::ports::{CounterAdd, Counters, MAX_KEY_BYTES};

fn key(name: &str) -> String {
    format!("test:{}:{name}", uuid::Uuid::new_v4().simple())
}

/// Increments in one window count 1, 2, 3, … and each reports a reset within the window.
pub async fn increments_count_within_a_window(counters: Arc<dyn Counters>) {
    let k = key("count");
    let window = Duration::from_secs(60);
    for expected in 1..=5u64 {
        let c = counters.increment(&k, window).await.unwrap();
        assert_eq!(c.count, expected);
        assert!(c.resets_in <= window && c.resets_in > Duration::from_secs(50), "{:?}", c.resets_in);
    }
}

/// After a window ends, counting starts again from one.
pub async fn increment_windows_reset(counters: Arc<dyn Counters>) {
    let k = key("window");
    let window = Duration::from_secs(1);
    assert_eq!(counters.increment(&k, window).await.unwrap().count, 1);
    assert_eq!(counters.increment(&k, window).await.unwrap().count, 2);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(counters.increment(&k, window).await.unwrap().count, 1, "a new window starts from one");
}

/// Concurrent increments of one key each see a distinct count.
pub async fn concurrent_increments_are_distinct(counters: Arc<dyn Counters>) {
    let k = Arc::new(key("race"));
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (counters, k) = (counters.clone(), k.clone());
            tokio::spawn(async move { counters.increment(&k, Duration::from_secs(60)).await.unwrap().count })
        })
        .collect();
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=40).collect::<Vec<_>>(), "every increment saw a distinct count");
}

/// An empty key, or one over `MAX_KEY_BYTES`, is a `BadRequest`.
pub async fn oversized_keys_are_rejected(counters: Arc<dyn Counters>) {
    let long = "k".repeat(MAX_KEY_BYTES + 1);
    assert!(matches!(counters.increment(&long, Duration::from_secs(60)).await, Err(Error::BadRequest { .. })));
    assert!(matches!(counters.increment("", Duration::from_secs(60)).await, Err(Error::BadRequest { .. })));
}

/// `add_many` counts as that many increments, answers each key's state in order, and refuses an `n`
/// of 0.
pub async fn adding_many_at_once_counts_like_increments(counters: Arc<dyn Counters>) {
    let (a, b) = (key("many-a"), key("many-b"));
    let window = Duration::from_secs(60);
    counters.increment(&a, window).await.unwrap();
    let adds = [
        CounterAdd { key: a.clone(), window, n: 4 },
        CounterAdd { key: b.clone(), window, n: 2 },
        CounterAdd { key: a.clone(), window, n: 1 },
    ];
    let after = counters.add_many(&adds).await.unwrap();
    assert_eq!(after.iter().map(|c| c.count).collect::<Vec<_>>(), [5, 2, 6], "in order, each after its addition");
    assert!(after.iter().all(|c| c.resets_in <= window && c.resets_in > Duration::from_secs(50)));
    assert_eq!(counters.increment(&b, window).await.unwrap().count, 3);
    assert!(counters.add_many(&[]).await.unwrap().is_empty());
    let nothing = [CounterAdd { key: a, window, n: 0 }];
    assert!(matches!(counters.add_many(&nothing).await, Err(Error::BadRequest { .. })));
}

/// `ping` succeeds on a working store.
pub async fn ping_answers(counters: Arc<dyn Counters>) {
    counters.ping().await.unwrap();
}
