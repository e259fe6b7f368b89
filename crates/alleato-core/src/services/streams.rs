//! The generic streams resource of the original SDK (`/api/v1/streams`): a client-owned list of
//! JSON values with a 24 h TTL, readable as JSON or followed live.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::Principal;
use super::follow::follow;
use crate::error::{Error, Result, Surface};
use crate::ids::{ChatId, StreamId, UserId};
use crate::ports::StreamStore;
use crate::time::Timestamp;

/// Who a stream belongs to, kept as its metadata: a generation's stream also names its chat.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StreamOwner {
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<ChatId>,
}

impl StreamOwner {
    pub(crate) fn encode(user_id: UserId, chat_id: Option<ChatId>) -> Result<Vec<u8>> {
        serde_json::to_vec(&StreamOwner { user_id, chat_id }).map_err(|e| Error::backend(Surface::Stream, e))
    }
}

/// A stream as the original SDK reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamContents {
    pub id: StreamId,
    pub data: Vec<Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone)]
pub struct StreamService {
    store: Arc<dyn StreamStore>,
}

impl StreamService {
    pub const TTL: Duration = Duration::from_secs(24 * 3600);
    /// Largest single appended value, serialised.
    pub const MAX_ENTRY_BYTES: usize = 64 * 1024;
    pub const MAX_ENTRIES: u64 = 10_000;

    pub fn new(store: Arc<dyn StreamStore>) -> Self {
        Self { store }
    }

    pub async fn create(&self, who: &Principal) -> Result<StreamId> {
        let id = StreamId::new();
        let owner = StreamOwner::encode(who.user_id(), None)?;
        self.store.create(&id.to_string(), &owner, Self::TTL).await?;
        Ok(id)
    }

    /// Checks that the stream exists, belongs to the caller and is one of this resource's, not
    /// a chat's generation (others get `NotFound`).
    async fn owned(&self, who: &Principal, id: StreamId) -> Result<crate::ports::StreamInfo> {
        let info = self.store.info(&id.to_string()).await?.ok_or_else(|| Error::not_found(Surface::Stream))?;
        let owner: Option<StreamOwner> = serde_json::from_slice(&info.metadata).ok();
        match owner {
            Some(owner) if owner.user_id == who.user_id() && owner.chat_id.is_none() => Ok(info),
            _ => Err(Error::not_found(Surface::Stream)),
        }
    }

    pub async fn get(&self, who: &Principal, id: StreamId) -> Result<StreamContents> {
        let info = self.owned(who, id).await?;
        let slice = self
            .store
            .read(&id.to_string(), 0, Self::MAX_ENTRIES as usize)
            .await?
            .ok_or_else(|| Error::not_found(Surface::Stream))?;
        let data =
            slice.entries.into_iter().map(|(_, bytes)| serde_json::from_slice(&bytes).unwrap_or(Value::Null)).collect();
        Ok(StreamContents { id, data, created_at: info.created_at, updated_at: info.updated_at })
    }

    pub async fn append(&self, who: &Principal, id: StreamId, value: &Value) -> Result<u64> {
        let info = self.owned(who, id).await?;
        if info.len >= Self::MAX_ENTRIES {
            return Err(Error::PayloadTooLarge {
                surface: Surface::Stream,
                message: format!("A stream holds at most {} entries.", Self::MAX_ENTRIES).into(),
            });
        }
        let bytes = serde_json::to_vec(value).map_err(|e| Error::backend(Surface::Stream, e))?;
        if bytes.len() > Self::MAX_ENTRY_BYTES {
            return Err(Error::PayloadTooLarge {
                surface: Surface::Stream,
                message: format!("Each appended value must be at most {} bytes of JSON.", Self::MAX_ENTRY_BYTES).into(),
            });
        }
        self.store.append(&id.to_string(), &bytes, Self::TTL).await.map_err(|e| e.on(Surface::Stream))
    }

    pub async fn delete(&self, who: &Principal, id: StreamId) -> Result<()> {
        self.owned(who, id).await?;
        self.store.delete(&id.to_string()).await
    }

    /// Replays the entries after `after` and follows new ones live. A cursor past the end is a
    /// `BadRequest` (a follower never waits at a position that does not exist yet).
    pub async fn follow(
        &self,
        who: &Principal,
        id: StreamId,
        after: u64,
    ) -> Result<futures::stream::BoxStream<'static, Result<(u64, Vec<u8>)>>> {
        let info = self.owned(who, id).await?;
        if after > info.len {
            return Err(Error::bad_request(
                Surface::Stream,
                format!("The cursor {after} is past the end of the stream ({} values).", info.len),
            ));
        }
        Ok(follow(self.store.clone(), id.to_string(), after))
    }
}
