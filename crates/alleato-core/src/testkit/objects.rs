//! The object-storage contract (see [`ObjectStorage`]).

use std::sync::Arc;

use bytes::Bytes;

use crate::Error;
use crate::ports::ObjectStorage;

fn key(name: &str) -> String {
    format!("test/{}/{name}", uuid::Uuid::new_v4().simple())
}

/// An object put reads back with its bytes (and its content type, where the backend reports one),
/// and is gone once deleted.
pub async fn put_get_delete(store: Arc<dyn ObjectStorage>) {
    let k = key("a.png");
    store.put(&k, Bytes::from_static(b"\x89PNG bytes"), "image/png").await.unwrap();
    let got = store.get(&k).await.unwrap().expect("stored object");
    assert_eq!(&got.bytes[..], b"\x89PNG bytes");
    if let Some(ct) = got.content_type {
        assert_eq!(ct, "image/png", "a backend that reports the content type reports the one stored");
    }
    store.delete(&k).await.unwrap();
    assert!(store.get(&k).await.unwrap().is_none());
}

/// A second `put` to a key is a `Conflict` and leaves the first object.
pub async fn put_never_overwrites(store: Arc<dyn ObjectStorage>) {
    let k = key("once");
    store.put(&k, Bytes::from_static(b"first"), "application/pdf").await.unwrap();
    let second = store.put(&k, Bytes::from_static(b"second"), "application/pdf").await;
    assert!(matches!(second, Err(Error::Conflict { .. })), "{second:?}");
    assert_eq!(&store.get(&k).await.unwrap().unwrap().bytes[..], b"first");
}

/// A missing key reads as `None`, and deleting it succeeds.
pub async fn missing_objects_read_as_none(store: Arc<dyn ObjectStorage>) {
    let k = key("missing");
    assert!(store.get(&k).await.unwrap().is_none());
    store.delete(&k).await.expect("deleting a missing object succeeds");
}

/// A 3 MiB object reads back byte for byte.
pub async fn large_objects_round_trip(store: Arc<dyn ObjectStorage>) {
    let k = key("large");
    let data: Bytes = (0..(3 * 1024 * 1024)).map(|i| (i % 251) as u8).collect::<Vec<_>>().into();
    store.put(&k, data.clone(), "application/pdf").await.unwrap();
    assert_eq!(store.get(&k).await.unwrap().unwrap().bytes, data);
}

/// `list` finds exactly the objects under a prefix, with their size and a recent modification time.
pub async fn listing_finds_what_is_under_a_prefix(store: Arc<dyn ObjectStorage>) {
    use futures::TryStreamExt;
    let dir = format!("test/{}", uuid::Uuid::new_v4().simple());
    let before = crate::time::now() - chrono::Duration::seconds(5);
    for name in ["a/one", "a/two", "b/three"] {
        store.put(&format!("{dir}/{name}"), Bytes::from_static(b"12345"), "application/pdf").await.unwrap();
    }
    let mut listed: Vec<_> = store.list(&format!("{dir}/a")).try_collect().await.unwrap();
    listed.sort_by(|x, y| x.key.cmp(&y.key));
    let keys: Vec<_> = listed.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, [format!("{dir}/a/one"), format!("{dir}/a/two")]);
    assert!(listed.iter().all(|e| e.size == 5 && e.last_modified >= before));
    let all: Vec<_> = store.list(&dir).try_collect().await.unwrap();
    assert_eq!(all.len(), 3);
    let none: Vec<_> = store.list(&format!("{dir}/c")).try_collect().await.unwrap();
    assert!(none.is_empty());
}

/// `ping` succeeds on a working store.
pub async fn ping_answers(store: Arc<dyn ObjectStorage>) {
    store.ping().await.unwrap();
}
