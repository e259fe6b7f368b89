//! [`DualObjects`]: object storage over a primary and a secondary store.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::{DualWrite, Scope};
use crate::error::{Error, Result};
use crate::model::StoredObject;
use crate::ports::{ObjectEntry, ObjectStorage, SignedDownload};

/// Object storage over two stores: a `put` or `delete` goes to both (the primary's answer
/// counts), everything else is the primary's (see the [module](super)). A shadowed `get`
/// compares the bytes.
pub struct DualObjects {
    primary: Arc<dyn ObjectStorage>,
    secondary: Arc<dyn ObjectStorage>,
    dual: DualWrite,
}

impl DualObjects {
    /// Object storage over `primary` and `secondary`.
    pub fn new(primary: Arc<dyn ObjectStorage>, secondary: Arc<dyn ObjectStorage>, dual: DualWrite) -> Arc<Self> {
        Arc::new(Self { primary, secondary, dual })
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl ObjectStorage for DualObjects {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<()> {
        self.primary.put(key, bytes.clone(), content_type).await?;
        let write = async {
            match self.secondary.put(key, bytes, content_type).await {
                // A backfill copied it first: keys are never reused, so it holds these bytes.
                Err(Error::Conflict { .. }) => Ok(()),
                other => other,
            }
        };
        self.dual.secondary("put", vec![Scope::Object(key.into())], false, write).await;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>> {
        let found = self.primary.get(key).await?;
        if self.dual.shadowed() {
            // Bytes only: a local directory keeps no content type.
            let (secondary, key) = (self.secondary.clone(), key.to_owned());
            let bytes = found.as_ref().map(|o| o.bytes.clone());
            self.dual.shadow("get", &bytes, async move { Ok(secondary.get(&key).await?.map(|o| o.bytes)) });
        }
        Ok(found)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.primary.delete(key).await?;
        self.dual.secondary("delete", vec![Scope::Object(key.into())], true, self.secondary.delete(key)).await;
        Ok(())
    }

    async fn signed_download_url(&self, key: &str, download: &SignedDownload) -> Result<Option<String>> {
        self.primary.signed_download_url(key, download).await
    }

    fn public_url(&self, key: &str) -> Option<String> {
        self.primary.public_url(key)
    }

    fn list(&self, prefix: &str) -> futures::stream::BoxStream<'static, Result<ObjectEntry>> {
        self.primary.list(prefix)
    }

    async fn ping(&self) -> Result<()> {
        self.primary.ping().await
    }
}
