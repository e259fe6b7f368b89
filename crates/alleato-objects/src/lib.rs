//! Object storage for Alleato's [`alleato_core::ports::ObjectStorage`] port, over
//! the `object_store` crate, so every backend it supports is one constructor away.
//!
//! - [`ObjectStoreAdapter::local`]: a directory on disk (the embedded default, `data/objects`).
//! - [`ObjectStoreAdapter::memory`]: in process, for tests and `--ephemeral` runs.
//! - [`ObjectStoreAdapter::s3`]: any S3-compatible service (AWS, MinIO, R2 through its S3 API),
//!   with conditional creates (`If-None-Match: *`) so an upload never overwrites another.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alleato_core::model::StoredObject;
use alleato_core::ports::{ObjectEntry, ObjectStorage, SignedDownload};
use alleato_core::sweep::SweepGate;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::signer::{Method, SignedUrlOptions, Signer};
use object_store::{
    Attribute, Attributes, BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, RetryConfig,
};

const S: Surface = Surface::Storage;

/// How to reach an S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// The bucket's name.
    pub bucket: String,
    /// `None` for AWS itself; e.g. `http://127.0.0.1:8014` or `https://<account>.r2.cloudflarestorage.com`.
    pub endpoint: Option<String>,
    /// The region the requests are signed for (`auto` for R2).
    pub region: String,
    /// The access key; `None` takes credentials from the environment (AWS's usual chain).
    pub access_key_id: Option<String>,
    /// The secret of `access_key_id`.
    pub secret_access_key: Option<String>,
    /// Path-style requests (`endpoint/bucket/key`), which most non-AWS services want.
    pub path_style: bool,
    /// A key prefix inside the bucket.
    pub prefix: Option<String>,
    /// The longest one request (retries included) may take.
    pub timeout: Duration,
    /// Where the bucket is served publicly (an R2 bucket's custom domain or `r2.dev` address),
    /// for [`ObjectStorage::public_url`]: `<public_base_url>/<prefix>/<key>`.
    pub public_base_url: Option<String>,
}

impl S3Settings {
    /// Cloudflare R2 through its S3 API: a preset of these settings, not another adapter.
    /// Endpoint `https://<account_id>.r2.cloudflarestorage.com`, region `auto`, path-style
    /// requests (Cloudflare's "S3 API compatibility" docs; see
    /// `shared/reference/cloudflare-and-test-services.md` §3.1). Credentials are the R2 API
    /// token's S3 access key pair.
    pub fn r2(account_id: &str, bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            endpoint: Some(format!("https://{account_id}.r2.cloudflarestorage.com")),
            region: "auto".into(),
            path_style: true,
            ..Self::default()
        }
    }
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            bucket: String::new(),
            endpoint: None,
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
            path_style: true,
            prefix: None,
            timeout: Duration::from_secs(10),
            public_base_url: None,
        }
    }
}

/// Any `object_store` backend as Alleato object storage.
#[derive(Debug, Clone)]
pub struct ObjectStoreAdapter {
    store: Arc<dyn ObjectStore>,
    /// Whether the backend keeps attributes such as Content-Type (the local file system does not).
    keeps_attributes: bool,
    name: &'static str,
    /// The S3 client itself, to sign download URLs (under the same key prefix as `store`).
    signer: Option<(AmazonS3, ObjectPath)>,
    /// The bucket's public address and the key prefix, when it is served publicly.
    public: Option<(String, ObjectPath)>,
    /// The directory of a local store, swept of abandoned staging files from `put`, at most
    /// once an hour.
    local_dir: Option<std::path::PathBuf>,
    sweep: Arc<SweepGate>,
}

/// Staging files this old are abandoned: no write takes an hour.
const STAGING_AGE: Duration = Duration::from_secs(3600);

