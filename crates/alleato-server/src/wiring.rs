//! The composition root: the one place that knows every adapter. It turns the configuration
//! into a choice of backend per port (with the reason, logged as a table at start) and builds
//! the services over them.
//!
//! The rule for each port, first match wins:
//! 1. `--ephemeral`: in-memory.
//! 2. The per-service flag (`USE_CLOUDFLARE_DATABASE` / `_STORAGE` / `_STREAMS`): `true` picks
//!    the Cloudflare backend, `false` the traditional one.
//! 3. `USE_CLOUDFLARE=true`: the Cloudflare backend.
//! 4. The traditional backend's connection setting is present (`DATABASE_URL`, `S3_BUCKET`,
//!    `REDIS_URL`): the traditional backend.
//! 5. The embedded default under the data directory.
//!
//! A chosen backend that is not configured or not compiled into this binary stops the start
//! with an error naming what is missing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alleato_ai::{MockModel, OpenAiCompatible, OpenAiSettings};
use alleato_api::AdapterInfo;
use alleato_core::ports::{KeyValueStore, LanguageModel, ObjectStorage, StreamStore};
use alleato_core::services::{AuthSettings, DatabasePorts, FileSettings, GenerationSettings, Ports, Services};
use alleato_memory::{MemoryKv, MemoryStreams};
use alleato_objects::{ObjectStoreAdapter, S3Settings};
use alleato_postgres::{PostgresDatabase, PostgresSettings};
use alleato_redis::{Redis, RedisKv, RedisSettings, RedisStreams};
use alleato_sqlite::{SqliteDatabase, SqliteKv, SqliteStreams};
use anyhow::{Context, bail};

use crate::config::{Config, Secret};

/// Every backend a port can have, compiled in or not, so an error can name the missing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseBackend {
    Memory,
    Sqlite(PathBuf),
    Postgres,
    D1,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageBackend {
    Memory,
    Local(PathBuf),
    S3,
    R2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvBackend {
    Memory,
    Embedded(PathBuf),
    Redis,
    WorkersKv,
}

/// The backend chosen for each port, with the reason.
#[derive(Debug, Clone)]
pub struct Plan {
    pub database: (DatabaseBackend, String),
    pub storage: (StorageBackend, String),
    pub kv: (KvBackend, String),
}

/// The pure decision: which backend, and why. No I/O.
pub fn plan(config: &Config) -> Plan {
    let flags = &config.cloudflare;
    let dir = &config.data_dir;
    let database = choose(
        config.ephemeral,
        flags.use_cloudflare_database.map(|f| (f, "USE_CLOUDFLARE_DATABASE")),
        flags.use_cloudflare,
        config.database.url.as_ref().map(|url| (url, "DATABASE_URL is set")),
        |cloudflare| if cloudflare { DatabaseBackend::D1 } else { DatabaseBackend::Postgres },
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
        |cloudflare| if cloudflare { StorageBackend::R2 } else { StorageBackend::S3 },
        |_| StorageBackend::S3,
        (StorageBackend::Memory, StorageBackend::Local(dir.join("objects"))),
    );
    let kv = choose(
        config.ephemeral,
        flags.use_cloudflare_streams.map(|f| (f, "USE_CLOUDFLARE_STREAMS")),
        flags.use_cloudflare,
        config.redis.url.as_ref().map(|u| (u, "REDIS_URL is set")),
        |cloudflare| if cloudflare { KvBackend::WorkersKv } else { KvBackend::Redis },
        |_| KvBackend::Redis,
        (KvBackend::Memory, KvBackend::Embedded(dir.join("kv.sqlite3"))),
    );
    Plan { database, storage, kv }
}

fn choose<B, S>(
    ephemeral: bool,
    service_flag: Option<(bool, &str)>,
    use_cloudflare: Option<bool>,
    traditional_setting: Option<(S, &str)>,
    by_flag: impl Fn(bool) -> B,
    by_setting: impl Fn(S) -> B,
    (memory, embedded): (B, B),
) -> (B, String) {
    if ephemeral {
        return (memory, "--ephemeral: nothing is kept".into());
    }
    if let Some((flag, name)) = service_flag {
        return (by_flag(flag), format!("{name}={flag}"));
    }
    if use_cloudflare == Some(true) {
        return (by_flag(true), "USE_CLOUDFLARE=true".into());
    }
    if let Some((setting, why)) = traditional_setting {
        return (by_setting(setting), why.into());
    }
    (embedded, "nothing else configured: embedded default".into())
}

/// What the server needs from the wiring: the services, the adapter table, and the embedded
/// key-value store if one must be swept of expired entries.
pub struct Wired {
    pub services: Services,
    pub adapters: Vec<AdapterInfo>,
    pub embedded_kv: Option<SqliteKv>,
    /// In-process streams, swept of expired ones.
    pub memory_streams: Option<Arc<MemoryStreams>>,
    /// The embedded streams file: swept of expired streams, flushed at stop, and read at start
    /// for the generations a crash left unfinished.
    pub embedded_streams: Option<SqliteStreams>,
    /// A local object directory, swept of staging files that a killed upload left.
    pub local_objects: Option<Arc<ObjectStoreAdapter>>,
}

/// Opens the database the configuration chooses, the same way the server does: for any other
/// program that must reach the server's data (tests, tools), so nothing outside the wiring
/// decides a backend.
pub async fn open_database(config: &Config) -> anyhow::Result<DatabasePorts> {
    open_database_as(config, &plan(config).database).await
}

async fn open_database_as(config: &Config, choice: &(DatabaseBackend, String)) -> anyhow::Result<DatabasePorts> {
    Ok(match &choice.0 {
        DatabaseBackend::Memory => {
            DatabasePorts::new(Arc::new(SqliteDatabase::memory().await.context("opening the in-memory database")?))
        }
        DatabaseBackend::Sqlite(path) => DatabasePorts::new(Arc::new(
            SqliteDatabase::open(path)
                .await
                .with_context(|| format!("opening the SQLite database at {}", path.display()))?,
        )),
        DatabaseBackend::Postgres => {
            let Some(url) = &config.database.url else {
                bail!("database: PostgreSQL was selected ({}) but DATABASE_URL (or POSTGRES_URL) is not set", choice.1);
            };
            let settings = PostgresSettings {
                max_connections: config.database.max_connections.max(1),
                acquire_timeout: Duration::from_secs(config.database.acquire_timeout_secs.max(1)),
                statement_timeout: Duration::from_secs(config.database.statement_timeout_secs.max(1)),
                schema: config.database.schema.clone(),
                ..PostgresSettings::new(url.expose())
            };
            DatabasePorts::new(Arc::new(
                PostgresDatabase::connect(&settings).await.context("connecting to PostgreSQL (DATABASE_URL)")?,
            ))
        }
        DatabaseBackend::D1 => return Err(not_compiled("database", "d1", &choice.1)),
    })
}

fn not_compiled(port: &str, backend: &str, setting: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{port}: backend `{backend}` is not compiled into this binary yet (selected by {setting}); \
         unset that setting to use the embedded default"
    )
}

