use std::sync::Arc;

use super::access;
use super::auth::Principal;
use crate::error::{Error, Result, Surface};
use crate::ids::{ChatId, MessageId};
use crate::model::{Chat, ChatCursorDirection, ChatPage, StoredMessage, Visibility, Vote};
use crate::ports::ChatStore;
use crate::time::now;

/// What a client may set when creating a chat.
#[derive(Debug, Clone, Default)]
pub struct NewChat {
    /// Clients such as the Next.js app choose chat ids themselves.
    pub id: Option<ChatId>,
    /// At most [`Chat::MAX_TITLE_CHARS`], no control characters; blank or `None`: the default
    /// title.
    pub title: Option<String>,
    /// `None`: private.
    pub visibility: Option<Visibility>,
}

/// A change to a chat: each `Some` field is set, each `None` kept.
#[derive(Debug, Clone, Default)]
pub struct ChatUpdate {
    /// The new title, checked as [`NewChat::title`]; blank becomes the default title.
    pub title: Option<String>,
    /// The new visibility.
    pub visibility: Option<Visibility>,
}

/// Chats and votes, as their owner (and, for a public chat, any signed-in reader) may use
/// them. A private chat of someone else is `NotFound`; writing to someone else's public chat
/// is `Forbidden`.
#[derive(Clone)]
pub struct ChatService {
    chats: Arc<dyn ChatStore>,
}

impl ChatService {
    /// The service over the chat store.
    pub fn new(chats: Arc<dyn ChatStore>) -> Self {
        Self { chats }
    }

    /// A page of the caller's chats, newest first, and whether more exist beyond it.
    pub async fn list(&self, who: &Principal, page: ChatPage) -> Result<(Vec<Chat>, bool)> {
        check_limit(page.limit)?;
        let probe = ChatPage { limit: page.limit + 1, ..page };
        let mut chats = self.chats.list_chats(who.user_id(), &probe).await?;
        let limit = page.limit as usize;
        let has_more = chats.len() > limit;
        if has_more {
            // The probe row is the one farthest from the cursor: the newest when paging up
            // (`starting_after`), the oldest otherwise.
            match page.cursor {
                Some((ChatCursorDirection::StartingAfter, _)) => drop(chats.drain(..chats.len() - limit)),
                _ => chats.truncate(limit),
            }
        }
        Ok((chats, has_more))
    }

    /// The caller's chats between two of theirs (newer than `newer_than`, older than
    /// `older_than`), newest first: the `limit` nearest `older_than`, as a page down from it
    /// that stops at `newer_than`; and whether more of the window lies beyond the page. An
    /// empty window (`newer_than` is not older than `older_than`) is an empty page.
    pub async fn list_between(
        &self,
        who: &Principal,
        limit: u32,
        newer_than: ChatId,
        older_than: ChatId,
    ) -> Result<(Vec<Chat>, bool)> {
        check_limit(limit)?;
        let floor = self.chats.chat(newer_than).await?.filter(|c| c.user_id == who.user_id());
        let floor = floor.ok_or_else(ChatPage::unknown_cursor)?;
        let probe = ChatPage { limit: limit + 1, cursor: Some((ChatCursorDirection::EndingBefore, older_than)) };
        let mut chats = self.chats.list_chats(who.user_id(), &probe).await?;
        if let Some(at) = chats.iter().position(|c| (c.created_at, c.id) <= (floor.created_at, floor.id)) {
            chats.truncate(at);
        }
        let has_more = chats.len() > limit as usize;
        chats.truncate(limit as usize);
        Ok((chats, has_more))
    }

    /// Creates a chat for the caller. A client-chosen id that is someone else's chat is
    /// replaced by a fresh one (so the answer reveals nothing); one of the caller's own is a
    /// `Conflict`.
    pub async fn create(&self, who: &Principal, new: NewChat) -> Result<Chat> {
        let created_at = now();
        let id = match new.id {
            // Someone else's chat: answered as if the id were free, under a fresh one, so the
            // answer does not confirm that a private chat exists.
            Some(id) if self.chats.chat(id).await?.is_some_and(|c| c.user_id != who.user_id()) => ChatId::new(),
            Some(id) => id,
            None => ChatId::new(),
        };
        let chat = Chat {
            id,
            user_id: who.user_id(),
            title: Chat::normalise_title(new.title.as_deref().unwrap_or_default())?,
            visibility: new.visibility.unwrap_or_default(),
            created_at,
            updated_at: created_at,
        };
        self.chats.insert_chat(&chat).await.map_err(|e| match e {
            Error::Conflict { .. } => Error::conflict(Surface::Chat, "A chat with this id already exists."),
            other => other,
        })?;
        Ok(chat)
    }

    /// A chat and its messages, if the caller may read it.
    pub async fn get(&self, who: &Principal, id: ChatId) -> Result<(Chat, Vec<StoredMessage>)> {
        let (chat, messages) = self.chats.chat_with_messages(id).await?.unzip();
        let chat = access::readable(chat, who.user_id())?;
        Ok((chat, messages.unwrap_or_default()))
    }

    /// Changes the title and/or visibility of one of the caller's chats.
    pub async fn update(&self, who: &Principal, id: ChatId, update: ChatUpdate) -> Result<Chat> {
        let mut chat = access::owned(self.chats.chat(id).await?, who.user_id())?;
        if let Some(title) = update.title {
            chat.title = Chat::normalise_title(&title)?;
        }
        if let Some(visibility) = update.visibility {
            chat.visibility = visibility;
        }
        chat.updated_at = now();
        self.chats.update_chat(&chat).await.map_err(|e| e.on(Surface::Chat))?;
        Ok(chat)
    }

    /// Deletes one of the caller's chats, with its messages, votes and stream records.
    pub async fn delete(&self, who: &Principal, id: ChatId) -> Result<()> {
        access::owned(self.chats.chat(id).await?, who.user_id())?;
        self.chats.delete_chat(id).await.map_err(|e| e.on(Surface::Chat))
    }

    /// Deletes every chat of the caller; returns how many.
    pub async fn delete_all(&self, who: &Principal) -> Result<u64> {
        self.chats.delete_chats_of(who.user_id()).await
    }

    /// The votes on a chat the caller may read.
    pub async fn votes(&self, who: &Principal, id: ChatId) -> Result<Vec<Vote>> {
        access::readable(self.chats.chat(id).await?, who.user_id())?;
        self.chats.votes(id).await
    }

    /// Sets the caller's vote (`up` or down) on a message of their own chat, replacing any
    /// earlier one; `NotFound` (on `message`) when the message is not in that chat.
    pub async fn vote(&self, who: &Principal, chat: ChatId, message: MessageId, up: bool) -> Result<Vote> {
        access::owned(self.chats.chat(chat).await?, who.user_id()).map_err(|e| match e {
            Error::Forbidden { .. } => e.on(Surface::Vote),
            other => other,
        })?;
        let vote = Vote { chat_id: chat, message_id: message, is_upvoted: up };
        self.chats.set_vote(&vote).await.map_err(|e| match e {
            Error::NotFound { .. } => Error::not_found(Surface::Message),
            other => other,
        })?;
        Ok(vote)
    }
}

/// A page size the API takes: 1 to [`ChatPage::MAX_LIMIT`].
fn check_limit(limit: u32) -> Result<()> {
    if limit == 0 || limit > ChatPage::MAX_LIMIT {
        return Err(Error::bad_request(Surface::Api, format!("limit must be between 1 and {}", ChatPage::MAX_LIMIT)));
    }
    Ok(())
}
