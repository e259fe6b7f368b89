use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{ChatId, DocumentId, FileId, MessageId, SessionId, StreamId, SuggestionId, UserId};
use crate::model::{Chat, ChatPage, Document, FileMeta, Stats, StoredMessage, StreamRecord, Suggestion, User, Vote};
use crate::time::Timestamp;

use super::DatabaseTransfer;

/// User accounts.
///
/// # Contract
/// - Emails are unique (compared as stored; the service normalises them first): inserting or
///   updating to a taken email is a `Conflict`.
/// - Deleting a user deletes everything it owns (chats, messages, votes, streams, documents,
///   suggestions, file metadata) in the same atomic step. Stored objects are the caller's job.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Stores a new user; `Conflict` if the id or the email is taken.
    async fn insert_user(&self, user: &User) -> Result<()>;
    /// The user with this id, if any.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>>;
    /// The user with exactly this (already normalised) email, if any.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// Replaces email, kind and password hash. `NotFound` if the user is gone.
    async fn update_user(&self, user: &User) -> Result<()>;
    /// Deletes the user and everything it owns; `NotFound` if there is no such user.
    async fn delete_user(&self, id: UserId) -> Result<()>;
    /// Records a logout for the other instances to read (the services' `Revocations`),
    /// and drops the records of logouts before `forget_before`. Recording one twice is fine.
    async fn revoke_session(&self, revocation: &SessionRevocation, forget_before: Timestamp) -> Result<()>;
    /// The logouts recorded at or after `since`, oldest first.
    async fn revoked_sessions(&self, since: Timestamp) -> Result<Vec<SessionRevocation>>;
}

/// A logout, as every instance learns of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRevocation {
    /// The session logged out.
    pub session: SessionId,
    /// When it was logged out.
    pub revoked_at: Timestamp,
}

