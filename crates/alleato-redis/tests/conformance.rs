//! The key-value and streams contracts against a real Redis, each case under a key prefix of
//! its own. `ALLEATO_TEST_REDIS_URL` names the server (default: the local one). There is no
//! skip: without a server these tests fail, as CI requires.

use std::sync::Arc;

use alleato_redis::{Redis, RedisKv, RedisSettings, RedisStreams};

async fn redis() -> Redis {
    let url = std::env::var("ALLEATO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut settings = RedisSettings::new(url);
    settings.prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    Redis::connect(&settings).await.expect("Redis must be running for these tests")
}

mod kv {
    alleato_core::kv_conformance!(std::sync::Arc::new(alleato_redis::RedisKv::new(super::redis().await)));
}

mod counters {
    alleato_core::counters_conformance!(std::sync::Arc::new(alleato_redis::RedisKv::new(super::redis().await)));
}

mod streams {
    alleato_core::streams_conformance!(std::sync::Arc::new(alleato_redis::RedisStreams::new(super::redis().await)));
}

/// Two connections under one prefix, as two server instances hold Redis.
async fn two_instances() -> alleato_core::testkit::streams_shared::Shared {
    let url = std::env::var("ALLEATO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut settings = RedisSettings::new(url);
    settings.prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let connect = || async { Redis::connect(&settings).await.expect("Redis must be running for these tests") };
    let (here, there) = (RedisStreams::new(connect().await), RedisStreams::new(connect().await));
    alleato_core::testkit::streams_shared::Shared::new(Arc::new(here), Arc::new(there))
}

mod streams_shared {
    alleato_core::streams_shared_conformance!(super::two_instances().await);
}

#[tokio::test]
async fn two_connections_share_counters_and_streams() {
    // As two server instances would: separate connections, one Redis.
    let url = std::env::var("ALLEATO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut settings = RedisSettings::new(url);
    settings.prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let (a, b) = (Redis::connect(&settings).await.unwrap(), Redis::connect(&settings).await.unwrap());
    let (kv_a, kv_b) = (RedisKv::new(a.clone()), RedisKv::new(b.clone()));
    use alleato_core::ports::{Counters, StreamStore};
    let window = std::time::Duration::from_secs(60);
    assert_eq!(kv_a.increment("rate", window).await.unwrap().count, 1);
    assert_eq!(kv_b.increment("rate", window).await.unwrap().count, 2);
    let (s_a, s_b) = (Arc::new(RedisStreams::new(a)), Arc::new(RedisStreams::new(b)));
    s_a.create("g", b"", window).await.unwrap();
    s_a.append("g", b"one", window).await.unwrap();
    let follower = alleato_core::services::follow(s_b.clone(), "g".into(), 0);
    s_a.append("g", b"two", window).await.unwrap();
    s_a.finish("g", window).await.unwrap();
    use futures::StreamExt;
    let seen: Vec<_> = follower.map(|e| e.unwrap().1).collect().await;
    assert_eq!(seen, vec![b"one".to_vec(), b"two".to_vec()]);
    // A stop asked through one connection wakes the writer waiting on the other.
    s_a.create("h", b"", window).await.unwrap();
    let writer = {
        let s_a = s_a.clone();
        tokio::spawn(async move { s_a.wait_for_stop("h").await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!writer.is_finished());
    s_b.request_stop("h").await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), writer).await.expect("woken through Redis").unwrap();
}

/// A stream deleted through this process wakes its followers at once (one deleted through
/// another instance is noticed when their wait times out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_wakes_when_its_stream_is_deleted_here() {
    use alleato_core::ports::StreamStore;
    let store = Arc::new(RedisStreams::new(redis().await));
    store.create("doomed", b"", std::time::Duration::from_secs(60)).await.unwrap();
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            store.wait("doomed", 0, std::time::Duration::from_secs(20)).await.unwrap();
            started.elapsed()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    store.delete("doomed").await.unwrap();
    let waited = tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.unwrap().unwrap();
    assert!(waited < std::time::Duration::from_secs(2), "woken by the delete, not the timeout ({waited:?})");
}
