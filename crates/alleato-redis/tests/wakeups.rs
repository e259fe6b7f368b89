//! Following streams across instances through pub/sub, which delivers at most once: nothing a
//! follower or a writer waits for is lost when the subscription's connection is cut, and a
//! stream deleted through one instance wakes the waiters of another. (Its own test binary: the
//! cuts kill every pub/sub client of the Redis server, which would disturb other tests.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use alleato_core::ports::StreamStore;
use alleato_redis::{Redis, RedisSettings, RedisStreams};
use futures::StreamExt;

const TTL: Duration = Duration::from_secs(60);

/// The cuts reach this file's other tests too, whose waits would end early with an error: a
/// test that cuts holds this for writing, one that counts on its subscription for reading.
static SUBSCRIPTIONS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn settings() -> RedisSettings {
    let url = std::env::var("ALLEATO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut settings = RedisSettings::new(url);
    settings.prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    settings
}

/// Two instances sharing one Redis, as two server processes would.
async fn instances() -> (Arc<RedisStreams>, Arc<RedisStreams>, RedisSettings) {
    let settings = settings();
    let a = RedisStreams::new(Redis::connect(&settings).await.unwrap());
    let b = RedisStreams::new(Redis::connect(&settings).await.unwrap());
    (Arc::new(a), Arc::new(b), settings)
}

async fn cut_subscriptions(settings: &RedisSettings) {
    let client = redis::Client::open(settings.url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async::<()>(&mut conn).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_gets_every_entry_across_a_cut_subscription() {
    let _alone = SUBSCRIPTIONS.write().await;
    let (a, b, settings) = instances().await;
    a.create("cut", b"", TTL).await.unwrap();
    a.append("cut", b"1", TTL).await.unwrap();
    let follower = tokio::spawn(
        alleato_core::services::follow(b.clone(), "cut".into(), 0).map(|e| e.unwrap().1).collect::<Vec<_>>(),
    );
    a.append("cut", b"2", TTL).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Entries written while the follower's subscription is down would be lost to pub/sub.
    cut_subscriptions(&settings).await;
    a.append("cut", b"3", TTL).await.unwrap();
    a.append("cut", b"4", TTL).await.unwrap();
    a.finish("cut", TTL).await.unwrap();
    let finished = Instant::now();
    // The follower's own wait would last 10 s or more: ending well before proves it read again.
    let got = tokio::time::timeout(Duration::from_secs(8), follower).await.expect("the follower ends").unwrap();
    assert_eq!(got, vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec(), b"4".to_vec()]);
    assert!(finished.elapsed() < Duration::from_secs(5), "ended {:?} after the finish", finished.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_asked_while_the_writers_subscription_is_down_still_reaches_it() {
    let _alone = SUBSCRIPTIONS.write().await;
    let (a, b, settings) = instances().await;
    a.create("stop", b"", TTL).await.unwrap();
    let writer = {
        let a = a.clone();
        tokio::spawn(async move { a.wait_for_stop("stop").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    cut_subscriptions(&settings).await;
    b.request_stop("stop").await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), writer).await.expect("the writer sees the stop").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_deleted_through_another_instance_wakes_its_waiters() {
    let _uncut = SUBSCRIPTIONS.read().await;
    let (a, b, _) = instances().await;
    a.create("doomed", b"", TTL).await.unwrap();
    let waiter = {
        let b = b.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            b.wait("doomed", 0, Duration::from_secs(20)).await.unwrap();
            started.elapsed()
        })
    };
    let writer = {
        let b = b.clone();
        tokio::spawn(async move { b.wait_for_stop("doomed").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.delete("doomed").await.unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
    assert!(waited < Duration::from_secs(2), "woken by the delete, not the timeout ({waited:?})");
    tokio::time::timeout(Duration::from_secs(2), writer)
        .await
        .expect("the writer's wait ends with its stream")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_is_woken_by_appends_through_another_instance_without_polling() {
    let _uncut = SUBSCRIPTIONS.read().await;
    let (a, b, _) = instances().await;
    a.create("live", b"", TTL).await.unwrap();
    for n in 1..=20u64 {
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move { b.wait("live", n - 1, Duration::from_secs(20)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        a.append("live", n.to_string().as_bytes(), TTL).await.unwrap();
        tokio::time::timeout(Duration::from_secs(2), waiter).await.expect("woken by the append").unwrap().unwrap();
    }
    a.finish("live", TTL).await.unwrap();
    tokio::time::timeout(Duration::from_secs(2), b.wait("live", 20, Duration::from_secs(20)))
        .await
        .expect("woken by the finish")
        .unwrap();
}
