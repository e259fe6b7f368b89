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
//!
//! Everything that runs SQLite itself (rusqlite: [`Pool`], [`SqliteKv`], [`SqliteStreams`],
//! `D1Local`) is behind the default feature `rusqlite`. Without it, what is left is the SQL, the
//! [`sql::Executor`] seam and the migrations, which compile for `wasm32-unknown-unknown`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod chats;
mod counters;
mod database;
mod documents;
#[cfg(feature = "rusqlite")]
mod errors;
mod files;
#[cfg(feature = "rusqlite")]
mod kv;
pub mod migrations;
#[cfg(feature = "rusqlite")]
mod pool;
pub mod sql;
#[cfg(feature = "rusqlite")]
mod streams;
mod transfer;
mod users;

pub use database::SqlDatabase;
#[cfg(feature = "rusqlite")]
pub use database::SqliteDatabase;
#[cfg(feature = "rusqlite")]
pub use kv::SqliteKv;
#[cfg(feature = "rusqlite")]
pub use pool::Pool;
#[cfg(feature = "rusqlite")]
pub use streams::SqliteStreams;
