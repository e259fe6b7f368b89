use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Surface};
use crate::ids::{DocumentId, SuggestionId, UserId};
use crate::time::Timestamp;

/// What a document holds, which decides how a client shows and edits it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentKind {
    /// Prose (`text`, the default).
    #[default]
    Text,
    /// Source code (`code`).
    Code,
    /// A spreadsheet (`sheet`).
    Sheet,
    /// An image (`image`).
    Image,
}

impl DocumentKind {
    /// The wire and database form: `text`, `code`, `sheet` or `image`.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Text => "text",
            DocumentKind::Code => "code",
            DocumentKind::Sheet => "sheet",
            DocumentKind::Image => "image",
        }
    }

    /// The kind [`DocumentKind::as_str`] wrote; `None` for any other text.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "text" => Some(DocumentKind::Text),
            "code" => Some(DocumentKind::Code),
            "sheet" => Some(DocumentKind::Sheet),
            "image" => Some(DocumentKind::Image),
            _ => None,
        }
    }
}

/// One version of a document. Versions share `id` and differ by `created_at`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    /// The document's id, the same for all its versions.
    pub id: DocumentId,
    /// When this version was saved; it tells the versions apart.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(with = "crate::time::wire")]
    pub created_at: Timestamp,
    /// One line of 1 to 200 characters, trimmed.
    pub title: String,
    /// What the content is.
    pub kind: DocumentKind,
    /// The version's content, at most 1 MiB of UTF-8.
    pub content: Option<String>,
    /// The owner: documents are private to them.
    pub user_id: UserId,
}

impl Document {
    /// The longest title, in characters.
    pub const MAX_TITLE_CHARS: usize = 200;
    /// 1 MiB of content per version.
    pub const MAX_CONTENT_BYTES: usize = 1024 * 1024;

    /// The title trimmed; `BadRequest` when it is blank, longer than
    /// [`Document::MAX_TITLE_CHARS`] or holds control characters.
    pub fn check_title(title: &str) -> Result<String> {
        let title = title.trim();
        if title.is_empty() || title.chars().count() > Self::MAX_TITLE_CHARS {
            return Err(Error::bad_request(
                Surface::Document,
                format!("title must be 1 to {} characters", Self::MAX_TITLE_CHARS),
            ));
        }
        // As for chat titles: a title is one line of text, never a vehicle for terminal escapes.
        if title.chars().any(char::is_control) {
            return Err(Error::bad_request(Surface::Document, "title must not contain control characters"));
        }
        Ok(title.to_owned())
    }

    /// `PayloadTooLarge` when the content is over [`Document::MAX_CONTENT_BYTES`].
    pub fn check_content(content: &str) -> Result<()> {
        if content.len() > Self::MAX_CONTENT_BYTES {
            return Err(Error::PayloadTooLarge {
                surface: Surface::Document,
                message: format!("content must be at most {} bytes", Self::MAX_CONTENT_BYTES).into(),
            });
        }
        Ok(())
    }
}

/// A suggested edit, tied to one document version by `(document_id, document_created_at)`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    /// The suggestion's id.
    pub id: SuggestionId,
    /// The document suggested on.
    pub document_id: DocumentId,
    /// The version suggested on: its `createdAt`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(with = "crate::time::wire")]
    pub document_created_at: Timestamp,
    /// The text it would replace.
    pub original_text: String,
    /// The text to put in its place.
    pub suggested_text: String,
    /// Why, in words; optional.
    pub description: Option<String>,
    /// Whether the owner has resolved it.
    pub is_resolved: bool,
    /// The document's owner, on whose behalf it was made.
    pub user_id: UserId,
    /// When the suggestion was made.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(with = "crate::time::wire")]
    pub created_at: Timestamp,
}

impl Suggestion {
    /// The longest `originalText`, `suggestedText` or `description`, in bytes of UTF-8.
    pub const MAX_TEXT_BYTES: usize = 64 * 1024;
}
