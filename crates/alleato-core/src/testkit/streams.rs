//! The streams contract (see [`StreamStore`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::Error;
use crate::ports::StreamStore;
use crate::services::follow;

const TTL: Duration = Duration::from_secs(3600);

fn id() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

/// Entries are numbered from 1 as appended and read back by position (`after`, `max`); creating an
/// existing id is a `Conflict`.
pub async fn create_append_read(store: Arc<dyn StreamStore>) {
    let id = id();
    store.create(&id, b"owner", TTL).await.unwrap();
    assert!(matches!(store.create(&id, b"other", TTL).await, Err(Error::Conflict { .. })));
    for (i, chunk) in ["a", "b", "c"].iter().enumerate() {
        assert_eq!(store.append(&id, chunk.as_bytes(), TTL).await.unwrap(), i as u64 + 1);
    }
    let info = store.info(&id).await.unwrap().unwrap();
    assert_eq!((info.metadata.as_slice(), info.len, info.bytes, info.done), (&b"owner"[..], 3, 3, false));
    let all = store.read(&id, 0, 100).await.unwrap().unwrap();
    assert_eq!(all.entries, vec![(1, b"a".to_vec()), (2, b"b".to_vec()), (3, b"c".to_vec())]);
    let tail = store.read(&id, 1, 1).await.unwrap().unwrap();
    assert_eq!(tail.entries, vec![(2, b"b".to_vec())], "after and max are honoured");
    assert!(store.read(&id, 3, 10).await.unwrap().unwrap().entries.is_empty());
}

/// `append_many` appends as that many `append`s would, answers the last number (0 for none), and is
/// refused whole on a missing or finished stream.
pub async fn appending_many_is_appending_each_in_order(store: Arc<dyn StreamStore>) {
    let id = id();
    assert!(matches!(store.append_many(&id, &[b"x".to_vec()], TTL).await, Err(Error::NotFound { .. })));
    store.create(&id, b"", TTL).await.unwrap();
    assert_eq!(store.append_many(&id, &[], TTL).await.unwrap(), 0, "nothing to append");
    store.append(&id, b"a", TTL).await.unwrap();
    let batch = [b"bc".to_vec(), Vec::new(), b"d".to_vec()];
    assert_eq!(store.append_many(&id, &batch, TTL).await.unwrap(), 4, "the number of the last");
    assert_eq!(store.append(&id, b"e", TTL).await.unwrap(), 5);
    let info = store.info(&id).await.unwrap().unwrap();
    assert_eq!((info.len, info.bytes), (5, 5));
    let all = store.read(&id, 0, 100).await.unwrap().unwrap().entries;
    let expected: Vec<(u64, Vec<u8>)> =
        vec![(1, b"a".to_vec()), (2, b"bc".to_vec()), (3, vec![]), (4, b"d".to_vec()), (5, b"e".to_vec())];
    assert_eq!(all, expected);
    store.finish(&id, TTL).await.unwrap();
    assert!(matches!(store.append_many(&id, &batch, TTL).await, Err(Error::Conflict { .. })));
    assert_eq!(store.info(&id).await.unwrap().unwrap().len, 5, "a refused batch adds nothing");
}

/// A finished stream refuses appends (`Conflict`) and reads as done; finishing twice is fine.
pub async fn finished_streams_take_no_more(store: Arc<dyn StreamStore>) {
    let id = id();
    store.create(&id, b"", TTL).await.unwrap();
    store.append(&id, b"x", TTL).await.unwrap();
    store.finish(&id, TTL).await.unwrap();
    store.finish(&id, TTL).await.expect("finishing twice is fine");
    assert!(matches!(store.append(&id, b"y", TTL).await, Err(Error::Conflict { .. })));
    let slice = store.read(&id, 0, 10).await.unwrap().unwrap();
    assert!(slice.done);
    assert_eq!(slice.entries.len(), 1);
}

/// A missing stream reads as `None`, refuses appends and finishes (`NotFound`), deletes fine, and a
/// wait on it returns at once.
pub async fn missing_streams(store: Arc<dyn StreamStore>) {
    let id = id();
    assert!(store.info(&id).await.unwrap().is_none());
    assert!(store.read(&id, 0, 10).await.unwrap().is_none());
    assert!(matches!(store.append(&id, b"x", TTL).await, Err(Error::NotFound { .. })));
    assert!(matches!(store.finish(&id, TTL).await, Err(Error::NotFound { .. })));
    store.delete(&id).await.expect("deleting a missing stream is fine");
    let started = Instant::now();
    store.wait(&id, 0, Duration::from_secs(5)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "waiting on a missing stream returns at once");
}

