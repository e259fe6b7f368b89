//! Key-value adapters for Alleato's [`KeyValueStore`](alleato_core::ports::KeyValueStore) port.
//!
//! - [`MemoryKv`]: in-process, for tests and `--ephemeral` runs; nothing survives a restart and
//!   nothing is shared between instances.
//!
//! - [`MemoryStreams`]: the streams port in process memory (embedded and in-memory modes).
//!
//! The embedded persistent store is `alleato_sqlite::SqliteKv`.
#![forbid(unsafe_code)]

mod memory;
mod streams;

pub use memory::MemoryKv;
pub use streams::MemoryStreams;
