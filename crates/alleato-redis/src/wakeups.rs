//! Live following for every stream followed in this process, over one Redis pub/sub connection.
//!
//! Every change to a stream is published on the stream's own channel by the Lua script that
//! makes it: `"{len}-0"` after an append, `"{len}-1"` when it finishes, `"stop"` when a stop is
//! requested, `"gone"` when it is deleted. A process subscribes to the channel of each stream
//! it follows, once however many of its tasks wait on it, and wakes them as messages arrive.
//!
//! Why not `XREAD BLOCK` over every followed key (the first cut): Redis's time per call grows
//! with the keys it names, and the loop had to send it again after every wake. With a thousand
//! generations running, each call cost Redis milliseconds, and Redis became the send path's
//! bottleneck. A `PUBLISH` costs Redis in proportion to the channel's subscribers (here, the
//! instances following that one stream), and nothing at all is sent again.
//!
//! Pub/sub delivers at most once, so nothing here trusts a channel beyond its subscription:
//! - a stream newly followed is read once *after* its channel is subscribed (what changed
//!   before is in that read, what changes after is published to us);
//! - when the subscription's connection fails, every waiter is woken with an error (its caller
//!   reads again), the channels are subscribed again on a new connection, and then every
//!   followed stream is read once more, which wakes whoever waits for what was published in
//!   between.
//!
//! The writer's own process does not wait for the round trip through Redis: an append, finish
//! or stop made here wakes local waiters at once ([`Wakeups::saw`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use alleato_core::{Error, Result, Surface};
use futures::StreamExt;
use redis::aio::PubSubSink;
use tokio::sync::watch;

use crate::Redis;

const S: Surface = Surface::Stream;

/// A channel nobody waits on any more is unsubscribed after this long (at once, if its stream
/// is finished or gone). A follower waits again right after each read, milliseconds later, so
/// this only has to bridge that; a waiter that comes back later subscribes again.
const KEEP_IDLE: Duration = Duration::from_secs(2);
/// How often idle channels are dropped and the connection is proven alive with a ping.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Pause after a failed connection, doubled up to `MAX_BACKOFF`.
const BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A stream entry id, `seq-sub`; chunks are `n-0`, the finish marker `len-1`.
pub(crate) type EntryId = (u64, u64);

/// What this process knows of one stream, as watched by its waiters.
#[derive(Clone, Copy, Default, PartialEq)]
struct Seen {
    /// The newest entry known to exist.
    last: EntryId,
    stop: bool,
    gone: bool,
    /// Subscription failures so far: a waiter seeing this grow stops waiting and lets its
    /// caller read (a message may have been lost).
    failures: u64,
}

impl Seen {
    /// Notes a stop request; says whether it is news.
    fn stopped(&mut self) -> bool {
        !std::mem::replace(&mut self.stop, true)
    }

    /// Notes the stream gone; says whether it is news.
    fn went(&mut self) -> bool {
        !std::mem::replace(&mut self.gone, true)
    }

    fn finished(&self) -> bool {
        self.gone || self.last.1 == 1
    }
}

struct Watched {
    seen: watch::Sender<Seen>,
    /// The key that says the stream exists, with its length and flags.
    meta: String,
    last_used: Instant,
}

/// The process's dispatcher of stream wake-ups (cheap to clone).
#[derive(Clone)]
pub(crate) struct Wakeups {
    shared: Arc<Shared>,
}

