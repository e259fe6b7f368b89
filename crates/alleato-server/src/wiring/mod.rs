//! The composition root: the one place that knows every adapter. It turns the configuration
//! into a choice of backend per port ([`plan`], pure, with the reason, logged as a table at
//! start), opens each chosen adapter ([`Opener`], one opener per port) and builds the services
//! over them ([`wire`]).
//!
//! The rule for each port, first match wins:
//! 1. `--ephemeral`: in-memory.
//! 2. The per-service flag: `USE_CLOUDFLARE_DATABASE` (D1 or PostgreSQL),
//!    `USE_CLOUDFLARE_STORAGE` (R2 or S3), `USE_CLOUDFLARE_STREAMS` (Workers KV or Redis, for
//!    generation streams only). `true` picks the Cloudflare backend, `false` the traditional one.
//! 3. `USE_CLOUDFLARE=true`: the Cloudflare backend.
//! 4. The traditional backend's connection setting is present (`DATABASE_URL`, `S3_BUCKET`,
//!    `REDIS_URL`): the traditional backend.
//! 5. The embedded default under the data directory.
//!
//! Sessions (the key-value port) have no flag of their own: rules 1, 3, 4, 5. Counters follow
//! the key-value store, except beside Workers KV, which cannot count atomically: then D1.
//!
//! A chosen backend that is not configured stops the start with an error naming what is
//! missing.

mod dual;
mod open;
mod plan;

use std::sync::Arc;
use std::time::Duration;

use alleato_api::AdapterInfo;
use alleato_core::ports::{Counters, KeyValueStore, LanguageModel, ObjectStorage, StreamStore};
use alleato_core::services::{AuthSettings, DatabasePorts, FileSettings, GenerationService, Ports, Services};
use alleato_sqlite::SqliteStreams;
use anyhow::Context;

pub use self::dual::FileRepairLog;
pub use self::open::{OpenedStreams, Opener};
pub use self::plan::{
    Backend, Choice, CountersBackend, DatabaseBackend, KvBackend, Plan, StorageBackend, StreamsBackend, plan,
};
use crate::config::Config;

/// What the server needs from the wiring: the services, the adapter table, and what is left
/// to do at start and at stop with the adapters that have more to do (see [`Lifecycle`]).
pub struct Wired {
    /// Every use case, over the opened ports.
    pub services: Services,
    /// The start-up table: the backend of each port (and of dual-write's secondary), and why.
    pub adapters: Vec<AdapterInfo>,
    /// Work at start and at stop that some adapters need.
    pub lifecycle: Lifecycle,
}

/// What some adapters need beyond serving their port, without the server naming them: the
/// embedded streams store is read at start for the generations a crash left unfinished, and
/// the streams stores that hold writes in memory are flushed at stop. Adapters that need
/// sweeping sweep themselves.
#[derive(Default)]
pub struct Lifecycle {
    embedded_streams: Option<SqliteStreams>,
    kv_streams: Option<alleato_memory::KvStreams>,
}

impl Lifecycle {
    /// Ends, with what their streams said, the generations the last run of this data left
    /// unfinished (a crash, a kill); how many. Only the embedded streams store outlives its
    /// process with nobody else to finish them.
    pub async fn recover(&self, generation: &GenerationService) -> anyhow::Result<usize> {
        let Some(streams) = &self.embedded_streams else { return Ok(0) };
        let unfinished = streams.unfinished().await.context("reading the streams store")?;
        Ok(generation.recover_interrupted(&unfinished).await?)
    }

    /// Writes out what the streams stores still hold in memory. Call it once no request is
    /// served.
    pub async fn flush(&self) {
        if let Some(streams) = &self.embedded_streams {
            streams.flush().await;
        }
        if let Some(streams) = &self.kv_streams {
            streams.flush().await;
        }
    }
}

/// Opens the database the configuration chooses, as the server does: for any other program
/// that must reach the server's data (tests, tools).
pub async fn open_database(config: &Config) -> anyhow::Result<DatabasePorts> {
    Opener::new(config).database(&plan(config).database).await
}

/// A port a program supplies itself, with the name the adapter table and the metrics show.
pub struct Given<T> {
    /// The adapter.
    pub port: T,
    /// What it is, as the adapter table shows it: the first word is its metrics label.
    pub name: String,
}

impl<T> Given<T> {
    /// `port`, shown as `name`.
    pub fn new(name: impl Into<String>, port: T) -> Self {
        Self { port, name: name.into() }
    }
}

