//! Many streams followed at once share one blocking connection: every follower gets every entry
//! in order, and the number of connections to Redis does not grow with the followers. (Its own
//! test binary with this one test, so no other test's connections are counted.)

use std::sync::Arc;
use std::time::Duration;

use alleato_core::ports::StreamStore;
use alleato_redis::{Redis, RedisSettings, RedisStreams};
use futures::StreamExt;

const STREAMS: usize = 300;
const ENTRIES: usize = 8;
const TTL: Duration = Duration::from_secs(60);

async fn connected_clients(redis: &redis::Client) -> usize {
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO").arg("clients").query_async(&mut conn).await.unwrap();
    info.lines().find_map(|l| l.strip_prefix("connected_clients:")).unwrap().trim().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_followers_share_one_connection() {
    let url = std::env::var("ALLEATO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let probe = redis::Client::open(url.as_str()).unwrap();
    let mut settings = RedisSettings::new(url);
    settings.prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let store = Arc::new(RedisStreams::new(Redis::connect(&settings).await.unwrap()));
    let before = connected_clients(&probe).await;

    let ids: Vec<String> = (0..STREAMS).map(|i| format!("many-{i}")).collect();
    for id in &ids {
        store.create(id, b"", TTL).await.unwrap();
    }
    let followers: Vec<_> = ids
        .iter()
        .map(|id| {
            let entries = alleato_core::services::follow(store.clone(), id.clone(), 0);
            tokio::spawn(entries.map(|e| e.unwrap()).collect::<Vec<_>>())
        })
        .collect();
    // Let every follower reach its wait, then count connections while they all wait.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = connected_clients(&probe).await;
    assert!(
        during <= before + 3,
        "{STREAMS} followers took {} more connections to Redis ({before} before, {during} during)",
        during - before
    );

    for round in 0..ENTRIES {
        for id in &ids {
            store.append(id, round.to_string().as_bytes(), TTL).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for id in &ids {
        store.finish(id, Duration::from_secs(60)).await.unwrap();
    }
    let expected: Vec<(u64, Vec<u8>)> = (0..ENTRIES).map(|n| (n as u64 + 1, n.to_string().into_bytes())).collect();
    for follower in followers {
        let got = tokio::time::timeout(Duration::from_secs(20), follower).await.expect("every follower ends").unwrap();
        assert_eq!(got, expected);
    }
    for id in &ids {
        store.delete(id).await.unwrap();
    }
}
