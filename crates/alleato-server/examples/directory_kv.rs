//! A key-value store written outside Alleato's adapters, over a backend of its own (a plain
//! directory, one file per key), proven by the same conformance suite every adapter passes
//! (`alleato-core`'s `testkit` feature exports it), then serving Alleato's sessions in place of
//! the configured store (`Builder::kv`).
//!
//! ```sh
//! cargo run -p alleato-server --example directory_kv            # serves until Ctrl+C
//! cargo run -p alleato-server --example directory_kv -- --smoke # checks itself and exits
//! ```
//!
//! In a crate of your own: depend on `alleato-core` with `features = ["testkit"]` (as a
//! dev-dependency) and `tokio`, then either run the suite from an async function, as here, or
//! expand it into one `#[tokio::test]` per case:
//!
//! ```ignore
//! mod directory_kv {
//!     alleato_core::kv_conformance!(std::sync::Arc::new(DirectoryKv::new(fresh_dir())));
//! }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alleato_core::ports::{KeyValueStore, check_key};
use alleato_core::{Error, Result, Surface};
use alleato_server::{Builder, Config};
use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

/// One file per key, named by a UUID derived from the key; the file holds the expiry
/// (milliseconds since the epoch, 0 for none), the key and the value. A write goes to a
/// temporary file renamed over the old one, so a reader sees the old value or the new, whole.
struct DirectoryKv {
    dir: PathBuf,
}

struct Entry {
    key: String,
    value: Vec<u8>,
    expires_ms: u64,
}

impl DirectoryKv {
    fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn path(&self, key: &str) -> PathBuf {
        let name = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, key.as_bytes());
        self.dir.join(name.simple().to_string())
    }

    /// The live entry of a file; an expired one is removed on the way.
    async fn read(&self, path: PathBuf) -> Result<Option<Entry>> {
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let entry = decode(&bytes).ok_or_else(|| Error::backend(Surface::KeyValue, "a corrupt entry file"))?;
        if entry.expires_ms != 0 && entry.expires_ms <= now_ms() {
            let _ = tokio::fs::remove_file(&path).await;
            return Ok(None);
        }
        Ok(Some(entry))
    }
}

#[async_trait]
impl KeyValueStore for DirectoryKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get_with_ttl(key).await?.map(|(value, _)| value))
    }

    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<Duration>)>> {
        check_key(Surface::KeyValue, key)?;
        Ok(self.read(self.path(key)).await?.map(|entry| {
            let left =
                (entry.expires_ms != 0).then(|| Duration::from_millis(entry.expires_ms.saturating_sub(now_ms())));
            (entry.value, left)
        }))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        check_key(Surface::KeyValue, key)?;
        let expires_ms = ttl.map_or(0, |ttl| now_ms() + self.capabilities().ttl(ttl).as_millis() as u64);
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        let path = self.path(key);
        let temporary = path.with_extension(uuid::Uuid::new_v4().simple().to_string());
        tokio::fs::write(&temporary, encode(key, value, expires_ms)).await.map_err(io)?;
        tokio::fs::rename(&temporary, &path).await.map_err(io)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(Surface::KeyValue, key)?;
        match tokio::fs::remove_file(self.path(key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }

    async fn ping(&self) -> Result<()> {
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)
    }

    fn keys(&self, prefix: &str) -> BoxStream<'static, Result<String>> {
        let (store, prefix) = (DirectoryKv::new(self.dir.clone()), prefix.to_owned());
        stream::once(async move {
            let mut keys = Vec::new();
            let mut entries = match tokio::fs::read_dir(&store.dir).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return stream::iter(keys),
                Err(e) => return stream::iter(vec![Err(io(e))]),
            };
            loop {
                match entries.next_entry().await {
                    Ok(Some(file)) if file.path().extension().is_none() => match store.read(file.path()).await {
                        Ok(Some(entry)) if entry.key.starts_with(&prefix) => keys.push(Ok(entry.key)),
                        Ok(_) => {}
                        Err(e) => keys.push(Err(e)),
                    },
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        keys.push(Err(io(e)));
                        break;
                    }
                }
            }
            stream::iter(keys)
        })
        .flatten()
        .boxed()
    }
}

fn encode(key: &str, value: &[u8], expires_ms: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(10 + key.len() + value.len());
    bytes.extend_from_slice(&expires_ms.to_le_bytes());
    bytes.extend_from_slice(&(key.len() as u16).to_le_bytes());
    bytes.extend_from_slice(key.as_bytes());
    bytes.extend_from_slice(value);
    bytes
}

fn decode(bytes: &[u8]) -> Option<Entry> {
    let expires_ms = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let key_len = u16::from_le_bytes(bytes.get(8..10)?.try_into().ok()?) as usize;
    let key = String::from_utf8(bytes.get(10..10 + key_len)?.to_vec()).ok()?;
    Some(Entry { key, value: bytes.get(10 + key_len..)?.to_vec(), expires_ms })
}

fn now_ms() -> u64 {
    u64::try_from(alleato_core::time::unix_millis()).unwrap_or(0)
}

fn io(err: std::io::Error) -> Error {
    Error::backend(Surface::KeyValue, format!("directory store: {err}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::temp_dir().join(format!("alleato-directory-kv-{}", uuid::Uuid::new_v4().simple()));
    // Every case of the key-value contract, each on a fresh directory, all at once (the TTL
    // cases mostly wait). A failed case panics with the contract's own message.
    alleato_core::kv_conformance!(@together Arc::new(DirectoryKv::new(base.join(uuid::Uuid::new_v4().simple().to_string()))));
    println!("directory_kv: the key-value conformance suite passes");

    // Then the sessions of a whole Alleato live in it; everything else as configured.
    let sessions = base.join("sessions");
    let config = Config { ephemeral: true, web_app: false, ..Config::default() };
    let kv = Arc::new(DirectoryKv::new(sessions.clone()));
    let alleato = Builder::new(config).kv(format!("directory ({})", sessions.display()), kv).build().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = alleato.router().into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    if std::env::args().any(|a| a == "--smoke") {
        smoke(addr, &sessions).await?;
        println!("directory_kv: ok (sessions kept in {})", sessions.display());
    } else {
        println!("http://{addr}/api/v1/ with sessions in {}; Ctrl+C stops", sessions.display());
        tokio::signal::ctrl_c().await?;
    }
    server.abort();
    alleato.shutdown().await;
    let _ = std::fs::remove_dir_all(&base);
    Ok(())
}

/// A guest session is a file in the directory, the session works, and a logout removes it.
async fn smoke(addr: SocketAddr, sessions: &std::path::Path) -> anyhow::Result<()> {
    let files = || std::fs::read_dir(sessions).map(|d| d.flatten().filter(|e| e.path().is_file()).count()).unwrap_or(0);
    let alleato = alleato_sdk::Client::new(format!("http://{addr}"));
    let health = alleato.health().await?;
    let row = health.adapters.iter().find(|a| a.port == "key-value").map(|a| a.backend.as_str());
    anyhow::ensure!(row.is_some_and(|b| b.starts_with("directory")), "the adapter table names the store: {row:?}");
    let session = alleato.guest().await?;
    anyhow::ensure!(files() == 1, "the session is one file in the directory ({} found)", files());
    let signed_in = alleato.with_token(&session.token);
    signed_in.create_chat(&Default::default()).await?;
    signed_in.logout().await?;
    anyhow::ensure!(files() == 0, "the logout removed the session's file ({} left)", files());
    anyhow::ensure!(signed_in.create_chat(&Default::default()).await.is_err(), "the token no longer works");
    Ok(())
}
