use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Surface};
use crate::ids::{ChatId, MessageId, StreamId, UserId};
use crate::time::Timestamp;

/// Who may read a chat: `private` (the default) or `public`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Readable (never writable) by any signed-in user.
    Public,
    /// Invisible to everyone but the owner.
    #[default]
    Private,
}

impl Visibility {
    /// The wire and database form: `public` or `private`.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }

    /// The visibility [`Visibility::as_str`] wrote; `None` for any other text.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "public" => Some(Visibility::Public),
            "private" => Some(Visibility::Private),
            _ => None,
        }
    }
}

/// A conversation owned by one user; its messages are stored apart.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chat {
    /// The chat's id, a UUIDv7 (or one the client chose).
    pub id: ChatId,
    /// The owner: the only user who may write to the chat.
    pub user_id: UserId,
    /// One line of at most 200 characters; "New chat" until the owner or the title model
    /// names it.
    pub title: String,
    /// Who may read the chat.
    pub visibility: Visibility,
    /// When the chat was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(with = "crate::time::wire")]
    pub created_at: Timestamp,
    /// When the title or visibility last changed (the creation time until then).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(with = "crate::time::wire")]
    pub updated_at: Timestamp,
}

impl Chat {
    /// The longest title, in characters.
    pub const MAX_TITLE_CHARS: usize = 200;
    /// The title of a chat nobody has named yet.
    pub const DEFAULT_TITLE: &'static str = "New chat";

    /// Checks a title as sent (its length, no control characters: the rule the API documents),
    /// then trims it; an empty title becomes the default.
    pub fn normalise_title(raw: &str) -> Result<String> {
        if raw.chars().count() > Self::MAX_TITLE_CHARS {
            return Err(Error::bad_request(
                Surface::Chat,
                format!("title must be at most {} characters", Self::MAX_TITLE_CHARS),
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(Error::bad_request(Surface::Chat, "title must not contain control characters"));
        }
        let title = raw.trim();
        Ok(if title.is_empty() { Self::DEFAULT_TITLE.to_owned() } else { title.to_owned() })
    }
}

/// Which slice of a user's chats to list: newest first, `limit` of them, optionally relative to
/// a cursor chat (`starting_after`: newer than it; `ending_before`: older than it), as the
/// original `/api/history` pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatPage {
    /// How many chats, 1 to [`ChatPage::MAX_LIMIT`].
    pub limit: u32,
    /// The chat to page from, and which way; `None` starts from the newest.
    pub cursor: Option<(ChatCursorDirection, ChatId)>,
}

/// Which side of the cursor chat a page lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatCursorDirection {
    /// Chats newer than the cursor chat.
    StartingAfter,
    /// Chats older than the cursor chat.
    EndingBefore,
}

impl ChatPage {
    /// The largest page.
    pub const MAX_LIMIT: u32 = 100;
    /// The page size when the request names none.
    pub const DEFAULT_LIMIT: u32 = 20;

    /// The error for a cursor that does not name one of the user's chats: a 404, like any other
    /// id of a chat that is not theirs. Every database adapter answers so.
    pub fn unknown_cursor() -> Error {
        Error::NotFound { surface: Surface::Chat, message: "The cursor does not name one of your chats.".into() }
    }
}

impl ChatCursorDirection {
    /// Adapters read a page outward from the cursor (`starting_after`: oldest first, so that a
    /// row limit keeps the chats just above the cursor); this puts such rows back in the page's
    /// order, newest first.
    pub fn to_newest_first<T>(self, rows: &mut [T]) {
        if self == ChatCursorDirection::StartingAfter {
            rows.reverse();
        }
    }
}

/// The owner's verdict on one message of their chat; at most one per message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vote {
    /// The chat the message is in.
    pub chat_id: ChatId,
    /// The message voted on.
    pub message_id: MessageId,
    /// `true` for up, `false` for down.
    pub is_upvoted: bool,
}

/// Ties a resumable generation stream to its chat.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamRecord {
    /// The stream's id in the streams port.
    pub id: StreamId,
    /// The chat whose answer the stream carries.
    pub chat_id: ChatId,
    /// When the generation began; a chat's latest stream is the one to resume.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(with = "crate::time::wire")]
    pub created_at: Timestamp,
}
