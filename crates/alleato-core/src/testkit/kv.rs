//! The key-value contract (see [`KeyValueStore`]).

use std::sync::Arc;
use std::time::Duration;

use crate::Error;
use crate::ports::{KeyValueStore, MAX_KEY_BYTES};

fn key(name: &str) -> String {
    format!("test:{}:{name}", uuid::Uuid::new_v4().simple())
}

pub async fn set_get_delete(kv: Arc<impl KeyValueStore>) {
    let k = key("a");
    kv.set(&k, b"one", None).await.unwrap();
    assert_eq!(kv.get(&k).await.unwrap().as_deref(), Some(&b"one"[..]));
    kv.delete(&k).await.unwrap();
    assert_eq!(kv.get(&k).await.unwrap(), None);
}

pub async fn missing_keys_read_as_none(kv: Arc<impl KeyValueStore>) {
    let k = key("missing");
    assert_eq!(kv.get(&k).await.unwrap(), None);
    kv.delete(&k).await.expect("deleting a missing key succeeds");
}

pub async fn set_replaces_value_and_ttl(kv: Arc<impl KeyValueStore>) {
    let k = key("replace");
    kv.set(&k, b"short-lived", Some(Duration::from_secs(1))).await.unwrap();
    kv.set(&k, b"kept", None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(kv.get(&k).await.unwrap().as_deref(), Some(&b"kept"[..]), "the second set removed the TTL");
}

pub async fn keys_expire_after_their_ttl(kv: Arc<impl KeyValueStore>) {
    let k = key("ttl");
    kv.set(&k, b"v", Some(Duration::from_secs(1))).await.unwrap();
    assert!(kv.get(&k).await.unwrap().is_some(), "readable before expiry");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(kv.get(&k).await.unwrap(), None, "gone after expiry");
}

pub async fn increments_count_within_a_window(kv: Arc<impl KeyValueStore>) {
    let k = key("count");
    let window = Duration::from_secs(60);
    for expected in 1..=5u64 {
        let c = kv.increment(&k, window).await.unwrap();
        assert_eq!(c.count, expected);
        assert!(c.resets_in <= window && c.resets_in > Duration::from_secs(50), "{:?}", c.resets_in);
    }
}

pub async fn increment_windows_reset(kv: Arc<impl KeyValueStore>) {
    let k = key("window");
    let window = Duration::from_secs(1);
    assert_eq!(kv.increment(&k, window).await.unwrap().count, 1);
    assert_eq!(kv.increment(&k, window).await.unwrap().count, 2);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(kv.increment(&k, window).await.unwrap().count, 1, "a new window starts from one");
}

pub async fn concurrent_increments_are_distinct(kv: Arc<impl KeyValueStore>) {
    let k = Arc::new(key("race"));
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (kv, k) = (kv.clone(), k.clone());
            tokio::spawn(async move { kv.increment(&k, Duration::from_secs(60)).await.unwrap().count })
        })
        .collect();
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=40).collect::<Vec<_>>(), "every increment saw a distinct count");
}

pub async fn oversized_keys_are_rejected(kv: Arc<impl KeyValueStore>) {
    let long = "k".repeat(MAX_KEY_BYTES + 1);
    assert!(matches!(kv.set(&long, b"v", None).await, Err(Error::BadRequest { .. })));
    assert!(matches!(kv.get(&long).await, Err(Error::BadRequest { .. })));
}

pub async fn binary_values_round_trip(kv: Arc<impl KeyValueStore>) {
    let k = key("bin");
    let value: Vec<u8> = (0..=255u8).collect();
    kv.set(&k, &value, None).await.unwrap();
    assert_eq!(kv.get(&k).await.unwrap(), Some(value));
}

pub async fn ping_answers(kv: Arc<impl KeyValueStore>) {
    kv.ping().await.unwrap();
}
