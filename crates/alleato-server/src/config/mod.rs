//! Configuration: built-in defaults, then `config/default.toml` (or the file named by
//! `ALLEATO_CONFIG`), then the environment. The environment keeps the design document's names
//! (`USE_CLOUDFLARE`, `DATABASE_URL`, `JWT_SECRET`, ...); any key can also be set as
//! `ALLEATO_<KEY>` with `__` between levels (`ALLEATO_RATE_LIMIT__AUTH_PER_MINUTE=5`).
//!
//! This module holds the settings' shape and defaults; `load.rs` reads them in.

mod jwt;
mod load;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use alleato_core::Secret;
use alleato_core::migrations::MigrationPolicy;
pub use alleato_http::RateLimitConfig;
use serde::{Deserialize, Deserializer, Serialize};

/// The whole configuration, as `alleato print-config` shows it; [`Config::default`] holds the
/// built-in defaults, which `config/default.toml` repeats.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the server listens (`ALLEATO_ADDR`).
    pub addr: SocketAddr,
    /// Where the embedded backends keep their files (`ALLEATO_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Keep everything in memory; nothing survives a restart (`--ephemeral`).
    pub ephemeral: bool,
    /// Origins allowed by CORS (`CORS_ORIGINS`, comma-separated). Empty: no cross-origin access.
    #[serde(deserialize_with = "comma_list")]
    pub cors_origins: Vec<String>,
    /// Use `X-Forwarded-For` as the client address (only behind a proxy you trust).
    pub trust_forwarded_for: bool,
    /// Serve the chat web app at `/` (`ALLEATO_WEB_APP`); off, only the API answers.
    pub web_app: bool,
    /// Where to serve Prometheus metrics (`ALLEATO_METRICS_ADDR`, e.g. `127.0.0.1:9187`);
    /// unset, none are recorded or served.
    pub metrics_addr: Option<SocketAddr>,
    /// Largest request body, except uploads.
    pub max_body_bytes: usize,
    /// Largest uploaded file.
    pub max_upload_bytes: u64,
    /// A request taking longer is answered with 408.
    pub request_timeout_secs: u64,
    /// A connection must deliver a request's headers within this time, counted from when it
    /// opens or last finished a response: the bound on slow headers (slowloris) and on idle
    /// keep-alive connections alike.
    pub header_read_timeout_secs: u64,
    /// Most connections open at once; more wait in the listen backlog. The open-files limit is
    /// raised at start to fit, where the system allows.
    pub max_connections: usize,
    /// `[auth]`: sessions and their signing key.
    pub auth: AuthConfig,
    /// `[admin]`: the admin routes' key.
    pub admin: AdminConfig,
    /// `[rate_limit]`: requests per client per minute.
    pub rate_limit: RateLimitConfig,
    /// `[cloudflare]`: the Cloudflare switches and how to reach D1, Workers KV and R2.
    pub cloudflare: CloudflareConfig,
    /// `[database]`: PostgreSQL or a SQLite file elsewhere, and the migration policy.
    pub database: DatabaseConfig,
    /// `[redis]`: sessions, counters and streams on Redis.
    pub redis: RedisConfig,
    /// `[storage]`: uploads on S3-compatible storage.
    pub storage: StorageConfig,
    /// `[ai]`: the language model provider and model ids.
    pub ai: AiConfig,
    /// `[chat]`: message limits, quotas and generation streams.
    pub chat: ChatConfig,
    /// `[dual_write]`: writing to a secondary set of stores too, while moving.
    pub dual_write: DualWriteConfig,
}

/// `[auth]`: how sessions are signed and how long they last.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// HS256 key, at least 32 bytes (`JWT_SECRET`). Unset: generated once and kept in the data
    /// directory.
    pub jwt_secret: Option<Secret>,
    /// How long a session (and its token) lasts, in seconds
    /// (`ALLEATO_AUTH__SESSION_TTL_SECS`); at least 60 is used. Default: 7 days.
    pub session_ttl_secs: u64,
}

/// `[admin]`: access to the admin routes (`/admin/stats`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Key for `/admin/*` (`ADMIN_API_KEY`). Unset: the admin routes answer 404.
    pub api_key: Option<Secret>,
}

