//! The streams port on Redis. Per stream, two keys that expire together:
//! - `stream:{id}:meta`, a hash: `metadata`, `created`, `updated`, `done`, `len`, `bytes`, `stop`;
//! - `stream:{id}`, a Redis Stream whose entry `n-0` is the n-th chunk (field `d`), so sequence
//!   numbers are contiguous and a reader resumes with `XRANGE` from `after-0`. Finishing adds a
//!   marker entry `len-1`, after every chunk; readers skip it.
//!
//! Each script that changes a stream also publishes the change on the stream's channel,
//! `stream:{id}:wake`, in the same atomic step. Following live goes through [`Wakeups`]: one
//! pub/sub connection per process, subscribed to the channels of the streams it follows.

use std::time::Duration;

use alleato_core::ports::{StreamInfo, StreamSlice, StreamStore};
use alleato_core::time::{self, Timestamp};
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use redis::streams::StreamRangeReply;

use crate::wakeups::Wakeups;
use crate::{Redis, millis};

const S: Surface = Surface::Stream;

const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'metadata', ARGV[1], 'created', ARGV[2], 'updated', ARGV[2], 'done', '0', 'len', '0', 'bytes', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// Appends every entry in `ARGV[4..]`, numbered on from `len`, and publishes the new length on
/// the channel `ARGV[3]`; one round trip for a batch.
const APPEND: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'done') == '1' then return -2 end
local len = tonumber(redis.call('HGET', KEYS[1], 'len'))
local bytes = 0
for i = 4, #ARGV do
  len = len + 1
  bytes = bytes + string.len(ARGV[i])
  redis.call('XADD', KEYS[2], len .. '-0', 'd', ARGV[i])
end
redis.call('HSET', KEYS[1], 'len', len, 'updated', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'bytes', bytes)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[3], len .. '-0')
return len
";

/// Marks the stream and tells the channel `ARGV[1]`, which wakes the writer's wait.
const REQUEST_STOP: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'stop') == '1' then return 1 end
redis.call('HSET', KEYS[1], 'stop', '1')
redis.call('PUBLISH', ARGV[1], 'stop')
return 1
";

/// Marks the stream finished and tells the channel `ARGV[2]`; returns the length.
const FINISH: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local len = redis.call('HGET', KEYS[1], 'len')
if redis.call('HGET', KEYS[1], 'done') == '1' then return tonumber(len) end
redis.call('HSET', KEYS[1], 'done', '1')
redis.call('XADD', KEYS[2], len .. '-1', 'done', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], len .. '-1')
return tonumber(len)
";

#[derive(Clone)]
/// Generation streams over Redis Streams (`XADD`/`XREAD`), with the stop requests beside them.
pub struct RedisStreams {
    redis: Redis,
    /// One pub/sub subscription for every stream followed through this store.
    wakeups: Wakeups,
    create: redis::Script,
    append: redis::Script,
    finish: redis::Script,
    request_stop: redis::Script,
}

impl std::fmt::Debug for RedisStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreams").field("redis", &self.redis).finish_non_exhaustive()
    }
}

impl RedisStreams {
    /// The streams store over `redis`.
    pub fn new(redis: Redis) -> Self {
        Self {
            wakeups: Wakeups::new(redis.clone()),
            redis,
            create: redis::Script::new(CREATE),
            append: redis::Script::new(APPEND),
            finish: redis::Script::new(FINISH),
            request_stop: redis::Script::new(REQUEST_STOP),
        }
    }

    fn keys(&self, id: &str) -> (String, String) {
        (self.redis.key(&format!("stream:{id}:meta")), self.redis.key(&format!("stream:{id}")))
    }

    /// The pub/sub channel where every change to the stream is published.
    fn channel(&self, id: &str) -> String {
        self.redis.key(&format!("stream:{id}:wake"))
    }
}

fn ts(raw: Option<String>) -> Timestamp {
    raw.as_deref().and_then(time::parse_sortable).unwrap_or_else(time::now)
}

#[async_trait]
impl StreamStore for RedisStreams {
    async fn create(&self, id: &str, metadata: &[u8], ttl: Duration) -> Result<()> {
        let (meta, data) = self.keys(id);
        let mut conn = self.redis.manager.clone();
        let mut call = self.create.key(meta);
        call.key(data).arg(metadata).arg(time::to_sortable_text(&time::now())).arg(millis(ttl));
        let created: i64 = self.redis.run(S, call.invoke_async(&mut conn)).await?;
        if created == 1 { Ok(()) } else { Err(Error::conflict(S, "a stream with this id already exists")) }
    }

    async fn info(&self, id: &str) -> Result<Option<StreamInfo>> {
        let (meta, _) = self.keys(id);
        let mut conn = self.redis.manager.clone();
        type Fields =
            (Option<Vec<u8>>, Option<u64>, Option<u64>, Option<String>, Option<String>, Option<String>, Option<String>);
        let fields: Fields = self
            .redis
            .run(
                S,
                redis::cmd("HMGET")
                    .arg(&meta)
                    .arg(&["metadata", "len", "bytes", "done", "created", "updated", "stop"])
                    .query_async(&mut conn),
            )
            .await?;
        let (Some(metadata), len, bytes, done, created, updated, stop) = fields else { return Ok(None) };
        Ok(Some(StreamInfo {
            metadata,
            len: len.unwrap_or(0),
            bytes: bytes.unwrap_or(0),
            done: done.as_deref() == Some("1"),
            stop_requested: stop.as_deref() == Some("1"),
            created_at: ts(created),
            updated_at: ts(updated),
        }))
    }