struct Shared {
    redis: Redis,
    /// Every subscribed channel. An entry is here exactly while its channel is subscribed on the
    /// current connection (or is being subscribed, under `membership`), or no connection stands.
    channels: Mutex<HashMap<String, Watched>>,
    /// The subscription's command half, while its connection stands.
    sink: watch::Sender<Option<PubSubSink>>,
    /// Held while the set of channels changes and Redis is told, so that a subscribe and an
    /// unsubscribe of one channel reach Redis in the order they were decided.
    membership: tokio::sync::Mutex<()>,
    /// The relay, started by the first wait inside the caller's runtime, and started again by
    /// a later wait if it ever ended (its runtime shut down).
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A change to what is known of a stream; says whether anything changed.
type Change = Box<dyn FnOnce(&mut Seen) -> bool + Send>;

/// What a message on a stream's channel says.
fn parse_message(payload: &[u8]) -> Option<Change> {
    let text = std::str::from_utf8(payload).ok()?;
    let change: Change = match text {
        "stop" => Box::new(Seen::stopped),
        "gone" => Box::new(Seen::went),
        id => {
            let (seq, sub) = id.split_once('-')?;
            let id: EntryId = (seq.parse().ok()?, sub.parse().ok()?);
            Box::new(move |seen: &mut Seen| advance(seen, id))
        }
    };
    Some(change)
}

/// What `HMGET meta len done stop` answers.
type State = (Option<u64>, Option<String>, Option<String>);

fn state_of(meta: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("HMGET");
    cmd.arg(meta).arg(&["len", "done", "stop"]);
    cmd
}

/// Brings what is known of a stream up to its state as read; says whether anything changed.
fn apply(seen: &mut Seen, (len, done, stop): State) -> bool {
    let Some(len) = len else { return seen.went() };
    let advanced = advance(seen, (len, u64::from(done.as_deref() == Some("1"))));
    let stopped = stop.as_deref() == Some("1") && seen.stopped();
    advanced || stopped
}

fn advance(seen: &mut Seen, id: EntryId) -> bool {
    let newer = seen.last < id;
    if newer {
        seen.last = id;
    }
    newer
}

impl Wakeups {
    pub(crate) fn new(redis: Redis) -> Self {
        let (sink, _) = watch::channel(None);
        Self {
            shared: Arc::new(Shared {
                redis,
                channels: Mutex::default(),
                sink,
                membership: tokio::sync::Mutex::default(),
                task: Mutex::default(),
            }),
        }
    }

    /// Returns when the stream (its `channel`) has an entry after `after-0` (a chunk after it,
    /// or the finish marker of a stream `after` long), when it is deleted, when the subscription
    /// fails, when `timeout` passes, or at once if `meta` (the key that says the stream exists)
    /// is missing when the channel is subscribed.
    ///
    /// `after` must be a position the caller has read up to (at most the stream's length): it
    /// is taken as proof that those entries exist, which lets waiters further behind go and
    /// read them. Callers check cursors that come from clients against the length first.
    pub(crate) async fn wait(&self, channel: &str, meta: &str, after: u64, timeout: Duration) -> Result<()> {
        let floor = (after, 0);
        let Some(mut seen) = self.follow(channel, meta, floor).await? else { return Ok(()) };
        let failures = seen.borrow().failures;
        let woken = seen.wait_for(|now| now.last > floor || now.gone || now.failures != failures);
        Self::outcome(tokio::time::timeout(timeout, woken).await.map(|r| r.map(|now| now.failures != failures)))
    }

    /// Returns when a stop is requested for the stream, when it is deleted, when the
    /// subscription fails (`Err`), or when `timeout` passes.
    pub(crate) async fn wait_for_stop(&self, channel: &str, meta: &str, timeout: Duration) -> Result<()> {
        let Some(mut seen) = self.follow(channel, meta, (0, 0)).await? else { return Ok(()) };
        let failures = seen.borrow().failures;
        let woken = seen.wait_for(|now| now.stop || now.gone || now.failures != failures);
        Self::outcome(tokio::time::timeout(timeout, woken).await.map(|r| r.map(|now| now.failures != failures)))
    }

    fn outcome(
        waited: std::result::Result<std::result::Result<bool, watch::error::RecvError>, tokio::time::error::Elapsed>,
    ) -> Result<()> {
        match waited {
            Ok(Ok(true)) => Err(Error::unavailable(S, "following streams on Redis failed; reading again")),
            // Woken, the entry dropped (the store dropped or the stream forgotten), or the
            // timeout: the caller reads again.
            _ => Ok(()),
        }
    }

    /// Wakes this process's waiters on `channel` for a change made through this process,
    /// without waiting for its message to come back from Redis.
    pub(crate) fn saw(&self, channel: &str, id: EntryId) {
        self.modify(channel, |seen| advance(seen, id));
    }

    pub(crate) fn saw_stop(&self, channel: &str) {
        self.modify(channel, Seen::stopped);
    }

    /// Wakes the waiters on `channel`: its stream was deleted through this process.
    pub(crate) fn forget(&self, channel: &str) {
        self.modify(channel, Seen::went);
    }

