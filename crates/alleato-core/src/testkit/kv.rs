//! The key-value contract (see [`KeyValueStore`]), timed by what the store declares
//! ([`KeyValueStore::capabilities`]): a backend with a 60 s minimum TTL runs the same cases,
//! only slower.

use std::sync::Arc;
use std::time::Duration;

use crate::Error;
use crate::ports::{KeyValueStore, MAX_KEY_BYTES};

/// The shortest TTL the store honours, and a wait that outlasts it.
fn short_ttl(kv: &dyn KeyValueStore) -> (Duration, Duration) {
    let ttl = kv.capabilities().ttl(Duration::ZERO);
    (ttl, ttl + Duration::from_millis(300))
}

fn key(name: &str) -> String {
    format!("test:{}:{name}", uuid::Uuid::new_v4().simple())
}

/// A value set reads back, and reads as absent once deleted.
pub async fn set_get_delete(kv: Arc<dyn KeyValueStore>) {
    let k = key("a");
    kv.set(&k, b"one", None).await.unwrap();
    assert_eq!(kv.get(&k).await.unwrap().as_deref(), Some(&b"one"[..]));
    kv.delete(&k).await.unwrap();
    assert_eq!(kv.get(&k).await.unwrap(), None);
}

/// A missing key reads as `None`, and deleting it succeeds.
pub async fn missing_keys_read_as_none(kv: Arc<dyn KeyValueStore>) {
    let k = key("missing");
    assert_eq!(kv.get(&k).await.unwrap(), None);
    kv.delete(&k).await.expect("deleting a missing key succeeds");
}

/// A second `set` replaces the value and the TTL (`None`: no expiry).
pub async fn set_replaces_value_and_ttl(kv: Arc<dyn KeyValueStore>) {
    let k = key("replace");
    let (ttl, past_it) = short_ttl(kv.as_ref());
    kv.set(&k, b"short-lived", Some(ttl)).await.unwrap();
    kv.set(&k, b"kept", None).await.unwrap();
    tokio::time::sleep(past_it).await;
    assert_eq!(kv.get(&k).await.unwrap().as_deref(), Some(&b"kept"[..]), "the second set removed the TTL");
}

/// A key reads until its TTL passes and not after; a TTL under the minimum is raised, not refused.
pub async fn keys_expire_after_their_ttl(kv: Arc<dyn KeyValueStore>) {
    let k = key("ttl");
    let (ttl, past_it) = short_ttl(kv.as_ref());
    // Asked for less than the minimum: raised to it, never refused.
    kv.set(&k, b"v", Some(ttl / 2)).await.unwrap();
    assert!(kv.get(&k).await.unwrap().is_some(), "readable before expiry");
    tokio::time::sleep(past_it).await;
    assert_eq!(kv.get(&k).await.unwrap(), None, "gone after expiry");
}

/// `get_with_ttl` reports no more time left than the TTL set, and none once a `set` removed it.
pub async fn a_value_read_with_its_ttl_says_no_more_than_is_left(kv: Arc<dyn KeyValueStore>) {
    let k = key("with-ttl");
    assert_eq!(kv.get_with_ttl(&k).await.unwrap(), None);
    let ttl = kv.capabilities().ttl(Duration::from_secs(120));
    kv.set(&k, b"v", Some(ttl)).await.unwrap();
    let (value, left) = kv.get_with_ttl(&k).await.unwrap().expect("present");
    assert_eq!(value, b"v");
    assert!(left.is_none_or(|left| left <= ttl), "{left:?} left of {ttl:?}");
    kv.set(&k, b"w", None).await.unwrap();
    let (value, left) = kv.get_with_ttl(&k).await.unwrap().expect("present");
    assert_eq!((value.as_slice(), left), (&b"w"[..], None), "no TTL any more");
}

/// A key over `MAX_KEY_BYTES` is a `BadRequest` for `set` and `get`.
pub async fn oversized_keys_are_rejected(kv: Arc<dyn KeyValueStore>) {
    let long = "k".repeat(MAX_KEY_BYTES + 1);
    assert!(matches!(kv.set(&long, b"v", None).await, Err(Error::BadRequest { .. })));
    assert!(matches!(kv.get(&long).await, Err(Error::BadRequest { .. })));
}

/// Values are bytes: every byte value reads back unchanged.
pub async fn binary_values_round_trip(kv: Arc<dyn KeyValueStore>) {
    let k = key("bin");
    let value: Vec<u8> = (0..=255u8).collect();
    kv.set(&k, &value, None).await.unwrap();
    assert_eq!(kv.get(&k).await.unwrap(), Some(value));
}

/// `keys` lists exactly the live keys under the prefix (deleted and other keys left out), within
/// the store's consistency bound.
pub async fn keys_list_the_live_keys_under_a_prefix(kv: Arc<dyn KeyValueStore>) {
    use futures::TryStreamExt;
    let run = key("list");
    let (a, b, gone) = (format!("{run}:in:a"), format!("{run}:in:b"), format!("{run}:in:gone"));
    let ttl = kv.capabilities().ttl(Duration::from_secs(300));
    for k in [&a, &b, &gone] {
        kv.set(k, b"v", Some(ttl)).await.unwrap();
    }
    kv.set(&format!("{run}:out"), b"v", None).await.unwrap();
    kv.delete(&gone).await.unwrap();
    // An eventually consistent store may list late, within its bound.
    let bound = match kv.capabilities().consistency {
        crate::ports::Consistency::Eventual { within } => within,
        _ => Duration::ZERO,
    };
    let deadline = std::time::Instant::now() + bound;
    loop {
        let mut listed: Vec<String> = kv.keys(&format!("{run}:in:")).try_collect().await.unwrap();
        listed.sort();
        if listed == [a.clone(), b.clone()] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "listed {listed:?}, not the two live keys under the prefix");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `ping` succeeds on a working store.
pub async fn ping_answers(kv: Arc<dyn KeyValueStore>) {
    kv.ping().await.unwrap();
}
