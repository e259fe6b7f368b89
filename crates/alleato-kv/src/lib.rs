//! Key-value adapters for Alleato's [`KeyValueStore`](alleato_core::ports::KeyValueStore) port.
//!
//! - [`MemoryKv`]: in-process, for tests and `--ephemeral` runs; nothing survives a restart and
//!   nothing is shared between instances.
//!
//! The embedded persistent store is `alleato_sqlite::SqliteKv`.
#![forbid(unsafe_code)]

mod memory;

pub use memory::MemoryKv;
