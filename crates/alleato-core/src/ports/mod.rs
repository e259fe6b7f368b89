//! The ports: object-safe async traits that adapters implement and services use, held as
//! `Arc<dyn Port>`.
//!
//! # Contract shared by every port
//! - Every method is atomic on its own; no port offers a transaction across calls, because D1
//!   over HTTP and Workers KV cannot hold one.
//! - Lookups return `Ok(None)` for a missing item; a mutation of a missing item returns
//!   [`Error::NotFound`](crate::Error::NotFound).
//! - A broken uniqueness rule returns [`Error::Conflict`](crate::Error::Conflict).
//! - A backend that cannot be reached returns [`Error::Unavailable`](crate::Error::Unavailable);
//!   any other backend failure returns [`Error::Backend`](crate::Error::Backend).

mod changes;
mod counters;
mod database;
mod kv;
mod model;
mod objects;
mod streams;
mod transfer;

pub use changes::{Change, ChangeFeed, ChangeListener};
pub use counters::{Counter, CounterAdd, Counters, check_adds, counter_window};
pub use database::{
    ChatStore, Database, DatabaseAdmin, DocumentStore, FileStore, GenerationBegin, GenerationBegun, GenerationStart,
    QuotaUse, SessionRevocation, TitleUpdate, UserStore,
};
pub use kv::{Consistency, KeyValueStore, KvCapabilities, MAX_KEY_BYTES, check_key};
pub use model::{LanguageModel, ModelEvent, ModelRequest, PromptMessage, ToolCall, ToolDefinition, ToolResult};
pub use objects::{ObjectEntry, ObjectStorage, SignedDownload};
pub use streams::{StreamCapabilities, StreamInfo, StreamSlice, StreamStore};
pub use transfer::{DatabaseTransfer, GenerationRecord, Record, RowKey, SchemaVersion, Table};
