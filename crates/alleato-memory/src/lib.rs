//! Alleato's in-process adapters: everything in this process's memory, nothing survives a
//! restart and nothing is shared between instances. For tests and `--ephemeral` runs.
//!
//! - [`MemoryKv`]: the key-value port.
//! - [`MemoryStreams`]: the streams port, bounded in bytes.
//! - [`CachedKv`]: a read-through cache in front of another key-value store (Workers KV).
//! - [`CachedUsers`]: users by id cached in front of a metered database (D1).
//! - [`PreCountedCounters`]: counters counted here and settled with a metered store in
//!   batches (D1 over its REST API).
//!
//! The embedded, persistent backends are `alleato_sqlite::SqliteKv` and
//! `alleato_sqlite::SqliteStreams`; the shared ones are in `alleato-redis`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod cached;
mod cached_users;
mod memory;
mod precounted;
mod read_through;
mod streams;

pub use cached::CachedKv;
pub use cached_users::CachedUsers;
pub use memory::MemoryKv;
pub use precounted::PreCountedCounters;
pub use streams::MemoryStreams;
