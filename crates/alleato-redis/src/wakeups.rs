//! Live following for every stream followed in this process over one Redis connection: a single
//! loop runs `XREAD BLOCK` over all followed stream keys at once and wakes the local waiters of
//! each key that got an entry.
//!
//! One blocking connection per follower does not scale: a thousand followers would hold a
//! thousand Redis connections per instance, each opened or recycled per chunk. Here followers
//! share the loop's connection, and a wait on a key already watched costs no Redis command.
//!
//! A key newly followed must join the `XREAD` in flight, so the loop also reads a control
//! stream of its own (`streams-wake:{process}`); registering a new key adds an entry there,
//! which ends the current block at once. Keys stay watched for a while after their last waiter
//! left, since a follower waits again right after each read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alleato_core::{Error, Result, Surface};
use redis::streams::StreamReadReply;
use tokio::sync::watch;

use crate::{Redis, map_redis};

const S: Surface = Surface::Stream;

/// The longest one `XREAD BLOCK` lasts; the loop also forgets idle keys between blocks.
const BLOCK: Duration = Duration::from_secs(5);
/// A key nobody waits on any more is dropped from the `XREAD` after this long (at once, if its
/// stream is finished). A follower waits again right after each read, milliseconds later, so
/// this only has to bridge that; every key watched costs every `XREAD` (Redis's time per call
/// grows with the keys: with 30 s here, thousands of finished generations' keys made each call
/// cost a millisecond of Redis time under load). A waiter that comes back later joins again.
const KEEP_IDLE: Duration = Duration::from_secs(2);
/// The pause between `XREAD`s per key watched, up to `MAX_PAUSE_KEYS` keys (5 ms).
const PAUSE_PER_KEY: Duration = Duration::from_micros(5);
const MAX_PAUSE_KEYS: usize = 1000;
/// Pause after a failed `XREAD` (Redis down), doubled up to `MAX_BACKOFF`.
const BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A stream entry id, `seq-sub`; chunks are `n-0`, the finish marker `len-1`.
type EntryId = (u64, u64);

/// What the loop knows of one key, as watched by its waiters.
#[derive(Clone, Copy, Default, PartialEq)]
struct Seen {
    /// The newest entry known to exist.
    last: EntryId,
    /// Failed reads so far: a waiter seeing this grow stops waiting and lets its caller read.
    failures: u64,
}

struct Watched {
    seen: watch::Sender<Seen>,
    last_used: Instant,
}

struct Shared {
    redis: Redis,
    control: String,
    keys: Mutex<HashMap<String, Watched>>,
    /// The loop, started by the first wait inside the caller's runtime, and started again by
    /// a later wait if it ever ended (its runtime shut down).
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Rouses the loop when it idles with no key to watch.
    joined: Arc<tokio::sync::Notify>,
}

/// The process's dispatcher of stream wake-ups (cheap to clone).
#[derive(Clone)]
pub(crate) struct Wakeups {
    shared: Arc<Shared>,
}

fn parse_id(id: &str) -> Option<EntryId> {
    let (seq, sub) = id.split_once('-')?;
    Some((seq.parse().ok()?, sub.parse().ok()?))
}

impl Wakeups {
    pub(crate) fn new(redis: Redis) -> Self {
        let process = format!(
            "{:x}{:x}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
        );
        let control = redis.key(&format!("streams-wake:{process}"));
        Self {
            shared: Arc::new(Shared {
                redis,
                control,
                keys: Mutex::default(),
                task: Mutex::default(),
                joined: Arc::default(),
            }),
        }
    }

