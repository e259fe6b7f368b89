//! Alleato's in-process adapters and the decorators built from them: what this process keeps in
//! memory. The adapters (nothing survives a restart, nothing is shared between instances) serve
//! tests and `--ephemeral` runs; the decorators serve production stacks in front of a slow,
//! metered or eventually consistent store.
//!
//! - [`MemoryKv`]: the key-value port.
//! - [`MemoryStreams`]: the streams port, bounded in bytes.
//! - [`CachedKv`]: a read-through cache in front of another key-value store (Workers KV).
//! - [`CachedUsers`]: users by id cached in front of a database (D1, or any beside Redis).
//! - [`KvStreams`]: the streams port over any key-value store with Workers KV's limits (one
//!   write per second per key, eventual consistency, no atomic operation): the writing instance
//!   holds each stream in a [`MemoryStreams`] and flushes it as one value.
//! - [`PreCountedCounters`]: counters counted here and settled with a metered store in
//!   batches (D1 over its REST API).
//!
//! The embedded, persistent backends are `alleato_sqlite::SqliteKv` and
//! `alleato_sqlite::SqliteStreams`; the shared ones are in `alleato-redis`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod cached;
mod cached_users;
mod kv_streams;
mod memory;
mod precounted;
mod read_through;
mod streams;

pub use cached::CachedKv;
pub use cached_users::CachedUsers;
pub use kv_streams::{KvStreams, KvStreamsSettings};
pub use memory::MemoryKv;
pub use precounted::PreCountedCounters;
pub use streams::MemoryStreams;
