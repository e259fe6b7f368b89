//! The wire types of Alleato's `/api/v1` HTTP API: what the server sends and the SDK decodes.
//! JSON field names are camelCase, as the original app's TypeScript SDK expects. Domain values
//! (`User`, `Chat`, ...) are re-exported from `alleato-core`, whose serde shapes are the wire
//! shapes.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

pub use alleato_core::ids::*;
pub use alleato_core::model::{
    Chat, Document, DocumentKind, FileMeta, MessagePart, Role, Stats, StoredMessage, Suggestion, ToolPart, User,
    UserKind, Visibility, Vote,
};

/// Every error response: a stable `code` (`kind:surface`, e.g. `not_found:chat`) and a message
/// for people.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `kind:surface`: what went wrong and where (e.g. `not_found:chat`, `rate_limit:stream`);
    /// the part for programs to match on.
    pub code: String,
    /// What went wrong, in words for people.
    pub message: String,
}

/// An email and a password: the body of register and login.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// Trimmed and lower-cased by the server.
    #[cfg_attr(feature = "openapi", schema(format = Email, max_length = 254))]
    pub email: String,
    /// 8 to 128 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 128))]
    pub password: String,
}

/// A new session: the signed-in user and the bearer token that stands for the session.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthResponse {
    /// The account signed in (a new one for register and guest).
    pub user: User,
    /// A JWT to send as `Authorization: Bearer <token>`; valid until it expires (after the
    /// session lifetime, 7 days by default) or the session ends (logout, or a password
    /// change made from another session).
    pub token: String,
}

/// One user: the caller, as the server knows it now.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserResponse {
    /// The user.
    pub user: User,
}

/// `email`, `password` or both (the document says so with an `anyOf` the server adds); a field
/// that is sent must be a string (`null` is refused, not read as "unchanged").
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// The new email address; trimmed and lower-cased by the server. Absent: unchanged.
    #[cfg_attr(feature = "openapi", schema(nullable = false, format = Email, max_length = 254))]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The new password, 8 to 128 characters; it ends every other session of the account. A
    /// guest sends it with `email` and becomes a regular account. Absent: unchanged.
    #[cfg_attr(feature = "openapi", schema(nullable = false, min_length = 8, max_length = 128))]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The account's password, required with `password` (the document says so with
    /// `dependentRequired`); a wrong one is 403. A guest setting its first password has none to
    /// give: for a guest it is not needed, and ignored if sent.
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub current_password: Option<String>,
}

/// An optional field that, when present, must hold a value: `null` is an error, not "absent".
/// For `#[serde(default, deserialize_with = "alleato_api::present")]`.
pub fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// The answer of an operation that has nothing else to return.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Success {
    /// Always `true`: a failure is an error response instead.
    pub success: bool,
}

impl Success {
    /// `{"success": true}`.
    pub const YES: Success = Success { success: true };
}

/// One page of the caller's chats, newest first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatList {
    /// At most `limit` chats (20 by default).
    pub chats: Vec<Chat>,
    /// Whether more chats lie beyond this page, in the direction it was read.
    pub has_more: bool,
}

/// A new chat; every field is optional, and no body at all makes a private "New chat".
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateChatRequest {
    /// Optional client-chosen id (the Next.js app makes its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ChatId>,
    /// Blank: "New chat".
    #[cfg_attr(feature = "openapi", schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Absent: private.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

/// A change to a chat: the fields sent are changed, the others kept.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateChatRequest {
    /// Blank: "New chat".
    #[cfg_attr(feature = "openapi", schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Absent: unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

/// One chat, without its messages.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The chat.
    pub chat: Chat,
}

/// A chat and its messages.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatWithMessages {
    /// The chat.
    pub chat: Chat,
    /// Every message of the chat, oldest first.
    pub messages: Vec<StoredMessage>,
}

/// How many items an operation deleted.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedCount {
    /// The number deleted: chats, or messages (their votes go with them, uncounted).
    pub deleted_count: u64,
}

