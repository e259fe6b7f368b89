use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::time::Timestamp;

/// What a stream holds besides its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Opaque to the store (the services keep the owner here).
    pub metadata: Vec<u8>,
    /// How many entries it has; entries are numbered `1..=len`.
    pub len: u64,
    /// The entries' total size in bytes.
    pub bytes: u64,
    /// No more entries will come.
    pub done: bool,
    /// Someone asked the writer to stop ([`StreamStore::request_stop`]).
    pub stop_requested: bool,
    /// When the stream was created.
    pub created_at: Timestamp,
    /// When it last changed: its last append (its creation until the first).
    pub updated_at: Timestamp,
}

/// Entries read from a stream: `(sequence number, bytes)`, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSlice {
    /// The entries read, each with its number.
    pub entries: Vec<(u64, Vec<u8>)>,
    /// Whether the stream was finished when read: no entries will follow these.
    pub done: bool,
}

impl StreamSlice {
    /// Up to `max` of a stream's `entries` (numbered from 1) after `after`, as
    /// [`StreamStore::read`] answers for a store that holds them all.
    ///
    /// ```
    /// use alleato_core::ports::StreamSlice;
    ///
    /// let entries = [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()];
    /// let slice = StreamSlice::of(&entries, 1, 10, false);
    /// assert_eq!(slice.entries, [(2, b"b".to_vec()), (3, b"c".to_vec())]);
    /// // A cursor at (or past) the end reads nothing; `done` says whether more may come.
    /// assert!(StreamSlice::of(&entries, 3, 10, true).entries.is_empty());
    /// ```
    pub fn of(entries: &[Vec<u8>], after: u64, max: usize, done: bool) -> Self {
        let start = usize::try_from(after).unwrap_or(usize::MAX).min(entries.len());
        let entries =
            entries[start..].iter().take(max).enumerate().map(|(i, e)| ((start + i + 1) as u64, e.clone())).collect();
        Self { entries, done }
    }
}

/// What a streams store can promise, declared by each adapter ([`StreamStore::capabilities`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamCapabilities {
    /// How long after `create` returns another instance sharing the store may still read the
    /// stream as absent: zero where a write is seen everywhere once it returns (the embedded
    /// store, Redis). A reader told by the database that a stream exists waits this long for it.
    pub visible_elsewhere_within: Duration,
    /// Appends to one stream must come from one instance at a time, its writer (a generation
    /// runs on one instance, so the services keep to this). An append on another instance
    /// takes the stream over, and entries the previous writer had not yet stored may be lost.
    /// False where any instance may append (Redis, and the stores of one process).
    pub single_writer: bool,
    /// How long a `request_stop` made on another instance may take to end the writer's
    /// `wait_for_stop`: zero where the stop is pushed (Redis pub/sub; one process).
    pub stop_elsewhere_within: Duration,
}

/// Append-only streams with live following: generations and the generic streams resource.
///
/// # Contract
/// - Entries are numbered from 1 in append order; a number is never reused (on a store that
///   declares [`StreamCapabilities::single_writer`], while one instance appends to a stream).
/// - A stream expires `ttl` after its last append (or creation), and `keep` after it is
///   finished (the finish replaces the TTL); expired streams read as absent.
/// - `create` of an existing id is a `Conflict`. A store shared through an eventually
///   consistent backend (Workers KV) detects this only for streams created through the same
///   instance; the services mint every id at random (UUIDv7), so they never rely on more.
/// - `wait` returns as soon as the stream has an entry after `after`, is finished, or is gone,
///   or when `timeout` passes; followers call it between reads, so a stream shared by several
///   instances (Redis) wakes followers on any of them. `after` is a position the caller has
///   read up to, never past the stream's length (services check cursors from clients first).
/// - A stream another instance created may read as absent for up to
///   [`StreamCapabilities::visible_elsewhere_within`] after its `create` returned.
/// - `request_stop` marks the stream (its info shows `stop_requested`) and ends every
///   `wait_for_stop` on it: on the same instance at once, on any other instance that shares
///   the store within [`StreamCapabilities::stop_elsewhere_within`] (zero: pushed, without
///   polling).
#[async_trait]
pub trait StreamStore: Send + Sync + 'static {
    /// Creates an empty stream holding `metadata`, expiring `ttl` from now unless appended to;
    /// `Conflict` if the id exists.
    async fn create(&self, id: &str, metadata: &[u8], ttl: Duration) -> Result<()>;
    /// The stream's state without its entries; `None` if it is missing or has expired.
    async fn info(&self, id: &str) -> Result<Option<StreamInfo>>;
    /// Appends one entry and returns its number; `NotFound` if the stream is missing,
    /// `Conflict` if it is finished. Refreshes the TTL.
    async fn append(&self, id: &str, entry: &[u8], ttl: Duration) -> Result<u64>;
    /// Appends several entries in order, as many `append`s would, and returns the number of
    /// the last (`0` for none, without touching the store). Where the backend is remote, one
    /// round trip: a writer that falls behind catches up in one call.
    async fn append_many(&self, id: &str, entries: &[Vec<u8>], ttl: Duration) -> Result<u64> {
        let mut last = 0;
        for entry in entries {
            last = self.append(id, entry, ttl).await?;
        }
        Ok(last)
    }
    /// Up to `max` entries numbered after `after`; `None` if the stream is missing.
    async fn read(&self, id: &str, after: u64, max: usize) -> Result<Option<StreamSlice>>;
    /// Marks the stream finished and keeps it `keep` longer (however long its TTL had left);
    /// finishing twice is fine, a missing stream is `NotFound`.
    async fn finish(&self, id: &str, keep: Duration) -> Result<()>;
    /// Deletes the stream; a missing one is fine.
    async fn delete(&self, id: &str) -> Result<()>;
    /// Returns once the stream has an entry after `after`, is finished or gone, or `timeout`
    /// passes (see the contract).
    async fn wait(&self, id: &str, after: u64, timeout: Duration) -> Result<()>;
    /// Asks the stream's writer to stop. A missing stream is `NotFound`; a finished one, or
    /// one already asked, is fine.
    async fn request_stop(&self, id: &str) -> Result<()>;
    /// Resolves once a stop is requested for the stream (at once if one already was) or the
    /// stream is gone; until then it stays pending, so the writer races it against its work.
    /// Backend failures are retried inside, not returned.
    async fn wait_for_stop(&self, id: &str);
    /// A cheap round trip proving the store answers.
    async fn ping(&self) -> Result<()>;
    /// What this store promises; the default is a store every instance sees at once.
    fn capabilities(&self) -> StreamCapabilities {
        StreamCapabilities::default()
    }
}