    /// Returns when the stream `key` has an entry after `after-0` (a chunk after it, or the
    /// finish marker of a stream `after` long), when the loop's reads fail, when `timeout`
    /// passes, or at once if `meta` (the key that says the stream exists) is missing when the
    /// key starts being watched here. A stream deleted through this process wakes its waiters
    /// ([`Wakeups::forget`]); one deleted through another instance is noticed at the timeout.
    ///
    /// `after` must be a position the caller has read up to (at most the stream's length): it
    /// is taken as proof that those entries exist, which lets waiters further behind go and
    /// read them. Callers check cursors that come from clients against the length first.
    pub(crate) async fn wait(&self, key: &str, meta: &str, after: u64, timeout: Duration) -> Result<()> {
        self.ensure_running();
        let floor = (after, 0);
        let (mut seen, joined) = {
            let mut keys = self.shared.keys.lock().unwrap_or_else(|p| p.into_inner());
            match keys.get_mut(key) {
                Some(watched) => {
                    watched.last_used = Instant::now();
                    // The caller has read up to `after`, so that much exists: waiters further
                    // behind can go and read it.
                    watched.seen.send_if_modified(|seen| {
                        let newer = seen.last < floor;
                        if newer {
                            seen.last = floor;
                        }
                        newer
                    });
                    (watched.seen.subscribe(), false)
                }
                None => {
                    let (tx, rx) = watch::channel(Seen { last: floor, failures: 0 });
                    keys.insert(key.to_owned(), Watched { seen: tx, last_used: Instant::now() });
                    (rx, true)
                }
            }
        };
        if joined {
            // Until the loop is told about the key, other waiters on it would sleep through
            // the block in flight: if telling it fails (or this wait is dropped meanwhile), the
            // key goes again, which wakes them to read and wait anew.
            let mut joining = Joining { wakeups: self, key, told: false };
            if !self.interrupt(meta).await? {
                return Ok(()); // the stream is gone: forgotten as `joining` drops
            }
            joining.told = true;
            self.shared.joined.notify_one();
        }
        let failures = seen.borrow().failures;
        let woken = seen.wait_for(|now| now.last > floor || now.failures != failures);
        match tokio::time::timeout(timeout, woken).await {
            Ok(Ok(now)) if now.failures != failures => {
                Err(Error::unavailable(S, "following streams on Redis failed; reading again"))
            }
            // Woken, the loop gone (the store dropped), or the timeout: the caller reads again.
            _ => Ok(()),
        }
    }

    fn ensure_running(&self) {
        let mut task = self.shared.task.lock().unwrap_or_else(|p| p.into_inner());
        if task.as_ref().is_none_or(tokio::task::JoinHandle::is_finished) {
            *task = Some(tokio::spawn(run(Arc::downgrade(&self.shared))));
        }
    }

    /// Stops watching `key` and wakes its waiters (the stream was deleted).
    pub(crate) fn forget(&self, key: &str) {
        // Dropping the sender ends every waiter's `wait_for`.
        self.shared.keys.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }

    /// Ends the `XREAD BLOCK` in flight, so the loop picks up a newly followed key; in the same
    /// round trip, says whether the stream (its `meta` key) exists.
    async fn interrupt(&self, meta: &str) -> Result<bool> {
        let redis = &self.shared.redis;
        let mut conn = redis.manager.clone();
        let mut pipe = redis::pipe();
        pipe.cmd("EXISTS")
            .arg(meta)
            .cmd("XADD")
            .arg(&self.shared.control)
            .arg("MAXLEN")
            .arg(1)
            .arg("*")
            .arg("k")
            .arg("")
            .ignore()
            .cmd("PEXPIRE")
            .arg(&self.shared.control)
            .arg(24 * 3600 * 1000)
            .ignore();
        let (exists,): (bool,) = redis.run(S, pipe.query_async(&mut conn)).await?;
        Ok(exists)
    }
}

/// Forgets a newly watched key unless the loop was told about it.
struct Joining<'a> {
    wakeups: &'a Wakeups,
    key: &'a str,
    told: bool,
}

impl Drop for Joining<'_> {
    fn drop(&mut self) {
        if !self.told {
            self.wakeups.forget(self.key);
        }
    }
}