/// The Cloudflare stack: the design document's flags (unset flags defer to the next rule; see
/// `wiring`) and how to reach Cloudflare's HTTP APIs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudflareConfig {
    /// `USE_CLOUDFLARE`: every port on its Cloudflare backend (D1, R2, Workers KV).
    pub use_cloudflare: Option<bool>,
    /// `USE_CLOUDFLARE_DATABASE`: the database on D1 (`true`) or PostgreSQL (`false`).
    pub use_cloudflare_database: Option<bool>,
    /// `USE_CLOUDFLARE_STORAGE`: uploads on R2 (`true`) or S3 (`false`).
    pub use_cloudflare_storage: Option<bool>,
    /// `USE_CLOUDFLARE_STREAMS`: generation streams on Workers KV (`true`) or Redis (`false`).
    /// Sessions follow `USE_CLOUDFLARE` only.
    pub use_cloudflare_streams: Option<bool>,
    /// `CLOUDFLARE_ACCOUNT_ID`: for the D1 and KV APIs and R2's endpoint.
    pub account_id: Option<String>,
    /// `CLOUDFLARE_API_TOKEN`: a token allowed to use D1 and Workers KV. Without it, D1 and
    /// Workers KV run on their local stand-ins, as `wrangler dev` does.
    pub api_token: Option<Secret>,
    /// `CLOUDFLARE_D1_DATABASE_ID`: the D1 database (a UUID).
    pub d1_database_id: Option<String>,
    /// `CLOUDFLARE_KV_NAMESPACE_ID`: the Workers KV namespace.
    pub kv_namespace_id: Option<String>,
    /// `CLOUDFLARE_API_BASE_URL`: where the API is; the proxy Worker's URL to leave the
    /// account-wide API limit, or a simulator's.
    pub api_base_url: String,
    /// Requests to the API this process may send per 5 minutes, for all its adapters: the
    /// account-wide limit is 1,200 (several instances share it); a proxy Worker allows more.
    pub api_requests_per_5_minutes: u32,
    /// How long this process serves a Workers KV value (a session) from memory before reading
    /// it again. A logout reaches the other instances within this plus Workers KV's own
    /// propagation, unless `logout_poll_secs` comes first; the instance that took it forgets
    /// the session at once.
    pub kv_cache_secs: u64,
    /// How often each instance reads the logouts of the others from the database (one D1
    /// request each time), when sessions live in Workers KV: a logout reaches every instance
    /// within this, however long Workers KV and `kv_cache_secs` keep the session.
    pub logout_poll_secs: u64,
    /// `R2_BUCKET`: the R2 bucket for uploads.
    pub r2_bucket: Option<String>,
    /// `R2_ACCESS_KEY_ID`, `R2_SECRET_ACCESS_KEY`: an R2 API token's S3 key pair. Without
    /// them R2 runs on its local stand-in.
    pub r2_access_key_id: Option<Secret>,
    /// `R2_SECRET_ACCESS_KEY`: the secret half of the R2 key pair (see `r2_access_key_id`).
    pub r2_secret_access_key: Option<Secret>,
    /// `R2_ENDPOINT`: instead of `https://<account_id>.r2.cloudflarestorage.com` (a
    /// jurisdiction's endpoint, or a test server; plain `http://` is accepted).
    pub r2_endpoint: Option<String>,
    /// `R2_PUBLIC_URL`: where the bucket is served publicly (a custom domain or its `r2.dev`
    /// address). Files in public chats then link there, for good; private files get no direct
    /// link at all (a signed one would show a key that the public address serves forever).
    pub r2_public_url: Option<String>,
}

impl Default for CloudflareConfig {
    fn default() -> Self {
        Self {
            use_cloudflare: None,
            use_cloudflare_database: None,
            use_cloudflare_storage: None,
            use_cloudflare_streams: None,
            account_id: None,
            api_token: None,
            d1_database_id: None,
            kv_namespace_id: None,
            api_base_url: "https://api.cloudflare.com/client/v4".into(),
            api_requests_per_5_minutes: 1200,
            kv_cache_secs: 30,
            logout_poll_secs: 10,
            r2_bucket: None,
            r2_access_key_id: None,
            r2_secret_access_key: None,
            r2_endpoint: None,
            r2_public_url: None,
        }
    }
}

/// `[database]`: which SQL database, its pool, and what start does about migrations. Unset
/// `url` (and no Cloudflare flag): SQLite in the data directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `DATABASE_URL` (alias `POSTGRES_URL`): `postgres://...` for PostgreSQL, `sqlite:PATH`
    /// for a SQLite file elsewhere than the data directory.
    pub url: Option<Secret>,
    /// PostgreSQL pool size.
    pub max_connections: u32,
    /// Longest wait for a pooled connection before a request fails with 503.
    pub acquire_timeout_secs: u64,
    /// Statements running longer are cancelled by PostgreSQL.
    pub statement_timeout_secs: u64,
    /// A PostgreSQL schema to use (created if missing) instead of `public`: several
    /// deployments, or test runs, can share one database.
    pub schema: Option<String>,
    /// What start does about migrations the database lacks (every database backend).
    pub migrations: MigrationPolicy,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            acquire_timeout_secs: 5,
            statement_timeout_secs: 15,
            schema: None,
            migrations: MigrationPolicy::Apply,
        }
    }
}