/// Parts a program supplies itself instead of the configured ones. A given port is not opened
/// from the configuration at all.
#[derive(Default)]
pub struct Overrides {
    /// The database (every database port), instead of the configured one.
    pub database: Option<Given<DatabasePorts>>,
    /// Object storage, instead of the configured one.
    pub objects: Option<Given<Arc<dyn ObjectStorage>>>,
    /// The key-value store (sessions), instead of the configured one.
    pub kv: Option<Given<Arc<dyn KeyValueStore>>>,
    /// Counters (rate limits), instead of the configured ones.
    pub counters: Option<Given<Arc<dyn Counters>>>,
    /// The streams store, instead of the configured one (the program flushes it itself).
    pub streams: Option<Given<Arc<dyn StreamStore>>>,
    /// The language model, instead of the one `[ai]` configures (named by its `describe()`).
    pub model: Option<Arc<dyn LanguageModel>>,
}

/// Opens every chosen adapter and builds the services.
pub async fn wire(config: &Config) -> anyhow::Result<Wired> {
    wire_with(config, Overrides::default()).await
}

/// [`wire`], with some parts given instead of opened.
pub async fn wire_with(config: &Config, overrides: Overrides) -> anyhow::Result<Wired> {
    let plan = plan(config);
    if config.cloudflare.r2_public_url.is_some() && plan.storage.backend != StorageBackend::R2 {
        tracing::warn!("R2_PUBLIC_URL is ignored: uploads are not on R2 ({})", plan.storage.reason);
    }
    let open = Opener::new(config);
    let mut table = Table::default();
    let secondary = dual::Secondary::open(config).await?;
    let database_given = overrides.database.is_some();
    let mut database = match overrides.database {
        Some(given) => table.given("database", given),
        None => {
            let opened = open.database(&plan.database).await?;
            table.planned("database", &plan.database);
            opened
        }
    };
    let mut objects = match overrides.objects {
        Some(given) => table.given("storage", given),
        None => {
            let opened = open.objects(&plan.storage)?;
            table.planned("storage", &plan.storage);
            opened
        }
    };
    if let Some(secondary) = &secondary {
        database = secondary.database(database).await?;
        objects = secondary.objects(objects);
    }
    let kv = match overrides.kv {
        Some(given) => table.given("key-value", given),
        None => {
            let opened = open.kv(&plan.kv).await?;
            // Users cached in memory beside Redis: only over the configured database and store.
            if !database_given {
                database = open.cache_announced_users(database, &plan.database.backend, &plan.kv).await?;
            }
            table.planned("key-value", &plan.kv);
            opened
        }
    };
    let counters = match overrides.counters {
        Some(given) => table.given("counters", given),
        None => {
            let opened = open.counters(&plan.counters).await?;
            table.planned("counters", &plan.counters);
            opened
        }
    };
    let mut lifecycle = Lifecycle::default();
    let streams = match overrides.streams {
        Some(given) => table.given("streams", given),
        None => {
            let opened = open.streams(&plan.streams).await?;
            table.planned("streams", &plan.streams);
            lifecycle = Lifecycle { embedded_streams: opened.embedded, kv_streams: opened.on_kv };
            opened.port
        }
    };
    let (mut model, generation, mut model_choice) = open.model()?;
    if let Some(given) = overrides.model {
        model_choice = Choice { backend: given.describe(), reason: GIVEN.into() };
        model = given;
    }
    table.row("model", model_choice.backend, &model_choice.reason);
    let labels = table.labels();
    let mut adapters = table.rows;
    adapters.extend(secondary.into_iter().flat_map(|s| s.rows));

    let auth = AuthSettings {
        jwt_secret: config.jwt_secret()?,
        session_ttl: Duration::from_secs(config.auth.session_ttl_secs.max(60)),
        logout_poll: Duration::from_secs(config.cloudflare.logout_poll_secs),
    };
    let files = FileSettings {
        max_bytes: config.max_upload_bytes,
        download_url_ttl: Duration::from_secs(config.storage.download_url_ttl_secs),
    };
    let mut ports = Ports::from_database(database, objects, kv, counters, streams, model);
    if config.metrics_addr.is_some() {
        ports = crate::metrics::ports::meter(ports, &labels);
    }
    Ok(Wired { services: Services::new(ports, auth, files, generation), adapters, lifecycle })
}

/// The reason a given port shows in the adapter table.
const GIVEN: &str = "given by the program that embeds Alleato";

/// The adapter table as the ports are opened or given, and the metrics label of each.
#[derive(Default)]
struct Table {
    rows: Vec<AdapterInfo>,
}

impl Table {
    fn planned<B: Backend>(&mut self, port: &'static str, choice: &Choice<B>) {
        self.rows.push(row(port, choice.backend.to_string(), &choice.reason));
    }

    fn given<T>(&mut self, port: &'static str, given: Given<T>) -> T {
        self.rows.push(row(port, given.name, GIVEN));
        given.port
    }

