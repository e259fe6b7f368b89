//! Following costs about one read per entry: after a read that returned everything there was,
//! a follower waits before reading again instead of reading an empty slice first (on Redis, a
//! round trip per chunk per follower).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use alleato_core::Result;
use alleato_core::ports::{StreamInfo, StreamSlice, StreamStore};
use alleato_memory::MemoryStreams;
use async_trait::async_trait;
use futures::StreamExt;

const TTL: Duration = Duration::from_secs(60);

/// `MemoryStreams`, counting reads.
struct Counting {
    inner: MemoryStreams,
    reads: AtomicUsize,
}

#[async_trait]
impl StreamStore for Counting {
    async fn create(&self, id: &str, metadata: &[u8], ttl: Duration) -> Result<()> {
        self.inner.create(id, metadata, ttl).await
    }
    async fn info(&self, id: &str) -> Result<Option<StreamInfo>> {
        self.inner.info(id).await
    }
    async fn append(&self, id: &str, entry: &[u8], ttl: Duration) -> Result<u64> {
        self.inner.append(id, entry, ttl).await
    }
    async fn read(&self, id: &str, after: u64, max: usize) -> Result<Option<StreamSlice>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.read(id, after, max).await
    }
    async fn finish(&self, id: &str, keep: Duration) -> Result<()> {
        self.inner.finish(id, keep).await
    }
    async fn delete(&self, id: &str) -> Result<()> {
        self.inner.delete(id).await
    }
    async fn wait(&self, id: &str, after: u64, timeout: Duration) -> Result<()> {
        self.inner.wait(id, after, timeout).await
    }
    async fn request_stop(&self, id: &str) -> Result<()> {
        self.inner.request_stop(id).await
    }
    async fn wait_for_stop(&self, id: &str) {
        self.inner.wait_for_stop(id).await
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
}

#[tokio::test]
async fn a_follower_reads_about_once_per_entry() {
    let store = Arc::new(Counting { inner: MemoryStreams::new(), reads: AtomicUsize::new(0) });
    store.create("s", b"", TTL).await.unwrap();
    let entries = alleato_core::services::follow(store.clone(), "s".into(), 0);
    let follower = tokio::spawn(entries.map(|e| e.unwrap().0).collect::<Vec<_>>());
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        store.append("s", b"x", TTL).await.unwrap();
    }
    store.finish("s", TTL).await.unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(5), follower).await.unwrap().unwrap();
    assert_eq!(seen, (1..=20).collect::<Vec<u64>>());
    let reads = store.reads.load(Ordering::SeqCst);
    // One at the start, one per entry, one that finds the stream finished.
    assert!(reads <= 22, "{reads} reads for 20 entries");
}