/// The votes on a chat's messages.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoteList {
    /// At most one vote per message.
    pub votes: Vec<Vote>,
}

/// Which way a vote goes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoteType {
    /// A good answer (`"up"`).
    Up,
    /// A bad answer (`"down"`).
    Down,
}

/// A vote on one message; it replaces any earlier vote on that message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteRequest {
    /// `up` or `down`.
    #[serde(rename = "type")]
    pub kind: VoteType,
}

/// The vote as stored.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoteResponse {
    /// The vote.
    pub vote: Vote,
}

/// The caller's documents, each at its latest version.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentList {
    /// One entry per document: its latest version.
    pub documents: Vec<Document>,
}

/// A new version of a document, or the first version of a new one.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SaveDocumentRequest {
    /// The caller's document to add a version to; absent: a new document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<DocumentId>,
    /// Not blank, one line: no control characters (`char::is_control`), and at least one
    /// character that `char::is_whitespace` (which `trim` uses) does not count. The pattern spells
    /// the white space out: regex flavours disagree on `\s`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 200,
            pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
        )
    )]
    pub title: String,
    /// Absent: `text`.
    #[serde(default)]
    pub kind: DocumentKind,
    /// At most 1 MiB of UTF-8.
    pub content: String,
}

/// One version of a document.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentResponse {
    /// The version.
    pub document: Document,
}

/// Every version of one document.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentVersions {
    /// Oldest first; all share the document's `id` and differ by `createdAt`.
    pub versions: Vec<Document>,
}

/// The versions a delete removed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletedVersions {
    /// Every version created after the given time.
    pub deleted: Vec<Document>,
}

/// One suggested edit to a document's latest version.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuggestionInput {
    /// 1 byte to 64 KiB of UTF-8.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 65536))]
    pub original_text: String,
    /// 1 byte to 64 KiB of UTF-8.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 65536))]
    pub suggested_text: String,
    /// At most 64 KiB of UTF-8.
    #[cfg_attr(feature = "openapi", schema(max_length = 65536))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One suggestion, or several under `suggestions`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum CreateSuggestionsRequest {
    /// `{"suggestions": [...]}`: 1 to 50 suggestions.
    Many {
        /// The suggestions, each an object.
        #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 50))]
        suggestions: Vec<SuggestionInput>,
    },
    /// A single suggestion's fields at the top level.
    One(SuggestionInput),
}

/// Read by hand: serde's untagged enums (and its structs) would also take arrays of fields,
/// where the API takes objects only.
impl<'de> Deserialize<'de> for CreateSuggestionsRequest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        use serde_json::Value;
        let input = |value: Value| match value {
            Value::Object(_) => serde_json::from_value::<SuggestionInput>(value).map_err(D::Error::custom),
            _ => Err(D::Error::custom("each suggestion must be an object")),
        };
        let Value::Object(mut fields) = Value::deserialize(deserializer)? else {
            return Err(D::Error::custom("expected an object"));
        };
        match fields.remove("suggestions") {
            Some(Value::Array(items)) => {
                Ok(Self::Many { suggestions: items.into_iter().map(input).collect::<Result<_, _>>()? })
            }
            Some(_) => Err(D::Error::custom("`suggestions` must be an array")),
            None => input(Value::Object(fields)).map(Self::One),
        }
    }
}

/// Suggestions on a document.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuggestionList {
    /// Oldest first.
    pub suggestions: Vec<Suggestion>,
}

/// One suggestion.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuggestionResponse {
    /// The suggestion.
    pub suggestion: Suggestion,
}

