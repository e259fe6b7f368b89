//! The daily message quota: generations started per user in a sliding 24 hours, counted
//! atomically where deleting chats or messages cannot give them back.

use super::auth::Principal;
use crate::error::{Error, Result, Surface};
use crate::ids::StreamId;
use crate::model::UserKind;
use crate::ports::{GenerationStart, QuotaUse};
use crate::time::now;

#[derive(Clone)]
pub struct DailyQuota {
    guest_per_day: u32,
    regular_per_day: u32,
}

impl DailyQuota {
    pub fn new(guest_per_day: u32, regular_per_day: u32) -> Self {
        Self { guest_per_day, regular_per_day }
    }

    /// The quota record of a generation starting now, for the store to take (as part of
    /// [`crate::ports::ChatStore::begin_generation`]).
    pub fn start(&self, who: &Principal, generation: StreamId) -> GenerationStart {
        let limit = match who.user.kind {
            UserKind::Guest => self.guest_per_day,
            UserKind::Regular => self.regular_per_day,
        };
        let at = now();
        GenerationStart { id: generation, user: who.user_id(), at, since: at - WINDOW, limit: limit.into() }
    }

    /// Turns what the store found into the refusal a client sees (429, with when to retry).
    pub fn check(&self, who: &Principal, start: &GenerationStart, quota: QuotaUse) -> Result<()> {
        if quota.allowed {
            return Ok(());
        }
        let limit = start.limit;
        let resets_at = quota.oldest.unwrap_or(start.at) + WINDOW;
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

const WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// The store's `NotFound` for the quota's user: the account was deleted under the session.
pub fn account_gone(e: Error) -> Error {
    match e {
        Error::NotFound { .. } => Error::unauthorized(Surface::Auth, "The account no longer exists."),
        other => other,
    }
}