impl ObjectStoreAdapter {
    /// Objects as files under `dir` (created if missing).
    pub fn local(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::unavailable(S, e))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(map)?;
        Ok(Self {
            store: Arc::new(store),
            keeps_attributes: false,
            name: "local",
            signer: None,
            public: None,
            local_dir: Some(dir.to_path_buf()),
            sweep: hourly(),
        })
    }

    /// In memory, for tests and `--ephemeral`: nothing survives the process.
    pub fn memory() -> Self {
        Self {
            store: Arc::new(InMemory::new()),
            keeps_attributes: true,
            name: "memory",
            signer: None,
            public: None,
            local_dir: None,
            sweep: hourly(),
        }
    }

    /// An S3-compatible bucket. Every key is stored under `settings.prefix`, so deployments (or
    /// tests) can share a bucket.
    pub fn s3(settings: &S3Settings) -> Result<Self> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_virtual_hosted_style_request(!settings.path_style)
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            // Bounded: an unreachable store must fail a request in seconds, not minutes of retries.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: settings.timeout,
                backoff: BackoffConfig::default(),
            })
            .with_client_options(
                ClientOptions::new().with_timeout(settings.timeout).with_connect_timeout(Duration::from_secs(2)),
            );
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        if let (Some(key), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            builder = builder.with_access_key_id(key).with_secret_access_key(secret);
        }
        let store = builder.build().map_err(|e| Error::backend(S, format!("S3 settings: {e}")))?;
        let prefix = ObjectPath::from(settings.prefix.as_deref().unwrap_or_default());
        let signer = Some((store.clone(), prefix.clone()));
        let public =
            settings.public_base_url.as_ref().map(|base| (base.trim_end_matches('/').to_owned(), prefix.clone()));
        let store: Arc<dyn ObjectStore> = match prefix.as_ref() {
            "" => Arc::new(store),
            _ => Arc::new(PrefixStore::new(store, prefix)),
        };
        Ok(Self { store, keeps_attributes: true, name: "s3", signer, public, local_dir: None, sweep: hourly() })
    }

    /// Wraps any other `object_store` backend.
    pub fn from_store(store: Arc<dyn ObjectStore>, keeps_attributes: bool, name: &'static str) -> Self {
        Self { store, keeps_attributes, name, signer: None, public: None, local_dir: None, sweep: hourly() }
    }

    /// Removes the staging files that writes to a local store left behind when the process
    /// died mid-write (`object_store` writes `<key>#<n>` and renames it into place), once they
    /// are older than `older_than`; returns how many. Other backends have none.
    pub async fn sweep_staging_files(&self, older_than: Duration) -> Result<usize> {
        let Some(dir) = self.local_dir.clone() else { return Ok(0) };
        tokio::task::spawn_blocking(move || sweep_staging(&dir, older_than))
            .await
            .map_err(|e| Error::backend(S, e))?
            .map_err(|e| Error::unavailable(S, e))
    }

    /// Which backend this is (`s3`, `r2`, `local`, `memory`), as the adapter table names it.
    pub fn backend_name(&self) -> &'static str {
        self.name
    }
}

fn hourly() -> Arc<SweepGate> {
    Arc::new(SweepGate::new(STAGING_AGE))
}

fn sweep_staging(dir: &Path, older_than: Duration) -> std::io::Result<usize> {
    let mut removed = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() && entry.file_name().to_string_lossy().contains('#') {
                let age = entry.metadata()?.modified()?.elapsed().unwrap_or_default();
                if age >= older_than {
                    std::fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
        }
    }
    Ok(removed)
}

fn path(key: &str) -> Result<ObjectPath> {
    let valid = !key.is_empty()
        && key.len() <= 1024
        && key.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
    if !valid {
        return Err(Error::bad_request(S, "invalid object key"));
    }
    ObjectPath::parse(key).map_err(|_| Error::bad_request(S, "invalid object key"))
}

fn map(err: object_store::Error) -> Error {
    match err {
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            Error::conflict(S, "an object with this key already exists")
        }
        object_store::Error::NotFound { .. } => Error::not_found(S),
        other => Error::unavailable(S, other),
    }
}