/// The loop: while the dispatcher lives, block on every watched key and wake their waiters.
async fn run(weak: std::sync::Weak<Shared>) {
    let mut conn: Option<redis::aio::MultiplexedConnection> = None;
    let mut control_seen = "0-0".to_owned();
    let mut backoff = BACKOFF;
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let watched = snapshot(&shared);
        if watched.is_empty() {
            // Nothing to follow: no Redis command until a key is watched.
            let joined = shared.joined.clone();
            drop(shared);
            let _ = tokio::time::timeout(BLOCK, joined.notified()).await;
            continue;
        }
        let connection = match conn.take() {
            Some(c) => Ok(c),
            None => connect(&shared.redis).await,
        };
        let result = match connection {
            Ok(mut c) => {
                let mut cmd = redis::cmd("XREAD");
                cmd.arg("COUNT").arg(1).arg("BLOCK").arg(BLOCK.as_millis() as u64).arg("STREAMS");
                cmd.arg(&shared.control);
                for (key, _) in &watched {
                    cmd.arg(key);
                }
                cmd.arg(&control_seen);
                for (_, (seq, sub)) in &watched {
                    cmd.arg(format!("{seq}-{sub}"));
                }
                // Dropped here while blocked, a wait would keep the store alive; the weak
                // reference is taken again after the block.
                drop(shared);
                let reply = cmd.query_async::<Option<StreamReadReply>>(&mut c).await;
                if reply.is_ok() {
                    conn = Some(c);
                }
                reply.map_err(|e| map_redis(S, e))
            }
            Err(err) => {
                drop(shared);
                Err(err)
            }
        };
        let Some(shared) = weak.upgrade() else { return };
        match result {
            Ok(reply) => {
                backoff = BACKOFF;
                {
                    let keys = shared.keys.lock().unwrap_or_else(|p| p.into_inner());
                    for stream in reply.map(|r| r.keys).unwrap_or_default() {
                        let Some(newest) = stream.ids.last() else { continue };
                        if stream.key == shared.control {
                            control_seen = newest.id.clone();
                            continue;
                        }
                        let (Some(watched), Some(id)) = (keys.get(&stream.key), parse_id(&newest.id)) else { continue };
                        watched.seen.send_if_modified(|seen| {
                            let newer = seen.last < id;
                            if newer {
                                seen.last = id;
                            }
                            newer
                        });
                    }
                }
                drop(shared);
                // Each XREAD costs Redis time in proportion to the keys it names, and with many
                // busy streams it would return (and be sent again) for nearly every append. A
                // pause that grows with the keys lets entries gather: at most 5 ms more latency
                // per chunk (with 1,000 streams followed), far less with few.
                tokio::time::sleep(PAUSE_PER_KEY * watched.len().min(MAX_PAUSE_KEYS) as u32).await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "following streams on Redis failed; retrying");
                for watched in shared.keys.lock().unwrap_or_else(|p| p.into_inner()).values() {
                    watched.seen.send_modify(|seen| seen.failures += 1);
                }
                drop(shared);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The keys to block on and the entry each has reached; forgets keys idle for `KEEP_IDLE`, and
/// finished streams nobody waits on.
fn snapshot(shared: &Shared) -> Vec<(String, EntryId)> {
    let mut keys = shared.keys.lock().unwrap_or_else(|p| p.into_inner());
    keys.retain(|_, watched| {
        let finished = watched.seen.borrow().last.1 == 1;
        watched.seen.receiver_count() > 0 || (!finished && watched.last_used.elapsed() < KEEP_IDLE)
    });
    keys.iter().map(|(key, watched)| (key.clone(), watched.seen.borrow().last)).collect()
}

async fn connect(redis: &Redis) -> Result<redis::aio::MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(redis.timeout))
        // A response may take the whole block, and a little more on a busy server.
        .set_response_timeout(Some(BLOCK + redis.timeout));
    redis.client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| map_redis(S, e))
}
