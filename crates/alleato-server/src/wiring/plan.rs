//! The pure decision: which backend each port gets, and why. No I/O.

use std::path::PathBuf;

use crate::config::{Config, Secret};

/// A backend picked for a port, and the reason (shown in the start-up table and `/health`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice<B> {
    /// The backend picked.
    pub backend: B,
    /// Why, in words: the setting that decided it (e.g. `REDIS_URL is set`), plus any note
    /// (a local stand-in for a missing credential).
    pub reason: String,
}

impl<B> Choice<B> {
    fn new(backend: B, reason: impl Into<String>) -> Self {
        Self { backend, reason: reason.into() }
    }
}

/// Every backend a port can have, compiled in or not, so an error can name the missing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseBackend {
    /// SQLite in memory (`--ephemeral`).
    Memory,
    /// A SQLite file: `alleato.sqlite3` in the data directory, or the path of a `sqlite:`
    /// `DATABASE_URL`.
    Sqlite(PathBuf),
    /// PostgreSQL at `DATABASE_URL`.
    Postgres,
    /// Cloudflare D1 through its REST API.
    D1,
    /// D1's local stand-in: a SQLite file that refuses what D1 refuses.
    D1Local(PathBuf),
}

/// Object storage: the bytes of uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageBackend {
    /// This process's memory (`--ephemeral`).
    Memory,
    /// A directory: `objects` in the data directory.
    Local(PathBuf),
    /// An S3-compatible bucket (`S3_BUCKET`).
    S3,
    /// R2 through its S3 API: the S3 adapter with R2's endpoint and region.
    R2,
    /// R2's local stand-in: a directory.
    R2Local(PathBuf),
}

/// Records with expiry: sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvBackend {
    /// This process's memory (`--ephemeral`).
    Memory,
    /// The embedded store: `kv.sqlite3` in the data directory.
    Embedded(PathBuf),
    /// Redis at `REDIS_URL`.
    Redis,
    /// Cloudflare Workers KV through its REST API.
    WorkersKv,
    /// Workers KV's local stand-in: the embedded store with KV's 60 s minimum TTL.
    WorkersKvLocal(PathBuf),
}

/// Atomic counters: rate limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountersBackend {
    /// This process's memory, beside the in-memory key-value store.
    Memory,
    /// The embedded key-value store's file, shared with the sessions.
    Embedded(PathBuf),
    /// Redis at `REDIS_URL`, beside the sessions.
    Redis,
    /// Workers KV has no atomic operation: beside it, counters live in D1.
    D1,
    /// D1's local stand-in (`d1.sqlite3` in the data directory), beside Workers KV's.
    D1Local(PathBuf),
}

/// Generation streams (resume, stop) and the generic streams resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamsBackend {
    /// This process's memory (`--ephemeral`).
    Memory,
    /// The embedded store: `streams.sqlite3` in the data directory.
    Embedded(PathBuf),
    /// Redis streams at `REDIS_URL`.
    Redis,
    /// Cloudflare Workers KV through its REST API.
    WorkersKv,
    /// Streams on Workers KV's local stand-in (the same file as the sessions').
    WorkersKvLocal(PathBuf),
}

/// The backend chosen for each port.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Users, chats, messages, votes, documents and file metadata.
    pub database: Choice<DatabaseBackend>,
    /// The bytes of uploads.
    pub storage: Choice<StorageBackend>,
    /// The key-value store: sessions.
    pub kv: Choice<KvBackend>,
    /// Counters: rate limits; they follow the key-value store.
    pub counters: Choice<CountersBackend>,
    /// Generation streams and the generic streams resource.
    pub streams: Choice<StreamsBackend>,
}

