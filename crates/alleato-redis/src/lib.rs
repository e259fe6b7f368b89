//! Redis adapters for Alleato, over the `redis` crate's connection manager (it reconnects by
//! itself after Redis restarts):
//!
//! - [`RedisKv`]: the key-value port (sessions, rate limits, cache); counters are one Lua
//!   script, so they are atomic across any number of server instances.
//! - [`RedisStreams`]: the streams port on Redis Streams: `XADD` with a TTL on the key, a done
//!   marker, and every change published on the stream's pub/sub channel to follow live; a
//!   generation started on one instance can be followed and resumed through another.
//! - [`RedisChanges`]: the change feed on pub/sub, which lets each instance cache sessions and
//!   users in memory and still forget a changed one within milliseconds.
//!
//! Every call is bounded by a timeout, so an unreachable Redis is a prompt `Unavailable`, never
//! a hang.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod changes;
mod kv;
mod streams;
mod wakeups;

use std::future::Future;
use std::time::Duration;

use alleato_core::{Error, Result, Surface};
use redis::aio::ConnectionManager;

pub use changes::RedisChanges;
pub use kv::RedisKv;
pub use streams::RedisStreams;

/// How to reach Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://host:port/db` (or `rediss://` for TLS).
    pub url: String,
    /// Prepended to every key, so several deployments (or tests) can share one Redis.
    pub prefix: String,
    /// The longest any one command may take.
    pub command_timeout: Duration,
}

impl RedisSettings {
    /// Settings for `url`, with the key prefix `alleato:` and a 2 s command timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), prefix: "alleato:".into(), command_timeout: Duration::from_secs(2) }
    }
}

/// A shared connection to Redis with a key prefix.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    manager: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl Redis {
    /// Connects (a multiplexed connection that reconnects by itself) and checks the server answers.
    pub async fn connect(settings: &RedisSettings) -> Result<Self> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|e| Error::backend(Surface::KeyValue, format!("invalid REDIS_URL: {e}")))?;
        let manager = tokio::time::timeout(settings.command_timeout * 3, ConnectionManager::new(client.clone()))
            .await
            .map_err(|_| Error::unavailable(Surface::KeyValue, "no answer from Redis"))?
            .map_err(|e| map_redis(Surface::KeyValue, e))?;
        Ok(Self { client, manager, prefix: settings.prefix.clone(), timeout: settings.command_timeout })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// A `PING`, bounded like every command.
    async fn ping(&self, surface: Surface) -> Result<()> {
        let mut conn = self.manager.clone();
        self.run(surface, redis::cmd("PING").query_async::<()>(&mut conn)).await
    }

    /// Runs a command future with the configured timeout.
    async fn run<T>(&self, surface: Surface, f: impl Future<Output = redis::RedisResult<T>>) -> Result<T> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(result) => result.map_err(|e| map_redis(surface, e)),
            Err(_) => Err(Error::unavailable(surface, format!("Redis did not answer within {:?}", self.timeout))),
        }
    }
}

/// A TTL in whole milliseconds, at least one second (Redis refuses a zero expiry).
fn millis(ttl: Duration) -> u64 {
    ttl.max(Duration::from_secs(1)).as_millis().min(u128::from(u64::MAX)) as u64
}

/// Connection trouble is `Unavailable` (the caller may retry later); anything else `Backend`.
fn map_redis(surface: Surface, err: redis::RedisError) -> Error {
    if err.is_io_error() || err.is_connection_refusal() || err.is_timeout() || err.is_connection_dropped() {
        Error::unavailable(surface, err)
    } else {
        Error::backend(surface, err)
    }
}