/// Chats and everything that hangs off them: messages, votes and stream records.
///
/// # Contract
/// - `list_chats` orders newest first (by `created_at`, then id) and returns at most
///   `page.limit` chats. A cursor that names no chat of this user is a `NotFound`.
/// - Deleting a chat deletes its messages, votes and stream records; files attached to it stay
///   (they belong to the user) but are detached.
/// - `insert_messages` stores all the messages or none; an existing id is a `Conflict`.
/// - `set_vote` upserts; it is `NotFound` when the message is not in that chat.
#[async_trait]
pub trait ChatStore: Send + Sync + 'static {
    /// Stores a new chat; `Conflict` on an existing id, `NotFound` if the owner is missing.
    async fn insert_chat(&self, chat: &Chat) -> Result<()>;
    /// The chat with this id, if any, whoever owns it.
    async fn chat(&self, id: ChatId) -> Result<Option<Chat>>;
    /// A page of the user's chats, newest first (see the contract).
    async fn list_chats(&self, user: UserId, page: &ChatPage) -> Result<Vec<Chat>>;
    /// Replaces title, visibility and `updated_at`.
    async fn update_chat(&self, chat: &Chat) -> Result<()>;
    /// Sets the title (and `updated_at`) only while the chat's title is still `expected`, so a
    /// title chosen in the background never overwrites the owner's rename, nor anything else
    /// about the chat. Returns whether it was set; a missing chat is `false`.
    async fn set_title_if(&self, id: ChatId, expected: &str, title: &str, at: Timestamp) -> Result<bool>;
    /// Deletes the chat with its messages, votes and stream records; `NotFound` if it is
    /// missing.
    async fn delete_chat(&self, id: ChatId) -> Result<()>;
    /// Deletes all of a user's chats; returns how many.
    async fn delete_chats_of(&self, user: UserId) -> Result<u64>;

    /// Stores the messages, all or none; `Conflict` on an existing id, `NotFound` if a chat
    /// is missing.
    async fn insert_messages(&self, messages: &[StoredMessage]) -> Result<()>;
    /// Messages of a chat, oldest first.
    async fn messages(&self, chat: ChatId) -> Result<Vec<StoredMessage>>;
    /// The chat and its messages (none if it is missing): one round trip where the backend
    /// charges per call.
    async fn chat_with_messages(&self, id: ChatId) -> Result<Option<(Chat, Vec<StoredMessage>)>> {
        let Some(chat) = self.chat(id).await? else { return Ok(None) };
        Ok(Some((chat, self.messages(id).await?)))
    }
    /// The message with this id, in whichever chat, if any.
    async fn message(&self, id: MessageId) -> Result<Option<StoredMessage>>;
    /// Deletes the messages of `chat` created at or after `from`, and their votes.
    async fn delete_messages_from(&self, chat: ChatId, from: Timestamp) -> Result<u64>;
    /// Counts a generation the user starts at `start.at` against at most `start.limit` since
    /// `start.since`: records it only while fewer were recorded in that window. Atomic across
    /// every caller and instance; nothing else (deleting chats or messages) changes the count.
    /// Records older than `since` may be dropped. `NotFound` if the user is gone.
    async fn take_generation_quota(&self, start: &GenerationStart) -> Result<QuotaUse>;
    /// The chat and a message (either may be missing; the message may be of another chat), as
    /// a send reads them before it writes: one round trip where the backend charges per call.
    async fn chat_and_message(
        &self,
        chat: ChatId,
        message: MessageId,
    ) -> Result<(Option<Chat>, Option<StoredMessage>)> {
        Ok((self.chat(chat).await?, self.message(message).await?))
    }
    /// Starts a generation in one atomic step: takes the quota as
    /// [`ChatStore::take_generation_quota`] does and, only when it is allowed, creates
    /// `new_chat`, deletes the chat's messages from `delete_from` on, and inserts the message
    /// and the stream record. Then reads the chat's messages. A refused start writes nothing
    /// else (and reads no history); a `new_chat` whose id exists is a `Conflict` that writes
    /// nothing, the quota included. `NotFound` if the user is gone.
    async fn begin_generation(&self, begin: &GenerationBegin) -> Result<GenerationBegun>;
    /// Stores what a generation produced in one atomic step: the answer, and the background
    /// title as [`ChatStore::set_title_if`] would set it. Returns whether the title was set.
    async fn finish_generation(&self, answer: Option<&StoredMessage>, title: Option<&TitleUpdate>) -> Result<bool>;

    /// Sets the vote on a message, replacing any earlier one; `NotFound` when the message is
    /// not in that chat.
    async fn set_vote(&self, vote: &Vote) -> Result<()>;
    /// The votes on a chat's messages.
    async fn votes(&self, chat: ChatId) -> Result<Vec<Vote>>;

    /// Records a generation's stream for its chat; `Conflict` on an existing id, `NotFound` if
    /// the chat is missing.
    async fn insert_stream(&self, stream: &StreamRecord) -> Result<()>;
    /// Stream records of a chat, oldest first.
    async fn streams(&self, chat: ChatId) -> Result<Vec<StreamRecord>>;
}

/// A generation about to start, counted against the user's quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationStart {
    /// The generation's stream id: one record per generation.
    pub id: StreamId,
    /// The user starting it, whose quota it counts against.
    pub user: UserId,
    /// When it starts.
    pub at: Timestamp,
    /// The window's start: records before it do not count.
    pub since: Timestamp,
    /// The most generations the window may hold, this one included.
    pub limit: u64,
}

/// What [`ChatStore::take_generation_quota`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUse {
    /// Whether this generation was recorded (the quota had room).
    pub allowed: bool,
    /// Generations in the window, this one included when allowed.
    pub used: u64,
    /// The oldest generation in the window, for when the quota frees up.
    pub oldest: Option<Timestamp>,
}

/// Everything starting a generation writes ([`ChatStore::begin_generation`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationBegin {
    /// The quota to take first; nothing else is written when it is refused.
    pub quota: GenerationStart,
    /// The chat this message starts, when it is new.
    pub new_chat: Option<Chat>,
    /// Regenerating: the chat's messages created at or after this go first (with their votes).
    pub delete_from: Option<Timestamp>,
    /// The user's message.
    pub message: StoredMessage,
    /// The record of the stream the answer goes to.
    pub stream: StreamRecord,
}