    fn row(&mut self, port: &'static str, backend: String, why: &str) {
        self.rows.push(row(port, backend, why));
    }

    fn labels(&self) -> crate::metrics::ports::Backends {
        // A row's metrics label is its first word (for a planned backend, `Backend::label`: a
        // test in `plan` holds the two equal).
        let label = |port: &str| {
            self.rows
                .iter()
                .find(|r| r.port == port)
                .map_or("unknown", |r| crate::metrics::ports::Backends::label(&r.backend))
        };
        crate::metrics::ports::Backends {
            database: label("database"),
            storage: label("storage"),
            kv: label("key-value"),
            counters: label("counters"),
            streams: label("streams"),
            model: label("model"),
        }
    }
}

fn row(port: &str, backend: String, why: &str) -> AdapterInfo {
    AdapterInfo { port: port.into(), backend, why: why.into() }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[tokio::test]
    async fn a_selected_backend_that_is_missing_names_the_setting() {
        let mut c = Config { data_dir: PathBuf::from("/d"), ..Config::default() };
        c.cloudflare.use_cloudflare_database = Some(false);
        let err = wire(&c).await.err().expect("must fail").to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        let mut c = Config { data_dir: PathBuf::from("/d"), ..Config::default() };
        c.cloudflare.use_cloudflare_storage = Some(true);
        c.cloudflare.r2_access_key_id = Some(crate::config::Secret::new("key"));
        let err = Opener::new(&c).objects(&plan(&c).storage).err().expect("must fail").to_string();
        assert!(err.contains("R2_BUCKET"), "{err}");
        c.cloudflare.r2_bucket = Some("b".into());
        let err = Opener::new(&c).objects(&plan(&c).storage).err().expect("must fail").to_string();
        assert!(err.contains("CLOUDFLARE_ACCOUNT_ID nor R2_ENDPOINT"), "{err}");
    }

    /// A program that gives every port gets exactly those: nothing configured is opened (here
    /// the configuration names a PostgreSQL, a Redis and an S3 that do not answer), and the
    /// adapter table names what was given.
    #[tokio::test]
    async fn given_ports_replace_the_configured_ones_without_opening_them() {
        let mut c = Config { data_dir: PathBuf::from("/nonexistent/alleato"), ..Config::default() };
        c.database.url = Some(crate::config::Secret::new("postgres://nobody@127.0.0.1:1/none"));
        c.redis.url = Some(crate::config::Secret::new("redis://127.0.0.1:1"));
        c.storage.s3_bucket = Some("none".into());
        c.storage.s3_endpoint = Some("http://127.0.0.1:1".into());
        c.ephemeral = false;
        c.auth.jwt_secret = Some(crate::config::Secret::new("k".repeat(AuthSettings::MIN_SECRET_BYTES)));
        let database = alleato_sqlite::SqliteDatabase::memory().await.unwrap();
        let kv = Arc::new(alleato_memory::MemoryKv::new());
        let overrides = Overrides {
            database: Some(Given::new("sqlite (given)", DatabasePorts::new(Arc::new(database)))),
            objects: Some(Given::new("memory (given)", Arc::new(alleato_objects::ObjectStoreAdapter::memory()))),
            kv: Some(Given::new("memory (sessions)", kv.clone())),
            counters: Some(Given::new("memory (counters)", Arc::new(alleato_memory::MemoryKv::new()))),
            streams: Some(Given::new("memory (streams)", Arc::new(alleato_memory::MemoryStreams::new()))),
            model: None,
        };
        let wired = wire_with(&c, overrides).await.expect("nothing configured is opened");
        let rows: Vec<(&str, &str, &str)> =
            wired.adapters.iter().map(|a| (a.port.as_str(), a.backend.as_str(), a.why.as_str())).collect();
        assert_eq!(
            &rows[..5],
            &[
                ("database", "sqlite (given)", GIVEN),
                ("storage", "memory (given)", GIVEN),
                ("key-value", "memory (sessions)", GIVEN),
                ("counters", "memory (counters)", GIVEN),
                ("streams", "memory (streams)", GIVEN),
            ]
        );
        assert_eq!(rows[5].0, "model");
        // The services use the given store: a guest session is a record in it.
        wired.services.auth.guest().await.unwrap();
        use alleato_core::ports::KeyValueStore;
        use futures::StreamExt;
        let keys: Vec<_> = kv.keys("").collect().await;
        assert_eq!(keys.len(), 1, "one session in the given store: {keys:?}");
    }

    /// R2 is the S3 adapter with R2's region and path-style requests: here against the local
    /// S3 server the tests use (s3s-fs, which checks SigV4 signatures), as R2's endpoint would be.
    #[tokio::test]
    async fn r2_is_a_preset_of_the_s3_settings() {
        let mut c = Config { data_dir: PathBuf::from("/d"), ..Config::default() };
        c.cloudflare.use_cloudflare_storage = Some(true);
        c.cloudflare.r2_bucket = Some("alleato-test".into());
        c.cloudflare.r2_endpoint =
            Some(std::env::var("ALLEATO_TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:8014".into()));
        c.cloudflare.r2_access_key_id = Some(crate::config::Secret::new("AKTEST"));
        c.cloudflare.r2_secret_access_key = Some(crate::config::Secret::new("SKTEST"));
        c.storage.s3_prefix = Some(format!("r2-preset-{}", uuid::Uuid::new_v4().simple()));
        let plan = plan(&c);
        assert_eq!(plan.storage.backend, StorageBackend::R2);
        assert_eq!(plan.storage.backend.to_string(), "r2 (S3 API, object_store)");
        let objects = Opener::new(&c).objects(&plan.storage).unwrap();
        objects.put("a/b.txt", bytes::Bytes::from_static(b"hello"), "text/plain").await.unwrap();
        let stored = objects.get("a/b.txt").await.unwrap().expect("stored");
        assert_eq!(&stored.bytes[..], b"hello");
        objects.delete("a/b.txt").await.unwrap();
    }

    /// `USE_CLOUDFLARE=true` on a fresh data directory: every Cloudflare service on its local
    /// stand-in, the database and the counters sharing D1's file, KV's minimum TTL declared.
    #[tokio::test]
    async fn cloudflare_without_credentials_wires_local_stand_ins() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        c.cloudflare.use_cloudflare = Some(true);
        let wired = wire(&c).await.unwrap();
        let backends: Vec<_> = wired.adapters.iter().map(|a| a.backend.as_str()).collect();
        for (row, expected) in
            backends.iter().zip(["d1 (local", "r2 (local", "workers-kv (local", "d1 (local", "workers-kv (local"])
        {
            assert!(row.starts_with(expected), "{backends:?}");
        }
        let ports = &wired.services.ports;
        assert_eq!(ports.kv.capabilities().min_ttl, Duration::from_secs(60));
        ports.counters.increment("rate:x", Duration::from_secs(60)).await.unwrap();
        let stats = ports.database.stats().await.unwrap();
        assert_eq!(stats.users, 0);
        assert!(dir.path().join("d1.sqlite3").exists() && dir.path().join("r2").is_dir());
    }

    /// With credentials, D1 is Cloudflare's REST API: here the simulator behind the proxy
    /// Worker that `cargo xtask test` starts (`tests/cf-shim/`).
    #[tokio::test]
    async fn d1_with_credentials_goes_through_the_rest_api() {
        let mut c = Config { data_dir: PathBuf::from("/d"), ..Config::default() };
        c.cloudflare.use_cloudflare_database = Some(true);
        c.cloudflare.api_token = Some(crate::config::Secret::new("token"));
        c.cloudflare.account_id = Some("account".into());
        let err = Opener::new(&c).database(&plan(&c).database).await.err().expect("no database id").to_string();
        assert!(err.contains("CLOUDFLARE_D1_DATABASE_ID"), "{err}");
        c.cloudflare.d1_database_id = Some("00000000-0000-0000-0000-000000000001".into());
        c.cloudflare.api_base_url =
            std::env::var("ALLEATO_TEST_CF_URL").unwrap_or_else(|_| "http://127.0.0.1:8787/client/v4".into());
        let plan = plan(&c);
        assert_eq!(plan.database.backend.to_string(), "d1 (REST API)");
        let database = Opener::new(&c).database(&plan.database).await.unwrap();
        database.admin.ping().await.unwrap();
        let user = alleato_core::model::User {
            id: alleato_core::ids::UserId::new(),
            email: format!("{}@d1.example", uuid::Uuid::new_v4().simple()),
            kind: alleato_core::model::UserKind::Regular,
            password_hash: None,
            created_at: alleato_core::time::now(),
            sessions_valid_from: None,
        };
        database.users.insert_user(&user).await.unwrap();
        assert_eq!(database.users.user_by_email(&user.email).await.unwrap(), Some(user));
    }

    #[tokio::test]
    async fn sessions_and_counters_share_one_embedded_store() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        let (plan, open) = (plan(&c), Opener::new(&c));
        let kv = open.kv(&plan.kv).await.unwrap();
        let counters = open.counters(&plan.counters).await.unwrap();
        kv.set("k", b"v", None).await.unwrap();
        counters.increment("c", Duration::from_secs(60)).await.unwrap();
        // One store under both ports: the counter is an entry of the sessions' store.
        assert_eq!(kv.get("c").await.unwrap().as_deref(), Some(&b"1"[..]));
    }
}