    fn modify(&self, channel: &str, change: impl FnOnce(&mut Seen) -> bool) {
        if let Some(watched) = self.shared.channels.lock().unwrap_or_else(|p| p.into_inner()).get(channel) {
            watched.seen.send_if_modified(change);
        }
    }

    /// A receiver of what is known of the stream, its channel subscribed; `None` if the stream
    /// is missing. A channel already subscribed costs no Redis command.
    async fn follow(&self, channel: &str, meta: &str, floor: EntryId) -> Result<Option<watch::Receiver<Seen>>> {
        self.ensure_running();
        if let Some(seen) = self.watching(channel, floor)? {
            return Ok(Some(seen));
        }
        // The sink first: the relay takes `membership` to connect again.
        let mut sink = self.connected_sink().await?;
        let membership = self.shared.membership.lock().await;
        // Another waiter may have subscribed meanwhile.
        if let Some(seen) = self.watching(channel, floor)? {
            return Ok(Some(seen));
        }
        let (seen, subscribed) = {
            let mut channels = self.shared.channels.lock().unwrap_or_else(|p| p.into_inner());
            // A channel still subscribed for a stream gone here starts afresh (an id reused).
            let subscribed = channels.remove(channel).is_some();
            let (seen, _) = watch::channel(Seen { last: floor, ..Seen::default() });
            let watched = Watched { seen: seen.clone(), meta: meta.to_owned(), last_used: Instant::now() };
            channels.insert(channel.to_owned(), watched);
            (seen, subscribed)
        };
        if !subscribed && let Err(err) = self.shared.redis.run(S, sink.subscribe(channel)).await {
            // Not subscribed: gone from the map, which also wakes anyone who joined.
            self.shared.channels.lock().unwrap_or_else(|p| p.into_inner()).remove(channel);
            return Err(err);
        }
        drop(membership);
        let receiver = seen.subscribe();
        // The state as of now: anything later comes as a message.
        let mut conn = self.shared.redis.manager.clone();
        let state = self.shared.redis.run(S, state_of(meta).query_async(&mut conn)).await;
        match state {
            Ok(state) => {
                seen.send_if_modified(|seen| apply(seen, state));
                Ok((!seen.borrow().gone).then_some(receiver))
            }
            Err(err) => {
                // Whoever joined meanwhile trusted this read: they read again.
                seen.send_modify(|seen| seen.failures += 1);
                Err(err)
            }
        }
    }

    /// A receiver for a channel already subscribed (and its stream not gone here), after noting
    /// that entries up to `floor` exist; `Err` while the subscription is down.
    fn watching(&self, channel: &str, floor: EntryId) -> Result<Option<watch::Receiver<Seen>>> {
        let mut channels = self.shared.channels.lock().unwrap_or_else(|p| p.into_inner());
        let Some(watched) = channels.get_mut(channel) else { return Ok(None) };
        if watched.seen.borrow().gone {
            return Ok(None);
        }
        if self.shared.sink.borrow().is_none() {
            return Err(Error::unavailable(S, "the subscription to Redis is down; reading again"));
        }
        watched.last_used = Instant::now();
        // The caller has read up to `floor`, so that much exists: waiters further behind can
        // go and read it.
        watched.seen.send_if_modified(|seen| advance(seen, floor));
        Ok(Some(watched.seen.subscribe()))
    }

    /// The subscription's command half, waiting a moment for the relay to connect.
    async fn connected_sink(&self) -> Result<PubSubSink> {
        let mut sink = self.shared.sink.subscribe();
        let connected = tokio::time::timeout(self.shared.redis.timeout, sink.wait_for(Option::is_some)).await;
        match connected {
            Ok(Ok(sink)) => Ok(sink.clone().expect("waited for a connection")),
            _ => Err(Error::unavailable(S, "no subscription to Redis; reading again")),
        }
    }