/// What [`ChatStore::begin_generation`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationBegun {
    /// What the quota allowed: when `allowed` is false, nothing was written.
    pub quota: QuotaUse,
    /// The chat's messages after the writes, oldest first; empty when the quota refused.
    pub history: Vec<StoredMessage>,
}

/// A title chosen in the background, set only while the chat's title is still `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleUpdate {
    /// The chat to title.
    pub chat: ChatId,
    /// The title the chat must still have (the default) for the new one to be set.
    pub expected: String,
    /// The new title.
    pub title: String,
    /// When it was chosen: the chat's new `updated_at`.
    pub at: Timestamp,
}

/// Versioned documents and their suggestions.
///
/// # Contract
/// - A version is identified by `(id, created_at)`; inserting an existing pair is a `Conflict`.
/// - `delete_versions_after` removes the versions created strictly after `after` and the
///   suggestions tied to them, and returns the removed versions.
#[async_trait]
pub trait DocumentStore: Send + Sync + 'static {
    /// Stores a version; `Conflict` if that `(id, created_at)` exists.
    async fn insert_document(&self, document: &Document) -> Result<()>;
    /// All versions, oldest first.
    async fn document_versions(&self, id: DocumentId) -> Result<Vec<Document>>;
    /// The newest version of each of the user's documents, most recently changed first.
    async fn latest_documents(&self, user: UserId) -> Result<Vec<Document>>;
    /// Deletes the versions created strictly after `after`, with their suggestions; returns
    /// the deleted versions.
    async fn delete_versions_after(&self, id: DocumentId, after: Timestamp) -> Result<Vec<Document>>;

    /// Stores all or none; each must reference an existing version (`NotFound` otherwise).
    async fn insert_suggestions(&self, suggestions: &[Suggestion]) -> Result<()>;
    /// Suggestions of all versions of a document, oldest first.
    async fn suggestions(&self, document: DocumentId) -> Result<Vec<Suggestion>>;
    /// The suggestion with this id, if any.
    async fn suggestion(&self, id: SuggestionId) -> Result<Option<Suggestion>>;
    /// Marks the suggestion resolved; `NotFound` if it is missing.
    async fn resolve_suggestion(&self, id: SuggestionId) -> Result<()>;
}

/// Metadata of uploaded files.
///
/// # Contract
/// - `insert_file` is a `Conflict` on an existing id and `NotFound` if `chat_id` names no chat.
#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    /// Stores a file's metadata (see the contract for its errors).
    async fn insert_file(&self, file: &FileMeta) -> Result<()>;
    /// The file with this id, if any, whoever owns it.
    async fn file(&self, id: FileId) -> Result<Option<FileMeta>>;
    /// Deletes the metadata (not the stored bytes); `NotFound` if it is missing.
    async fn delete_file(&self, id: FileId) -> Result<()>;
    /// The user's files, oldest first.
    async fn files_of(&self, user: UserId) -> Result<Vec<FileMeta>>;
}

/// Every database port at once: what one database adapter implements, and what the
/// composition root and the conformance suite take.
pub trait Database: UserStore + ChatStore + DocumentStore + FileStore + DatabaseAdmin + DatabaseTransfer {}
impl<T: UserStore + ChatStore + DocumentStore + FileStore + DatabaseAdmin + DatabaseTransfer> Database for T {}

/// Health and counts of the database as a whole.
///
/// # Contract
/// - `ping` is one cheap round trip and fails when the database cannot answer.
/// - `stats` counts what is stored now (regular users and guests apart, chats, messages,
///   distinct documents, files and their bytes); it may scan, so it is for operators, not for
///   request paths.
#[async_trait]
pub trait DatabaseAdmin: Send + Sync + 'static {
    /// A cheap round trip proving the database answers.
    async fn ping(&self) -> Result<()>;
    /// What is stored now, counted (see the contract).
    async fn stats(&self) -> Result<Stats>;
}