/// A stream is gone once its TTL passes, and its id can be created again.
pub async fn streams_expire(store: Arc<dyn StreamStore>) {
    let id = id();
    store.create(&id, b"", Duration::from_secs(1)).await.unwrap();
    store.append(&id, b"x", Duration::from_secs(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(store.info(&id).await.unwrap().is_none(), "gone after its TTL");
    store.create(&id, b"", TTL).await.expect("an expired id can be reused");
}

/// A finished stream stays readable for the `keep` it was finished with, then is gone; its byte
/// count adds up.
pub async fn finished_streams_are_kept_only_as_long_as_asked(store: Arc<dyn StreamStore>) {
    let id = id();
    store.create(&id, b"", TTL).await.unwrap();
    store.append(&id, b"12345", TTL).await.unwrap();
    store.append(&id, b"678", TTL).await.unwrap();
    assert_eq!(store.info(&id).await.unwrap().unwrap().bytes, 8, "bytes add up");
    store.finish(&id, Duration::from_secs(1)).await.unwrap();
    assert_eq!(store.read(&id, 0, 10).await.unwrap().unwrap().entries.len(), 2, "still readable at first");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(store.info(&id).await.unwrap().is_none(), "gone a second after finishing, not an hour");
    assert!(store.read(&id, 0, 10).await.unwrap().is_none());
}

/// `wait` returns on an append, at once when an entry is already there, and at the timeout when
/// nothing comes.
pub async fn waiting_wakes_on_append_and_finish(store: Arc<dyn StreamStore>) {
    let id = Arc::new(id());
    store.create(&id, b"", TTL).await.unwrap();
    let (s, i) = (store.clone(), id.clone());
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        s.append(&i, b"late", TTL).await.unwrap();
    });
    let started = Instant::now();
    store.wait(&id, 0, Duration::from_secs(10)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "woken by the append, not the timeout");
    writer.await.unwrap();
    let started = Instant::now();
    store.wait(&id, 0, Duration::from_secs(10)).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(500), "an entry already there returns at once");
    let started = Instant::now();
    store.wait(&id, 1, Duration::from_millis(300)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250), "nothing new: waits until the timeout");
}

/// Followers, from the start or from a cursor, get every entry after it once, in order, until the
/// stream finishes.
pub async fn followers_get_every_entry_once_in_order(store: Arc<dyn StreamStore>) {
    let id = id();
    store.create(&id, b"", TTL).await.unwrap();
    store.append(&id, b"0", TTL).await.unwrap();
    let early = follow(store.clone(), id.clone(), 0);
    let from_cursor = follow(store.clone(), id.clone(), 1);
    let (s, i) = (store.clone(), id.clone());
    tokio::spawn(async move {
        for n in 1..50 {
            s.append(&i, n.to_string().as_bytes(), TTL).await.unwrap();
            if n % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        s.finish(&i, TTL).await.unwrap();
    });
    let early: Vec<_> = early.map(Result::unwrap).collect().await;
    let from_cursor: Vec<_> = from_cursor.map(Result::unwrap).collect().await;
    assert_eq!(early.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), (1..=50).collect::<Vec<_>>());
    assert_eq!(early[49].1, b"49".to_vec());
    assert_eq!(from_cursor.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), (2..=50).collect::<Vec<_>>());
}

/// `request_stop` wakes `wait_for_stop`, shows in the stream's info, is fine twice or on a finished
/// stream, and is `NotFound` on a missing one; a stopped stream still takes appends.
pub async fn stop_requests_wake_the_writer_and_show(store: Arc<dyn StreamStore>) {
    let id = id();
    assert!(matches!(store.request_stop(&id).await, Err(Error::NotFound { .. })), "no stream, no stop");
    store.create(&id, b"", TTL).await.unwrap();
    store.append(&id, b"a", TTL).await.unwrap();
    assert!(!store.info(&id).await.unwrap().unwrap().stop_requested);
    let writer = {
        let (store, id) = (store.clone(), id.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            store.wait_for_stop(&id).await;
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!writer.is_finished(), "no stop yet: the writer keeps waiting");
    store.request_stop(&id).await.unwrap();
    // Asked on the same handle: at once, whatever the store declares for other instances.
    let waited = tokio::time::timeout(Duration::from_secs(5), writer).await.expect("the stop woke the writer").unwrap();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    let info = store.info(&id).await.unwrap().unwrap();
    assert!(info.stop_requested && !info.done, "the stop shows; finishing is the writer's job");
    store.request_stop(&id).await.expect("asking twice is fine");
    tokio::time::timeout(Duration::from_secs(5), store.wait_for_stop(&id))
        .await
        .expect("an earlier stop resolves at once");
    store.append(&id, b"last words", TTL).await.expect("a stopped stream still takes its last entries");
    store.finish(&id, TTL).await.unwrap();
    store.request_stop(&id).await.expect("stopping a finished stream is fine");
    let gone = id.clone() + "-gone";
    tokio::time::timeout(Duration::from_secs(5), store.wait_for_stop(&gone))
        .await
        .expect("a missing stream has nothing to wait for");
}

/// `ping` succeeds on a working store.
pub async fn ping_answers(store: Arc<dyn StreamStore>) {
    store.ping().await.unwrap();
}
