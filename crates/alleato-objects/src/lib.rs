//! Object storage for Alleato's [`ObjectStorage`](alleato_core::ports::ObjectStorage) port, over
//! the `object_store` crate, so every backend it supports is one constructor away.
//!
//! - [`ObjectStoreAdapter::local`]: a directory on disk (the embedded default, `data/objects`).
//! - [`ObjectStoreAdapter::memory`]: in process, for tests and `--ephemeral` runs.
#![forbid(unsafe_code)]

use std::path::Path;
use std::sync::Arc;

use alleato_core::model::StoredObject;
use alleato_core::ports::ObjectStorage;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use bytes::Bytes;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, PutMode, PutOptions};

const S: Surface = Surface::Storage;

/// Any `object_store` backend as Alleato object storage.
#[derive(Debug, Clone)]
pub struct ObjectStoreAdapter {
    store: Arc<dyn ObjectStore>,
    /// Whether the backend keeps attributes such as Content-Type (the local file system does not).
    keeps_attributes: bool,
    name: &'static str,
}

impl ObjectStoreAdapter {
    /// Objects as files under `dir` (created if missing).
    pub fn local(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::unavailable(S, e))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(map)?;
        Ok(Self { store: Arc::new(store), keeps_attributes: false, name: "local" })
    }

    pub fn memory() -> Self {
        Self { store: Arc::new(InMemory::new()), keeps_attributes: true, name: "memory" }
    }

    /// Wraps any other `object_store` backend.
    pub fn from_store(store: Arc<dyn ObjectStore>, keeps_attributes: bool, name: &'static str) -> Self {
        Self { store, keeps_attributes, name }
    }

    pub fn backend_name(&self) -> &'static str {
        self.name
    }
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

    async fn ping(&self) -> Result<()> {
        // Listing one level of the root proves the backend answers without touching any object.
        self.store.list_with_delimiter(None).await.map(drop).map_err(map)
    }
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

    mod local {
        alleato_core::objects_conformance!({
            let dir = tempfile::tempdir().unwrap().keep();
            std::sync::Arc::new(super::ObjectStoreAdapter::local(&dir).unwrap())
        });
    }
}
