//! The pure decision: which backend each port gets, and why. No I/O.

use std::fmt;
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

// How each backend describes itself: in the start-up table and on `/health` (`Display`:
// `sqlite (./data/alleato.sqlite3)`, `postgres (sqlx)`), and as the `backend` label of the
// port metrics (`label`: the first word, from a closed set).

/// A backend of some port: how it describes itself.
pub trait Backend: fmt::Display {
    /// Its name, which is the `backend` label of the port metrics (one of a closed set), and
    /// what distinguishes it from the others of that name (a path, the API it goes through).
    fn parts(&self) -> (&'static str, Option<String>);

    /// The metrics label: the first word of the description.
    fn label(&self) -> &'static str {
        self.parts().0
    }
}

/// `name (detail)`, or `name` alone.
macro_rules! display_by_parts {
    ($($backend:ty),*) => {$(
        impl fmt::Display for $backend {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.parts() {
                    (name, Some(detail)) => write!(f, "{name} ({detail})"),
                    (name, None) => f.write_str(name),
                }
            }
        }
    )*};
}

display_by_parts!(DatabaseBackend, StorageBackend, KvBackend, CountersBackend, StreamsBackend);

fn at(path: &std::path::Path) -> Option<String> {
    Some(path.display().to_string())
}

fn stand_in(path: &std::path::Path) -> Option<String> {
    Some(format!("local stand-in: {}", path.display()))
}

impl Backend for DatabaseBackend {
    fn parts(&self) -> (&'static str, Option<String>) {
        match self {
            Self::Memory => ("sqlite", Some("in memory".into())),
            Self::Sqlite(path) => ("sqlite", at(path)),
            Self::Postgres => ("postgres", Some("sqlx".into())),
            Self::D1 => ("d1", Some("REST API".into())),
            Self::D1Local(path) => ("d1", stand_in(path)),
        }
    }
}

impl Backend for StorageBackend {
    fn parts(&self) -> (&'static str, Option<String>) {
        match self {
            Self::Memory => ("memory", None),
            Self::Local(dir) => ("local", at(dir)),
            Self::S3 => ("s3", Some("object_store".into())),
            Self::R2 => ("r2", Some("S3 API, object_store".into())),
            Self::R2Local(dir) => ("r2", stand_in(dir)),
        }
    }
}

impl Backend for KvBackend {
    fn parts(&self) -> (&'static str, Option<String>) {
        match self {
            Self::Memory => ("memory", None),
            Self::Embedded(path) => ("embedded", at(path)),
            Self::Redis => ("redis", None),
            Self::WorkersKv => ("workers-kv", Some("REST API".into())),
            Self::WorkersKvLocal(path) => ("workers-kv", stand_in(path)),
        }
    }
}

impl Backend for CountersBackend {
    fn parts(&self) -> (&'static str, Option<String>) {
        match self {
            Self::Memory => ("memory", None),
            Self::Embedded(path) => ("embedded", at(path)),
            Self::Redis => ("redis", None),
            Self::D1 => ("d1", Some("REST API".into())),
            Self::D1Local(path) => ("d1", stand_in(path)),
        }
    }
}

impl Backend for StreamsBackend {
    fn parts(&self) -> (&'static str, Option<String>) {
        match self {
            Self::Memory => ("memory", Some("this process".into())),
            Self::Embedded(path) => ("embedded", at(path)),
            Self::Redis => ("redis", Some("streams".into())),
            Self::WorkersKv => ("workers-kv", Some("REST API".into())),
            Self::WorkersKvLocal(path) => ("workers-kv", stand_in(path)),
        }
    }
}

#[cfg(test)]
mod tests;
