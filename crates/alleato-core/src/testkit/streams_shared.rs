//! The streams contract across instances: two handles on one shared store (two connections to
//! one Redis, two `KvStreams` over one key-value store, or clones where the store belongs to one
//! process). Each case holds the store to what it declares in its
//! [`StreamCapabilities`](crate::ports::StreamCapabilities), with room for a loaded machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::ports::StreamStore;
use crate::services::follow;

const TTL: Duration = Duration::from_secs(3600);
/// Added to every declared bound: scheduling on a busy machine, not the store's promise.
const SLACK: Duration = Duration::from_secs(3);

/// Two handles on one store, as two instances hold it: the writer's and another's.
#[derive(Clone)]
pub struct Shared {
    /// The instance that creates and writes the streams.
    pub here: Arc<dyn StreamStore>,
    /// Another instance.
    pub there: Arc<dyn StreamStore>,
}

impl Shared {
    /// `here` and `there` must share their streams.
    pub fn new(here: Arc<dyn StreamStore>, there: Arc<dyn StreamStore>) -> Self {
        Self { here, there }
    }
}

fn id() -> String {
    format!("shared-{}", uuid::Uuid::new_v4().simple())
}

/// Waits until `there` sees the stream, at most the declared visibility plus slack.
async fn seen_there(pair: &Shared, id: &str) {
    let bound = pair.here.capabilities().visible_elsewhere_within + SLACK;
    let started = Instant::now();
    while pair.there.info(id).await.unwrap().is_none() {
        assert!(started.elapsed() < bound, "not visible on the other instance within {bound:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A stream created on one instance is seen on another within `visible_elsewhere_within`.
pub async fn a_stream_created_here_is_seen_there_in_the_declared_time(pair: Shared) {
    let id = id();
    pair.here.create(&id, b"meta", TTL).await.unwrap();
    seen_there(&pair, &id).await;
    assert_eq!(pair.there.info(&id).await.unwrap().unwrap().metadata, b"meta".to_vec());
}

/// A follower on another instance gets every entry once, in order, and the end.
pub async fn a_follower_there_gets_every_entry_and_the_end(pair: Shared) {
    let id = id();
    pair.here.create(&id, b"", TTL).await.unwrap();
    pair.here.append(&id, b"0", TTL).await.unwrap();
    seen_there(&pair, &id).await;
    let follower = follow(pair.there.clone(), id.clone(), 0);
    for n in 1..20 {
        pair.here.append(&id, n.to_string().as_bytes(), TTL).await.unwrap();
    }
    pair.here.finish(&id, TTL).await.unwrap();
    let caps = pair.here.capabilities();
    let bound = caps.visible_elsewhere_within + SLACK;
    let got: Vec<_> = tokio::time::timeout(bound, follower.map(Result::unwrap).collect())
        .await
        .unwrap_or_else(|_| panic!("the follower did not reach the end within {bound:?}"));
    assert_eq!(got.iter().map(|(n, _)| *n).collect::<Vec<u64>>(), (1..=20).collect::<Vec<_>>());
    assert_eq!(got[19].1, b"19".to_vec());
}

/// A stop asked on another instance ends the writer's `wait_for_stop` within
/// `stop_elsewhere_within`, and both instances show it.
pub async fn a_stop_asked_there_reaches_the_writer_in_the_declared_time(pair: Shared) {
    let id = id();
    pair.here.create(&id, b"", TTL).await.unwrap();
    pair.here.append(&id, b"a", TTL).await.unwrap();
    seen_there(&pair, &id).await;
    let waiting = {
        let here = pair.here.clone();
        let id = id.clone();
        tokio::spawn(async move { here.wait_for_stop(&id).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished(), "no stop yet");
    pair.there.request_stop(&id).await.unwrap();
    let bound = pair.here.capabilities().stop_elsewhere_within + SLACK;
    tokio::time::timeout(bound, waiting)
        .await
        .unwrap_or_else(|_| panic!("the writer did not hear of the stop within {bound:?}"))
        .unwrap();
    assert!(pair.here.info(&id).await.unwrap().unwrap().stop_requested);
    assert!(pair.there.info(&id).await.unwrap().unwrap().stop_requested);
}
