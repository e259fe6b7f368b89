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

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alleato_api::AdapterInfo;
use alleato_core::ports::LanguageModel;
use alleato_core::services::{AuthSettings, DatabasePorts, FileSettings, Ports, Services};
use alleato_sqlite::SqliteStreams;
use anyhow::{Context, bail};

pub use self::dual::FileRepairLog;
pub use self::open::{OpenedStreams, Opener, describe_database, describe_storage};
pub use self::plan::{Choice, CountersBackend, DatabaseBackend, KvBackend, Plan, StorageBackend, StreamsBackend, plan};
use crate::config::Config;

/// What the server needs from the wiring: the services, the adapter table, and the streams
/// store where it has more to do with it (the embedded one is read at start for generations a
/// crash left unfinished; both are flushed at stop). Adapters that need sweeping sweep
/// themselves.
pub struct Wired {
    /// Every use case, over the opened ports.
    pub services: Services,
    /// The start-up table: the backend of each port (and of dual-write's secondary), and why.
    pub adapters: Vec<AdapterInfo>,
    /// The embedded streams store, when it serves the streams port.
    pub embedded_streams: Option<SqliteStreams>,
    /// Streams on Workers KV (or its stand-in), which the server flushes at stop.
    pub kv_streams: Option<alleato_memory::KvStreams>,
}

/// Opens the database the configuration chooses, as the server does: for any other program
/// that must reach the server's data (tests, tools).
pub async fn open_database(config: &Config) -> anyhow::Result<DatabasePorts> {
    Opener::new(config).database(&plan(config).database).await
}

/// Parts a program supplies itself instead of the configured ones.
#[derive(Default)]
pub struct Overrides {
    /// The language model, instead of the one `[ai]` configures.
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
    let secondary = dual::Secondary::open(config).await?;
    let mut database = open.database(&plan.database).await?;
    let mut objects = open.objects(&plan.storage)?;
    if let Some(secondary) = &secondary {
        database = secondary.database(database).await?;
        objects = secondary.objects(objects);
    }
    let kv = open.kv(&plan.kv).await?;
    let database = open.cache_announced_users(database, &plan.database.backend, &plan.kv).await?;
    let counters = open.counters(&plan.counters).await?;
    let streams = open.streams(&plan.streams).await?;
    let (mut model, generation, mut model_choice) = open.model()?;
    if let Some(given) = overrides.model {
        model_choice = Choice { backend: given.describe(), reason: "given by the program that embeds Alleato".into() };
        model = given;
    }
    let mut adapters = vec![
        row("database", open::describe_database(&plan.database.backend), &plan.database.reason),
        row("storage", open::describe_storage(&plan.storage.backend), &plan.storage.reason),
        row("key-value", open::describe_kv(&plan.kv.backend), &plan.kv.reason),
        row("counters", open::describe_counters(&plan.counters.backend), &plan.counters.reason),
        row("streams", open::describe_streams(&plan.streams.backend), &plan.streams.reason),
        row("model", model_choice.backend, &model_choice.reason),
    ];
    adapters.extend(secondary.into_iter().flat_map(|s| s.rows));

    let jwt_secret = jwt_secret(config)?;
    let auth = AuthSettings {
        jwt_secret,
        session_ttl: Duration::from_secs(config.auth.session_ttl_secs.max(60)),
        logout_poll: Duration::from_secs(config.cloudflare.logout_poll_secs),
    };
    let files = FileSettings {
        max_bytes: config.max_upload_bytes,
        download_url_ttl: Duration::from_secs(config.storage.download_url_ttl_secs),
    };
    let mut ports = Ports::from_database(database, objects, kv, counters, streams.port, model);
    if config.metrics_addr.is_some() {
        let label = |i: usize| crate::metrics::ports::Backends::label(&adapters[i].backend);
        let backends = crate::metrics::ports::Backends {
            database: label(0),
            storage: label(1),
            kv: label(2),
            counters: label(3),
            streams: label(4),
            model: label(5),
        };
        ports = crate::metrics::ports::meter(ports, &backends);
    }
    Ok(Wired {
        services: Services::new(ports, auth, files, generation),
        adapters,
        embedded_streams: streams.embedded,
        kv_streams: streams.on_kv,
    })
}

fn row(port: &str, backend: String, why: &str) -> AdapterInfo {
    AdapterInfo { port: port.into(), backend, why: why.into() }
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
        assert_eq!(open::describe_storage(&plan.storage.backend), "r2 (S3 API, object_store)");
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
        assert_eq!(open::describe_database(&plan.database.backend), "d1 (REST API)");
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
