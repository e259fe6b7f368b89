use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::Result;
use crate::model::StoredObject;
use crate::time::Timestamp;

/// An object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    /// The object's key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was written.
    pub last_modified: Timestamp,
}

/// How a signed download presents the object: the storage service answers with these headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDownload {
    /// How long the URL works, at most [`SignedDownload::MAX_EXPIRES_IN`].
    pub expires_in: Duration,
    /// The `Content-Type` the download is answered with.
    pub content_type: String,
    /// The `Content-Disposition` the download is answered with (the file's name).
    pub content_disposition: String,
}

impl SignedDownload {
    /// The longest a signed URL may work: SigV4's limit, on S3 and R2 alike.
    pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(7 * 24 * 3600);
}

/// Object storage for uploaded bytes.
///
/// # Contract
/// - `put` never overwrites: an existing key is a `Conflict`.
/// - `get` of a missing key is `Ok(None)`; `delete` of a missing key succeeds.
/// - Keys are `/`-separated paths of ASCII letters, digits, `-`, `_` and `.`.
#[async_trait]
pub trait ObjectStorage: Send + Sync + 'static {
    /// Stores a new object with its content type; `Conflict` if the key exists.
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<()>;
    /// The object under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<StoredObject>>;
    /// Removes the object; a missing key is fine.
    async fn delete(&self, key: &str) -> Result<()>;
    /// A URL from which anyone holding it can `GET` the object, answered with `download`'s
    /// headers, until `download.expires_in` passes; `Ok(None)` when the backend does not sign
    /// URLs (a local directory, memory), and then the server serves the bytes itself. Signing
    /// happens here, with the store's credentials: it does not check that the object exists.
    async fn signed_download_url(&self, key: &str, download: &SignedDownload) -> Result<Option<String>> {
        let _ = (key, download);
        Ok(None)
    }
    /// The object's permanent public URL, when the bucket is served publicly (an R2 bucket's
    /// public domain, `R2_PUBLIC_URL`): anyone who knows it can read the object, for good.
    /// `None` for a private store, the usual case.
    fn public_url(&self, key: &str) -> Option<String> {
        let _ = key;
        None
    }
    /// Every object whose key starts with `prefix` (a whole path segment: `files/` or `files`),
    /// in no particular order, read lazily: for sweeps over the whole store.
    fn list(&self, prefix: &str) -> futures::stream::BoxStream<'static, Result<ObjectEntry>>;
    /// A cheap round trip proving the store answers.
    async fn ping(&self) -> Result<()>;
}
