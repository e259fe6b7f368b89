use async_trait::async_trait;
use bytes::Bytes;

use crate::error::Result;
use crate::model::StoredObject;

/// Object storage for uploaded bytes.
///
/// # Contract
/// - `put` never overwrites: an existing key is a `Conflict`.
/// - `get` of a missing key is `Ok(None)`; `delete` of a missing key succeeds.
/// - Keys are `/`-separated paths of ASCII letters, digits, `-`, `_` and `.`.
#[async_trait]
pub trait ObjectStorage: Send + Sync + 'static {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<()>;
    async fn get(&self, key: &str) -> Result<Option<StoredObject>>;
    async fn delete(&self, key: &str) -> Result<()>;
    /// A cheap round trip proving the store answers.
    async fn ping(&self) -> Result<()>;
}