/// `[redis]`: Redis, which holds sessions, counters and streams when `REDIS_URL` is set (and no
/// Cloudflare flag takes them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `REDIS_URL`
    pub url: Option<Secret>,
    /// Prepended to every key, so deployments can share one Redis.
    pub prefix: String,
    /// The longest one Redis command may take before the request fails with 503.
    pub command_timeout_ms: u64,
    /// How long sessions and users may be served from this process's memory when sessions live
    /// in Redis; every instance forgets a changed one as Redis pub/sub announces it
    /// (milliseconds). `0` reads Redis on every request.
    pub cache_secs: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self { url: None, prefix: "alleato:".into(), command_timeout_ms: 2000, cache_secs: 5 }
    }
}

/// `[storage]`: S3-compatible object storage for uploads, when `S3_BUCKET` is set (R2 has its
/// settings under `[cloudflare]`), and the signed download URLs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `S3_BUCKET`: selects S3-compatible storage.
    pub s3_bucket: Option<String>,
    /// `S3_ENDPOINT`: unset for AWS; e.g. `http://127.0.0.1:9000` for MinIO.
    pub s3_endpoint: Option<String>,
    /// `S3_REGION`
    pub s3_region: String,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
    pub s3_access_key_id: Option<Secret>,
    /// `AWS_SECRET_ACCESS_KEY`: the secret half of the key pair (see `s3_access_key_id`).
    pub s3_secret_access_key: Option<Secret>,
    /// `S3_FORCE_PATH_STYLE`: `endpoint/bucket/key` requests, which most non-AWS services want.
    pub s3_force_path_style: bool,
    /// A key prefix inside the bucket.
    pub s3_prefix: Option<String>,
    /// How long the signed download URLs offered with file metadata work, where the storage
    /// signs them (S3, R2); 0 offers none. At most 7 days (S3's limit).
    pub download_url_ttl_secs: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_force_path_style: true,
            s3_prefix: None,
            download_url_ttl_secs: 300,
        }
    }
}

/// Dual-write, for moving a live deployment to other stores (see the README's "Moving to other
/// stores"): the database and uploads written to a secondary too.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DualWriteConfig {
    /// `DUAL_WRITE_SECONDARY`: an env file with the secondary's settings (the server's
    /// variables, read as `alleato migrate` reads a side). Unset: dual-write is off.
    pub secondary: Option<PathBuf>,
    /// Whether the database, and uploads, are written to the secondary too.
    pub database: bool,
    /// Whether uploads are written to the secondary's object storage too
    /// (`ALLEATO_DUAL_WRITE__STORAGE`). Default: `true`.
    pub storage: bool,
    /// `DUAL_WRITE_SHADOW_READS`: the fraction of reads (0 to 1) read again from the secondary,
    /// in the background, and compared; mismatches are counted in `/admin/stats` and logged.
    pub shadow_reads: f64,
    /// The longest a secondary write may take before it is recorded as failed.
    pub secondary_timeout_ms: u64,
    /// `DUAL_WRITE_REPAIR_LOG`: where secondary writes to repair are recorded (JSON lines), for
    /// `alleato migrate copy --repair`. Unset: `dual-write-repairs.jsonl` in the data directory.
    pub repair_log: Option<PathBuf>,
}

impl Default for DualWriteConfig {
    fn default() -> Self {
        Self {
            secondary: None,
            database: true,
            storage: true,
            shadow_reads: 0.0,
            secondary_timeout_ms: 5000,
            repair_log: None,
        }
    }
}