#[async_trait]
impl ObjectStorage for ObjectStoreAdapter {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<()> {
        let location = path(key)?;
        let mut attributes = Attributes::new();
        if self.keeps_attributes {
            attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        }
        let opts = PutOptions { mode: PutMode::Create, attributes, ..Default::default() };
        if let Some(dir) = &self.local_dir
            && self.sweep.due()
        {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || match sweep_staging(&dir, STAGING_AGE) {
                Ok(0) => {}
                Ok(n) => tracing::info!(files = n, "removed half-written upload files"),
                Err(err) => tracing::warn!(error = %err, "could not sweep half-written upload files"),
            });
        }
        self.store.put_opts(&location, bytes.into(), opts).await.map(drop).map_err(map)
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>> {
        let location = path(key)?;
        let result = match self.store.get(&location).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(other) => return Err(map(other)),
        };
        let content_type = result.attributes.get(&Attribute::ContentType).map(|v| v.to_string());
        let bytes = result.bytes().await.map_err(map)?;
        Ok(Some(StoredObject { bytes, content_type }))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let location = path(key)?;
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(other) => Err(map(other)),
        }
    }

    async fn signed_download_url(&self, key: &str, download: &SignedDownload) -> Result<Option<String>> {
        let Some((signer, prefix)) = &self.signer else { return Ok(None) };
        let location: ObjectPath = prefix.parts().chain(path(key)?.parts()).collect();
        // The response headers are part of the signature, so the URL cannot be altered to serve
        // the bytes as something else (an HTML page, say).
        let options = SignedUrlOptions::new().with_query([
            ("response-content-type", download.content_type.as_str()),
            ("response-content-disposition", download.content_disposition.as_str()),
        ]);
        let expires_in = download.expires_in.clamp(Duration::from_secs(1), SignedDownload::MAX_EXPIRES_IN);
        let url = signer.signed_url_opts(Method::GET, &location, expires_in, &options).await.map_err(map)?;
        Ok(Some(url.into()))
    }

    fn public_url(&self, key: &str) -> Option<String> {
        let (base, prefix) = self.public.as_ref()?;
        // Keys are letters, digits, `-`, `_`, `.` and `/` (the port's rule): nothing to escape.
        let location: ObjectPath = prefix.parts().chain(path(key).ok()?.parts()).collect();
        Some(format!("{base}/{location}"))
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectEntry>> {
        let prefix = match path(prefix.trim_end_matches('/')) {
            Ok(prefix) => prefix,
            Err(err) => return futures::stream::once(async move { Err(err) }).boxed(),
        };
        self.store
            .list(Some(&prefix))
            .map(|meta| {
                let meta = meta.map_err(map)?;
                Ok(ObjectEntry { key: meta.location.to_string(), size: meta.size, last_modified: meta.last_modified })
            })
            .boxed()
    }

    async fn ping(&self) -> Result<()> {
        // Listing one level of the root proves the backend answers without touching any object.
        self.store.list_with_delimiter(None).await.map(drop).map_err(map)
    }
}

/// The S3 settings tests use: `ALLEATO_TEST_S3_ENDPOINT` (default the local s3s-fs on port
/// 8014), bucket `alleato-test`, a fresh prefix.
#[cfg(test)]
fn test_s3_settings() -> S3Settings {
    S3Settings {
        bucket: "alleato-test".into(),
        endpoint: Some(std::env::var("ALLEATO_TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:8014".into())),
        region: "auto".into(),
        access_key_id: Some("AKTEST".into()),
        secret_access_key: Some("SKTEST".into()),
        path_style: true,
        prefix: Some(format!("test-{}", std::process::id() as u128 * 1_000_000 + rand_suffix())),
        ..S3Settings::default()
    }
}