    async fn append(&self, id: &str, entry: &[u8], ttl: Duration) -> Result<u64> {
        self.append_many(id, &[entry.to_vec()], ttl).await
    }

    async fn append_many(&self, id: &str, entries: &[Vec<u8>], ttl: Duration) -> Result<u64> {
        if entries.is_empty() {
            return Ok(0);
        }
        let (meta, data) = self.keys(id);
        let mut conn = self.redis.manager.clone();
        let mut call = self.append.key(meta);
        let channel = self.channel(id);
        call.key(data).arg(time::to_sortable_text(&time::now())).arg(millis(ttl)).arg(&channel);
        for entry in entries {
            call.arg(entry.as_slice());
        }
        match self.redis.run(S, call.invoke_async::<i64>(&mut conn)).await? {
            -1 => Err(Error::not_found(S)),
            -2 => Err(Error::conflict(S, "the stream is finished")),
            seq => {
                self.wakeups.saw(&channel, (seq as u64, 0));
                Ok(seq as u64)
            }
        }
    }

    async fn read(&self, id: &str, after: u64, max: usize) -> Result<Option<StreamSlice>> {
        let (meta, data) = self.keys(id);
        let mut conn = self.redis.manager.clone();
        // One transaction: `done` and the entries as of the same moment, so a reader that sees
        // `done` has seen every chunk.
        let ((exists, done), range): ((Option<String>, Option<String>), StreamRangeReply) = self
            .redis
            .run(
                S,
                redis::pipe()
                    .atomic()
                    .cmd("HMGET")
                    .arg(&meta)
                    .arg(&["len", "done"])
                    .cmd("XRANGE")
                    .arg(&data)
                    .arg(format!("{}-0", after + 1))
                    .arg("+")
                    .arg("COUNT")
                    .arg(max.max(1))
                    .query_async(&mut conn),
            )
            .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let mut entries = Vec::new();
        for item in range.ids {
            let Some((seq, sub)) = item.id.split_once('-') else { continue };
            if sub != "0" {
                continue; // the finish marker
            }
            let seq: u64 = seq.parse().map_err(|_| Error::backend(S, format!("unexpected stream id {}", item.id)))?;
            let bytes = match item.map.get("d") {
                Some(redis::Value::BulkString(bytes)) => bytes.clone(),
                _ => return Err(Error::backend(S, format!("stream entry {} has no data", item.id))),
            };
            entries.push((seq, bytes));
        }
        Ok(Some(StreamSlice { entries, done: done.as_deref() == Some("1") }))
    }

    async fn finish(&self, id: &str, keep: Duration) -> Result<()> {
        let (meta, data) = self.keys(id);
        let mut conn = self.redis.manager.clone();
        let mut call = self.finish.key(meta);
        let channel = self.channel(id);
        call.key(data).arg(millis(keep)).arg(&channel);
        match self.redis.run(S, call.invoke_async::<i64>(&mut conn)).await? {
            -1 => Err(Error::not_found(S)),
            len => {
                self.wakeups.saw(&channel, (len as u64, 1));
                Ok(())
            }
        }
    }

    async fn delete(&self, id: &str) -> Result<()> {
        let (meta, data) = self.keys(id);
        let mut conn = self.redis.manager.clone();
        let channel = self.channel(id);
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("DEL").arg(&meta).arg(&data).ignore().cmd("PUBLISH").arg(&channel).arg("gone").ignore();
        self.redis.run(S, pipe.query_async::<()>(&mut conn)).await?;
        self.wakeups.forget(&channel);
        Ok(())
    }

    async fn wait(&self, id: &str, after: u64, timeout: Duration) -> Result<()> {
        let (meta, _) = self.keys(id);
        self.wakeups.wait(&self.channel(id), &meta, after, timeout).await
    }

    async fn request_stop(&self, id: &str) -> Result<()> {
        let (meta, _) = self.keys(id);
        let mut conn = self.redis.manager.clone();
        let channel = self.channel(id);
        let mut call = self.request_stop.key(meta);
        call.arg(&channel);
        match self.redis.run(S, call.invoke_async::<i64>(&mut conn)).await? {
            -1 => Err(Error::not_found(S)),
            _ => {
                self.wakeups.saw_stop(&channel);
                Ok(())
            }
        }
    }

    async fn wait_for_stop(&self, id: &str) {
        let (meta, _) = self.keys(id);
        let channel = self.channel(id);
        let mut backoff = STOP_BACKOFF;
        loop {
            // The wait first: it reads the flag once subscribed, so a stop requested before
            // this wait wakes it at once, and a missing stream ends it at once. Then the flag
            // says whether it was a stop, the stream gone, or only the recheck timeout.
            let checked = match self.wakeups.wait_for_stop(&channel, &meta, STOP_RECHECK).await {
                Ok(()) => {
                    let mut conn = self.redis.manager.clone();
                    self.redis.run(S, redis::cmd("HMGET").arg(&meta).arg(&["len", "stop"]).query_async(&mut conn)).await
                }
                Err(err) => Err(err),
            };
            match checked {
                Ok((None, _)) => return, // the stream is gone
                Ok((Some(_), stop)) if stop.as_deref() == Some("1") => return,
                Ok::<(Option<String>, Option<String>), _>(_) => backoff = STOP_BACKOFF,
                Err(err) => {
                    tracing::warn!(stream = id, error = %err, "waiting for a stop on Redis failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    async fn ping(&self) -> Result<()> {
        self.redis.ping(S).await
    }
}

/// A stop wakes the writer through its channel at once; this long a wait also ends, to
/// check the flag again (after a Redis restart, say).
const STOP_RECHECK: Duration = Duration::from_secs(60);
const STOP_BACKOFF: Duration = Duration::from_millis(100);
