//! Alleato's in-process adapters: everything in this process's memory, nothing survives a
//! restart and nothing is shared between instances. For tests and `--ephemeral` runs.
//!
//! - [`MemoryKv`]: the key-value port.
//! - [`MemoryStreams`]: the streams port, bounded in bytes.
//! - [`CachedKv`]: a read-through cache in front of another key-value store (Workers KV).
//!
//! The embedded, persistent backends are `alleato_sqlite::SqliteKv` and
//! `alleato_sqlite::SqliteStreams`; the shared ones are in `alleato-redis`.
#![forbid(unsafe_code)]

mod cached;
mod memory;
mod streams;

pub use cached::CachedKv;
pub use memory::MemoryKv;
pub use streams::MemoryStreams;
