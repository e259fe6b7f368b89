//! The access rules, in one place.
//!
//! - A private chat (and everything in it) is invisible to anyone but its owner: `NotFound`, so
//!   ids do not leak.
//! - A public chat is readable by any signed-in user and writable only by its owner: a write by
//!   someone else is `Forbidden`.

use crate::error::{Error, Result, Surface};
use crate::ids::UserId;
use crate::model::{Chat, Visibility};

pub(crate) fn readable(chat: Option<Chat>, who: UserId) -> Result<Chat> {
    match chat {
        Some(chat) if chat.user_id == who || chat.visibility == Visibility::Public => Ok(chat),
        _ => Err(Error::not_found(Surface::Chat)),
    }
}

pub(crate) fn owned(chat: Option<Chat>, who: UserId) -> Result<Chat> {
    match chat {
        Some(chat) if chat.user_id == who => Ok(chat),
        Some(chat) if chat.visibility == Visibility::Public => {
            Err(Error::forbidden(Surface::Chat, "This chat belongs to another user; it is read-only for you."))
        }
        _ => Err(Error::not_found(Surface::Chat)),
    }
}
