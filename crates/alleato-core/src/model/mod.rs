//! The domain model. These types are also the wire shapes of the API (camelCase JSON), so the
//! server and the SDK cannot drift apart; anything secret is skipped when serialized.

mod chat;
mod document;
mod file;
mod message;
mod user;

pub use chat::{Chat, ChatCursorDirection, ChatPage, StreamRecord, Visibility, Vote};
pub use document::{Document, DocumentKind, Suggestion};
pub use file::{FileMeta, StoredObject};
pub use message::{MessagePart, PartKind, Role, StoredMessage, ToolPart};
pub use user::{Email, Password, User, UserKind};

/// Counts for the admin dashboard.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Regular (registered) accounts.
    pub users: u64,
    /// Guest accounts.
    pub guests: u64,
    /// Chats, of every user.
    pub chats: u64,
    /// Messages, in every chat.
    pub messages: u64,
    /// Documents, each counted once however many versions it has.
    pub documents: u64,
    /// Uploaded files.
    pub files: u64,
    /// The uploaded files' total size in bytes.
    pub file_bytes: u64,
    /// While dual-write is on: what it has seen since this process started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dual_write: Option<DualWriteStats>,
}

/// Dual-write's counts since the process started (see `alleato_core::dual`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DualWriteStats {
    /// Writes sent to the secondary (each after the primary's succeeded).
    pub secondary_writes: u64,
    /// Secondary writes that failed, timed out or did other than the primary's: recorded in
    /// the repair log.
    pub secondary_failures: u64,
    /// Reads read again from the secondary and compared.
    pub shadow_reads: u64,
    /// Shadow reads whose answer differed from the primary's (or failed).
    pub mismatches: u64,
}
