//! Workers KV through its REST API, against Cloudflare's own KV (workerd under Miniflare, behind
//! the Worker in `tests/cf-shim/`, which `cargo xtask test` starts on 127.0.0.1:8787;
//! `ALLEATO_TEST_CF_URL` names another). The key-value suite runs on the adapter itself and on
//! the read-through cache in front of it; both declare the 60 s minimum TTL, so the expiry
//! cases take a minute (all the cases run at once). There is no skip: without the simulator these tests fail.

use std::sync::Arc;
use std::time::Duration;

use alleato_cloudflare::{CloudflareClient, CloudflareSettings, WorkersKv};
use alleato_core::ports::KeyValueStore;
use alleato_memory::CachedKv;

fn workers_kv() -> WorkersKv {
    let url = std::env::var("ALLEATO_TEST_CF_URL").unwrap_or_else(|_| "http://127.0.0.1:8787/client/v4".into());
    let mut settings = CloudflareSettings::new(url, "test-account", "test-token");
    settings.requests_per_5_minutes = 1_000_000;
    WorkersKv::new(CloudflareClient::new(settings).unwrap(), "test-namespace")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_value_suite_passes_on_workers_kv() {
    alleato_core::kv_conformance!(@together Arc::new(workers_kv()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_value_suite_passes_on_the_cache_in_front_of_it() {
    alleato_core::kv_conformance!(@together Arc::new(CachedKv::new(Arc::new(workers_kv()), Duration::from_secs(30), 1000)));
}

#[tokio::test]
async fn keys_with_any_characters_are_one_path_segment() {
    let kv = workers_kv();
    for key in ["a/b", "session:1", "50% off", "?x=1#y", "ünï", "..a", "a b"] {
        kv.set(key, key.as_bytes(), None).await.unwrap();
        assert_eq!(kv.get(key).await.unwrap().as_deref(), Some(key.as_bytes()), "{key}");
        kv.delete(key).await.unwrap();
        assert_eq!(kv.get(key).await.unwrap(), None, "{key}");
    }
    assert!(kv.set("..", b"v", None).await.is_err(), "KV refuses `..`; so does the adapter, before sending");
}

#[tokio::test]
async fn a_cached_session_check_costs_no_request() {
    let kv = workers_kv();
    let client = kv.client().clone();
    let cached = CachedKv::new(Arc::new(kv), Duration::from_secs(30), 100);
    let key = format!("session:{}", uuid::Uuid::new_v4());
    cached.set(&key, b"record", Some(Duration::from_secs(3600))).await.unwrap();
    let after_write = client.requests_sent();
    for _ in 0..10 {
        assert_eq!(cached.get(&key).await.unwrap().as_deref(), Some(&b"record"[..]));
    }
    assert_eq!(client.requests_sent(), after_write, "reads after a write are served from memory");
    cached.delete(&key).await.unwrap();
    assert_eq!(cached.get(&key).await.unwrap(), None, "a logout is forgotten here at once");
    assert_eq!(client.requests_sent(), after_write + 2, "the delete, then one read that finds nothing");
}