#[cfg(test)]
fn rand_suffix() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    u128::from(nanos) * 1000 + u128::from(N.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_or_smuggle() {
        for bad in ["", "../x", "a//b", "a/./b", "a b", "a\\b", "/abs", "a/"] {
            assert!(path(bad).is_err(), "{bad:?}");
        }
        assert!(path("files/0190-abc/0190.def_1").is_ok());
    }

    mod memory {
        alleato_core::objects_conformance!(std::sync::Arc::new(super::ObjectStoreAdapter::memory()));
    }

    mod s3 {
        // A real S3-compatible server (s3s-fs, started by `cargo xtask test`), bucket
        // `alleato-test`, each case under a prefix of its own.
        alleato_core::objects_conformance!(std::sync::Arc::new(
            super::ObjectStoreAdapter::s3(&super::super::test_s3_settings()).expect("S3 settings")
        ));
    }

    mod local {
        alleato_core::objects_conformance!({
            let dir = tempfile::tempdir().unwrap().keep();
            std::sync::Arc::new(super::ObjectStoreAdapter::local(&dir).unwrap())
        });
    }

    fn download(seconds: u64) -> SignedDownload {
        SignedDownload {
            expires_in: Duration::from_secs(seconds),
            content_type: "image/png".into(),
            content_disposition: "inline; filename=\"cat.png\"".into(),
        }
    }

    /// Anyone holding the URL gets the bytes, with the signed type, until it expires; an altered
    /// URL is refused.
    #[tokio::test]
    async fn s3_signs_download_urls() {
        let store = ObjectStoreAdapter::s3(&test_s3_settings()).unwrap();
        store.put("files/u/cat", Bytes::from_static(b"not really a png"), "image/png").await.unwrap();
        let url = store.signed_download_url("files/u/cat", &download(60)).await.unwrap().expect("S3 signs");
        let http = reqwest::Client::new();
        let response = http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/png");
        assert_eq!(&response.bytes().await.unwrap()[..], b"not really a png");

        let altered = url.replace("response-content-type=image%2Fpng", "response-content-type=text%2Fhtml");
        assert_ne!(altered, url, "the type is in the URL: {url}");
        assert_eq!(http.get(&altered).send().await.unwrap().status(), 403, "the type is signed");

        let brief = store.signed_download_url("files/u/cat", &download(1)).await.unwrap().unwrap();
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(http.get(&brief).send().await.unwrap().status(), 403, "expired");
    }

    #[tokio::test]
    async fn abandoned_staging_files_are_swept_once_old() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStoreAdapter::local(dir.path()).unwrap();
        store.put("files/u/kept", Bytes::from_static(b"x"), "image/png").await.unwrap();
        let user_dir = dir.path().join("files/u");
        let old = user_dir.join("half#1");
        std::fs::write(&old, b"half an upload").unwrap();
        let a_day_ago = std::time::SystemTime::now() - Duration::from_secs(24 * 3600);
        std::fs::File::options().write(true).open(&old).unwrap().set_modified(a_day_ago).unwrap();
        let fresh = user_dir.join("writing#2");
        std::fs::write(&fresh, b"being written now").unwrap();

        assert_eq!(store.sweep_staging_files(Duration::from_secs(3600)).await.unwrap(), 1);
        assert!(!old.exists(), "the abandoned one is gone");
        assert!(fresh.exists(), "one being written is left alone");
        assert!(store.get("files/u/kept").await.unwrap().is_some(), "objects are untouched");
        assert_eq!(ObjectStoreAdapter::memory().sweep_staging_files(Duration::ZERO).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn local_and_memory_storage_do_not_sign() {
        let dir = tempfile::tempdir().unwrap();
        for store in [ObjectStoreAdapter::local(dir.path()).unwrap(), ObjectStoreAdapter::memory()] {
            store.put("files/u/cat", Bytes::from_static(b"x"), "image/png").await.unwrap();
            assert_eq!(store.signed_download_url("files/u/cat", &download(60)).await.unwrap(), None);
        }
    }
}
