//! Streams on Workers KV, against Cloudflare's own KV (workerd under Miniflare, behind the
//! Worker in `tests/cf-shim/`), with the production timings: the streams suite on one
//! instance, then a writer and a follower on two instances (two API clients), which measures
//! the delay the follower sees and what the stream costs in API requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alleato_cloudflare::{CloudflareClient, CloudflareSettings, WorkersKv};
use alleato_core::ports::StreamStore;
use alleato_memory::{KvStreams, KvStreamsSettings};
use futures::StreamExt;

fn workers_kv() -> WorkersKv {
    let url = std::env::var("ALLEATO_TEST_CF_URL").unwrap_or_else(|_| "http://127.0.0.1:8787/client/v4".into());
    let mut settings = CloudflareSettings::new(url, "test-account", "test-token");
    settings.requests_per_5_minutes = 1_000_000;
    WorkersKv::new(CloudflareClient::new(settings).unwrap(), "test-namespace")
}

mod conformance {
    alleato_core::streams_conformance!(std::sync::Arc::new(alleato_memory::KvStreams::new(
        std::sync::Arc::new(super::workers_kv()),
        alleato_memory::KvStreamsSettings::default()
    )));
}

/// Two instances: two API clients, one namespace, production timings.
mod shared_conformance {
    alleato_core::streams_shared_conformance!({
        let settings = alleato_memory::KvStreamsSettings::default();
        let here = alleato_memory::KvStreams::new(std::sync::Arc::new(super::workers_kv()), settings);
        let there = alleato_memory::KvStreams::new(std::sync::Arc::new(super::workers_kv()), settings);
        alleato_core::testkit::streams_shared::Shared::new(std::sync::Arc::new(here), std::sync::Arc::new(there))
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_on_another_instance_sees_every_entry_within_the_flush_and_poll_intervals() {
    const TTL: Duration = Duration::from_secs(3600);
    let settings = KvStreamsSettings::default();
    let (writer_kv, follower_kv) = (workers_kv(), workers_kv());
    let (writer_api, follower_api) = (writer_kv.client().clone(), follower_kv.client().clone());
    let writer = KvStreams::new(Arc::new(writer_kv), settings);
    let follower = KvStreams::new(Arc::new(follower_kv), settings);
    let id = format!("cross-{}", uuid::Uuid::new_v4().simple());
    writer.create(&id, b"", TTL).await.unwrap();
    writer.flush().await;

    let appended: Arc<std::sync::Mutex<Vec<Instant>>> = Arc::default();
    let chunks = 60;
    let writing = {
        let (writer, id, appended) = (writer.clone(), id.clone(), appended.clone());
        tokio::spawn(async move {
            for n in 0..chunks {
                writer.append(&id, format!("chunk {n}").as_bytes(), TTL).await.unwrap();
                appended.lock().unwrap().push(Instant::now());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            writer.finish(&id, TTL).await.unwrap();
        })
    };
    let mut delays = Vec::new();
    let mut seen = alleato_core::services::follow(Arc::new(follower.clone()), id.clone(), 0);
    while let Some(entry) = seen.next().await {
        let (n, bytes) = entry.unwrap();
        assert_eq!(bytes, format!("chunk {}", n - 1).into_bytes(), "in order, each once");
        delays.push(appended.lock().unwrap()[n as usize - 1].elapsed());
    }
    writing.await.unwrap();
    assert_eq!(delays.len(), chunks);
    delays.sort();
    let (median, worst) = (delays[delays.len() / 2], delays[delays.len() - 1]);
    let seconds = 3.0_f64; // 60 chunks, 50 ms apart
    println!(
        "cross-instance follow delay: median {median:?}, worst {worst:?}; API requests: writer {}, follower {} (for a {seconds} s stream)",
        writer_api.requests_sent(),
        follower_api.requests_sent()
    );
    let bound = settings.flush_every + settings.poll_every + Duration::from_secs(2);
    assert!(worst < bound, "the simulator has no propagation delay: {worst:?}");
    // One create check, one write a second while it changes, the last write.
    assert!(writer_api.requests_sent() <= 2 + 4 + 2, "writer requests: {}", writer_api.requests_sent());
}
