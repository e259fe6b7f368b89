//! Moving a whole database: every row of every table read in a stable order, and rows written as
//! they are, ids and timestamps kept. `alleato migrate` copies and verifies through this port.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::error::Result;
use crate::ids::{StreamId, UserId};
use crate::model::{Chat, Document, FileMeta, StoredMessage, StreamRecord, Suggestion, User, Vote};
use crate::time::{self, Timestamp};

/// The tables a copy moves. [`Table::ALL`] is the order it moves them in: whatever a row
/// refers to is in an earlier table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// User accounts, with their password hashes.
    Users,
    /// Chats.
    Chats,
    /// Chat messages.
    Messages,
    /// Votes on messages.
    Votes,
    /// Generation stream records (which stream carries which chat's answer).
    Streams,
    /// Document versions.
    Documents,
    /// Suggestions on document versions.
    Suggestions,
    /// Uploaded files' metadata (their bytes are in object storage).
    Files,
    /// The daily message quota's records: copied, so that a move does not reset anyone's quota.
    GenerationStarts,
}

impl Table {
    /// Every table, in the order a copy moves them.
    pub const ALL: [Table; 9] = [
        Table::Users,
        Table::Chats,
        Table::Messages,
        Table::Votes,
        Table::Streams,
        Table::Documents,
        Table::Suggestions,
        Table::Files,
        Table::GenerationStarts,
    ];

    /// The table's name as reports show it (snake_case, e.g. `generation_starts`).
    pub fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Chats => "chats",
            Table::Messages => "messages",
            Table::Votes => "votes",
            Table::Streams => "streams",
            Table::Documents => "documents",
            Table::Suggestions => "suggestions",
            Table::Files => "files",
            Table::GenerationStarts => "generation_starts",
        }
    }
}

impl Table {
    /// Whether `key` is of the shape this table's keys have (a vote's pair, a version's id and
    /// time, else one id).
    pub fn holds(self, key: &RowKey) -> bool {
        match self {
            Table::Votes => matches!(key, RowKey::Pair(..)),
            Table::Documents => matches!(key, RowKey::Version(..)),
            _ => matches!(key, RowKey::Id(_)),
        }
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A row's place in its table: tables are read in the order of their primary keys, which is
/// the same on every backend (a UUID's order is its text's order, a timestamp's its time's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RowKey {
    /// A row with one id: every table but votes and documents.
    Id(Uuid),
    /// A vote: its chat, then its message.
    Pair(Uuid, Uuid),
    /// A document version: the document, then the version's time.
    Version(Uuid, #[serde(with = "crate::time::wire")] Timestamp),
}

impl std::fmt::Display for RowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowKey::Id(id) => write!(f, "{id}"),
            RowKey::Pair(a, b) => write!(f, "{a}/{b}"),
            RowKey::Version(id, at) => write!(f, "{id}@{}", time::to_sortable_text(at)),
        }
    }
}

/// A record of the quota: a generation a user started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerationRecord {
    /// The generation's stream id.
    pub id: StreamId,
    /// The user whose quota it counts against.
    pub user_id: UserId,
    /// When the generation started.
    pub created_at: Timestamp,
}

/// One row of any table, whole: a user's row has its password hash and the time its sessions
/// are valid from, which the API never shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A row of [`Table::Users`].
    User(User),
    /// A row of [`Table::Chats`].
    Chat(Chat),
    /// A row of [`Table::Messages`].
    Message(StoredMessage),
    /// A row of [`Table::Votes`].
    Vote(Vote),
    /// A row of [`Table::Streams`].
    Stream(StreamRecord),
    /// A row of [`Table::Documents`].
    Document(Document),
    /// A row of [`Table::Suggestions`].
    Suggestion(Suggestion),
    /// A row of [`Table::Files`].
    File(FileMeta),
    /// A row of [`Table::GenerationStarts`].
    GenerationStart(GenerationRecord),
}

impl Record {
    /// The table the row belongs to.
    pub fn table(&self) -> Table {
        match self {
            Record::User(_) => Table::Users,
            Record::Chat(_) => Table::Chats,
            Record::Message(_) => Table::Messages,
            Record::Vote(_) => Table::Votes,
            Record::Stream(_) => Table::Streams,
            Record::Document(_) => Table::Documents,
            Record::Suggestion(_) => Table::Suggestions,
            Record::File(_) => Table::Files,
            Record::GenerationStart(_) => Table::GenerationStarts,
        }
    }

    /// The row's key in its table.
    pub fn key(&self) -> RowKey {
        match self {
            Record::User(u) => RowKey::Id(u.id.0),
            Record::Chat(c) => RowKey::Id(c.id.0),
            Record::Message(m) => RowKey::Id(m.id.0),
            Record::Vote(v) => RowKey::Pair(v.chat_id.0, v.message_id.0),
            Record::Stream(s) => RowKey::Id(s.id.0),
            Record::Document(d) => RowKey::Version(d.id.0, d.created_at),
            Record::Suggestion(s) => RowKey::Id(s.id.0),
            Record::File(f) => RowKey::Id(f.id.0),
            Record::GenerationStart(g) => RowKey::Id(g.id.0),
        }
    }