/// `[ai]`: the language model: which provider, where, and which model ids.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiConfig {
    /// `AI_PROVIDER`: `openai` (any OpenAI-compatible endpoint) or `mock`. Unset: `openai` when
    /// `OPENAI_API_KEY` is set, else `mock`.
    pub provider: Option<String>,
    /// `OPENAI_API_KEY`
    pub openai_api_key: Option<Secret>,
    /// `OPENAI_BASE_URL`: OpenAI, or Ollama (`http://127.0.0.1:11434/v1`), vLLM, llama.cpp,
    /// OpenRouter, Workers AI.
    pub openai_base_url: String,
    /// `AI_CHAT_MODEL`, `AI_REASONING_MODEL`, `AI_TITLE_MODEL`. Unset: the design's models
    /// (gpt-5, o1, gpt-4o-mini), or the mock's.
    pub chat_model: Option<String>,
    /// `AI_REASONING_MODEL`: the model for `chat-model-reasoning`. Unset: `o1`, or the mock's
    /// `mock-reasoning`.
    pub reasoning_model: Option<String>,
    /// `AI_TITLE_MODEL`: the model that titles new chats. Unset: `gpt-4o-mini`, or the mock's
    /// `mock-title`.
    pub title_model: Option<String>,
    /// `AI_MOCK_CHUNK_DELAY_MS`: the mock model's pause between chunks.
    pub mock_chunk_delay_ms: u64,
    /// `AI_MOCK_REPLY_WORDS`: the mock's replies have at least this many words from 40 on, and
    /// exactly this many below (to match another system's short test answers in a benchmark).
    pub mock_reply_words: usize,
    /// Longest wait for the provider's first byte.
    pub first_byte_timeout_secs: u64,
    /// `AI_TOOLS`: whether the chat model is offered the document tools (`createDocument`,
    /// `updateDocument`, `requestSuggestions`). Turn off for a provider or model that cannot
    /// call tools. Default: on.
    pub tools: bool,
    /// `AI_DOCUMENT_MODEL`: the model that writes documents and suggestions for the tools.
    /// Unset: the chat model.
    pub document_model: Option<String>,
}

impl Default for AiConfig {
    fn default() -> Self {
        Self {
            provider: None,
            openai_api_key: None,
            openai_base_url: "https://api.openai.com/v1".into(),
            chat_model: None,
            reasoning_model: None,
            title_model: None,
            mock_chunk_delay_ms: 20,
            mock_reply_words: 40,
            first_byte_timeout_secs: 60,
            tools: true,
            document_model: None,
        }
    }
}

/// `[chat]`: limits on messages and answers, and how long generation streams are kept
/// (`ALLEATO_CHAT__*`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    /// Most characters of text in one message.
    pub max_message_chars: usize,
    /// Messages a user may send per 24 hours, by account type.
    pub guest_messages_per_day: u32,
    /// Messages a regular (registered) user may send per 24 hours. Default: 100.
    pub regular_messages_per_day: u32,
    /// How long a finished answer's stream can still be resumed: long enough for a client that
    /// lost its connection to catch up; after that, the stored message is the answer.
    pub finished_stream_ttl_secs: u64,
    /// An unfinished answer whose stream has not moved for this long, on no instance that is
    /// running it, is taken as dead (its process was killed): the next resume or stop stores
    /// what it said and ends it. Must be longer than the model's longest silence.
    pub abandoned_generation_secs: u64,
    /// `ALLEATO_CHAT__MAX_STEPS`: the most model steps of one answer (a step that calls tools
    /// is followed by another with their results), from 1 to 20. Default: 5, as the original.
    pub max_steps: u32,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            max_message_chars: 32_000,
            guest_messages_per_day: 20,
            regular_messages_per_day: 100,
            finished_stream_ttl_secs: 600,
            abandoned_generation_secs: 600,
            max_steps: 5,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8787)),
            data_dir: PathBuf::from("./data"),
            ephemeral: false,
            cors_origins: Vec::new(),
            trust_forwarded_for: false,
            web_app: true,
            metrics_addr: None,
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 10 * 1024 * 1024,
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            max_connections: 10_000,
            auth: AuthConfig { jwt_secret: None, session_ttl_secs: 7 * 24 * 3600 },
            admin: AdminConfig { api_key: None },
            rate_limit: RateLimitConfig {
                enabled: true,
                api_per_minute: 600,
                auth_per_minute: 10,
                upload_per_minute: 30,
            },
            cloudflare: CloudflareConfig::default(),
            database: DatabaseConfig::default(),
            redis: RedisConfig::default(),
            storage: StorageConfig::default(),
            ai: AiConfig::default(),
            chat: ChatConfig::default(),
            dual_write: DualWriteConfig::default(),
        }
    }
}

/// Accepts either a list or one comma-separated string.
fn comma_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        One(String),
    }
    Ok(match Raw::deserialize(deserializer)? {
        Raw::List(list) => list,
        Raw::One(one) => one.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
    })
}
