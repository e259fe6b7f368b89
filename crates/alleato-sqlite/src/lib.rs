//! SQLite adapters for Alleato:
//!
//! - [`SqlDatabase`]: every database port (users, chats, documents, file metadata, admin),
//!   written once in the SQLite dialect that Cloudflare D1 also accepts, over an
//!   [`sql::Executor`]. [`SqliteDatabase`] runs it on one local SQLite file in WAL mode with
//!   foreign keys on (or privately in memory) through rusqlite's [`Pool`]. Migrations are in
//!   `migrations/sqlite/`.
//!   It also serves the counters port (rate limits) for stacks whose key-value store cannot
//!   count (Workers KV); [`sql::d1::D1Local`] is D1's local stand-in.
//! - [`SqliteKv`]: the embedded, persistent key-value store.
//! - [`SqliteStreams`]: the embedded streams store, on disk, written in groups.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod chats;
mod counters;
mod database;
mod documents;
mod errors;
mod files;
mod kv;
pub mod migrations;
mod pool;
pub mod sql;
mod streams;
mod transfer;
mod users;

pub use database::{SqlDatabase, SqliteDatabase};
pub use kv::SqliteKv;
pub use pool::Pool;
pub use streams::SqliteStreams;
