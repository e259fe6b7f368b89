//! The change feed on Redis pub/sub against a real Redis, as two server instances use it: each
//! with its own connections, its own memory caches, one key prefix.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alleato_core::ports::{Change, ChangeFeed, ChangeListener, Consistency, KeyValueStore};
use alleato_memory::CachedKv;
use alleato_redis::{Redis, RedisChanges, RedisKv, RedisSettings};

/// `CLIENT KILL TYPE pubsub` cuts every subscription on the server, this file's other tests'
/// too: the test that does it holds this for writing, and a test that counts what its
/// subscription hears holds it for reading (in CI one lost announcement failed it).
static SUBSCRIPTIONS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn settings() -> RedisSettings {
    let url = std::env::var("ALLEATO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut settings = RedisSettings::new(url);
    settings.prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    settings
}

/// One instance: its Redis connection, its feed and its session cache.
struct Instance {
    redis: Redis,
    feed: RedisChanges,
    kv: CachedKv,
}

async fn instance(settings: &RedisSettings) -> Instance {
    let redis = Redis::connect(settings).await.expect("Redis must be running for these tests");
    let feed = RedisChanges::subscribe(redis.clone()).await.unwrap();
    let kv = CachedKv::new(Arc::new(RedisKv::new(redis.clone())), Duration::from_secs(60), 100)
        .told_by(Arc::new(feed.clone()));
    Instance { redis, feed, kv }
}

/// Waits for `kv` to read `expected` under `key`, at most `within`; returns how long it took.
async fn reads_within(kv: &CachedKv, key: &str, expected: Option<&[u8]>, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let read = kv.get(key).await.unwrap();
        if read.as_deref() == expected {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "still {read:?} after {within:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[derive(Default)]
struct Heard(Mutex<Vec<String>>);

impl ChangeListener for Heard {
    fn changed(&self, change: Change<'_>) {
        if let Change::Key(key) = change {
            self.0.lock().unwrap().push(key.to_owned());
        }
    }
}

#[tokio::test]
async fn an_announcement_reaches_every_instance_in_order() {
    let _uncut = SUBSCRIPTIONS.read().await;
    let settings = settings();
    let (a, b) = (instance(&settings).await, instance(&settings).await);
    let heard = Arc::new(Heard::default());
    b.feed.listen(heard.clone());
    assert!(a.feed.is_live() && b.feed.is_live());
    for key in ["one", "two", "three"] {
        a.feed.announce(key).await.unwrap();
    }
    let start = Instant::now();
    while heard.0.lock().unwrap().len() < 3 {
        assert!(start.elapsed() < Duration::from_secs(2), "heard only {:?}", heard.0.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(*heard.0.lock().unwrap(), ["one", "two", "three"]);
    // Another deployment's prefix is another channel.
    let elsewhere = instance(&self::settings()).await;
    elsewhere.feed.announce("one").await.unwrap();
    a.feed.announce("four").await.unwrap();
    reads_until(&heard, 4).await;
    assert_eq!(heard.0.lock().unwrap().last().map(String::as_str), Some("four"));
}

async fn reads_until(heard: &Heard, n: usize) {
    let start = Instant::now();
    while heard.0.lock().unwrap().len() < n {
        assert!(start.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(heard.0.lock().unwrap().len(), n, "nothing from another prefix");
}

#[tokio::test]
async fn a_logout_on_one_instance_is_forgotten_on_the_other_within_milliseconds() {
    let settings = settings();
    let (a, b) = (instance(&settings).await, instance(&settings).await);
    assert!(matches!(b.kv.capabilities().consistency, Consistency::Announced { .. }));
    a.kv.set("session:1", b"alive", None).await.unwrap();
    assert_eq!(b.kv.get("session:1").await.unwrap().as_deref(), Some(&b"alive"[..]), "now cached on b");
    a.kv.delete("session:1").await.unwrap();
    let took = reads_within(&b.kv, "session:1", None, Duration::from_secs(1)).await;
    eprintln!("the logout reached the other instance after {took:?}");
    a.kv.set("session:1", b"renewed", None).await.unwrap();
    reads_within(&b.kv, "session:1", Some(b"renewed"), Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_change_missed_while_the_subscription_was_down_is_not_served_from_memory() {
    let _alone = SUBSCRIPTIONS.write().await;
    let settings = settings();
    let (a, b) = (instance(&settings).await, instance(&settings).await);
    b.kv.get("session:2").await.unwrap();
    a.kv.set("session:2", b"alive", None).await.unwrap();
    assert_eq!(b.kv.get("session:2").await.unwrap().as_deref(), Some(&b"alive"[..]));
    // Cut b's subscription (and every other pub/sub client's: they reconnect), then change
    // the session behind every cache's back, as if its announcement had been lost.
    let mut conn =
        redis::Client::open(settings.url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async::<()>(&mut conn).await.unwrap();
    RedisKv::new(a.redis.clone()).delete("session:2").await.unwrap();
    let bound = b.feed.detects_loss_within();
    reads_within(&b.kv, "session:2", None, bound).await;
    // The feed comes back by itself, and caching with it.
    let start = Instant::now();
    while !b.feed.is_live() {
        assert!(start.elapsed() < Duration::from_secs(5), "the subscription did not come back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.kv.set("session:2", b"back", None).await.unwrap();
    reads_within(&b.kv, "session:2", Some(b"back"), Duration::from_secs(1)).await;
    a.kv.delete("session:2").await.unwrap();
    reads_within(&b.kv, "session:2", None, Duration::from_secs(1)).await;
}

/// The key-value contract holds through the cache the server puts in front of Redis.
mod cached_kv {
    async fn cached() -> std::sync::Arc<alleato_memory::CachedKv> {
        let redis = alleato_redis::Redis::connect(&super::settings()).await.unwrap();
        let feed = alleato_redis::RedisChanges::subscribe(redis.clone()).await.unwrap();
        let kv = std::sync::Arc::new(alleato_redis::RedisKv::new(redis));
        let cached = alleato_memory::CachedKv::new(kv, std::time::Duration::from_secs(30), 1000);
        std::sync::Arc::new(cached.told_by(std::sync::Arc::new(feed)))
    }
    alleato_core::kv_conformance!(cached().await);
}
