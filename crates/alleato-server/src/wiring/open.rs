//! One opener per port: the adapter a [`Choice`] names, opened from the configuration. The
//! server, the tests, the benchmark and any later command open adapters only through these, so
//! nothing outside the wiring decides or builds a backend.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alleato_ai::{MockModel, OpenAiCompatible, OpenAiSettings};
use alleato_cloudflare::{CloudflareClient, CloudflareSettings, D1, WorkersKv};
use alleato_core::Surface;
use alleato_core::ports::{ChangeFeed, Counters, KeyValueStore, LanguageModel, ObjectStorage, StreamStore};
use alleato_core::services::{DatabasePorts, GenerationSettings};
use alleato_memory::{
    CachedKv, CachedUsers, KvStreams, KvStreamsSettings, MemoryKv, MemoryStreams, PreCountedCounters,
};
use alleato_objects::{ObjectStoreAdapter, S3Settings};
use alleato_postgres::{PostgresDatabase, PostgresSettings};
use alleato_redis::{Redis, RedisChanges, RedisKv, RedisSettings, RedisStreams};
use alleato_sqlite::sql::d1::D1Local;
use alleato_sqlite::{Pool, SqlDatabase, SqliteDatabase, SqliteKv, SqliteStreams};
use anyhow::{Context, bail};
use tokio::sync::OnceCell;

use super::plan::{Choice, CountersBackend, DatabaseBackend, KvBackend, StorageBackend, StreamsBackend};
use crate::config::Config;

/// Opens adapters for a configuration, sharing what several ports can share: one Redis
/// connection for sessions, counters and streams; one embedded key-value file (or one in-memory
/// map) for sessions and counters.
pub struct Opener<'a> {
    config: &'a Config,
    redis: OnceCell<Redis>,
    changes: OnceCell<Option<RedisChanges>>,
    memory_kv: OnceCell<Arc<MemoryKv>>,
    embedded_kv: Mutex<HashMap<PathBuf, SqliteKv>>,
    d1_local: Mutex<HashMap<PathBuf, Arc<SqlDatabase<D1Local>>>>,
    cloudflare: std::sync::OnceLock<CloudflareClient>,
    d1: OnceCell<Arc<SqlDatabase<D1>>>,
}

/// The streams port, and the store itself where the server has more to do with it: the
/// embedded store is read at start for generations a crash left unfinished, and flushed at
/// stop; streams on Workers KV are flushed at stop.
pub struct OpenedStreams {
    /// The streams port, for the services.
    pub port: Arc<dyn StreamStore>,
    /// The embedded store, when it is the one chosen.
    pub embedded: Option<SqliteStreams>,
    /// The Workers KV store (or its local stand-in), when it is the one chosen.
    pub on_kv: Option<KvStreams>,
}

impl<'a> Opener<'a> {
    /// An opener for `config`; nothing is opened until a port's opener is called.
    pub fn new(config: &'a Config) -> Self {
        Self {
            config,
            redis: OnceCell::new(),
            changes: OnceCell::new(),
            memory_kv: OnceCell::new(),
            embedded_kv: Mutex::default(),
            d1_local: Mutex::default(),
            cloudflare: std::sync::OnceLock::new(),
            d1: OnceCell::new(),
        }
    }

    /// The database ports on the chosen backend, migrated as `[database] migrations` says; an
    /// error when the backend is not configured (PostgreSQL without `DATABASE_URL`, D1 without
    /// its ids) or cannot be reached.
    pub async fn database(&self, choice: &Choice<DatabaseBackend>) -> anyhow::Result<DatabasePorts> {
        let config = self.config;
        Ok(match &choice.backend {
            DatabaseBackend::Memory => {
                DatabasePorts::new(Arc::new(SqliteDatabase::memory().await.context("opening the in-memory database")?))
            }
            DatabaseBackend::Sqlite(path) => DatabasePorts::new(Arc::new(
                SqliteDatabase::open_under(path, config.database.migrations)
                    .await
                    .with_context(|| format!("opening the SQLite database at {}", path.display()))?,
            )),
            DatabaseBackend::Postgres => {
                let Some(url) = &config.database.url else {
                    bail!(
                        "database: PostgreSQL was selected ({}) but DATABASE_URL (or POSTGRES_URL) is not set",
                        choice.reason
                    );
                };
                let settings = PostgresSettings {
                    max_connections: config.database.max_connections.max(1),
                    acquire_timeout: Duration::from_secs(config.database.acquire_timeout_secs.max(1)),
                    statement_timeout: Duration::from_secs(config.database.statement_timeout_secs.max(1)),
                    schema: config.database.schema.clone(),
                    migrations: config.database.migrations,
                    ..PostgresSettings::new(url.expose())
                };
                DatabasePorts::new(Arc::new(
                    PostgresDatabase::connect(&settings).await.context("connecting to PostgreSQL (DATABASE_URL)")?,
                ))
            }
            DatabaseBackend::D1 => self.cache_users(DatabasePorts::new(self.d1("database", &choice.reason).await?)),
            DatabaseBackend::D1Local(path) => self.cache_users(DatabasePorts::new(self.d1_local(path).await?)),
        })
    }