/// Opens every chosen adapter and builds the services.
pub async fn wire(config: &Config) -> anyhow::Result<Wired> {
    let plan = plan(config);
    let mut adapters = Vec::new();

    let database = open_database_as(config, &plan.database).await?;
    adapters.push(row("database", describe_database(&plan.database.0), &plan.database.1));

    let mut local_objects = None;
    let objects: Arc<dyn ObjectStorage> = match &plan.storage.0 {
        StorageBackend::Memory => Arc::new(ObjectStoreAdapter::memory()),
        StorageBackend::Local(dir) => {
            let local = Arc::new(
                ObjectStoreAdapter::local(dir)
                    .with_context(|| format!("opening the object directory {}", dir.display()))?,
            );
            local_objects = Some(local.clone());
            local
        }
        StorageBackend::S3 => {
            let storage = &config.storage;
            let Some(bucket) = &storage.s3_bucket else {
                bail!("storage: S3 was selected ({}) but S3_BUCKET is not set", plan.storage.1);
            };
            Arc::new(
                ObjectStoreAdapter::s3(&S3Settings {
                    bucket: bucket.clone(),
                    endpoint: storage.s3_endpoint.clone(),
                    region: storage.s3_region.clone(),
                    access_key_id: storage.s3_access_key_id.as_ref().map(|s| s.expose().to_owned()),
                    secret_access_key: storage.s3_secret_access_key.as_ref().map(|s| s.expose().to_owned()),
                    path_style: storage.s3_force_path_style,
                    prefix: storage.s3_prefix.clone(),
                    ..S3Settings::default()
                })
                .context("configuring S3 storage")?,
            )
        }
        StorageBackend::R2 => return Err(not_compiled("storage", "r2", &plan.storage.1)),
    };
    adapters.push(row("storage", describe_storage(&plan.storage.0), &plan.storage.1));

    let mut embedded_kv = None;
    let mut memory_streams = None;
    let mut embedded_streams = None;
    // Streams live with the key-value stack: in this process for the embedded and in-memory
    // stacks, in Redis for the traditional one (so every instance can follow every stream).
    let (kv, streams): (Arc<dyn KeyValueStore>, Arc<dyn StreamStore>) = match &plan.kv.0 {
        KvBackend::Memory => {
            let streams = Arc::new(MemoryStreams::new());
            memory_streams = Some(streams.clone());
            (Arc::new(MemoryKv::new()), streams)
        }
        KvBackend::Embedded(path) => {
            let kv = SqliteKv::open(path)
                .await
                .with_context(|| format!("opening the key-value store at {}", path.display()))?;
            embedded_kv = Some(kv.clone());
            let path = path.with_file_name("streams.sqlite3");
            let streams = SqliteStreams::open(&path)
                .await
                .with_context(|| format!("opening the streams store at {}", path.display()))?;
            embedded_streams = Some(streams.clone());
            (Arc::new(kv), Arc::new(streams))
        }
        KvBackend::Redis => {
            let Some(url) = &config.redis.url else {
                bail!("key-value: Redis was selected ({}) but REDIS_URL is not set", plan.kv.1);
            };
            let settings = RedisSettings {
                prefix: config.redis.prefix.clone(),
                command_timeout: Duration::from_millis(config.redis.command_timeout_ms.max(10)),
                ..RedisSettings::new(url.expose())
            };
            let redis = Redis::connect(&settings).await.context("connecting to Redis (REDIS_URL)")?;
            (Arc::new(RedisKv::new(redis.clone())), Arc::new(RedisStreams::new(redis)))
        }
        KvBackend::WorkersKv => return Err(not_compiled("key-value", "workers-kv", &plan.kv.1)),
    };
    adapters.push(row("key-value", describe_kv(&plan.kv.0), &plan.kv.1));
    let streams_backend = match &plan.kv.0 {
        KvBackend::Redis => "redis streams".to_owned(),
        KvBackend::Embedded(path) => format!("embedded ({})", path.with_file_name("streams.sqlite3").display()),
        _ => "memory (this process)".to_owned(),
    };
    adapters.push(row("streams", streams_backend, &plan.kv.1));

    let (model, generation, why) = language_model(config)?;
    adapters.push(row("model", model.describe(), &why));

    let jwt_secret = jwt_secret(config)?;
    let auth = AuthSettings { jwt_secret, session_ttl: Duration::from_secs(config.auth.session_ttl_secs.max(60)) };
    let files = FileSettings {
        max_bytes: config.max_upload_bytes,
        download_url_ttl: Duration::from_secs(config.storage.download_url_ttl_secs),
    };
    let ports = Ports::from_database(database, objects, kv, streams, model);
    Ok(Wired {
        services: Services::new(ports, auth, files, generation),
        adapters,
        embedded_kv,
        memory_streams,
        embedded_streams,
        local_objects,
    })
}

