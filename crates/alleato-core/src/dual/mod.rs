//! Dual-write: the database ports, and separately object storage, over two stores at once, for
//! moving a live deployment without downtime.
//!
//! Every write goes to the primary first; only when it succeeds does it go to the secondary.
//! The request's answer is the primary's: a secondary that fails (or is still being backfilled,
//! so lacks the row a write refers to) never fails a request. What such a write touched is
//! recorded as a [`RepairEntry`] in a [`RepairLog`], which `alleato migrate copy --repair`
//! reads to make those rows and objects on the secondary equal to the primary's. Deletes are
//! recorded whether or not they fail, because a backfill running at the same time may copy back
//! a row it read before the delete.
//!
//! Reads come from the primary. A fraction of them (`shadow_reads`) is read again from the
//! secondary in the background and compared; mismatches are counted and logged.
//!
//! Conditional writes are replayed as what they did, not as what they asked: a generation the
//! primary's quota allowed is recorded on the secondary without its limit (the secondary may
//! not hold the window's earlier starts yet); a title the primary did not set is not set on the
//! secondary.

mod database;
mod objects;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use self::database::DualDatabase;
pub use self::objects::DualObjects;
use crate::ids::{ChatId, DocumentId, FileId, SuggestionId, UserId};
use crate::model::DualWriteStats;
use crate::ports::Record;
use crate::time::{self, Timestamp};

/// What a secondary write touched: the repair makes everything under it on the secondary equal
/// to the primary's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The user's own rows: the user, its chats, documents, suggestions, files and quota
    /// records (a chat's messages follow the chat).
    User(UserId),
    /// The chat, its messages, votes and stream records, and the files attached to it.
    Chat(ChatId),
    /// Every version of the document and their suggestions.
    Document(DocumentId),
    /// The suggestion's row.
    Suggestion(SuggestionId),
    /// The file's metadata row (its bytes are under an [`Scope::Object`]).
    File(FileId),
    /// A stored object, by key.
    Object(String),
}

impl Scope {
    /// Every scope the row is under: a repair converges the row when any of them is recorded.
    pub fn over(record: &Record) -> Vec<Scope> {
        match record {
            Record::User(u) => vec![Scope::User(u.id)],
            Record::Chat(c) => vec![Scope::User(c.user_id), Scope::Chat(c.id)],
            Record::Message(m) => vec![Scope::Chat(m.chat_id)],
            Record::Vote(v) => vec![Scope::Chat(v.chat_id)],
            Record::Stream(s) => vec![Scope::Chat(s.chat_id)],
            Record::Document(d) => vec![Scope::User(d.user_id), Scope::Document(d.id)],
            Record::Suggestion(s) => {
                vec![Scope::User(s.user_id), Scope::Document(s.document_id), Scope::Suggestion(s.id)]
            }
            Record::File(f) => {
                let mut scopes = vec![Scope::User(f.user_id), Scope::File(f.id)];
                scopes.extend(f.chat_id.map(Scope::Chat));
                scopes
            }
            Record::GenerationStart(g) => vec![Scope::User(g.user_id)],
        }
    }
}

/// One write the secondary may not hold as the primary does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepairEntry {
    /// When the write was made.
    #[serde(with = "crate::time::wire")]
    pub at: Timestamp,
    /// The port method, e.g. `delete_chat`.
    pub operation: String,
    /// What the write touched: what the repair makes equal to the primary's.
    pub scopes: Vec<Scope>,
    /// The secondary's failure; `None` for a delete recorded because a backfill may undo it.
    pub error: Option<String>,
}

/// Where failed secondary writes are recorded for the repair. Recording must not fail the
/// request: an implementation reports its own failures (the entry is also logged).
pub trait RepairLog: Send + Sync + 'static {
    /// Records one entry; never fails the caller.
    fn record(&self, entry: &RepairEntry);
}

/// How a dual-write port behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DualWriteSettings {
    /// The fraction of reads (0 to 1) read again from the secondary and compared.
    pub shadow_reads: f64,
    /// The longest a secondary write may take; a slower one is recorded as failed, and the
    /// request goes on.
    pub secondary_timeout: Duration,
}

/// Shadow reads running at once, at most: past it, reads are not shadowed, so that a slow
/// secondary cannot pile up background reads without bound.
const MAX_SHADOWS_IN_FLIGHT: usize = 256;

