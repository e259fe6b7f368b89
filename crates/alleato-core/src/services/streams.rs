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
use crate::ports::{Counters, StreamStore};
use crate::time::{Timestamp, now};

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

/// A stream's values, read a page at a time, so a reader holds one page, never the whole
/// stream, however many read it at once.
pub struct StreamPages {
    store: Arc<dyn StreamStore>,
    /// The stream's id.
    pub id: StreamId,
    /// When the stream was created.
    pub created_at: Timestamp,
    /// When a value was last appended (the creation time before the first).
    pub updated_at: Timestamp,
    cursor: u64,
    /// The length when reading began: values appended meanwhile are not part of this read.
    end: u64,
}

impl StreamPages {
    /// Values per page. With values of at most [`StreamService::MAX_ENTRY_BYTES`] and streams
    /// of at most [`StreamService::MAX_STREAM_BYTES`], a page is at most that big.
    pub const PAGE: usize = 64;

    /// The next page of values, each the JSON text appended; `None` at the end.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Vec<u8>>>> {
        if self.cursor >= self.end {
            return Ok(None);
        }
        let max = Self::PAGE.min((self.end - self.cursor) as usize);
        let Some(slice) = self.store.read(&self.id.to_string(), self.cursor, max).await? else {
            return Ok(None); // deleted or expired while being read
        };
        let Some((last, _)) = slice.entries.last() else { return Ok(None) };
        self.cursor = *last;
        Ok(Some(slice.entries.into_iter().map(|(_, bytes)| bytes).collect()))
    }
}

/// The generic streams resource: each stream is private to the user who created it; anyone
/// else, and a chat's generation stream, gets `NotFound`.
#[derive(Clone)]
pub struct StreamService {
    store: Arc<dyn StreamStore>,
    counters: Arc<dyn Counters>,
}

impl StreamService {
    /// A stream lives this long from its creation; appends do not extend it.
    pub const TTL: Duration = Duration::from_secs(24 * 3600);
    /// Largest single appended value, serialised.
    pub const MAX_ENTRY_BYTES: usize = 64 * 1024;
    /// Most values one stream holds.
    pub const MAX_ENTRIES: u64 = 10_000;
    /// Most bytes of values one stream holds.
    pub const MAX_STREAM_BYTES: u64 = 1024 * 1024;
    /// Most streams one user may create per 24 hours. With [`Self::TTL`] counted from creation,
    /// a user holds at most twice this many at once, so at most
    /// `2 * MAX_STREAMS_PER_DAY * MAX_STREAM_BYTES` (128 MiB) of values.
    pub const MAX_STREAMS_PER_DAY: u32 = 64;

    /// The service over the streams port, with the counters port for the daily creation limit.
    pub fn new(store: Arc<dyn StreamStore>, counters: Arc<dyn Counters>) -> Self {
        Self { store, counters }
    }

    /// A new stream of the caller's; at most [`Self::MAX_STREAMS_PER_DAY`] a day.
    pub async fn create(&self, who: &Principal) -> Result<StreamId> {
        let created = self.counters.increment(&format!("streams-created:{}", who.user_id()), Self::TTL).await?;
        if created.count > u64::from(Self::MAX_STREAMS_PER_DAY) {
            let retry_after_secs = created.resets_in.as_secs().max(1);
            return Err(Error::RateLimited {
                surface: Surface::Stream,
                message: format!(
                    "You have created {} streams in the last 24 hours, the most one account may; try again in {} minutes.",
                    Self::MAX_STREAMS_PER_DAY,
                    retry_after_secs.div_ceil(60)
                )
                .into(),
                retry_after_secs,
            });
        }
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

    /// The stream's values, to be read page by page.
    pub async fn pages(&self, who: &Principal, id: StreamId) -> Result<StreamPages> {
        let info = self.owned(who, id).await?;
        Ok(StreamPages {
            store: self.store.clone(),
            id,
            created_at: info.created_at,
            updated_at: info.updated_at,
            cursor: 0,
            end: info.len,
        })
    }

    /// Appends a JSON value to one of the caller's streams and returns its number (from 1).
    /// `PayloadTooLarge` when the value is over [`Self::MAX_ENTRY_BYTES`] or the stream would
    /// pass [`Self::MAX_ENTRIES`] or [`Self::MAX_STREAM_BYTES`].
    pub async fn append(&self, who: &Principal, id: StreamId, value: &Value) -> Result<u64> {
        let info = self.owned(who, id).await?;
        let full = |message: String| Error::PayloadTooLarge { surface: Surface::Stream, message: message.into() };
        if info.len >= Self::MAX_ENTRIES {
            return Err(full(format!("A stream holds at most {} values.", Self::MAX_ENTRIES)));
        }
        let bytes = serde_json::to_vec(value).map_err(|e| Error::backend(Surface::Stream, e))?;
        if bytes.len() > Self::MAX_ENTRY_BYTES {
            return Err(full(format!("Each appended value must be at most {} bytes of JSON.", Self::MAX_ENTRY_BYTES)));
        }
        if info.bytes + bytes.len() as u64 > Self::MAX_STREAM_BYTES {
            return Err(full(format!(
                "A stream holds at most {} bytes of values; this one has {}.",
                Self::MAX_STREAM_BYTES,
                info.bytes
            )));
        }
        // The stream's end stays where its creation put it.
        let left = (info.created_at + chrono::Duration::from_std(Self::TTL).unwrap_or_default() - now())
            .to_std()
            .unwrap_or_default()
            .max(Duration::from_secs(1));
        self.store.append(&id.to_string(), &bytes, left).await.map_err(|e| e.on(Surface::Stream))
    }

    /// Deletes one of the caller's streams.
    pub async fn delete(&self, who: &Principal, id: StreamId) -> Result<()> {
        self.owned(who, id).await?;
        self.store.delete(&id.to_string()).await
    }

    /// Replays the entries after `after` and follows new ones live. A cursor past the end is a
    /// `Conflict` with the stream as it is now (a follower never waits at a position that does
    /// not exist yet); the same cursor may be fine once the stream has grown.
    pub async fn follow(
        &self,
        who: &Principal,
        id: StreamId,
        after: u64,
    ) -> Result<futures::stream::BoxStream<'static, Result<(u64, Vec<u8>)>>> {
        let info = self.owned(who, id).await?;
        if after > info.len {
            return Err(Error::conflict(
                Surface::Stream,
                format!("The cursor {after} is past the end of the stream ({} values).", info.len),
            ));
        }
        Ok(follow(self.store.clone(), id.to_string(), after))
    }
}
