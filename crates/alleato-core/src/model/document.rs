use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Surface};
use crate::ids::{DocumentId, SuggestionId, UserId};
use crate::time::Timestamp;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentKind {
    #[default]
    Text,
    Code,
    Sheet,
    Image,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Text => "text",
            DocumentKind::Code => "code",
            DocumentKind::Sheet => "sheet",
            DocumentKind::Image => "image",
        }
    }

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
    pub id: DocumentId,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(with = "crate::time::wire")]
    pub created_at: Timestamp,
    pub title: String,
    pub kind: DocumentKind,
    pub content: Option<String>,
    pub user_id: UserId,
}

impl Document {
    pub const MAX_TITLE_CHARS: usize = 200;
    /// 1 MiB of content per version.
    pub const MAX_CONTENT_BYTES: usize = 1024 * 1024;

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
    pub id: SuggestionId,
    pub document_id: DocumentId,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(with = "crate::time::wire")]
    pub document_created_at: Timestamp,
    pub original_text: String,
    pub suggested_text: String,
    pub description: Option<String>,
    pub is_resolved: bool,
    pub user_id: UserId,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(with = "crate::time::wire")]
    pub created_at: Timestamp,
}

impl Suggestion {
    pub const MAX_TEXT_BYTES: usize = 64 * 1024;
}
