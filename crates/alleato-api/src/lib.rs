//! The wire types of Alleato's `/api/v1` HTTP API: what the server sends and the SDK decodes.
//! JSON field names are camelCase, as the original app's TypeScript SDK expects. Domain values
//! (`User`, `Chat`, ...) are re-exported from `alleato-core`, whose serde shapes are the wire
//! shapes.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

pub use alleato_core::ids::*;
pub use alleato_core::model::{
    Chat, Document, DocumentKind, FileMeta, MessagePart, Role, Stats, StoredMessage, Suggestion, User, UserKind,
    Visibility, Vote,
};

/// Every error response: a stable `code` (`kind:surface`, e.g. `not_found:chat`) and a message
/// for people.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// Trimmed and lower-cased by the server.
    #[cfg_attr(feature = "openapi", schema(format = Email, max_length = 254))]
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 128))]
    pub password: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthResponse {
    pub user: User,
    pub token: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserResponse {
    pub user: User,
}

/// `email`, `password` or both (the document says so with an `anyOf` the server adds); a field
/// that is sent must be a string (`null` is refused, not read as "unchanged").
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[cfg_attr(feature = "openapi", schema(nullable = false, format = Email, max_length = 254))]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[cfg_attr(feature = "openapi", schema(nullable = false, min_length = 8, max_length = 128))]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Required with `password` when the account already has one (a guest setting its first
    /// password needs none); a wrong one is 403.
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub current_password: Option<String>,
}

/// An optional field that, when present, must hold a value: `null` is an error, not "absent".
/// For `#[serde(default, deserialize_with = "alleato_api::present")]`.
pub fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Success {
    pub success: bool,
}

impl Success {
    pub const YES: Success = Success { success: true };
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatList {
    pub chats: Vec<Chat>,
    pub has_more: bool,
}

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateChatRequest {
    /// Blank: "New chat".
    #[cfg_attr(feature = "openapi", schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatResponse {
    pub chat: Chat,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatWithMessages {
    pub chat: Chat,
    pub messages: Vec<StoredMessage>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedCount {
    pub deleted_count: u64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoteList {
    pub votes: Vec<Vote>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoteType {
    Up,
    Down,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteRequest {
    #[serde(rename = "type")]
    pub kind: VoteType,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoteResponse {
    pub vote: Vote,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentList {
    pub documents: Vec<Document>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SaveDocumentRequest {
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
    #[serde(default)]
    pub kind: DocumentKind,
    /// At most 1 MiB of UTF-8.
    pub content: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentResponse {
    pub document: Document,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentVersions {
    pub versions: Vec<Document>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletedVersions {
    pub deleted: Vec<Document>,
}

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
    Many {
        #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 50))]
        suggestions: Vec<SuggestionInput>,
    },
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

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuggestionList {
    pub suggestions: Vec<Suggestion>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuggestionResponse {
    pub suggestion: Suggestion,
}

/// A file's metadata with the URL its bytes are served from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileView {
    pub id: FileId,
    pub url: String,
    pub name: String,
    /// The same as `name`; the original upload route called it `pathname`.
    pub pathname: String,
    pub size: u64,
    pub content_type: String,
    pub chat_id: Option<ChatId>,
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

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileResponse {
    pub file: FileView,
}

/// One row of the start-up table: which adapter serves a port, and why.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterInfo {
    pub port: String,
    pub backend: String,
    pub why: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
    pub adapters: Vec<AdapterInfo>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadyCheck {
    pub port: String,
    pub backend: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Readiness {
    pub ready: bool,
    pub checks: Vec<ReadyCheck>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopResponse {
    /// Whether a generation was running (it is now stopped).
    pub stopped: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamCreated {
    pub stream_id: StreamId,
}

/// A generic stream as the original SDK reads it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamContentsView {
    pub id: StreamId,
    pub data: Vec<serde_json::Value>,
    #[serde(with = "alleato_core::time::wire")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: alleato_core::time::Timestamp,
    #[serde(with = "alleato_core::time::wire")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: alleato_core::time::Timestamp,
}