    /// Object storage; a local directory also cleans up after killed uploads, by itself.
    pub fn objects(&self, choice: &Choice<StorageBackend>) -> anyhow::Result<Arc<dyn ObjectStorage>> {
        let storage = &self.config.storage;
        match &choice.backend {
            StorageBackend::Memory => return Ok(Arc::new(ObjectStoreAdapter::memory())),
            StorageBackend::Local(dir) | StorageBackend::R2Local(dir) => {
                return Ok(Arc::new(
                    ObjectStoreAdapter::local(dir)
                        .with_context(|| format!("opening the object directory {}", dir.display()))?,
                ));
            }
            StorageBackend::R2 => return self.r2(choice),
            StorageBackend::S3 => {}
        }
        let Some(bucket) = &storage.s3_bucket else {
            bail!("storage: S3 was selected ({}) but S3_BUCKET is not set", choice.reason);
        };
        let settings = S3Settings {
            bucket: bucket.clone(),
            endpoint: storage.s3_endpoint.clone(),
            region: storage.s3_region.clone(),
            access_key_id: storage.s3_access_key_id.as_ref().map(|s| s.expose().to_owned()),
            secret_access_key: storage.s3_secret_access_key.as_ref().map(|s| s.expose().to_owned()),
            path_style: storage.s3_force_path_style,
            prefix: storage.s3_prefix.clone(),
            ..S3Settings::default()
        };
        Ok(Arc::new(ObjectStoreAdapter::s3(&settings).context("configuring S3 storage")?))
    }

    /// R2: the S3 adapter with R2's endpoint, region and path-style requests.
    fn r2(&self, choice: &Choice<StorageBackend>) -> anyhow::Result<Arc<dyn ObjectStorage>> {
        let cf = &self.config.cloudflare;
        let Some(bucket) = &cf.r2_bucket else {
            bail!("storage: R2 was selected ({}) but R2_BUCKET is not set", choice.reason);
        };
        let settings = match (&cf.r2_endpoint, &cf.account_id) {
            (Some(endpoint), _) => {
                S3Settings { endpoint: Some(endpoint.clone()), ..S3Settings::r2("", bucket.clone()) }
            }
            (None, Some(account)) => S3Settings::r2(account, bucket.clone()),
            (None, None) => bail!(
                "storage: R2 was selected ({}) but neither CLOUDFLARE_ACCOUNT_ID nor R2_ENDPOINT is set",
                choice.reason
            ),
        };
        let settings = S3Settings {
            access_key_id: cf.r2_access_key_id.as_ref().map(|s| s.expose().to_owned()),
            secret_access_key: cf.r2_secret_access_key.as_ref().map(|s| s.expose().to_owned()),
            prefix: self.config.storage.s3_prefix.clone(),
            public_base_url: cf.r2_public_url.clone(),
            ..settings
        };
        Ok(Arc::new(ObjectStoreAdapter::s3(&settings).context("configuring R2 storage")?))
    }

    /// Sessions. The embedded store purges expired entries by itself.
    pub async fn kv(&self, choice: &Choice<KvBackend>) -> anyhow::Result<Arc<dyn KeyValueStore>> {
        Ok(match &choice.backend {
            KvBackend::Memory => self.memory_kv().await,
            KvBackend::Embedded(path) => Arc::new(self.embedded_kv(path).await?),
            KvBackend::Redis => {
                let kv = Arc::new(RedisKv::new(self.redis("key-value", &choice.reason).await?));
                match self.redis_changes(&choice.reason).await? {
                    Some(feed) => Arc::new(CachedKv::new(kv, self.redis_cache_age(), KV_CACHE_ENTRIES).told_by(feed)),
                    None => kv,
                }
            }
            KvBackend::WorkersKv => self.workers_kv("key-value", &choice.reason)?,
            KvBackend::WorkersKvLocal(path) => Arc::new(self.workers_kv_local(path).await?),
        })
    }

