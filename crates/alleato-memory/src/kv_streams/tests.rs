//! The streams suite on one instance, and what only several instances show, over the in-memory
//! key-value store (fast timings); `tests/kv_streams.rs` runs the same against Workers KV in
//! Cloudflare's simulator with the production timings.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alleato_core::ports::{KeyValueStore, StreamStore};

use super::*;
use crate::MemoryKv;

fn fast() -> KvStreamsSettings {
    KvStreamsSettings {
        flush_every: Duration::from_millis(50),
        poll_every: Duration::from_millis(50),
        stop_poll_every: Duration::from_millis(50),
        linger: Duration::from_millis(200),
    }
}

mod conformance {
    alleato_core::streams_conformance!(std::sync::Arc::new(super::KvStreams::new(
        std::sync::Arc::new(crate::MemoryKv::new()),
        super::fast()
    )));
}

/// Two instances over one key-value store.
mod shared_conformance {
    alleato_core::streams_shared_conformance!({
        let (here, there, _) = super::two();
        alleato_core::testkit::streams_shared::Shared::new(std::sync::Arc::new(here), std::sync::Arc::new(there))
    });
}

/// Two instances over one store.
fn two() -> (KvStreams, KvStreams, Arc<dyn KeyValueStore>) {
    let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryKv::new());
    (KvStreams::new(kv.clone(), fast()), KvStreams::new(kv.clone(), fast()), kv)
}

const TTL: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_follower_elsewhere_gets_every_entry_and_the_end() {
    let (writer, reader, _) = two();
    writer.create("s", b"meta", TTL).await.unwrap();
    assert!(reader.info("s").await.unwrap().is_none(), "other instances see a stream from its first write on");
    tokio::time::sleep(Duration::from_millis(120)).await;
    let follower = alleato_core::services::follow(Arc::new(reader.clone()), "s".into(), 0);
    let started = Instant::now();
    // A clone: the store keeps flushing as long as one is alive.
    let writing = writer.clone();
    tokio::spawn(async move {
        let writer = writing;
        for n in 0..20 {
            writer.append("s", n.to_string().as_bytes(), TTL).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        writer.finish("s", TTL).await.unwrap();
    });
    use futures::StreamExt;
    let got: Vec<_> = follower.map(Result::unwrap).collect().await;
    assert_eq!(got.iter().map(|(n, _)| *n).collect::<Vec<_>>(), (1..=20).collect::<Vec<_>>());
    assert!(started.elapsed() < Duration::from_secs(3));
    let info = reader.info("s").await.unwrap().unwrap();
    assert_eq!((info.metadata.as_slice(), info.len, info.done), (&b"meta"[..], 20, true));
}

#[tokio::test]
async fn a_stop_asked_elsewhere_reaches_the_writer() {
    let (writer, other, _) = two();
    writer.create("s", b"", TTL).await.unwrap();
    writer.append("s", b"a", TTL).await.unwrap();
    writer.flush().await;
    let waiting = {
        let writer = writer.clone();
        tokio::spawn(async move { writer.wait_for_stop("s").await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!waiting.is_finished());
    other.request_stop("s").await.unwrap();
    assert!(other.info("s").await.unwrap().unwrap().stop_requested, "the asking instance shows it at once");
    let declared = writer.capabilities();
    assert!(declared.single_writer && declared.stop_elsewhere_within >= fast().stop_poll_every);
    // Within the declared bound, plus room for a loaded machine.
    tokio::time::timeout(declared.stop_elsewhere_within + Duration::from_secs(2), waiting)
        .await
        .expect("the writer hears of it")
        .unwrap();
    assert!(writer.info("s").await.unwrap().unwrap().stop_requested);
    assert!(matches!(other.request_stop("missing").await, Err(Error::NotFound { .. })));
}

#[tokio::test]
async fn a_delete_elsewhere_is_not_written_back() {
    let (writer, other, kv) = two();
    writer.create("s", b"", TTL).await.unwrap();
    writer.append("s", b"a", TTL).await.unwrap();
    writer.flush().await;
    other.delete("s").await.unwrap();
    let waiting = {
        let writer = writer.clone();
        tokio::spawn(async move { writer.wait_for_stop("s").await })
    };
    tokio::time::timeout(Duration::from_secs(2), waiting).await.expect("the writer learns the stream is gone").unwrap();
    writer.append("s", b"b", TTL).await.expect_err("gone on the writer too");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(kv.get(&record_key("s")).await.unwrap(), None, "not written back");
}

#[tokio::test]
async fn an_append_elsewhere_takes_the_stream_over() {
    let (first, second, _) = two();
    first.create("s", b"m", TTL).await.unwrap();
    first.append("s", b"a", TTL).await.unwrap();
    first.flush().await;
    assert_eq!(second.append("s", b"b", TTL).await.unwrap(), 2, "continued where the first left off");
    second.finish("s", TTL).await.unwrap();
    second.flush().await;
    let slice = second.read("s", 0, 10).await.unwrap().unwrap();
    assert_eq!(slice.entries, vec![(1, b"a".to_vec()), (2, b"b".to_vec())]);
    assert!(slice.done);
}

#[tokio::test]
async fn a_stream_is_written_at_most_once_per_flush_interval() {
    /// Counts writes per key.
    struct Counting(MemoryKv, std::sync::Mutex<Vec<(String, Instant)>>);
    #[async_trait::async_trait]
    impl KeyValueStore for Counting {
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
            self.0.get(key).await
        }
        async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
            assert!(ttl.is_some_and(|t| t >= KV_MIN_TTL), "every value expires, never sooner than KV allows");
            self.1.lock().unwrap().push((key.to_owned(), Instant::now()));
            self.0.set(key, value, ttl).await
        }
        async fn delete(&self, key: &str) -> Result<()> {
            self.0.delete(key).await
        }
        async fn ping(&self) -> Result<()> {
            Ok(())
        }
    }
    let kv = Arc::new(Counting(MemoryKv::new(), Default::default()));
    let settings = KvStreamsSettings { flush_every: Duration::from_millis(200), ..fast() };
    let streams = KvStreams::new(kv.clone(), settings);
    streams.create("s", b"", TTL).await.unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1000) {
        streams.append("s", b"chunk", TTL).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    streams.finish("s", TTL).await.unwrap();
    streams.flush().await;
    let writes = kv.1.lock().unwrap().clone();
    assert!((2..=7).contains(&writes.len()), "at most one write per interval, and the last: {}", writes.len());
    for pair in writes.windows(2) {
        assert!(pair[1].1 - pair[0].1 >= Duration::from_millis(190), "writes of one key are spaced");
    }
    let last = MemoryKv::get(&kv.0, &record_key("s")).await.unwrap().unwrap();
    assert!(Record::decode(&last).unwrap().header.done, "the last write has the end");
}