/// The language model and the generation settings that go with it: `AI_PROVIDER` if set, else
/// OpenAI-compatible when `OPENAI_API_KEY` is set, else the mock.
fn language_model(config: &Config) -> anyhow::Result<(Arc<dyn LanguageModel>, GenerationSettings, String)> {
    let ai = &config.ai;
    let (provider, why) = match ai.provider.as_deref().map(str::to_ascii_lowercase) {
        Some(p) => (p.clone(), format!("AI_PROVIDER={p}")),
        None if ai.openai_api_key.is_some() => ("openai".into(), "OPENAI_API_KEY is set".into()),
        None => ("mock".into(), "no OPENAI_API_KEY: deterministic mock model".into()),
    };
    let chat = &config.chat;
    let settings = |chat_model: &str, reasoning: &str, title: &str| GenerationSettings {
        chat_model: ai.chat_model.clone().unwrap_or_else(|| chat_model.into()),
        reasoning_model: ai.reasoning_model.clone().unwrap_or_else(|| reasoning.into()),
        title_model: ai.title_model.clone().unwrap_or_else(|| title.into()),
        max_message_chars: chat.max_message_chars,
        guest_messages_per_day: chat.guest_messages_per_day,
        regular_messages_per_day: chat.regular_messages_per_day,
        finished_stream_ttl: Duration::from_secs(chat.finished_stream_ttl_secs),
        abandoned_after: Duration::from_secs(chat.abandoned_generation_secs.max(1)),
        ..GenerationSettings::default()
    };
    match provider.as_str() {
        "mock" => {
            let model =
                MockModel::new(Duration::from_millis(ai.mock_chunk_delay_ms)).with_reply_words(ai.mock_reply_words);
            Ok((Arc::new(model), settings("mock-chat", "mock-reasoning", "mock-title"), why))
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
            Ok((Arc::new(model), settings("gpt-5", "o1", "gpt-4o-mini"), why))
        }
        other => bail!("model: AI_PROVIDER must be `openai` or `mock`, not `{other}`"),
    }
}

fn row(port: &str, backend: String, why: &str) -> AdapterInfo {
    AdapterInfo { port: port.into(), backend, why: why.into() }
}