/// Applies the rules of the [module documentation](super) to the configuration.
pub fn plan(config: &Config) -> Plan {
    let flags = &config.cloudflare;
    let dir = &config.data_dir;
    // A Cloudflare service without credentials runs on a local stand-in, as `wrangler dev` does.
    let api = flags.api_token.is_some();
    let r2 = flags.r2_access_key_id.is_some();
    let database = choose(
        config.ephemeral,
        flags.use_cloudflare_database.map(|f| (f, "USE_CLOUDFLARE_DATABASE")),
        flags.use_cloudflare,
        config.database.url.as_ref().map(|url| (url, "DATABASE_URL is set")),
        |cloudflare| match (cloudflare, api) {
            (false, _) => DatabaseBackend::Postgres,
            (true, true) => DatabaseBackend::D1,
            (true, false) => DatabaseBackend::D1Local(dir.join("d1.sqlite3")),
        },
        |url: &Secret| match url.expose().strip_prefix("sqlite:") {
            Some(path) => DatabaseBackend::Sqlite(PathBuf::from(path.trim_start_matches("//"))),
            None => DatabaseBackend::Postgres,
        },
        (DatabaseBackend::Memory, DatabaseBackend::Sqlite(dir.join("alleato.sqlite3"))),
    );
    let storage = choose(
        config.ephemeral,
        flags.use_cloudflare_storage.map(|f| (f, "USE_CLOUDFLARE_STORAGE")),
        flags.use_cloudflare,
        config.storage.s3_bucket.as_ref().map(|b| (b, "S3_BUCKET is set")),
        |cloudflare| match (cloudflare, r2) {
            (false, _) => StorageBackend::S3,
            (true, true) => StorageBackend::R2,
            (true, false) => StorageBackend::R2Local(dir.join("r2")),
        },
        |_| StorageBackend::S3,
        (StorageBackend::Memory, StorageBackend::Local(dir.join("objects"))),
    );
    // Sessions have no flag of their own: the design's USE_CLOUDFLARE_STREAMS is about streams.
    let kv = choose(
        config.ephemeral,
        None,
        flags.use_cloudflare,
        config.redis.url.as_ref().map(|u| (u, "REDIS_URL is set")),
        |cloudflare| match (cloudflare, api) {
            (false, _) => KvBackend::Redis,
            (true, true) => KvBackend::WorkersKv,
            (true, false) => KvBackend::WorkersKvLocal(dir.join("workers-kv.sqlite3")),
        },
        |_| KvBackend::Redis,
        (KvBackend::Memory, KvBackend::Embedded(dir.join("kv.sqlite3"))),
    );
    let counters = match &kv.backend {
        KvBackend::Memory => Choice::new(CountersBackend::Memory, kv.reason.clone()),
        KvBackend::Embedded(path) => Choice::new(CountersBackend::Embedded(path.clone()), kv.reason.clone()),
        KvBackend::Redis => Choice::new(CountersBackend::Redis, kv.reason.clone()),
        KvBackend::WorkersKv => {
            Choice::new(CountersBackend::D1, format!("{}; Workers KV cannot count atomically", kv.reason))
        }
        KvBackend::WorkersKvLocal(_) => Choice::new(
            CountersBackend::D1Local(dir.join("d1.sqlite3")),
            format!("{}; Workers KV cannot count atomically", kv.reason),
        ),
    };
    let streams = choose(
        config.ephemeral,
        flags.use_cloudflare_streams.map(|f| (f, "USE_CLOUDFLARE_STREAMS")),
        flags.use_cloudflare,
        config.redis.url.as_ref().map(|u| (u, "REDIS_URL is set")),
        |cloudflare| match (cloudflare, api) {
            (false, _) => StreamsBackend::Redis,
            (true, true) => StreamsBackend::WorkersKv,
            (true, false) => StreamsBackend::WorkersKvLocal(dir.join("workers-kv.sqlite3")),
        },
        |_| StreamsBackend::Redis,
        (StreamsBackend::Memory, StreamsBackend::Embedded(dir.join("streams.sqlite3"))),
    );
    let mut plan = Plan { database, storage, kv, counters, streams };
    let stand_in = "; no CLOUDFLARE_API_TOKEN: local stand-in";
    for (local, reason) in [
        (matches!(plan.database.backend, DatabaseBackend::D1Local(_)), &mut plan.database.reason),
        (matches!(plan.kv.backend, KvBackend::WorkersKvLocal(_)), &mut plan.kv.reason),
        (matches!(plan.counters.backend, CountersBackend::D1Local(_)), &mut plan.counters.reason),
        (matches!(plan.streams.backend, StreamsBackend::WorkersKvLocal(_)), &mut plan.streams.reason),
    ] {
        if local {
            reason.push_str(stand_in);
        }
    }
    if matches!(plan.storage.backend, StorageBackend::R2Local(_)) {
        plan.storage.reason.push_str("; no R2_ACCESS_KEY_ID: local stand-in");
    }
    plan
}