/// A file's metadata with the URL its bytes are served from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileView {
    /// The file's id.
    pub id: FileId,
    /// Where this server serves the bytes to a signed-in caller:
    /// `/api/v1/files/{id}/content`.
    pub url: String,
    /// The sanitised original file name.
    pub name: String,
    /// The same as `name`; the original upload route called it `pathname`.
    pub pathname: String,
    /// The size in bytes.
    pub size: u64,
    /// The MIME type checked at upload, recognised from the content (e.g. `image/png`); the
    /// content is served with it.
    pub content_type: String,
    /// The chat the file belongs to, if any: a file in a public chat is readable by others.
    pub chat_id: Option<ChatId>,
    /// When the file was uploaded.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(with = "alleato_core::time::wire")]
    pub created_at: alleato_core::time::Timestamp,
    /// A URL that fetches the bytes straight from the storage service without credentials:
    /// signed, when the storage signs URLs (S3, R2); the public bucket's address for a file in
    /// a public chat when the bucket is public (`R2_PUBLIC_URL`); absent otherwise. `url`
    /// always works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
    /// When a signed `downloadUrl` stops working; absent for a public one, which does not.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    #[serde(default, skip_serializing_if = "Option::is_none", with = "alleato_core::time::wire_option")]
    pub download_url_expires_at: Option<alleato_core::time::Timestamp>,
}

impl FileView {
    /// `url` is where the content is served (`/api/v1/files/{id}/content` on this server).
    pub fn new(meta: FileMeta, url: String) -> Self {
        Self {
            id: meta.id,
            url,
            pathname: meta.name.clone(),
            name: meta.name,
            size: meta.size,
            content_type: meta.content_type,
            chat_id: meta.chat_id,
            created_at: meta.created_at,
            download_url: None,
            download_url_expires_at: None,
        }
    }

    /// Adds a download URL and, for a signed one, its expiry.
    pub fn with_download_url(mut self, download: Option<(String, Option<alleato_core::time::Timestamp>)>) -> Self {
        let (url, expires_at) = download.unzip();
        (self.download_url, self.download_url_expires_at) = (url, expires_at.flatten());
        self
    }
}

/// One file's metadata.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileResponse {
    /// The file.
    pub file: FileView,
}

/// One row of the start-up table: which adapter serves a port, and why.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterInfo {
    /// The port: `database`, `storage`, `key-value`, `counters`, `streams` or `model`, and
    /// with dual-write `database (secondary)` and `storage (secondary)`.
    pub port: String,
    /// The backend serving it, with details in parentheses (e.g. `sqlite (<path>)`); `/health`
    /// leaves out file paths unless the caller gives the admin key.
    pub backend: String,
    /// Why this backend was chosen, e.g. `DATABASE_URL is set` or
    /// `nothing else configured: embedded default`.
    pub why: String,
}

/// `GET /health`: the process is up, and what serves each port.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    /// Always `ok`: an answer at all means the process is alive.
    pub status: String,
    /// The server's version (its crate version).
    pub version: String,
    /// One row per port, as in the start-up table.
    pub adapters: Vec<AdapterInfo>,
}

/// One port's readiness check.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadyCheck {
    /// The port pinged: `database`, `storage`, `key-value`, `counters` or `streams`.
    pub port: String,
    /// The backend serving it, as in [`AdapterInfo::backend`].
    pub backend: String,
    /// Whether it answered the ping within 2 seconds.
    pub ok: bool,
    /// Why not, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /ready`: whether every port's backend answers.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Readiness {
    /// Whether every check passed (else the status is 503).
    pub ready: bool,
    /// One check per port.
    pub checks: Vec<ReadyCheck>,
}

/// The answer to a request to stop a chat's generation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopResponse {
    /// Whether a generation was running (it is now stopped).
    pub stopped: bool,
}

/// A generic stream, just created.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamCreated {
    /// The new stream's id, for `/api/v1/streams/{id}`.
    pub stream_id: StreamId,
}

/// A generic stream as the original SDK reads it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamContentsView {
    /// The stream's id.
    pub id: StreamId,
    /// Every value appended so far, in order.
    pub data: Vec<serde_json::Value>,
    /// When the stream was created.
    #[serde(with = "alleato_core::time::wire")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: alleato_core::time::Timestamp,
    /// When the stream was last written to.
    #[serde(with = "alleato_core::time::wire")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: alleato_core::time::Timestamp,
}