    /// Rate-limit counters.
    pub async fn counters(&self, choice: &Choice<CountersBackend>) -> anyhow::Result<Arc<dyn Counters>> {
        Ok(match &choice.backend {
            CountersBackend::Memory => self.memory_kv().await,
            CountersBackend::Embedded(path) => Arc::new(self.embedded_kv(path).await?),
            CountersBackend::Redis => Arc::new(RedisKv::new(self.redis("counters", &choice.reason).await?)),
            // Every API request is counted: in D1, one request each would spend Cloudflare's API
            // budget; counted here and settled in batches, one per `settle_every`.
            CountersBackend::D1 => {
                Arc::new(PreCountedCounters::new(self.d1("counters", &choice.reason).await?, COUNTERS_SETTLE_EVERY))
            }
            CountersBackend::D1Local(path) => {
                Arc::new(PreCountedCounters::new(self.d1_local(path).await?, COUNTERS_SETTLE_EVERY))
            }
        })
    }

    /// Streams. The in-memory and embedded stores drop expired streams by themselves.
    pub async fn streams(&self, choice: &Choice<StreamsBackend>) -> anyhow::Result<OpenedStreams> {
        Ok(match &choice.backend {
            StreamsBackend::Memory => {
                OpenedStreams { port: Arc::new(MemoryStreams::new()), embedded: None, on_kv: None }
            }
            StreamsBackend::Embedded(path) => {
                let streams = SqliteStreams::open(path)
                    .await
                    .with_context(|| format!("opening the streams store at {}", path.display()))?;
                OpenedStreams { port: Arc::new(streams.clone()), embedded: Some(streams), on_kv: None }
            }
            StreamsBackend::Redis => OpenedStreams {
                port: Arc::new(RedisStreams::new(self.redis("streams", &choice.reason).await?)),
                embedded: None,
                on_kv: None,
            },
            // Streams read Workers KV itself, not the sessions' cache: followers on other
            // instances must see each new write.
            StreamsBackend::WorkersKv => {
                let Some(namespace) = &self.config.cloudflare.kv_namespace_id else {
                    bail!(
                        "streams: Workers KV was selected ({}) but CLOUDFLARE_KV_NAMESPACE_ID is not set",
                        choice.reason
                    );
                };
                let kv = WorkersKv::new(self.cloudflare("streams", &choice.reason)?, namespace);
                let streams = KvStreams::new(Arc::new(kv), KvStreamsSettings::default());
                OpenedStreams { port: Arc::new(streams.clone()), embedded: None, on_kv: Some(streams) }
            }
            StreamsBackend::WorkersKvLocal(path) => {
                let kv = self.workers_kv_local(path).await?;
                let streams = KvStreams::new(Arc::new(kv), KvStreamsSettings::default());
                OpenedStreams { port: Arc::new(streams.clone()), embedded: None, on_kv: Some(streams) }
            }
        })
    }

    /// The language model and the generation settings that go with it: `AI_PROVIDER` if set,
    /// else OpenAI-compatible when `OPENAI_API_KEY` is set, else the mock.
    pub fn model(&self) -> anyhow::Result<(Arc<dyn LanguageModel>, GenerationSettings, Choice<String>)> {
        let (ai, chat) = (&self.config.ai, &self.config.chat);
        let (provider, why) = match ai.provider.as_deref().map(str::to_ascii_lowercase) {
            Some(p) => (p.clone(), format!("AI_PROVIDER={p}")),
            None if ai.openai_api_key.is_some() => ("openai".into(), "OPENAI_API_KEY is set".into()),
            None => ("mock".into(), "no OPENAI_API_KEY: deterministic mock model".into()),
        };
        let settings = |chat_model: &str, reasoning: &str, title: &str| GenerationSettings {
            chat_model: ai.chat_model.clone().unwrap_or_else(|| chat_model.into()),
            // Documents are written by the chat model unless another is named.
            document_model: ai
                .document_model
                .clone()
                .or_else(|| ai.chat_model.clone())
                .unwrap_or_else(|| chat_model.into()),
            tools: ai.tools,
            max_steps: chat.max_steps.clamp(1, 20),
            reasoning_model: ai.reasoning_model.clone().unwrap_or_else(|| reasoning.into()),
            title_model: ai.title_model.clone().unwrap_or_else(|| title.into()),
            max_message_chars: chat.max_message_chars,
            guest_messages_per_day: chat.guest_messages_per_day,
            regular_messages_per_day: chat.regular_messages_per_day,
            finished_stream_ttl: Duration::from_secs(chat.finished_stream_ttl_secs),
            abandoned_after: Duration::from_secs(chat.abandoned_generation_secs.max(1)),
            ..GenerationSettings::default()
        };
        let (model, settings): (Arc<dyn LanguageModel>, _) = match provider.as_str() {
            "mock" => {
                let model =
                    MockModel::new(Duration::from_millis(ai.mock_chunk_delay_ms)).with_reply_words(ai.mock_reply_words);
                (Arc::new(model), settings("mock-chat", "mock-reasoning", "mock-title"))
            }
            "openai" => {
                let default_endpoint = ai.openai_base_url.trim_end_matches('/') == "https://api.openai.com/v1";
                if ai.openai_api_key.is_none() && default_endpoint {
                    bail!("model: the OpenAI provider was selected ({why}) but OPENAI_API_KEY is not set");
                }
                let model = OpenAiCompatible::new(OpenAiSettings {
                    base_url: ai.openai_base_url.clone(),
                    api_key: ai.openai_api_key.as_ref().map(|k| k.expose().to_owned()),
                    first_byte_timeout: Duration::from_secs(ai.first_byte_timeout_secs.max(1)),
                    ..OpenAiSettings::default()
                })
                .context("building the OpenAI-compatible client")?;
                (Arc::new(model), settings("gpt-5", "o1", "gpt-4o-mini"))
            }
            other => bail!("model: AI_PROVIDER must be `openai` or `mock`, not `{other}`"),
        };
        let choice = Choice { backend: model.describe(), reason: why };
        Ok((model, settings, choice))
    }

