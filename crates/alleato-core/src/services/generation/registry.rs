//! The generations running in this process, by chat, each with its stop switch: at most one
//! per chat, and a stop reaches it at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::error::{Error, Result, Surface};
use crate::ids::ChatId;

#[derive(Clone, Default)]
pub(super) struct Running(Arc<Mutex<HashMap<ChatId, watch::Sender<bool>>>>);

impl Running {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<ChatId, watch::Sender<bool>>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Takes the chat's slot, before anything is written, so two sends cannot both start a
    /// reply; with the receiver of its stop switch. `Conflict` when a reply is running.
    pub(super) fn claim(&self, chat: ChatId) -> Result<(Claim<'_>, watch::Receiver<bool>)> {
        self.with(|running| {
            if running.contains_key(&chat) {
                return Err(Error::conflict(
                    Surface::Chat,
                    "A reply is still being generated in this chat; stop it first.",
                ));
            }
            let (cancel, cancelled) = watch::channel(false);
            running.insert(chat, cancel);
            Ok((Claim { running: self, chat, started: false }, cancelled))
        })
    }

    /// Flips the chat's stop switch; whether a generation was running here.
    pub(super) fn stop(&self, chat: ChatId) -> bool {
        self.with(|running| running.get(&chat).map(|cancel| cancel.send(true)).is_some())
    }

    pub(super) fn contains(&self, chat: ChatId) -> bool {
        self.with(|running| running.contains_key(&chat))
    }

    /// Gives the slot back: the generation has ended.
    pub(super) fn release(&self, chat: ChatId) {
        self.with(|running| running.remove(&chat));
    }

    /// Gives the slot back if it still belongs to the generation whose stop switch `switch`
    /// watches: after that generation released it, another may have claimed it.
    pub(super) fn release_if_held_by(&self, chat: ChatId, switch: &watch::Receiver<bool>) {
        self.with(|running| {
            if running.get(&chat).is_some_and(|cancel| cancel.subscribe().same_channel(switch)) {
                running.remove(&chat);
            }
        });
    }
}

/// A claimed slot, given back on drop unless [`Claim::started`] handed it to a generation.
pub(super) struct Claim<'a> {
    running: &'a Running,
    chat: ChatId,
    started: bool,
}

impl Claim<'_> {
    /// From here the generation gives the slot back when it ends.
    pub(super) fn started(mut self) {
        self.started = true;
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if !self.started {
            self.running.release(self.chat);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_released_only_by_the_generation_that_holds_it() {
        let running = Running::default();
        let chat = ChatId::new();
        let (claim, first) = running.claim(chat).unwrap();
        claim.started();
        running.release(chat);
        let (claim, second) = running.claim(chat).unwrap();
        claim.started();
        running.release_if_held_by(chat, &first);
        assert!(running.contains(chat), "the first generation's panic does not free the second's slot");
        running.release_if_held_by(chat, &second);
        assert!(!running.contains(chat));
    }
}
