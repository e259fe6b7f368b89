use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::ids::{ChatId, FileId, UserId};
use crate::time::Timestamp;

/// Metadata of an uploaded file; the bytes live in object storage under `storage_key`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileMeta {
    /// The file's id.
    pub id: FileId,
    /// The user who uploaded it, its owner.
    pub user_id: UserId,
    /// The sanitised original file name.
    pub name: String,
    /// The MIME type checked at upload, recognised from the content.
    pub content_type: String,
    /// The size in bytes.
    pub size: u64,
    /// Where the bytes are in object storage (`files/{user}/{id}`); never sent to clients.
    #[serde(skip)]
    pub storage_key: String,
    /// The chat the file is attached to, if any: a file in a public chat is readable by others.
    pub chat_id: Option<ChatId>,
    /// When the file was uploaded.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(with = "crate::time::wire")]
    pub created_at: Timestamp,
}

/// Bytes read back from object storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The object's content.
    pub bytes: Bytes,
    /// The content type it was stored with, where the storage keeps one.
    pub content_type: Option<String>,
}
