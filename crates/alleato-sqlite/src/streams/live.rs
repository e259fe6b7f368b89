//! What the store keeps in memory of a stream it is using.

use std::collections::VecDeque;
use std::sync::Arc;

use alleato_core::ports::StreamInfo;
use alleato_core::time::Timestamp;
use bytes::Bytes;
use tokio::sync::watch;

/// A stream this process is using: its header, and its entries not yet on disk.
pub(super) struct Live {
    pub(super) metadata: Arc<[u8]>,
    pub(super) len: u64,
    pub(super) bytes: u64,
    pub(super) done: bool,
    pub(super) created_at: Timestamp,
    pub(super) updated_at: Timestamp,
    pub(super) expires_at: i64,
    /// Entries `1..=written` are on disk; `tail` holds `written + 1..=len`.
    pub(super) written: u64,
    pub(super) tail: VecDeque<Bytes>,
    /// Deleted here, the delete not yet written: reads as absent.
    pub(super) deleted: bool,
    /// Bumped on every append and on finish; followers wait for a change.
    pub(super) version: watch::Sender<u64>,
    /// Set by a stop request, for the writer. Held in memory only: the writer of a stream is
    /// in this process, and a restart ends every generation anyway.
    pub(super) stop: watch::Sender<bool>,
}

impl Live {
    pub(super) fn info(&self) -> StreamInfo {
        StreamInfo {
            metadata: self.metadata.to_vec(),
            len: self.len,
            bytes: self.bytes,
            done: self.done,
            stop_requested: *self.stop.borrow(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// A new, empty stream.
    pub(super) fn new(metadata: Arc<[u8]>, at: Timestamp, expires_at: i64) -> Self {
        Self {
            metadata,
            len: 0,
            bytes: 0,
            done: false,
            created_at: at,
            updated_at: at,
            expires_at,
            written: 0,
            tail: VecDeque::new(),
            deleted: false,
            version: watch::Sender::new(0),
            stop: watch::Sender::new(false),
        }
    }

    pub(super) fn gone(&self, now: i64) -> bool {
        self.deleted || self.expires_at <= now
    }
}

/// A timestamp column of a rusqlite row.
pub(super) fn timestamp(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<alleato_core::time::Timestamp> {
    let text: String = row.get(idx)?;
    alleato_core::time::parse_sortable(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("bad timestamp {text:?}").into(),
        )
    })
}
