//! The daily message quota: generations started per user in a sliding 24 hours, counted
//! atomically where deleting chats or messages cannot give them back.

use std::sync::Arc;

use super::auth::Principal;
use crate::error::{Error, Result, Surface};
use crate::ids::StreamId;
use crate::model::UserKind;
use crate::ports::{ChatStore, GenerationStart};
use crate::time::now;

#[derive(Clone)]
pub struct DailyQuota {
    chats: Arc<dyn ChatStore>,
    guest_per_day: u32,
    regular_per_day: u32,
}

impl DailyQuota {
    pub fn new(chats: Arc<dyn ChatStore>, guest_per_day: u32, regular_per_day: u32) -> Self {
        Self { chats, guest_per_day, regular_per_day }
    }

    /// Counts this generation against the user's daily quota, atomically and where deleting
    /// chats or messages cannot give it back; refuses with 429 when it is used up.
    pub async fn take(&self, who: &Principal, generation: StreamId) -> Result<()> {
        let limit = match who.user.kind {
            UserKind::Guest => self.guest_per_day,
            UserKind::Regular => self.regular_per_day,
        };
        let at = now();
        let window = chrono::Duration::hours(24);
        let start =
            GenerationStart { id: generation, user: who.user_id(), at, since: at - window, limit: limit.into() };
        let quota = self.chats.take_generation_quota(&start).await.map_err(|e| match e {
            Error::NotFound { .. } => Error::unauthorized(Surface::Auth, "The account no longer exists."),
            other => other,
        })?;
        if quota.allowed {
            return Ok(());
        }
        let resets_at = quota.oldest.unwrap_or(at) + window;
        let retry_after_secs = (resets_at - now()).num_seconds().max(1) as u64;
        Err(Error::RateLimited {
            surface: Surface::Chat,
            message: format!(
                "You have sent {limit} messages in the last 24 hours, the most a {} account may; \
                 you can send again at {} (in {} minutes).",
                who.user.kind.as_str(),
                crate::time::to_sortable_text(&resets_at),
                retry_after_secs.div_ceil(60)
            )
            .into(),
            retry_after_secs,
        })
    }
}