    /// On D1, users by id are read through this process's memory, for as long as sessions are
    /// (`kv_cache_secs`): a signed-in request's session check then costs no API request.
    fn cache_users(&self, mut ports: DatabasePorts) -> DatabasePorts {
        let max_age = Duration::from_secs(self.config.cloudflare.kv_cache_secs);
        ports.users = Arc::new(CachedUsers::new(ports.users, max_age, KV_CACHE_ENTRIES));
        ports
    }

    /// Beside sessions in Redis, users by id are read through this process's memory too, and
    /// forgotten on every instance as Redis pub/sub announces a change: a signed-in request's
    /// session check then costs no round trip at all. D1's users are cached already.
    pub async fn cache_announced_users(
        &self,
        mut ports: DatabasePorts,
        database: &DatabaseBackend,
        kv: &Choice<KvBackend>,
    ) -> anyhow::Result<DatabasePorts> {
        if kv.backend != KvBackend::Redis || matches!(database, DatabaseBackend::D1 | DatabaseBackend::D1Local(_)) {
            return Ok(ports);
        }
        if let Some(feed) = self.redis_changes(&kv.reason).await? {
            let cached = CachedUsers::new(ports.users, self.redis_cache_age(), KV_CACHE_ENTRIES).told_by(feed);
            ports.users = Arc::new(cached);
        }
        Ok(ports)
    }

    fn redis_cache_age(&self) -> Duration {
        Duration::from_secs(self.config.redis.cache_secs)
    }

    /// The change feed on Redis pub/sub, when memory caches are on (`[redis] cache_secs`).
    async fn redis_changes(&self, reason: &str) -> anyhow::Result<Option<Arc<dyn ChangeFeed>>> {
        if self.config.redis.cache_secs == 0 {
            return Ok(None);
        }
        let feed = self
            .changes
            .get_or_try_init(|| async {
                let redis = self.redis("key-value", reason).await?;
                let feed = RedisChanges::subscribe(redis).await.context("subscribing to Redis pub/sub")?;
                tracing::info!(
                    cache_secs = self.config.redis.cache_secs,
                    "sessions and users are cached in memory; Redis pub/sub tells every instance of a change"
                );
                anyhow::Ok(Some(feed))
            })
            .await?;
        Ok(feed.clone().map(|feed| Arc::new(feed) as Arc<dyn ChangeFeed>))
    }

    async fn memory_kv(&self) -> Arc<MemoryKv> {
        self.memory_kv.get_or_init(|| async { Arc::new(MemoryKv::new()) }).await.clone()
    }

    async fn embedded_kv(&self, path: &Path) -> anyhow::Result<SqliteKv> {
        if let Some(kv) = self.embedded_kv.lock().unwrap_or_else(|p| p.into_inner()).get(path) {
            return Ok(kv.clone());
        }
        let kv =
            SqliteKv::open(path).await.with_context(|| format!("opening the key-value store at {}", path.display()))?;
        let mut opened = self.embedded_kv.lock().unwrap_or_else(|p| p.into_inner());
        Ok(opened.entry(path.to_path_buf()).or_insert(kv).clone())
    }