fn choose<B, S>(
    ephemeral: bool,
    service_flag: Option<(bool, &str)>,
    use_cloudflare: Option<bool>,
    traditional_setting: Option<(S, &str)>,
    by_flag: impl Fn(bool) -> B,
    by_setting: impl Fn(S) -> B,
    (memory, embedded): (B, B),
) -> Choice<B> {
    if ephemeral {
        return Choice::new(memory, "--ephemeral: nothing is kept");
    }
    if let Some((flag, name)) = service_flag {
        return Choice::new(by_flag(flag), format!("{name}={flag}"));
    }
    if use_cloudflare == Some(true) {
        return Choice::new(by_flag(true), "USE_CLOUDFLARE=true");
    }
    if let Some((setting, why)) = traditional_setting {
        return Choice::new(by_setting(setting), why);
    }
    Choice::new(embedded, "nothing else configured: embedded default")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config { data_dir: PathBuf::from("/d"), ..Config::default() }
    }

    #[test]
    fn nothing_configured_means_embedded() {
        let plan = plan(&config());
        assert_eq!(plan.database.backend, DatabaseBackend::Sqlite(PathBuf::from("/d/alleato.sqlite3")));
        assert_eq!(plan.storage.backend, StorageBackend::Local(PathBuf::from("/d/objects")));
        assert_eq!(plan.kv.backend, KvBackend::Embedded(PathBuf::from("/d/kv.sqlite3")));
        assert_eq!(plan.counters.backend, CountersBackend::Embedded(PathBuf::from("/d/kv.sqlite3")));
        assert_eq!(plan.streams.backend, StreamsBackend::Embedded(PathBuf::from("/d/streams.sqlite3")));
        assert!(plan.database.reason.contains("embedded default"));
    }

    #[test]
    fn per_service_flag_beats_use_cloudflare_beats_settings() {
        let mut c = config();
        c.cloudflare.use_cloudflare = Some(true);
        c.cloudflare.use_cloudflare_storage = Some(false);
        c.cloudflare.api_token = Some(Secret::new("token"));
        c.redis.url = Some(Secret::new("redis://x"));
        let plan = plan(&c);
        assert_eq!(plan.database, Choice::new(DatabaseBackend::D1, "USE_CLOUDFLARE=true"));
        assert_eq!(plan.storage, Choice::new(StorageBackend::S3, "USE_CLOUDFLARE_STORAGE=false"));
        assert_eq!(plan.kv.backend, KvBackend::WorkersKv, "USE_CLOUDFLARE outranks REDIS_URL");
        assert_eq!(plan.counters.backend, CountersBackend::D1, "beside Workers KV, counters are in D1");
        assert_eq!(plan.streams.backend, StreamsBackend::WorkersKv);
    }

    #[test]
    fn cloudflare_without_credentials_runs_on_local_stand_ins() {
        let mut c = config();
        c.cloudflare.use_cloudflare = Some(true);
        let p = plan(&c);
        assert_eq!(p.database.backend, DatabaseBackend::D1Local(PathBuf::from("/d/d1.sqlite3")));
        assert_eq!(p.storage.backend, StorageBackend::R2Local(PathBuf::from("/d/r2")));
        assert_eq!(p.kv.backend, KvBackend::WorkersKvLocal(PathBuf::from("/d/workers-kv.sqlite3")));
        assert_eq!(p.counters.backend, CountersBackend::D1Local(PathBuf::from("/d/d1.sqlite3")));
        assert_eq!(p.streams.backend, StreamsBackend::WorkersKvLocal(PathBuf::from("/d/workers-kv.sqlite3")));
        assert!(p.database.reason.ends_with("no CLOUDFLARE_API_TOKEN: local stand-in"), "{}", p.database.reason);
        assert!(p.storage.reason.ends_with("no R2_ACCESS_KEY_ID: local stand-in"), "{}", p.storage.reason);
    }

    #[test]
    fn the_streams_flag_moves_streams_only() {
        let mut c = config();
        c.cloudflare.api_token = Some(Secret::new("token"));
        c.redis.url = Some(Secret::new("redis://x"));
        c.cloudflare.use_cloudflare_streams = Some(true);
        let p = plan(&c);
        assert_eq!(p.streams, Choice::new(StreamsBackend::WorkersKv, "USE_CLOUDFLARE_STREAMS=true"));
        assert_eq!((p.kv.backend, p.counters.backend), (KvBackend::Redis, CountersBackend::Redis));
        c.redis.url = None;
        c.cloudflare.use_cloudflare_streams = Some(false);
        let p = plan(&c);
        assert_eq!(p.streams.backend, StreamsBackend::Redis, "false asks for the traditional backend");
        assert_eq!(p.kv.backend, KvBackend::Embedded(PathBuf::from("/d/kv.sqlite3")));
    }

    #[test]
    fn connection_settings_pick_the_traditional_backend() {
        let mut c = config();
        c.database.url = Some(Secret::new("postgres://db"));
        c.redis.url = Some(Secret::new("redis://r"));
        let p = plan(&c);
        assert_eq!(p.database.backend, DatabaseBackend::Postgres);
        assert_eq!((p.kv.backend, p.streams.backend), (KvBackend::Redis, StreamsBackend::Redis));
        c.database.url = Some(Secret::new("sqlite:///tmp/x.sqlite3"));
        assert_eq!(plan(&c).database.backend, DatabaseBackend::Sqlite(PathBuf::from("/tmp/x.sqlite3")));
    }

    #[test]
    fn ephemeral_wins() {
        let mut c = config();
        c.ephemeral = true;
        c.cloudflare.use_cloudflare = Some(true);
        let p = plan(&c);
        assert_eq!(
            (p.database.backend, p.storage.backend, p.kv.backend, p.counters.backend, p.streams.backend),
            (
                DatabaseBackend::Memory,
                StorageBackend::Memory,
                KvBackend::Memory,
                CountersBackend::Memory,
                StreamsBackend::Memory
            )
        );
    }
}