/// What the dual-write ports of a process have seen, shared by the database's and storage's.
#[derive(Debug, Default)]
pub struct DualWriteCounters {
    secondary_writes: AtomicU64,
    secondary_failures: AtomicU64,
    shadow_reads: AtomicU64,
    mismatches: AtomicU64,
    shadows_in_flight: AtomicUsize,
}

impl DualWriteCounters {
    /// The counts so far, for `/admin/stats`.
    pub fn snapshot(&self) -> DualWriteStats {
        DualWriteStats {
            secondary_writes: self.secondary_writes.load(Ordering::Relaxed),
            secondary_failures: self.secondary_failures.load(Ordering::Relaxed),
            shadow_reads: self.shadow_reads.load(Ordering::Relaxed),
            mismatches: self.mismatches.load(Ordering::Relaxed),
        }
    }
}

/// What the database and storage decorators share: settings, counters, the log.
#[derive(Clone)]
pub struct DualWrite {
    /// The shadow-read fraction and the secondary's timeout.
    pub settings: DualWriteSettings,
    /// What the decorators have seen, shared by all of them.
    pub counters: Arc<DualWriteCounters>,
    /// Where writes the secondary may lack are recorded.
    pub log: Arc<dyn RepairLog>,
}

impl DualWrite {
    /// Shared state for the decorators, with counters from zero.
    pub fn new(settings: DualWriteSettings, log: Arc<dyn RepairLog>) -> Self {
        Self { settings, counters: Arc::default(), log }
    }

    /// Runs a write on the secondary (after the primary's succeeded). A failure, or a write
    /// that outlasts the timeout, is counted and recorded with `scopes`; a `delete` is recorded
    /// anyway. Returns the secondary's value when it succeeded.
    async fn secondary<T>(
        &self,
        operation: &str,
        scopes: Vec<Scope>,
        delete: bool,
        write: impl Future<Output = crate::Result<T>>,
    ) -> Option<T> {
        self.counters.secondary_writes.fetch_add(1, Ordering::Relaxed);
        let error = match crate::rt::timeout(self.settings.secondary_timeout, write).await {
            Ok(Ok(value)) => {
                if delete {
                    self.record(operation, scopes, None);
                }
                return Some(value);
            }
            Ok(Err(err)) => err.to_string(),
            Err(_) => format!("no answer within {:?}", self.settings.secondary_timeout),
        };
        self.failed(operation, scopes, error);
        None
    }

    /// A secondary write that failed, or did other than the primary's.
    fn failed(&self, operation: &str, scopes: Vec<Scope>, error: String) {
        self.counters.secondary_failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(operation, ?scopes, %error, "dual-write: the secondary missed a write; recorded for repair");
        self.record(operation, scopes, Some(error));
    }

    fn record(&self, operation: &str, scopes: Vec<Scope>, error: Option<String>) {
        self.log.record(&RepairEntry { at: time::now(), operation: operation.into(), scopes, error });
    }

    /// Whether this read is one of the shadowed fraction (and there is room for one more).
    fn shadowed(&self) -> bool {
        let fraction = self.settings.shadow_reads;
        let drawn = fraction >= 1.0 || (fraction > 0.0 && rand::random::<f64>() < fraction);
        drawn && self.counters.shadows_in_flight.load(Ordering::Relaxed) < MAX_SHADOWS_IN_FLIGHT
    }

    /// Reads again from the secondary in the background and compares with the primary's
    /// answer: a mismatch is counted and logged, a failed read is a mismatch too.
    fn shadow<T, F>(&self, what: &'static str, primary: &T, read: F)
    where
        T: PartialEq + Clone + Send + 'static,
        F: Future<Output = crate::Result<T>> + Send + 'static,
    {
        let (counters, expected) = (self.counters.clone(), primary.clone());
        counters.shadows_in_flight.fetch_add(1, Ordering::Relaxed);
        crate::rt::spawn(async move {
            let same = matches!(read.await, Ok(ref found) if *found == expected);
            if !same {
                counters.mismatches.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(read = what, "dual-write: the secondary answered a read differently");
            }
            // Counted last: whoever sees the read counted sees its mismatch too.
            counters.shadow_reads.fetch_add(1, Ordering::Relaxed);
            counters.shadows_in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
}
