//! Helpers for the end-to-end tests: start the real server on `127.0.0.1:0` over a fresh data
//! directory, and drive it through the SDK.

use std::path::PathBuf;

use alleato_sdk::api::{AuthResponse, ChatId};
use alleato_sdk::{Client, SdkError};
use alleato_server::{Config, RunningServer};

pub use alleato_sdk;

pub mod deployments;
pub mod outage;
pub mod process;

/// A running server with its own data directory.
pub struct TestApp {
    pub server: RunningServer,
    pub client: Client,
    pub config: Config,
    /// Kept so the directory lives as long as the app.
    pub dir: Option<tempfile::TempDir>,
}

/// The configuration tests start from: embedded stack in a temp dir, limits loose enough for a
/// test suite, a fixed admin key.
pub fn test_config(data_dir: PathBuf) -> Config {
    let mut config = Config { addr: "127.0.0.1:0".parse().unwrap(), data_dir, ..Config::default() };
    config.admin.api_key = Some(alleato_server::config::Secret::new("test-admin-key"));
    config.rate_limit.api_per_minute = 100_000;
    config.rate_limit.auth_per_minute = 100_000;
    config.rate_limit.upload_per_minute = 100_000;
    config.ai.mock_chunk_delay_ms = 1;
    if stack_storage() == "s3" && stack_cloudflare() {
        // R2 through its S3 API, with R2's settings, against the local S3 server.
        config.cloudflare.r2_bucket = Some("alleato-test".into());
        config.cloudflare.r2_endpoint = Some(s3_endpoint());
        config.cloudflare.r2_access_key_id = Some(alleato_server::config::Secret::new("AKTEST"));
        config.cloudflare.r2_secret_access_key = Some(alleato_server::config::Secret::new("SKTEST"));
        config.storage.s3_prefix = Some(format!("e2e-{}", uuid_like()));
    } else if stack_storage() == "s3" {
        config.storage.s3_bucket = Some("alleato-test".into());
        config.storage.s3_endpoint = Some(s3_endpoint());
        config.storage.s3_region = "auto".into();
        config.storage.s3_access_key_id = Some(alleato_server::config::Secret::new("AKTEST"));
        config.storage.s3_secret_access_key = Some(alleato_server::config::Secret::new("SKTEST"));
        config.storage.s3_prefix = Some(format!("e2e-{}", uuid_like()));
    }
    if stack_kv() == "redis" {
        config.redis.url = Some(alleato_server::config::Secret::new(redis_url()));
        config.redis.prefix = format!("e2e:{}:", uuid_like());
    }
    if stack_cloudflare() {
        // No credentials: every Cloudflare service on its local stand-in.
        config.cloudflare.use_cloudflare = Some(true);
    }
    if stack_cloudflare_api() {
        // D1 and Workers KV through Cloudflare's simulator behind the REST-shaped Worker: a
        // database of its own per server (the simulator gives each new id a fresh one).
        let cf = &mut config.cloudflare;
        cf.api_base_url = cf_url();
        cf.account_id = Some("e2e-account".into());
        cf.api_token = Some(alleato_server::config::Secret::new("e2e-token"));
        cf.d1_database_id = Some(uuid_like());
        cf.kv_namespace_id = Some("e2e-namespace".into());
        // The simulator has no account-wide limit; the suite sends far more than 1,200
        // requests in 5 minutes (the budget itself is tested in alleato-cloudflare).
        cf.api_requests_per_5_minutes = 10_000_000;
    }
    if stack_database() == "postgres" {
        config.database.url = Some(alleato_server::config::Secret::new(postgres_url()));
        config.database.schema = Some(format!("e2e_{}", uuid_like()));
        config.database.max_connections = 4;
    }
    config
}

/// Which database the end-to-end suite runs on: `ALLEATO_E2E_DATABASE` = `sqlite` (default) or
/// `postgres`; `d1` on the Cloudflare stack. `cargo xtask test` runs the suite on each stack.
pub fn stack_database() -> String {
    if stack_cloudflare() {
        return "d1".into();
    }
    std::env::var("ALLEATO_E2E_DATABASE").unwrap_or_else(|_| "sqlite".into())
}

/// Whether the suite runs on the Cloudflare stack (`USE_CLOUDFLARE=true`):
/// `ALLEATO_E2E_CLOUDFLARE=local` for the local stand-ins, `=api` for D1 and Workers KV
/// through Cloudflare's simulator (`ALLEATO_TEST_CF_URL`, default the one `cargo xtask test`
/// starts).
pub fn stack_cloudflare() -> bool {
    std::env::var("ALLEATO_E2E_CLOUDFLARE").is_ok_and(|v| v == "local" || v == "api")
}

/// Whether D1 and Workers KV are reached through the simulator: `ALLEATO_E2E_CLOUDFLARE=api`.
pub fn stack_cloudflare_api() -> bool {
    std::env::var("ALLEATO_E2E_CLOUDFLARE").is_ok_and(|v| v == "api")
}

pub fn cf_url() -> String {
    std::env::var("ALLEATO_TEST_CF_URL").unwrap_or_else(|_| "http://127.0.0.1:8787/client/v4".into())
}

/// Which object storage the suite runs on: `ALLEATO_E2E_STORAGE` = `local` (default) or `s3`.
pub fn stack_storage() -> String {
    std::env::var("ALLEATO_E2E_STORAGE").unwrap_or_else(|_| "local".into())
}

pub fn s3_endpoint() -> String {
    std::env::var("ALLEATO_TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:8014".into())
}

