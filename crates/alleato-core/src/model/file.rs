use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::ids::{ChatId, FileId, UserId};
use crate::time::Timestamp;

/// Metadata of an uploaded file; the bytes live in object storage under `storage_key`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileMeta {
    pub id: FileId,
    pub user_id: UserId,
    /// The sanitised original file name.
    pub name: String,
    pub content_type: String,
    pub size: u64,
    #[serde(skip)]
    pub storage_key: String,
    /// The chat the file is attached to, if any: a file in a public chat is readable by others.
    pub chat_id: Option<ChatId>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(with = "crate::time::wire")]
    pub created_at: Timestamp,
}

/// Bytes read back from object storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub bytes: Bytes,
    pub content_type: Option<String>,
}