    /// D1 over Cloudflare's REST API (or the proxy Worker), shared by the database and the
    /// counters; the migrations are applied on first use.
    async fn d1(&self, port: &str, reason: &str) -> anyhow::Result<Arc<SqlDatabase<D1>>> {
        let Some(database) = &self.config.cloudflare.d1_database_id else {
            bail!("{port}: D1 was selected ({reason}) but CLOUDFLARE_D1_DATABASE_ID is not set");
        };
        let client = self.cloudflare(port, reason)?;
        let d1 = self
            .d1
            .get_or_try_init(|| async {
                let opened = SqlDatabase::new_under(D1::new(client, database), self.config.database.migrations).await;
                anyhow::Ok(Arc::new(opened.context("opening D1 (applying its migrations)")?))
            })
            .await?;
        Ok(d1.clone())
    }

    /// Workers KV's local stand-in: the embedded store (one per file, shared by sessions and
    /// streams) with KV's 60 s minimum TTL.
    async fn workers_kv_local(&self, path: &Path) -> anyhow::Result<SqliteKv> {
        let kv = self.embedded_kv(path).await.with_context(|| "opening Workers KV's local stand-in")?;
        Ok(kv.with_capabilities(WorkersKv::CAPABILITIES))
    }

    /// Workers KV over the REST API, behind this process's read-through cache (a session check
    /// costs no request while the session is cached).
    fn workers_kv(&self, port: &str, reason: &str) -> anyhow::Result<Arc<dyn KeyValueStore>> {
        let cf = &self.config.cloudflare;
        let Some(namespace) = &cf.kv_namespace_id else {
            bail!("{port}: Workers KV was selected ({reason}) but CLOUDFLARE_KV_NAMESPACE_ID is not set");
        };
        let kv = WorkersKv::new(self.cloudflare(port, reason)?, namespace);
        Ok(Arc::new(CachedKv::new(Arc::new(kv), Duration::from_secs(cf.kv_cache_secs), KV_CACHE_ENTRIES)))
    }

    /// The one Cloudflare API client of the process: its request budget is shared.
    fn cloudflare(&self, port: &str, reason: &str) -> anyhow::Result<CloudflareClient> {
        let cf = &self.config.cloudflare;
        let (Some(account), Some(token)) = (&cf.account_id, &cf.api_token) else {
            bail!("{port}: Cloudflare was selected ({reason}) but CLOUDFLARE_ACCOUNT_ID is not set");
        };
        if let Some(client) = self.cloudflare.get() {
            return Ok(client.clone());
        }
        let settings = CloudflareSettings {
            requests_per_5_minutes: cf.api_requests_per_5_minutes.max(1),
            ..CloudflareSettings::new(&cf.api_base_url, account, token.expose())
        };
        let client = CloudflareClient::new(settings).context("building the Cloudflare API client")?;
        Ok(self.cloudflare.get_or_init(|| client).clone())
    }

    /// D1's local stand-in, one per file, shared by the database and the counters.
    async fn d1_local(&self, path: &Path) -> anyhow::Result<Arc<SqlDatabase<D1Local>>> {
        if let Some(d1) = self.d1_local.lock().unwrap_or_else(|p| p.into_inner()).get(path) {
            return Ok(d1.clone());
        }
        let open = async {
            let pool = Pool::open(path, Surface::Database)?;
            SqlDatabase::new_under(D1Local::new(pool), self.config.database.migrations).await
        };
        let d1 = Arc::new(open.await.with_context(|| format!("opening D1's local stand-in at {}", path.display()))?);
        let mut opened = self.d1_local.lock().unwrap_or_else(|p| p.into_inner());
        Ok(opened.entry(path.to_path_buf()).or_insert(d1).clone())
    }

    async fn redis(&self, port: &str, reason: &str) -> anyhow::Result<Redis> {
        let Some(url) = &self.config.redis.url else {
            bail!("{port}: Redis was selected ({reason}) but REDIS_URL is not set");
        };
        let redis = self
            .redis
            .get_or_try_init(|| async {
                let settings = RedisSettings {
                    prefix: self.config.redis.prefix.clone(),
                    command_timeout: Duration::from_millis(self.config.redis.command_timeout_ms.max(10)),
                    ..RedisSettings::new(url.expose())
                };
                Redis::connect(&settings).await.context("connecting to Redis (REDIS_URL)")
            })
            .await?;
        Ok(redis.clone())
    }
}

/// Sessions (and users) held in memory in front of Workers KV (and D1), at most (a few hundred
/// bytes each).
const KV_CACHE_ENTRIES: u64 = 100_000;

/// How often counters counted in memory are settled with D1: at most one API request per this
/// interval per instance, and the most another instance's counts can lag.
const COUNTERS_SETTLE_EVERY: Duration = Duration::from_secs(2);