    /// Every field, secrets included, as JSON with sorted keys: equal for equal rows on any
    /// backend, so a checksum of it compares rows across stores.
    pub fn canonical(&self) -> String {
        let ts = |t: &Timestamp| time::to_sortable_text(t);
        let value = match self {
            Record::User(u) => json!({
                "id": u.id, "email": u.email, "type": u.kind, "password": u.password_hash,
                "createdAt": ts(&u.created_at), "sessionsValidFrom": u.sessions_valid_from.as_ref().map(ts),
            }),
            Record::Chat(c) => json!({
                "id": c.id, "userId": c.user_id, "title": c.title, "visibility": c.visibility,
                "createdAt": ts(&c.created_at), "updatedAt": ts(&c.updated_at),
            }),
            Record::Message(m) => json!({
                "id": m.id, "chatId": m.chat_id, "role": m.role, "parts": m.parts,
                "attachments": m.attachments, "createdAt": ts(&m.created_at),
            }),
            Record::Vote(v) => json!({ "chatId": v.chat_id, "messageId": v.message_id, "isUpvoted": v.is_upvoted }),
            Record::Stream(s) => json!({ "id": s.id, "chatId": s.chat_id, "createdAt": ts(&s.created_at) }),
            Record::Document(d) => json!({
                "id": d.id, "createdAt": ts(&d.created_at), "title": d.title, "kind": d.kind,
                "content": d.content, "userId": d.user_id,
            }),
            Record::Suggestion(s) => json!({
                "id": s.id, "documentId": s.document_id, "documentCreatedAt": ts(&s.document_created_at),
                "originalText": s.original_text, "suggestedText": s.suggested_text,
                "description": s.description, "isResolved": s.is_resolved, "userId": s.user_id,
                "createdAt": ts(&s.created_at),
            }),
            Record::File(f) => json!({
                "id": f.id, "userId": f.user_id, "chatId": f.chat_id, "name": f.name,
                "contentType": f.content_type, "size": f.size, "storageKey": f.storage_key,
                "createdAt": ts(&f.created_at),
            }),
            Record::GenerationStart(g) => json!({ "id": g.id, "userId": g.user_id, "createdAt": ts(&g.created_at) }),
        };
        sorted(value).to_string()
    }
}

/// The value with every object's keys in sorted order, however deep: a map keeps the order its
/// keys came in (`serde_json`'s `preserve_order` is on in the workspace), and backends store
/// JSON in different orders (PostgreSQL's `jsonb` sorts keys by length first).
fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_ignore_the_order_json_keys_are_stored_in() {
        let a: serde_json::Value = serde_json::from_str(r#"{"type":"text","b":{"z":1,"a":[{"y":2,"x":3}]}}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"b":{"a":[{"x":3,"y":2}],"z":1},"type":"text"}"#).unwrap();
        assert_eq!(sorted(a.clone()).to_string(), sorted(b).to_string());
        assert_eq!(sorted(a).to_string(), r#"{"b":{"a":[{"x":3,"y":2}],"z":1},"type":"text"}"#);
    }
}

/// The schema versions a copy compares: the newest migration applied to the database, and the
/// newest this binary knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SchemaVersion {
    /// The number of the newest migration applied to the database (0 for none).
    pub applied: i64,
    /// The number of the newest migration this binary knows.
    pub known: i64,
}

/// Reading and writing whole tables, for moving a database to another backend.
///
/// # Contract
/// - `export_rows` returns the rows of `table` with keys after `after` (from the first
///   without), up to `through` when given, in key order, at most `limit` of them; every
///   backend orders keys alike ([`RowKey`]'s order).
/// - `import_rows` writes rows of one table exactly as given (ids and timestamps kept), all or
///   none. A row whose key is taken, or that takes another row's unique value (a user's email,
///   a file's storage key), is skipped and not counted: an import never overwrites. Rows refer
///   to rows of earlier tables ([`Table::ALL`]), which must exist.
/// - `overwrite_rows` writes rows of one table as given, all or none, replacing what holds
///   their keys (only what differs changes; nothing that refers to them is touched); a row that
///   takes another key's unique value fails with `Conflict`. It is the repair of rows a
///   dual-write left unequal, never part of a plain copy.
/// - `delete_rows` deletes the rows under `keys` of one table, all or none, with everything that
///   would go with them through the ports (a chat's messages, a version's suggestions). Keys
///   that hold nothing are fine. Returns how many rows of `table` it deleted.
/// - `store_id` tells this database apart from every other (it is made once, with the schema),
///   so that a copy can refuse to copy a database onto itself through two names.
#[async_trait]
pub trait DatabaseTransfer: Send + Sync + 'static {
    /// Up to `limit` rows of `table` with keys after `after` and up to `through`, in key order.
    async fn export_rows(
        &self,
        table: Table,
        after: Option<&RowKey>,
        through: Option<&RowKey>,
        limit: usize,
    ) -> Result<Vec<Record>>;
    /// Writes the rows (all of `table`) that are new; returns how many were written.
    async fn import_rows(&self, table: Table, rows: &[Record]) -> Result<u64>;
    /// Writes the rows (all of `table`), replacing those under the same keys; returns how many.
    async fn overwrite_rows(&self, table: Table, rows: &[Record]) -> Result<u64>;
    /// Deletes the rows of `table` under `keys`; returns how many there were.
    async fn delete_rows(&self, table: Table, keys: &[RowKey]) -> Result<u64>;
    /// Rows in the table.
    async fn count_rows(&self, table: Table) -> Result<u64>;
    /// The migrations applied to the database and known to this binary.
    async fn schema_version(&self) -> Result<SchemaVersion>;
    /// This database's own id, made once with the schema (see the contract).
    async fn store_id(&self) -> Result<String>;
}