    fn ensure_running(&self) {
        let mut task = self.shared.task.lock().unwrap_or_else(|p| p.into_inner());
        if task.as_ref().is_none_or(tokio::task::JoinHandle::is_finished) {
            *task = Some(tokio::spawn(run(Arc::downgrade(&self.shared))));
        }
    }
}

/// The relay: while the dispatcher lives, keep one subscription up and route its messages.
async fn run(weak: Weak<Shared>) {
    let mut backoff = BACKOFF;
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let messages = shared.connect().await;
        drop(shared);
        let failure = match messages {
            Ok(messages) => {
                backoff = BACKOFF;
                match relay(&weak, messages).await {
                    Some(err) => err,
                    None => return, // the dispatcher is gone
                }
            }
            Err(err) => err,
        };
        let Some(shared) = weak.upgrade() else { return };
        shared.sink.send_replace(None);
        shared.fail_all();
        tracing::warn!(error = %failure, "following streams on Redis failed; subscribing again");
        drop(shared);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Routes messages until the connection fails (`Some`) or the dispatcher is gone (`None`).
async fn relay(weak: &Weak<Shared>, mut messages: redis::aio::PubSubStream) -> Option<Error> {
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    sweep.tick().await;
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else {
                    return Some(Error::unavailable(S, "the subscription's connection ended"));
                };
                let shared = weak.upgrade()?;
                let channels = shared.channels.lock().unwrap_or_else(|p| p.into_inner());
                let (Some(watched), Some(change)) =
                    (channels.get(message.get_channel_name()), parse_message(message.get_payload_bytes()))
                else {
                    continue;
                };
                watched.seen.send_if_modified(change);
            }
            _ = sweep.tick() => {
                let shared = weak.upgrade()?;
                if let Err(err) = shared.sweep().await {
                    return Some(err);
                }
            }
        }
    }
}

impl Shared {
    /// Connects, subscribes every channel already followed, publishes the sink, and reads every
    /// followed stream again: what was published while no subscription stood was lost to us.
    async fn connect(&self) -> Result<redis::aio::PubSubStream> {
        let pubsub = tokio::time::timeout(self.redis.timeout * 2, self.redis.client.get_async_pubsub())
            .await
            .map_err(|_| Error::unavailable(S, "no answer from Redis"))?
            .map_err(|e| crate::map_redis(S, e))?;
        let (mut sink, messages) = pubsub.split();
        let membership = self.membership.lock().await;
        let followed: Vec<(String, String)> = {
            let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
            channels.iter().map(|(channel, watched)| (channel.clone(), watched.meta.clone())).collect()
        };
        if !followed.is_empty() {
            let channels: Vec<&str> = followed.iter().map(|(channel, _)| channel.as_str()).collect();
            self.redis.run(S, sink.subscribe(&channels)).await?;
        }
        self.sink.send_replace(Some(sink));
        drop(membership);
        if !followed.is_empty() {
            let mut pipe = redis::pipe();
            for (_, meta) in &followed {
                pipe.add_command(state_of(meta));
            }
            let mut conn = self.redis.manager.clone();
            let states: Vec<State> = self.redis.run(S, pipe.query_async(&mut conn)).await?;
            let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
            for ((channel, _), state) in followed.iter().zip(states) {
                if let Some(watched) = channels.get(channel) {
                    watched.seen.send_if_modified(|seen| apply(seen, state));
                }
            }
        }
        Ok(messages)
    }

    /// Unsubscribes the channels nobody waits on (idle for `KEEP_IDLE`, or finished), and
    /// proves the connection alive.
    async fn sweep(&self) -> Result<()> {
        let Some(mut sink) = self.sink.borrow().clone() else { return Ok(()) };
        let _membership = self.membership.lock().await;
        let idle: Vec<String> = {
            let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
            let idle: Vec<String> = channels
                .iter()
                .filter(|(_, w)| {
                    w.seen.receiver_count() == 0 && (w.seen.borrow().finished() || w.last_used.elapsed() >= KEEP_IDLE)
                })
                .map(|(channel, _)| channel.clone())
                .collect();
            for channel in &idle {
                channels.remove(channel);
            }
            idle
        };
        if !idle.is_empty() {
            self.redis.run(S, sink.unsubscribe(&idle)).await?;
        }
        self.redis.run(S, sink.ping::<redis::Value>()).await.map(drop)
    }

    /// Wakes every waiter with an error: its caller reads again.
    fn fail_all(&self) {
        for watched in self.channels.lock().unwrap_or_else(|p| p.into_inner()).values() {
            watched.seen.send_modify(|seen| seen.failures += 1);
        }
    }
}