/// Which key-value store (and so streams) the suite runs on: `ALLEATO_E2E_KV` = `embedded`
/// (default) or `redis`.
pub fn stack_kv() -> String {
    std::env::var("ALLEATO_E2E_KV").unwrap_or_else(|_| "embedded".into())
}

pub fn redis_url() -> String {
    std::env::var("ALLEATO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub fn postgres_url() -> String {
    std::env::var("ALLEATO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl TestApp {
    /// A server on the embedded stack in a fresh temp directory.
    pub async fn spawn() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = test_config(dir.path().to_path_buf());
        Self::spawn_with(config, Some(dir)).await
    }

    pub async fn spawn_with(config: Config, dir: Option<tempfile::TempDir>) -> Self {
        let server = alleato_server::start(config.clone()).await.expect("server starts");
        let client = Client::new(format!("http://{}", server.addr));
        Self { server, client, config, dir }
    }

    /// Stops this server and starts a new one over the same data directory.
    pub async fn restart(self) -> Self {
        let TestApp { server, config, dir, .. } = self;
        server.stop().await.expect("clean stop");
        Self::spawn_with(config, dir).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.server.addr, path)
    }

    /// Registers a fresh regular user and returns a client signed in as them.
    pub async fn user(&self) -> (Client, AuthResponse) {
        register_user(&self.client).await
    }

    pub async fn guest(&self) -> (Client, AuthResponse) {
        let session = self.client.guest().await.expect("guest");
        (self.client.with_token(&session.token), session)
    }
}

/// Registers a fresh regular user through `client` and returns a client signed in as them.
pub async fn register_user(client: &Client) -> (Client, AuthResponse) {
    let email = format!("user-{}@example.com", uuid_like());
    let session = client.register(&email, "correct horse battery").await.expect("register");
    (client.with_token(&session.token), session)
}

/// A unique-enough suffix without pulling in a UUID crate.
pub fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{nanos:x}{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Asserts an SDK error has this status and code.
#[track_caller]
pub fn assert_api_error<T: std::fmt::Debug>(result: Result<T, SdkError>, status: u16, code: &str) {
    match result {
        Err(SdkError::Api { status: s, code: c, message }) => {
            assert_eq!((s, c.as_str()), (status, code), "message: {message}");
            assert!(!message.is_empty());
        }
        other => panic!("expected {status} {code}, got {other:?}"),
    }
}

/// A chat id nobody has.
pub fn random_chat_id() -> ChatId {
    ChatId::new()
}

/// A minimal valid PNG (1x1).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// The start of a PDF file.
pub const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

impl TestApp {
    /// Opens the server's own database beside it, to seed and inspect rows directly, through
    /// the server's own opener.
    pub async fn database(&self) -> alleato_core::services::DatabasePorts {
        let mut config = self.config.clone();
        config.database.max_connections = 2;
        alleato_server::wiring::open_database(&config).await.expect("open database")
    }

    /// The keys of the uploaded objects the server's storage holds, read through the server's
    /// own opener (whichever backend the stack chose).
    pub async fn stored_objects(&self) -> Vec<String> {
        use alleato_server::wiring::{Opener, StorageBackend, plan};
        use futures::TryStreamExt;
        let choice = plan(&self.config).storage;
        if let StorageBackend::Local(dir) | StorageBackend::R2Local(dir) = &choice.backend
            && !dir.exists()
        {
            return Vec::new();
        }
        let objects = Opener::new(&self.config).objects(&choice).expect("open the storage");
        let listed: Vec<_> = objects.list("files").try_collect().await.expect("list objects");
        listed.into_iter().map(|entry| entry.key).collect()
    }

    /// Stores `n` alternating user/assistant text messages in a chat; returns them oldest first.
    pub async fn seed_messages(&self, chat: ChatId, n: usize) -> Vec<alleato_core::model::StoredMessage> {
        use alleato_core::model::{MessagePart, Role, StoredMessage};
        let start = alleato_core::time::now();
        let messages: Vec<_> = (0..n)
            .map(|i| StoredMessage {
                id: alleato_core::ids::MessageId::new(),
                chat_id: chat,
                role: if i % 2 == 0 { Role::User } else { Role::Assistant },
                parts: vec![MessagePart::text(format!("message {i}"))],
                attachments: vec![],
                created_at: start + std::time::Duration::from_millis(i as u64),
            })
            .collect();
        self.database().await.chats.insert_messages(&messages).await.expect("seed messages");
        messages
    }
}

/// Reads an event stream to its end.
pub async fn collect(stream: alleato_sdk::EventStream) -> Vec<alleato_sdk::SseChunk> {
    use futures::StreamExt;
    stream.map(|e| e.expect("event")).collect().await
}

/// The concatenated deltas of one kind (`text` or `reasoning`) in a UI message stream.
pub fn deltas(chunks: &[alleato_sdk::SseChunk], kind: &str) -> String {
    chunks
        .iter()
        .filter_map(alleato_sdk::SseChunk::json)
        .filter(|v| v["type"] == format!("{kind}-delta"))
        .map(|v| v["delta"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits (bounded) until the chat has `n` messages; returns them.
pub async fn wait_for_messages(client: &Client, chat: ChatId, n: usize) -> Vec<alleato_sdk::api::StoredMessage> {
    for _ in 0..200 {
        let messages = client.get_chat(chat).await.expect("chat").messages;
        if messages.len() >= n {
            return messages;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the chat never reached {n} messages");
}
