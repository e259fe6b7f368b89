//! Cloudflare adapters for Alleato, over Cloudflare's REST API (or the proxy Worker in
//! `tests/cf-shim/`, which serves the same paths and envelopes):
//!
//! - [`CloudflareClient`]: one HTTP client per process, with the bearer token, the documented
//!   JSON envelopes, bounded retries where they are safe (`429` after its `retry-after`; `5xx`
//!   for idempotent requests), timeouts, and a request [`Budget`] that every adapter shares, so
//!   the process stays under the account-wide API rate limit (1,200 requests per 5 minutes).
//! - [`D1`]: Cloudflare D1 as an [`Executor`](alleato_sqlite::sql::Executor) of the SQLite
//!   crate's statements, so `SqlDatabase<D1>` runs the same SQL and migrations as the embedded
//!   stack, a port call being one HTTP request (one `batch`) wherever the SQL allows.
//! - [`WorkersKv`]: Workers KV as the key-value port, declaring its 60 s minimum TTL and
//!   eventual consistency; put `alleato_memory::CachedKv` in front of it for sessions, and
//!   `alleato_memory::KvStreams` over it for streams.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod budget;
mod client;
mod d1;
mod kv;

pub use budget::Budget;
pub use client::{Answer, ApiError, CloudflareClient, CloudflareSettings, Method, Request};
pub use d1::D1;
pub use kv::WorkersKv;
