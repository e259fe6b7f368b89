//! The change feed on Redis pub/sub: one channel per key prefix, one subscriber connection per
//! process. It lets every instance keep sessions and users in memory and still forget one
//! within milliseconds of a logout, a password change or a deletion on any instance.
//!
//! Redis pub/sub delivers at most once: a message published while a subscriber is
//! disconnected is lost for it. So the feed is *live* only while its subscription stands and
//! answers: it pings every [`PING_EVERY`], and a ping without an answer within the command
//! timeout (or the connection ending) makes it not live and tells every listener to forget
//! everything; it then reconnects with back-off, and tells them again once subscribed (what was
//! read from the store in between may predate a lost message). A cache reads the store while the
//! feed is not live.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alleato_core::ports::{Change, ChangeFeed, ChangeListener};
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use futures::StreamExt;

use crate::Redis;

const S: Surface = Surface::KeyValue;

/// How often the subscription proves it still stands.
const PING_EVERY: Duration = Duration::from_secs(1);
/// Pause after a failed connection, doubled up to `MAX_BACKOFF`.
const BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The change feed over Redis pub/sub; see the module's documentation. Cheap to clone.
#[derive(Clone)]
pub struct RedisChanges {
    shared: Arc<Shared>,
}

struct Shared {
    redis: Redis,
    channel: String,
    live: AtomicBool,
    listeners: Mutex<Vec<Arc<dyn ChangeListener>>>,
}

impl std::fmt::Debug for RedisChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisChanges")
            .field("channel", &self.shared.channel)
            .field("live", &self.shared.live.load(Ordering::Acquire))
            .finish()
    }
}

impl Shared {
    fn tell(&self, change: Change<'_>) {
        let listeners = self.listeners.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for listener in listeners {
            listener.changed(change);
        }
    }

    fn set_live(&self, live: bool) {
        if self.live.swap(live, Ordering::AcqRel) != live {
            self.tell(Change::All);
        }
    }

    /// Subscribes, then relays messages until the connection ends, a ping goes unanswered
    /// (`Err`), or nothing but this task holds the feed any more (`Ok`). The first successful
    /// subscription is reported to `subscribed`.
    async fn subscribe_and_relay(self: &Arc<Self>, subscribed: &mut Option<Subscribed>) -> Result<()> {
        let timeout = self.redis.timeout;
        let pubsub = tokio::time::timeout(timeout * 2, self.redis.client.get_async_pubsub())
            .await
            .map_err(|_| Error::unavailable(S, "no answer from Redis"))?
            .map_err(|e| crate::map_redis(S, e))?;
        let (mut sink, mut messages) = pubsub.split();
        self.redis.run(S, sink.subscribe(&self.channel)).await?;
        self.set_live(true);
        if let Some(tx) = subscribed.take() {
            let _ = tx.send(Ok(()));
        }
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else {
                        return Err(Error::unavailable(S, "the subscription's connection ended"));
                    };
                    match std::str::from_utf8(message.get_payload_bytes()) {
                        Ok(key) => self.tell(Change::Key(key)),
                        // Not ours (keys are UTF-8): forget everything rather than guess.
                        Err(_) => self.tell(Change::All),
                    }
                }
                _ = ping.tick() => {
                    if Arc::strong_count(self) == 1 {
                        return Ok(());
                    }
                    self.redis.run(S, sink.ping::<redis::Value>()).await?;
                }
            }
        }
    }
}

/// Where the first subscription's outcome goes.
type Subscribed = tokio::sync::oneshot::Sender<Result<()>>;

impl RedisChanges {
    /// Subscribes to the changes of every instance sharing `redis`'s key prefix, and keeps the
    /// subscription up for as long as a clone of the feed lives. Fails if the first subscription
    /// fails: a misconfigured Redis is reported at start.
    pub async fn subscribe(redis: Redis) -> Result<Self> {
        let channel = redis.key("changes");
        let shared = Arc::new(Shared { redis, channel, live: AtomicBool::new(false), listeners: Mutex::default() });
        let (subscribed, first) = tokio::sync::oneshot::channel();
        tokio::spawn(run(shared.clone(), subscribed));
        match first.await {
            Ok(Ok(())) => Ok(Self { shared }),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(Error::unavailable(S, "the subscription task ended")),
        }
    }
}

/// Keeps the subscription up, reconnecting with back-off, until nothing else holds the feed.
async fn run(shared: Arc<Shared>, subscribed: Subscribed) {
    let mut subscribed = Some(subscribed);
    let mut backoff = BACKOFF;
    loop {
        let Err(err) = shared.subscribe_and_relay(&mut subscribed).await else { return };
        if shared.live.load(Ordering::Acquire) {
            backoff = BACKOFF;
        }
        shared.set_live(false);
        if let Some(tx) = subscribed.take() {
            let _ = tx.send(Err(err));
            return;
        }
        tracing::warn!(error = %err, channel = %shared.channel, "change feed down: reading the stores until it is back");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        if Arc::strong_count(&shared) == 1 {
            return;
        }
    }
}

#[async_trait]
impl ChangeFeed for RedisChanges {
    async fn announce(&self, key: &str) -> Result<()> {
        let shared = &self.shared;
        let mut conn = shared.redis.manager.clone();
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(&shared.channel).arg(key);
        shared.redis.run(S, publish.query_async::<i64>(&mut conn)).await.map(drop)
    }

    fn listen(&self, listener: Arc<dyn ChangeListener>) {
        self.shared.listeners.lock().unwrap_or_else(|p| p.into_inner()).push(listener);
    }

    fn is_live(&self) -> bool {
        self.shared.live.load(Ordering::Acquire)
    }

    /// A ping's interval and its timeout.
    fn detects_loss_within(&self) -> Duration {
        PING_EVERY + self.shared.redis.timeout
    }
}
