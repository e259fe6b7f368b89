//! Alleato's in-process adapters: everything in this process's memory, nothing survives a
//! restart and nothing is shared between instances. For tests and `--ephemeral` runs.
//!
//! - [`MemoryKv`]: the key-value port.
//! - [`MemoryStreams`]: the streams port, bounded in bytes.
//!
//! The embedded, persistent backends are `alleato_sqlite::SqliteKv` and
//! `alleato_sqlite::SqliteStreams`; the shared ones are in `alleato-redis`.
#![forbid(unsafe_code)]

mod memory;
mod streams;

pub use memory::MemoryKv;
pub use streams::MemoryStreams;