fn describe_database(backend: &DatabaseBackend) -> String {
    match backend {
        DatabaseBackend::Memory => "sqlite (in memory)".into(),
        DatabaseBackend::Sqlite(path) => format!("sqlite ({})", path.display()),
        DatabaseBackend::Postgres => "postgres (sqlx)".into(),
        DatabaseBackend::D1 => "d1".into(),
    }
}

fn describe_storage(backend: &StorageBackend) -> String {
    match backend {
        StorageBackend::Memory => "memory".into(),
        StorageBackend::Local(dir) => format!("local ({})", dir.display()),
        StorageBackend::S3 => "s3 (object_store)".into(),
        StorageBackend::R2 => "r2".into(),
    }
}

fn describe_kv(backend: &KvBackend) -> String {
    match backend {
        KvBackend::Memory => "memory".into(),
        KvBackend::Embedded(path) => format!("embedded ({})", path.display()),
        KvBackend::Redis => "redis".into(),
        KvBackend::WorkersKv => "workers-kv".into(),
    }
}

/// The configured secret; else (ephemeral) a random one; else the one kept in the data
/// directory, generated on first start.
fn jwt_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &config.auth.jwt_secret {
        if secret.expose().len() < AuthSettings::MIN_SECRET_BYTES {
            bail!("JWT_SECRET must be at least {} bytes long", AuthSettings::MIN_SECRET_BYTES);
        }
        return Ok(secret.expose().as_bytes().to_vec());
    }
    if config.ephemeral {
        return Ok(random_secret().into_bytes());
    }
    let path = config.data_dir.join("jwt_secret");
    load_or_create_secret(&path)
}

fn random_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 48] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn load_or_create_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().len() >= AuthSettings::MIN_SECRET_BYTES => return Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => bail!("{} holds a secret shorter than 32 bytes; delete it or set JWT_SECRET", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let secret = random_secret();
    write_private(path, &secret).with_context(|| format!("writing {}", path.display()))?;
    tracing::warn!(
        path = %path.display(),
        "JWT_SECRET is not set: generated a signing key and kept it in the data directory; \
         set JWT_SECRET (the same on every instance) in production"
    );
    Ok(secret.into_bytes())
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config() -> Config {
        Config { data_dir: PathBuf::from("/d"), ..Config::default() }
    }

    #[test]
    fn nothing_configured_means_embedded() {
        let plan = plan(&config());
        assert_eq!(plan.database.0, DatabaseBackend::Sqlite(PathBuf::from("/d/alleato.sqlite3")));
        assert_eq!(plan.storage.0, StorageBackend::Local(PathBuf::from("/d/objects")));
        assert_eq!(plan.kv.0, KvBackend::Embedded(PathBuf::from("/d/kv.sqlite3")));
        assert!(plan.database.1.contains("embedded default"));
    }

    #[test]
    fn per_service_flag_beats_use_cloudflare_beats_settings() {
        let mut c = config();
        c.cloudflare.use_cloudflare = Some(true);
        c.cloudflare.use_cloudflare_storage = Some(false);
        c.redis.url = Some(Secret::new("redis://x"));
        let plan = plan(&c);
        assert_eq!(plan.database, (DatabaseBackend::D1, "USE_CLOUDFLARE=true".into()));
        assert_eq!(plan.storage, (StorageBackend::S3, "USE_CLOUDFLARE_STORAGE=false".into()));
        assert_eq!(plan.kv.0, KvBackend::WorkersKv, "USE_CLOUDFLARE outranks REDIS_URL");
    }

    #[test]
    fn connection_settings_pick_the_traditional_backend() {
        let mut c = config();
        c.database.url = Some(Secret::new("postgres://db"));
        c.redis.url = Some(Secret::new("redis://r"));
        let p = plan(&c);
        assert_eq!(p.database.0, DatabaseBackend::Postgres);
        assert_eq!(p.kv.0, KvBackend::Redis);
        c.database.url = Some(Secret::new("sqlite:///tmp/x.sqlite3"));
        assert_eq!(plan(&c).database.0, DatabaseBackend::Sqlite(PathBuf::from("/tmp/x.sqlite3")));
    }

    #[test]
    fn ephemeral_wins() {
        let mut c = config();
        c.ephemeral = true;
        c.cloudflare.use_cloudflare = Some(true);
        let p = plan(&c);
        assert_eq!(
            (p.database.0, p.storage.0, p.kv.0),
            (DatabaseBackend::Memory, StorageBackend::Memory, KvBackend::Memory)
        );
    }

    #[tokio::test]
    async fn a_selected_backend_that_is_missing_names_the_setting() {
        let mut c = config();
        c.cloudflare.use_cloudflare_database = Some(false);
        let err = wire(&c).await.err().expect("must fail").to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
    }
}
