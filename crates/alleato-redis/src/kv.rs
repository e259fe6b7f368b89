use std::time::Duration;

use alleato_core::ports::{Counter, Counters, KeyValueStore, KvCapabilities, check_key, counter_window};
use alleato_core::{Result, Surface};
use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::{Redis, millis};

const S: Surface = Surface::KeyValue;

/// One round trip: count, and start the window's expiry on its first hit.
const INCREMENT: &str = r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
";

/// The key-value port on Redis.
#[derive(Debug, Clone)]
pub struct RedisKv {
    redis: Redis,
    increment: redis::Script,
}

impl RedisKv {
    /// The key-value store (and counters) over `redis`.
    pub fn new(redis: Redis) -> Self {
        Self { redis, increment: redis::Script::new(INCREMENT) }
    }
}

#[async_trait]
impl KeyValueStore for RedisKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        check_key(S, key)?;
        let mut conn = self.redis.manager.clone();
        let key = self.redis.key(key);
        self.redis.run(S, redis::cmd("GET").arg(&key).query_async::<Option<Vec<u8>>>(&mut conn)).await
    }

    /// `GET` and `PTTL` in one round trip.
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<Duration>)>> {
        check_key(S, key)?;
        let mut conn = self.redis.manager.clone();
        let key = self.redis.key(key);
        let mut both = redis::pipe();
        both.cmd("GET").arg(&key).cmd("PTTL").arg(&key);
        let (value, ttl): (Option<Vec<u8>>, i64) = self.redis.run(S, both.query_async(&mut conn)).await?;
        // PTTL: -1 without a TTL, -2 if the key expired between the two.
        let left = u64::try_from(ttl).ok().map(Duration::from_millis);
        Ok(value.filter(|_| ttl != -2).map(|value| (value, left)))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        check_key(S, key)?;
        let mut conn = self.redis.manager.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.redis.key(key)).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(millis(KvCapabilities::default().ttl(ttl)));
        }
        self.redis.run(S, cmd.query_async::<()>(&mut conn)).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(S, key)?;
        let mut conn = self.redis.manager.clone();
        self.redis.run(S, redis::cmd("DEL").arg(self.redis.key(key)).query_async::<()>(&mut conn)).await
    }

    async fn ping(&self) -> Result<()> {
        self.redis.ping(S).await
    }

    /// `SCAN … MATCH`, a page of about a thousand keys per round trip; a key Redis returns
    /// twice (its `SCAN` may) is listed twice.
    fn keys(&self, prefix: &str) -> BoxStream<'static, Result<String>> {
        let redis = self.redis.clone();
        let pattern = format!("{}*", glob_escaped(&redis.key(prefix)));
        futures::stream::unfold(Some(0u64), move |cursor| {
            let (redis, pattern) = (redis.clone(), pattern.clone());
            async move {
                let cursor = cursor?;
                let mut conn = redis.manager.clone();
                let scan = redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000).to_owned();
                let (page, next): (Vec<Result<String>>, _) =
                    match redis.run(S, scan.query_async::<(u64, Vec<String>)>(&mut conn)).await {
                        Ok((next, keys)) => {
                            let ours =
                                keys.into_iter().filter_map(|k| k.strip_prefix(&redis.prefix).map(str::to_owned));
                            (ours.map(Ok).collect(), (next != 0).then_some(next))
                        }
                        Err(err) => (vec![Err(err)], None),
                    };
                Some((futures::stream::iter(page), next))
            }
        })
        .flatten()
        .boxed()
    }
}

/// `text` matched literally by a `SCAN` pattern: its glob characters escaped.
fn glob_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^' | '-') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[async_trait]
impl Counters for RedisKv {
    async fn increment(&self, key: &str, window: Duration) -> Result<Counter> {
        check_key(S, key)?;
        let mut conn = self.redis.manager.clone();
        let mut invocation = self.increment.key(self.redis.key(key));
        invocation.arg(millis(counter_window(window)));
        let (count, ttl): (i64, i64) = self.redis.run(S, invocation.invoke_async(&mut conn)).await?;
        Ok(Counter { count: count.max(0) as u64, resets_in: Duration::from_millis(ttl.max(0) as u64) })
    }

    async fn ping(&self) -> Result<()> {
        self.redis.ping(S).await
    }
}
